package discussions

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// FuzzPlainText: any agent HTML becomes text without panicking, valid
// UTF-8 in gives valid UTF-8 out, and the text is tidy (trimmed lines, no
// run of blank lines).
func FuzzPlainText(f *testing.F) {
	for _, s := range []string{
		"", "plain text", "<p>Hello <b>Jeanne</b>,</p><p>a <a href=\"https://shop.example/r\">link</a></p>",
		"<ul><li>one</li><li>two</li></ul>", "<script>alert(1)</script>x", "a &amp; b &lt;c&gt;", "<p><br><br><br></p>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := PlainText(in)
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("PlainText(%q) = %q, not valid UTF-8", in, out)
		}
		if !strings.ContainsAny(in, "<&") {
			if out != in {
				t.Fatalf("text without markup changed: %q -> %q", in, out)
			}
			return
		}
		if strings.Contains(out, "\n\n\n") || out != strings.TrimSpace(out) {
			t.Fatalf("PlainText(%q) = %q, not tidy", in, out)
		}
	})
}

// FuzzFileToken: the /v1/files token is refused with 404 invalid_link
// unless the bridge signed it, whatever its shape. It fuzzes OpenFile, the
// token's entry point, so that it follows however the token is made.
func FuzzFileToken(f *testing.F) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	svc := NewService(Options{
		Config: &config.Config{Merchants: []config.Merchant{{ID: "acme", Helpdesks: []config.Helpdesk{
			{ID: "acme-gorgias", Kind: config.KindGorgias, WebhookSecret: config.NewSecret("webhook-secret-0123456789")},
		}}}},
		Helpdesks: map[string]Helpdesk{"acme-gorgias": &apiHelpdesk{}},
		PublicURL: "https://bridge.example", Now: func() time.Time { return now },
	})
	valid, err := svc.link("acme-gorgias", connectors.Attachment{URL: "https://acme.gorgias.com/api/attachments/1/label.pdf", Name: "label.pdf"})
	if err != nil {
		f.Fatal(err)
	}
	valid = valid[strings.LastIndex(valid, "/")+1:]
	for _, s := range []string{valid, valid + "x", "", ".", "e30.", "e30.AAAA", strings.Replace(valid, ".", "..", 1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		body, _, _, err := svc.OpenFile(context.Background(), token)
		if body != nil {
			body.Close()
		}
		// Only the signed claim reaches the helpdesk (whose fake has no
		// such file); anything else is an invalid link.
		if errors.Is(err, connectors.ErrNotFound) {
			if !sameToken(token, valid) {
				t.Fatalf("OpenFile(%q) reached the helpdesk with a token the bridge did not sign", token)
			}
			return
		}
		var apiErr *httpapi.Error
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound || apiErr.Code != CodeInvalidLink {
			t.Fatalf("OpenFile(%q) = %v, want 404 %s", token, err, CodeInvalidLink)
		}
		if token == valid {
			t.Fatalf("the signed token was refused: %v", err)
		}
	})
}

// sameToken tells whether two tokens decode to the same claim and MAC.
func sameToken(a, b string) bool {
	decode := func(s string) (string, bool) {
		enc, sig, ok := strings.Cut(s, ".")
		c, err1 := base64.RawURLEncoding.DecodeString(enc)
		m, err2 := base64.RawURLEncoding.DecodeString(sig)
		return string(c) + "\x00" + string(m), ok && err1 == nil && err2 == nil
	}
	da, oka := decode(a)
	db, okb := decode(b)
	return oka && okb && da == db
}
