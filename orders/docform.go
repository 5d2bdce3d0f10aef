package orders

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/s2"
)

// A customer's document (d:{email hash}) is stored as
//
//	{rev}\n{docPacked}{CRC-32C of the form}{the form, compressed}
//
// The form is binary rather than JSON: a sidebar read decodes it each
// time the bridge does not hold the document already (most reads, over a
// merchant's many customers), and decoding JSON was most of such a read's
// cost. It is the Document's fields in declaration order, with no names:
// strings as a uvarint length and their bytes, counts and integers as
// varints, times as Unix seconds and nanoseconds. A list's count is
// stored plus one, 0 standing for nil, so that a document decodes as its
// JSON would (null and [] differ), and invalid UTF-8 is replaced as JSON
// replaced it.
//
// The form is compressed with S2 and the shapes dictionary: it
// decompresses in a third of zstd's time, for about 10% more bytes
// (50 for a customer of ten orders). S2 blocks carry no checksum, so the
// form's CRC-32C is kept: a flipped byte must not decode to another
// document.
//
// rev is the first 16 hex digits of the form's SHA-256: readers get it,
// and the ETag, without decompressing anything, and a document rewritten
// unchanged keeps its revision.
//
// Documents written before (plain JSON, then zstd frames of JSON; see
// compact.go) start with '{' or zstd's magic number, never with
// docPacked: they are still read, and the next change of the customer
// rewrites them. A field added to Document needs a new docPacked, the
// decoder of this one kept: docPacked2 added each order's latest action
// after its support requests, and docPacked, which has none, is still
// read; docPacked3 added each order's invoice number after its action.
//
// A document may be followed by its sidebars' renders (see Prerenderer),
// so that a sidebar read is one GET of one value: the format byte then
// has docRenders set, the CRC and compressed form are preceded by their
// length (a uvarint), and the renders follow them, each as its field's
// length and bytes and its value's length and bytes (uvarints), by
// field. The renders are of the document they follow, written with it
// or put back by a script that finds the value unchanged (WithRender).
const (
	RevLen     = 16
	docPacked  = 0x01
	docPacked2 = 0x02
	docPacked3 = 0x03
	docRenders = 0x80
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// docDict is the shapes dictionary (compact.go), as S2 takes it;
	// like shapes, it must never change.
	docDict = s2.MakeDict([]byte(shapes), nil)
)

// encodeDoc is a document's stored value.
func encodeDoc(d *Document) []byte {
	form := marshalDoc(d)
	sum := sha256.Sum256(form)
	packed := docDict.EncodeBetter(nil, form)
	out := make([]byte, 0, RevLen+2+crc32.Size+len(packed))
	out = hex.AppendEncode(out, sum[:RevLen/2])
	out = append(out, '\n', docPacked3)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(form, castagnoli))
	return append(out, packed...)
}

// DecodeDocument reads a document as stored at Store.DocKey, whichever
// way this release or an earlier one wrote it, and its revision (the
// first RevLen bytes of the value, which a reader may compare without
// fetching the rest).
func DecodeDocument(raw []byte) (rev string, doc *Document, err error) {
	if len(raw) < RevLen+1 || raw[RevLen] != '\n' {
		return "", nil, errors.New("orders: stored document has no revision")
	}
	rev, payload := string(raw[:RevLen]), raw[RevLen+1:]
	if len(payload) > 0 && payload[0]&docRenders != 0 {
		var body []byte
		if body, _, err = splitRenders(payload); err == nil {
			doc, err = unpackDoc(body, payload[0]&^docRenders)
		}
	} else if len(payload) > 0 && payload[0] >= docPacked && payload[0] <= docPacked3 {
		doc, err = unpackDoc(payload[1:], payload[0])
	} else {
		doc, err = decodeDocJSON(payload)
	}
	if err != nil {
		return "", nil, fmt.Errorf("orders: stored document: %w", err)
	}
	return rev, doc, nil
}

// withRenders is doc, a value encodeDoc made, followed by renders.
func withRenders(doc []byte, renders map[string][]byte) []byte {
	if len(renders) == 0 {
		return doc
	}
	head, body := doc[:RevLen+1], doc[RevLen+2:]
	fields := slices.Sorted(maps.Keys(renders))
	n := len(doc) + binary.MaxVarintLen64
	for _, f := range fields {
		n += 2*binary.MaxVarintLen64 + len(f) + len(renders[f])
	}
	out := make([]byte, 0, n)
	out = append(out, head...)
	out = append(out, doc[RevLen+1]|docRenders)
	out = binary.AppendUvarint(out, uint64(len(body)))
	out = append(out, body...)
	for _, f := range fields {
		out = binary.AppendUvarint(out, uint64(len(f)))
		out = append(out, f...)
		out = binary.AppendUvarint(out, uint64(len(renders[f])))
		out = append(out, renders[f]...)
	}
	return out
}

