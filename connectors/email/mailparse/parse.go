package mailparse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/charset" // registers the charset decoders (ISO-8859-*, Windows-125x, …)
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
	"golang.org/x/text/encoding/charmap"
)

// ErrMalformed is returned when a mail's own header cannot be read at all.
// Defects inside the body (a broken boundary, bad base64, an unknown
// charset) are not errors: they are listed in Message.Defects and the
// parts that could be read are kept.
var ErrMalformed = errors.New("mailparse: malformed mail header")

// Address is one mailbox of an address header.
type Address struct {
	Name    string // display name, decoded
	Address string // addr-spec as written (local part case kept)
}

func (a Address) String() string {
	if a.Name == "" {
		return a.Address
	}
	return fmt.Sprintf("%q <%s>", a.Name, a.Address)
}

// Attachment is a non-text part of a mail, an inline image or a file.
type Attachment struct {
	Filename    string // decoded (RFC 2047 and RFC 2231); may be empty
	ContentType string // media type, lower case, without parameters
	Size        int    // decoded size in bytes
	Inline      bool   // Content-Disposition inline, or a Content-ID without a disposition
	ContentID   string // without angle brackets; empty when absent
	Data        []byte // decoded content
}

// DeliveryReport holds what a standard delivery status notification
// (RFC 3464 multipart/report; report-type=delivery-status) says, and the
// headers of the original message it returns.
type DeliveryReport struct {
	Action          string   // first recipient's Action (failed, delayed, …), lower case
	Status          string   // first recipient's Status (5.1.1, …)
	FinalRecipients []string // addresses from Final-Recipient
	// Original holds the returned message's headers
	// (message/rfc822 or text/rfc822-headers part), when present.
	Original *OriginalHeaders
}

// OriginalHeaders are the headers of a message returned inside a
// delivery-failure notice.
type OriginalHeaders struct {
	MessageID  string
	InReplyTo  []string
	References []string
	From       []Address
	To         []Address
	Subject    string
}

// Message is one parsed mail.
type Message struct {
	MessageID  string   // without angle brackets
	InReplyTo  []string // without angle brackets
	References []string // without angle brackets, oldest first
	From       []Address
	To         []Address
	Cc         []Address
	ReplyTo    []Address
	Subject    string    // decoded
	Date       time.Time // zero when absent or unreadable
	// Text is the body as plain text: the text/plain part when there is
	// one, else the HTML part converted (TextFromHTML).
	Text         string
	TextFromHTML bool
	// HTML is the raw HTML part, if any, for reference only: never render
	// it unsanitised.
	HTML string
	// StrippedText is Text without quoted history, attribution lines and
	// signatures: what a helpdesk shows as the new message.
	StrippedText string
	// Raw is the whole original mail, to attach to the ticket as an .eml.
	Raw         []byte
	Attachments []Attachment
	// Report is set for a standard delivery status notification.
	Report *DeliveryReport
	// Defects lists what was wrong with the mail but did not stop parsing.
	Defects []string

	header textproto.Header
}

// Header returns the first value of a header field of the mail, decoded
// (RFC 2047) when it can be.
func (m *Message) Header(key string) string {
	h := message.Header{Header: m.header}
	v, err := h.Text(key)
	if err != nil {
		return h.Get(key)
	}
	return v
}

// Parse reads one raw mail, within the bounds of opts.
func Parse(r io.Reader, opts Options) (*Message, error) {
	opts = opts.withDefaults()
	raw, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("mailparse: read mail: %w", err)
	}
	if int64(len(raw)) > opts.MaxBytes {
		return nil, &LimitError{Limit: LimitBytes, Max: opts.MaxBytes}
	}
	return parse(raw, opts)
}

// ParseBytes is Parse on a mail already in memory. Message.Raw shares raw.
func ParseBytes(raw []byte, opts Options) (*Message, error) {
	opts = opts.withDefaults()
	if int64(len(raw)) > opts.MaxBytes {
		return nil, &LimitError{Limit: LimitBytes, Max: opts.MaxBytes}
	}
	return parse(raw, opts)
}

