// Package xmlsafe reads vendors' XML answers the safe way, for the XML
// marketplaces: a bounded size, no DOCTYPE nor entity declaration (the way
// to entity expansion and external entity tricks), one root element, and
// only the charsets a vendor is known to send.
package xmlsafe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/text/encoding/charmap"
)

// ErrUnsafe marks an answer refused before decoding: a DOCTYPE or an
// entity declaration, or an answer over its size bound. The same answer
// would come again: callers do not retry it.
var ErrUnsafe = errors.New("unsafe XML answer")

// Read reads at most max bytes of r, and fails with ErrUnsafe past them.
func Read(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: answer larger than %d bytes", ErrUnsafe, max)
	}
	return data, nil
}

// Charsets are the encodings a decoder accepts.
type Charsets int

const (
	// UTF8 accepts UTF-8 and US-ASCII only.
	UTF8 Charsets = iota
	// Latin1 also accepts ISO-8859-1 (and its alias latin1), declared in
	// the XML declaration or, when the document declares none, in the
	// HTTP Content-Type.
	Latin1
)

// Decoder decodes answers into v.
type Decoder struct {
	// MaxBytes bounds a document.
	MaxBytes int
	Charsets Charsets
}

// Bounded is implemented by answer types whose lists must stay within
// bounds: Bound fails (with ErrUnsafe) when one does not.
type Bounded interface {
	Bound() error
}

// Decode decodes data into v: no DOCTYPE, no entity declarations, no
// trailing element, and v's lists bounded when it is Bounded.
// contentCharset is the charset of the HTTP Content-Type, if any; it is
// used when the document declares none (a declaration wins, as in XML).
func (dc Decoder) Decode(data []byte, contentCharset string, v any) error {
	if len(data) > dc.MaxBytes {
		return fmt.Errorf("%w: answer larger than %d bytes", ErrUnsafe, dc.MaxBytes)
	}
	if !declaresEncoding(data) && contentCharset != "" {
		if !dc.accepts(contentCharset) {
			return fmt.Errorf("unsupported charset %q", contentCharset)
		}
		if isLatin1(contentCharset) {
			utf, err := charmap.ISO8859_1.NewDecoder().Bytes(data)
			if err != nil {
				return err
			}
			data = utf
		}
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(charset string, in io.Reader) (io.Reader, error) {
		if !dc.accepts(charset) {
			return nil, fmt.Errorf("unsupported charset %q", charset)
		}
		if isLatin1(charset) {
			return charmap.ISO8859_1.NewDecoder().Reader(in), nil
		}
		return in, nil
	}
	// Walk the prolog by hand: a directive (DOCTYPE, ENTITY) is refused
	// before anything else is read.
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("no root element: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: a DOCTYPE or entity declaration", ErrUnsafe)
		case xml.StartElement:
			if err := d.DecodeElement(v, &t); err != nil {
				return err
			}
			if err := rest(d); err != nil {
				return err
			}
			if b, ok := v.(Bounded); ok {
				return b.Bound()
			}
			return nil
		}
	}
}

// Root returns the local name of data's root element, or "".
func Root(data []byte) string {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(_ string, in io.Reader) (io.Reader, error) { return in, nil }
	for range 64 {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case xml.Directive:
			return ""
		case xml.StartElement:
			return t.Name.Local
		}
	}
	return ""
}

// Check fails with ErrUnsafe when n is over limit.
func Check(what string, n, limit int) error {
	if n > limit {
		return fmt.Errorf("%w: %d %s, over %d", ErrUnsafe, n, what, limit)
	}
	return nil
}

func (dc Decoder) accepts(charset string) bool {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "utf-8", "utf8", "us-ascii":
		return true
	}
	return dc.Charsets == Latin1 && isLatin1(charset)
}

func isLatin1(charset string) bool {
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "iso8859-1", "latin1", "iso_8859-1":
		return true
	}
	return false
}

// declaresEncoding tells whether data opens with an XML declaration
// naming an encoding.
func declaresEncoding(data []byte) bool {
	data = bytes.TrimLeft(data, " \t\r\n\ufeff")
	if !bytes.HasPrefix(data, []byte("<?xml")) {
		return false
	}
	end := bytes.Index(data, []byte("?>"))
	return end > 0 && bytes.Contains(data[:end], []byte("encoding"))
}

// rest checks that only comments, processing instructions and spaces
// follow the root.
func rest(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Directive:
			return fmt.Errorf("%w: a DOCTYPE or entity declaration", ErrUnsafe)
		case xml.StartElement:
			return fmt.Errorf("a second root element <%s>", t.Name.Local)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return errors.New("text after the root element")
			}
		}
	}
}

// EncodeLatin1 turns UTF-8 XML into ISO-8859-1, writing the characters
// Latin-1 lacks as character references. It is for fakes that answer in
// ISO-8859-1, as Rakuten does; data must hold no CDATA section.
func EncodeLatin1(data []byte) []byte {
	out := make([]byte, 0, len(data))
	for _, r := range string(data) {
		if r < 0x100 {
			out = append(out, byte(r))
			continue
		}
		out = fmt.Appendf(out, "&#%d;", r)
	}
	return out
}