// splitRenders parts a payload flagged docRenders (its format byte
// first) into the document's CRC and compressed form, and the renders.
// It takes a value as go-redis answers it (a string) or as bytes: the
// render a read sends is a part of the value, never a copy.
func splitRenders[T ~string | ~[]byte](payload T) (body, renders T, err error) {
	n, k := uvarint(payload[1:])
	if k <= 0 || n > uint64(len(payload)-1-k) {
		return body, renders, errDocForm
	}
	rest := payload[1+k:]
	return rest[:n], rest[n:], nil
}

// nextRender reads the first render of renders: its field and value, and
// what follows it. ok is false at the end or on a malformed value.
func nextRender[T ~string | ~[]byte](renders T) (field, value, rest T, ok bool) {
	var parts [2]T
	for i := range parts {
		n, k := uvarint(renders)
		if k <= 0 || n > uint64(len(renders)-k) {
			return field, value, rest, false
		}
		parts[i], renders = renders[k:k+int(n)], renders[k+int(n):]
	}
	return parts[0], parts[1], renders, true
}

// uvarint is binary.Uvarint for a string as well.
func uvarint[T ~string | ~[]byte](b T) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(b); i++ {
		if i == binary.MaxVarintLen64 {
			return 0, -(i + 1) // overflow
		}
		c := b[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -(i + 1) // overflow
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

// StoredRender is the render kept under field in a stored document's
// value (see Prerenderer), or empty. It is a part of raw, not a copy.
func StoredRender[T ~string | ~[]byte](raw T, field string) T {
	var none T
	if len(raw) < RevLen+2 || raw[RevLen+1]&docRenders == 0 {
		return none
	}
	_, renders, err := splitRenders(raw[RevLen+1:])
	if err != nil {
		return none
	}
	for {
		f, v, rest, ok := nextRender(renders)
		if !ok {
			return none
		}
		if string(f) == field {
			return v
		}
		renders = rest
	}
}

// WithRender is a stored document's value with render kept under field,
// in place of the one there, if any: the value a read puts back after
// rendering for lack of a usable render (see widgets' refill).
func WithRender(raw []byte, field string, render []byte) ([]byte, error) {
	if len(raw) < RevLen+2 || raw[RevLen] != '\n' {
		return nil, errors.New("orders: stored document has no revision")
	}
	format := raw[RevLen+1]
	if format&docRenders == 0 {
		if format < docPacked || format > docPacked3 {
			return nil, errors.New("orders: a document written before renders takes none")
		}
		return withRenders(raw, map[string][]byte{field: render}), nil
	}
	body, renders, err := splitRenders(raw[RevLen+1:])
	if err != nil {
		return nil, err
	}
	all := map[string][]byte{field: render}
	for {
		f, v, rest, ok := nextRender(renders)
		if !ok {
			break
		}
		if string(f) != field {
			all[string(f)] = v
		}
		renders = rest
	}
	doc := make([]byte, 0, RevLen+2+len(body))
	doc = append(doc, raw[:RevLen+1]...)
	doc = append(doc, format&^docRenders)
	return withRenders(append(doc, body...), all), nil
}

func unpackDoc(payload []byte, format byte) (*Document, error) {
	if len(payload) < crc32.Size {
		return nil, errDocForm
	}
	sum, packed := binary.LittleEndian.Uint32(payload), payload[crc32.Size:]
	n, err := s2.DecodedLen(packed)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if n > maxUnpacked {
		return nil, fmt.Errorf("decompress: %d bytes, more than a document can take", n)
	}
	// The decompressed form is only read from: unmarshalDoc copies it.
	buf := formBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) > maxPooledForm {
			*buf = nil // a rare huge document is not kept
		}
		formBuffers.Put(buf)
	}()
	if cap(*buf) < n {
		*buf = make([]byte, n)
	}
	form, err := docDict.Decode((*buf)[:n], packed)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if crc32.Checksum(form, castagnoli) != sum {
		return nil, errors.New("checksum mismatch")
	}
	return unmarshalDoc(form, format)
}