// walker holds the running totals of one parse.
type walker struct {
	opts    Options
	parts   int
	decoded int64
	msg     *Message
}

// content is what a subtree yields as body text.
type content struct {
	plain []string
	html  []string
}

func parse(raw []byte, opts Options) (*Message, error) {
	if n := headerLen(raw); int64(n) > opts.MaxHeaderBytes {
		return nil, &LimitError{Limit: LimitHeaderBytes, Max: opts.MaxHeaderBytes}
	}
	br := bufio.NewReader(bytes.NewReader(raw))
	th, err := textproto.ReadHeader(br)
	m := &Message{Raw: raw, header: th}
	w := &walker{opts: opts, msg: m}
	if err != nil && err != io.EOF {
		// Keep a mail whose header has a bad line after good ones (spam
		// often does): what follows is read as its body.
		if th.Len() == 0 {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		w.defect("header: %v", err)
	}
	w.readHeaders(mail.Header{Header: message.Header{Header: th}})

	bodyStart := headerLen(raw)
	c, err := w.walk(message.Header{Header: th}, br, 0)
	if err != nil {
		return nil, err
	}
	if len(c.plain) == 0 && len(c.html) == 0 && len(m.Attachments) == 0 {
		if rc, ok := w.retryBoundary(th, raw[bodyStart:]); ok {
			c = rc
		}
	}
	switch {
	case len(c.plain) > 0:
		m.Text = normaliseText(strings.Join(c.plain, "\n"))
	case len(c.html) > 0:
		m.Text = normaliseText(HTMLToText(strings.Join(c.html, "\n")))
		m.TextFromHTML = true
	}
	if len(c.html) > 0 {
		m.HTML = strings.Join(c.html, "\n")
	}
	m.StrippedText = opts.StripRules.Strip(m.Text)
	return m, nil
}

// headerLen is the length of the header block of raw (up to the first
// empty line, or all of raw when there is none).
func headerLen(raw []byte) int {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return len(raw)
		}
		line := raw[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return i
		}
		i += j + 1
	}
	return len(raw)
}

func (w *walker) defect(format string, args ...any) {
	// A pathological mail could produce a defect per part: MaxParts bounds
	// the count, this bounds each line.
	s := fmt.Sprintf(format, args...)
	if len(s) > 200 {
		s = s[:200]
	}
	w.msg.Defects = append(w.msg.Defects, s)
}

func (w *walker) readHeaders(h mail.Header) {
	m := w.msg
	if id, err := h.MessageID(); err == nil {
		m.MessageID = id
	} else {
		m.MessageID = trimID(h.Get("Message-Id"))
		w.defect("Message-ID: %v", err)
	}
	m.InReplyTo = w.msgIDs(h, "In-Reply-To")
	m.References = w.msgIDs(h, "References")
	m.From = w.addresses(h, "From")
	m.To = w.addresses(h, "To")
	m.Cc = w.addresses(h, "Cc")
	m.ReplyTo = w.addresses(h, "Reply-To")
	if s, err := h.Subject(); err == nil {
		m.Subject = cleanHeaderText(s)
	} else {
		m.Subject = cleanHeaderText(h.Get("Subject"))
		w.defect("Subject: %v", err)
	}
	if h.Has("Date") {
		if d, err := h.Date(); err == nil {
			m.Date = d
		} else {
			w.defect("Date: %v", err)
		}
	}
}

func (w *walker) msgIDs(h mail.Header, key string) []string {
	if !h.Has(key) {
		return nil
	}
	ids, err := h.MsgIDList(key)
	if err == nil {
		return ids
	}
	// Lenient fallback: anything between angle brackets.
	w.defect("%s: %v", key, err)
	return idsIn(h.Get(key))
}

var angleID = regexp.MustCompile(`<([^<>\s]+)>`)

func idsIn(s string) []string {
	var out []string
	for _, m := range angleID.FindAllStringSubmatch(s, 50) {
		out = append(out, m[1])
	}
	return out
}

func trimID(s string) string {
	s = strings.TrimSpace(s)
	return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
}

