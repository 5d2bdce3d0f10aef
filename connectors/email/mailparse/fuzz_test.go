package mailparse

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to the parser and the classifiers: no
// panic, only LimitError or ErrMalformed as errors, and every bound held.
// Seeds: testdata/fuzz/FuzzParse and the cases below.
func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@b\r\n\r\nhello"))
	f.Add([]byte("Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\nContent-Type: text/html\r\n\r\n<p>hi<script>x</script></p>\r\n--x--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*0*=iso-8859-1''a%E9; filename*1=.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n--a--\r\n"))
	opts := Options{MaxBytes: 1 << 20, MaxDecodedBytes: 1 << 20, MaxHeaderBytes: 16 << 10, MaxParts: 50, MaxDepth: 6, MaxAttachments: 10}
	gen, err := Generic(GenericConfig{Name: "g", RelayDomains: []string{"relay.example"}, OrderSubject: `#(\d+)`})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseBytes(raw, opts)
		if err != nil {
			var le *LimitError
			if !errors.As(err, &le) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.StrippedText) || !utf8.ValidString(m.Subject) {
			t.Fatal("text is not valid UTF-8")
		}
		if len(m.Attachments) > opts.MaxAttachments {
			t.Fatalf("%d attachments", len(m.Attachments))
		}
		total := 0
		for _, a := range m.Attachments {
			total += a.Size
			if strings.ContainsAny(a.Filename, "/\\\x00") {
				t.Fatalf("unsafe file name %q", a.Filename)
			}
		}
		if int64(total) > opts.MaxDecodedBytes {
			t.Fatalf("%d decoded bytes", total)
		}
		for _, p := range []*Profile{Amazon, CDON, gen} {
			c := Classify(p, m)
			if c.Kind == KindBuyerMessage && c.ThreadKey == "" {
				t.Fatalf("%s: buyer message without thread key", p.Spec.Name)
			}
		}
	})
}