// formBuffers hold decompressed forms while they are decoded, up to
// maxPooledForm bytes (a customer with a hundred orders).
var formBuffers = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledForm = 32 << 10

// decodeDocJSON reads a document written before the binary form.
func decodeDocJSON(payload []byte) (*Document, error) {
	js, err := unpack(payload)
	if err != nil {
		return nil, err
	}
	var doc Document
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &doc, nil
}

// marshalDoc is a document's binary form.
func marshalDoc(d *Document) []byte {
	b := make([]byte, 0, 64+len(d.Orders)*256)
	c := &d.Customer
	b = appendStr(b, c.Email)
	b = appendStr(b, c.Name)
	b = appendStr(b, c.Phone)
	b = appendStr(b, c.ExternalID)
	b = binary.AppendVarint(b, int64(c.OrdersCount))
	if c.LastOrderAt == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendTime(b, *c.LastOrderAt)
	}
	b = appendCount(b, len(d.Orders), d.Orders == nil)
	for i := range d.Orders {
		o := &d.Orders[i]
		b = appendStr(b, o.ID)
		b = appendStr(b, o.Store)
		b = appendStr(b, o.Marketplace)
		b = appendStr(b, o.Status)
		b = appendStr(b, o.MarketplaceStatus)
		b = appendTime(b, o.CreatedAt)
		b = appendStr(b, o.Total)
		b = appendStr(b, o.Currency)
		b = appendStr(b, o.URL)
		b = appendStr(b, o.SupportURL)
		b = appendStr(b, o.Buyer.Name)
		b = appendStr(b, o.Buyer.Phone)
		b = appendStr(b, o.Buyer.ExternalID)
		b = appendCount(b, len(o.Lines), o.Lines == nil)
		for _, l := range o.Lines {
			b = appendStr(b, l.Name)
			b = appendStr(b, l.SKU)
			b = binary.AppendVarint(b, int64(l.Quantity))
		}
		b = appendCount(b, len(o.Shipments), o.Shipments == nil)
		for _, s := range o.Shipments {
			b = appendStr(b, s.Status)
			b = appendStr(b, s.Carrier)
			b = appendStr(b, s.TrackingNumber)
			b = appendStr(b, s.TrackingURL)
		}
		b = appendCount(b, len(o.Returns), o.Returns == nil)
		for _, r := range o.Returns {
			b = appendStr(b, r.TrackingNumber)
			b = appendStr(b, r.RefundMethod)
			b = appendCount(b, len(r.Products), r.Products == nil)
			for _, p := range r.Products {
				b = appendStr(b, p.Name)
				b = appendStr(b, p.SKU)
				b = binary.AppendVarint(b, int64(p.Quantity))
				b = appendBool(b, p.Damaged)
			}
		}
		b = appendCount(b, len(o.SupportRequests), o.SupportRequests == nil)
		for _, s := range o.SupportRequests {
			b = appendStr(b, s.Subject)
			b = appendStr(b, s.URL)
			b = appendTime(b, s.UpdatedAt)
		}
		if a := o.Action; a == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = appendStr(b, a.ID)
			b = appendStr(b, a.Kind)
			b = appendStr(b, a.State)
			b = appendStr(b, a.Reason)
			b = appendTime(b, a.RequestedAt)
			if a.SettledAt == nil {
				b = append(b, 0)
			} else {
				b = append(b, 1)
				b = appendTime(b, *a.SettledAt)
			}
		}
		b = appendStr(b, o.Invoice)
	}
	return b
}