var looseAddr = regexp.MustCompile(`[^\s<>"',;:()\[\]]+@[^\s<>"',;:()\[\]]+`)

func (w *walker) addresses(h mail.Header, key string) []Address {
	if !h.Has(key) {
		return nil
	}
	list, err := h.AddressList(key)
	if err == nil {
		out := make([]Address, 0, len(list))
		for _, a := range list {
			out = append(out, Address{Name: cleanHeaderText(a.Name), Address: a.Address})
		}
		return out
	}
	// Relays and spammers write addresses net/mail refuses; keep any
	// addr-spec we can see so that the mail can still be classified.
	w.defect("%s: %v", key, err)
	var out []Address
	for _, a := range looseAddr.FindAllString(h.Get(key), 20) {
		out = append(out, Address{Address: a})
	}
	return out
}

// cleanHeaderText drops control characters and invalid UTF-8 from a
// decoded header value.
func cleanHeaderText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// walk reads one entity (header h, raw body r: transfer encoding not yet
// decoded) at the given depth.
func (w *walker) walk(h message.Header, r io.Reader, depth int) (content, error) {
	w.parts++
	if w.parts > w.opts.MaxParts {
		return content{}, &LimitError{Limit: LimitParts, Max: int64(w.opts.MaxParts)}
	}
	if depth > w.opts.MaxDepth {
		return content{}, &LimitError{Limit: LimitDepth, Max: int64(w.opts.MaxDepth)}
	}
	mediaType, params := w.contentType(h)
	if strings.HasPrefix(mediaType, "multipart/") {
		boundary := params["boundary"]
		if boundary == "" {
			w.defect("%s without boundary: read as text", mediaType)
			mediaType = "text/plain"
		} else {
			return w.walkMultipart(mediaType, params, boundary, r, depth)
		}
	}
	return w.leaf(h, mediaType, params, r)
}

// contentType parses Content-Type leniently: a type with bad parameters
// keeps its type and whatever parameters could be read.
func (w *walker) contentType(h message.Header) (string, map[string]string) {
	v := h.Get("Content-Type")
	if v == "" {
		return "text/plain", map[string]string{}
	}
	t, params, err := mime.ParseMediaType(v)
	if err != nil {
		w.defect("Content-Type %q: %v", v, err)
		if t == "" {
			return "application/octet-stream", map[string]string{}
		}
	}
	if params == nil {
		params = map[string]string{}
	}
	return strings.ToLower(t), params
}

func (w *walker) walkMultipart(mediaType string, params map[string]string, boundary string, r io.Reader, depth int) (content, error) {
	mr := textproto.NewMultipartReader(r, boundary)
	var children []content
	firstAttachment := len(w.msg.Attachments)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			w.defect("%s: %v", mediaType, err)
			break
		}
		if n := headerSize(p.Header); int64(n) > w.opts.MaxHeaderBytes {
			return content{}, &LimitError{Limit: LimitHeaderBytes, Max: w.opts.MaxHeaderBytes}
		}
		c, err := w.walk(message.Header{Header: p.Header}, p, depth+1)
		if err != nil {
			return content{}, err
		}
		children = append(children, c)
	}
	if len(children) == 0 {
		w.defect("%s: no readable part", mediaType)
	}
	if mediaType == "multipart/alternative" {
		// Prefer the plain-text alternative; else the first with HTML.
		for _, c := range children {
			if hasWords(c.plain) {
				return content{plain: c.plain, html: firstHTML(children)}, nil
			}
		}
		if h := firstHTML(children); h != nil {
			return content{html: h}, nil
		}
		for _, c := range children {
			if len(c.plain) > 0 {
				return c, nil
			}
		}
		return content{}, nil
	}
	var out content
	for _, c := range children {
		out.plain = append(out.plain, c.plain...)
		out.html = append(out.html, c.html...)
	}
	if mediaType == "multipart/report" && w.msg.Report == nil {
		w.msg.Report = w.readReport(w.msg.Attachments[firstAttachment:])
	}
	return out, nil
}

func hasWords(ss []string) bool {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return true
		}
	}
	return false
}

// retryBoundary reads again a top-level multipart that yielded nothing,
// with the boundary its body actually uses (mailers that rewrite a body
// sometimes leave a stale boundary parameter). The first "--token" line
// of the body is taken as the boundary.
func (w *walker) retryBoundary(th textproto.Header, body []byte) (content, bool) {
	mediaType, params := w.contentType(message.Header{Header: th})
	if !strings.HasPrefix(mediaType, "multipart/") {
		return content{}, false
	}
	mm := firstBoundary.FindSubmatch(body)
	if mm == nil || string(mm[1]) == params["boundary"] {
		return content{}, false
	}
	boundary := strings.TrimSuffix(string(mm[1]), "--")
	w.defect("%s: read again with boundary %q found in the body", mediaType, boundary)
	c, err := w.walkMultipart(mediaType, params, boundary, bytes.NewReader(body), 0)
	if err != nil {
		return content{}, false
	}
	return c, true
}

var firstBoundary = regexp.MustCompile(`(?m)^--([0-9A-Za-z'()+_,./:=?-]{1,70})\r?$`)

func firstHTML(cs []content) []string {
	for _, c := range cs {
		if len(c.html) > 0 {
			return c.html
		}
	}
	return nil
}

func headerSize(h textproto.Header) int {
	n := 0
	for f := h.Fields(); f.Next(); {
		n += len(f.Key()) + len(f.Value()) + 4
	}
	return n
}

// leaf reads a non-multipart entity: body text or an attachment.
func (w *walker) leaf(h message.Header, mediaType string, params map[string]string, r io.Reader) (content, error) {
	disp, dparams, derr := mime.ParseMediaType(h.Get("Content-Disposition"))
	disp = strings.ToLower(disp)
	if derr != nil && h.Get("Content-Disposition") != "" {
		w.defect("Content-Disposition: %v", derr)
	}
	filename := w.filename(h, dparams, params)
	isText := (mediaType == "text/plain" || mediaType == "text/html") && disp != "attachment" && filename == ""

	body := r
	enc := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	// message.New decodes the transfer encoding, and the charset for text
	// parts. Build the header it sees so that it uses our lenient
	// Content-Type parse, and a charset only for body text.
	nh := message.Header{}
	if enc != "" {
		nh.Set("Content-Transfer-Encoding", enc)
	}
	cs := strings.ToLower(params["charset"])
	if isText && cs != "" {
		nh.SetContentType(mediaType, map[string]string{"charset": cs})
	} else {
		nh.SetContentType("application/octet-stream", nil)
	}
	e, err := message.New(nh, body)
	if err != nil {
		switch {
		case message.IsUnknownCharset(err):
			w.defect("unknown charset %q: read as UTF-8 or Windows-1252", cs)
		case message.IsUnknownEncoding(err):
			w.defect("unknown transfer encoding %q: kept as is", enc)
		default:
			w.defect("part: %v", err)
		}
	}
	if e == nil {
		return content{}, nil
	}
	data, err := w.readBody(e.Body)
	if err != nil {
		var le *LimitError
		if errors.As(err, &le) {
			return content{}, err
		}
		w.defect("%s body: %v (kept %d bytes)", mediaType, err, len(data))
	}

	if isText {
		s := toUTF8(data)
		if mediaType == "text/html" {
			return content{html: []string{s}}, nil
		}
		return content{plain: []string{s}}, nil
	}

	if len(w.msg.Attachments) >= w.opts.MaxAttachments {
		return content{}, &LimitError{Limit: LimitAttachments, Max: int64(w.opts.MaxAttachments)}
	}
	cid := trimID(h.Get("Content-Id"))
	if filename == "" && mediaType == "message/rfc822" {
		filename = "message.eml" // a forwarded mail: a name helpdesks can show
	}
	w.msg.Attachments = append(w.msg.Attachments, Attachment{
		Filename:    filename,
		ContentType: mediaType,
		Size:        len(data),
		Inline:      disp == "inline" || (disp == "" && cid != ""),
		ContentID:   cid,
		Data:        data,
	})
	return content{}, nil
}