// appendStr writes a string with its invalid UTF-8 replaced, byte by
// byte, as storing it as JSON did.
func appendStr(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		s = validUTF8(s)
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func appendCount(b []byte, n int, isNil bool) []byte {
	if isNil {
		return append(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendTime keeps the instant; the zone is not kept, every renderer
// shows times in UTC.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

var errDocForm = errors.New("truncated or malformed")

// docReader reads the binary form. Its strings share one copy of the
// form; the first malformed field stops it, and err says so.
type docReader struct {
	s   string
	pos int
	err error
}

// unmarshalDoc reads a document's binary form, of either format.
func unmarshalDoc(form []byte, format byte) (*Document, error) {
	d := &Document{}
	r := docReader{s: string(form)}
	c := &d.Customer
	c.Email = r.str()
	c.Name = r.str()
	c.Phone = r.str()
	c.ExternalID = r.str()
	c.OrdersCount = r.int()
	if r.bool() {
		t := r.time()
		c.LastOrderAt = &t
	}
	if n, ok := r.count(); ok {
		d.Orders = make([]Order, n)
	}
	// The orders' lists are cut from shared arrays, a few allocations
	// for the document rather than one per list.
	var lines arena[Line]
	var shipments arena[Shipment]
	for i := range d.Orders {
		o := &d.Orders[i]
		o.ID = r.str()
		o.Store = r.str()
		o.Marketplace = r.str()
		o.Status = r.str()
		o.MarketplaceStatus = r.str()
		o.CreatedAt = r.time()
		o.Total = r.str()
		o.Currency = r.str()
		o.URL = r.str()
		o.SupportURL = r.str()
		o.Buyer.Name = r.str()
		o.Buyer.Phone = r.str()
		o.Buyer.ExternalID = r.str()
		if n, ok := r.count(); ok {
			o.Lines = lines.cut(n, 2*(len(d.Orders)-i))
		}
		for j := range o.Lines {
			l := &o.Lines[j]
			l.Name = r.str()
			l.SKU = r.str()
			l.Quantity = r.int()
		}
		if n, ok := r.count(); ok {
			o.Shipments = shipments.cut(n, len(d.Orders)-i)
		}
		for j := range o.Shipments {
			s := &o.Shipments[j]
			s.Status = r.str()
			s.Carrier = r.str()
			s.TrackingNumber = r.str()
			s.TrackingURL = r.str()
		}
		if n, ok := r.count(); ok {
			o.Returns = make([]Return, n)
		}
		for j := range o.Returns {
			ret := &o.Returns[j]
			ret.TrackingNumber = r.str()
			ret.RefundMethod = r.str()
			if n, ok := r.count(); ok {
				ret.Products = make([]ReturnProduct, n)
			}
			for k := range ret.Products {
				p := &ret.Products[k]
				p.Name = r.str()
				p.SKU = r.str()
				p.Quantity = r.int()
				p.Damaged = r.bool()
			}
		}
		if n, ok := r.count(); ok {
			o.SupportRequests = make([]SupportRequest, n)
		}
		for j := range o.SupportRequests {
			s := &o.SupportRequests[j]
			s.Subject = r.str()
			s.URL = r.str()
			s.UpdatedAt = r.time()
		}
		if format >= docPacked2 && r.bool() {
			a := &OrderAction{ID: r.str(), Kind: r.str(), State: r.str(), Reason: r.str(), RequestedAt: r.time()}
			if r.bool() {
				t := r.time()
				a.SettledAt = &t
			}
			o.Action = a
		}
		if format >= docPacked3 {
			o.Invoice = r.str()
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if r.err == nil && r.pos != len(r.s) {
		r.err = errDocForm
	}
	if r.err != nil {
		return nil, r.err
	}
	return d, nil
}

// arena hands out slices of one array while it lasts.
type arena[T any] struct{ free []T }

// cut returns n zero elements, allocating room for at least ahead more
// when the array is used up.
func (a *arena[T]) cut(n, ahead int) []T {
	if n == 0 {
		return []T{}
	}
	if len(a.free) < n {
		a.free = make([]T, max(n, ahead))
	}
	s := a.free[:n:n]
	a.free = a.free[n:]
	return s
}

func (r *docReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if r.pos >= len(r.s) {
			break
		}
		c := r.s[r.pos]
		r.pos++
		if c < 0x80 {
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
	}
	r.err = errDocForm
	return 0
}

func (r *docReader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *docReader) int() int { return int(r.varint()) }

func (r *docReader) bool() bool {
	if r.err != nil || r.pos >= len(r.s) || r.s[r.pos] > 1 {
		r.err = cmp.Or(r.err, errDocForm)
		return false
	}
	r.pos++
	return r.s[r.pos-1] == 1
}

func (r *docReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.s)-r.pos) {
		r.err = errDocForm
		return ""
	}
	s := r.s[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s
}

// count reads a list's length; ok is false for a nil list. A length
// beyond what the rest of the body could hold is refused before anything
// is allocated for it.
func (r *docReader) count() (n int, ok bool) {
	v := r.uvarint()
	if r.err != nil || v == 0 {
		return 0, false
	}
	if v-1 > uint64(len(r.s)-r.pos) {
		r.err = errDocForm
		return 0, false
	}
	return int(v - 1), true
}

func (r *docReader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	if r.err != nil || nsec >= 1e9 {
		r.err = cmp.Or(r.err, errDocForm)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