// readBody reads a decoded body within the decoded-bytes budget. On a
// decoding error it returns what was read before it.
func (w *walker) readBody(r io.Reader) ([]byte, error) {
	left := w.opts.MaxDecodedBytes - w.decoded
	data, err := io.ReadAll(io.LimitReader(r, left+1))
	if int64(len(data)) > left {
		return nil, &LimitError{Limit: LimitDecodedBytes, Max: w.opts.MaxDecodedBytes}
	}
	w.decoded += int64(len(data))
	return data, err
}

// toUTF8 makes body text valid UTF-8. Text whose charset was unknown, or
// that is not valid UTF-8 although it should be, is most often
// Windows-1252 mislabelled (or unlabelled 8-bit): decode it as such.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	s, err := charmap.Windows1252.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(s)
}

// filename finds an attachment's name: Content-Disposition filename, else
// Content-Type name, RFC 2047 or RFC 2231 encoded. Go's mime package
// decodes RFC 2231 only for UTF-8 and US-ASCII; other charsets
// (ISO-8859-1 is common) are decoded here.
func (w *walker) filename(h message.Header, dparams, ctparams map[string]string) string {
	for _, p := range []struct {
		params map[string]string
		key    string
		field  string
	}{{dparams, "filename", "Content-Disposition"}, {ctparams, "name", "Content-Type"}} {
		// RFC 2231 first: Go's decoding of it is right only for UTF-8.
		if v := rfc2231(h.Get(p.field), p.key); v != "" {
			return sanitiseFilename(v)
		}
		if v := p.params[p.key]; v != "" {
			return sanitiseFilename(decodeWords(v))
		}
	}
	return ""
}

func decodeWords(s string) string {
	d := mime.WordDecoder{CharsetReader: charset.Reader}
	if out, err := d.DecodeHeader(s); err == nil {
		return out
	}
	return s
}

var param2231 = regexp.MustCompile(`(?i)(?:^|;)\s*([a-z0-9_-]+)\*(?:(\d+)(\*)?|)\s*=\s*("[^"]*"|[^;\s]*)`)

// rfc2231 decodes parameter key of a header value written as RFC 2231
// (key*=charset'lang'%xx… or continuations key*0*=…), in any charset the
// charset package knows.
func rfc2231(v, key string) string {
	type segment struct {
		n   int
		val string
	}
	var cs string
	var segs []segment
	for _, m := range param2231.FindAllStringSubmatch(v, 64) {
		if !strings.EqualFold(m[1], key) {
			continue
		}
		n := 0
		if m[2] != "" {
			n, _ = strconv.Atoi(m[2])
		}
		val := strings.Trim(m[4], `"`)
		encoded := m[2] == "" || m[3] == "*"
		if n == 0 && encoded {
			if i := strings.IndexByte(val, '\''); i >= 0 {
				if j := strings.IndexByte(val[i+1:], '\''); j >= 0 {
					cs = val[:i]
					val = val[i+1+j+1:]
				}
			}
		}
		if encoded {
			if u, err := url.PathUnescape(val); err == nil {
				val = u
			}
		}
		segs = append(segs, segment{n, val})
	}
	if len(segs) == 0 {
		return ""
	}
	sort.SliceStable(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
	var b strings.Builder
	for _, sg := range segs {
		b.WriteString(sg.val)
	}
	s := b.String()
	if cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		if r, err := charset.Reader(cs, strings.NewReader(s)); err == nil {
			if b, err := io.ReadAll(io.LimitReader(r, 4096)); err == nil {
				s = string(b)
			}
		}
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// sanitiseFilename keeps the last path element and drops control
// characters: a name comes from the sender and ends up in a helpdesk.
func sanitiseFilename(s string) string {
	s = cleanHeaderText(s)
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 255 {
		s = s[:255]
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

// normaliseText turns CRLF into LF and drops NULs and trailing spaces at
// the end of the text.
func normaliseText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.ReplaceAll(s, "\x00", "")
	return strings.TrimRight(s, " \t\n")
}
