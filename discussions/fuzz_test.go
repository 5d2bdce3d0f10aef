package discussions

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
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
// unless it is one the bridge issued, whatever its shape. It fuzzes
// OpenFile, the token's entry point, so that it follows however the token
// is made.
func FuzzFileToken(f *testing.F) {
	now := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	svc := NewService(Options{
		Config: &config.Config{Merchants: []config.Merchant{{ID: "acme", Helpdesks: []config.Helpdesk{
			{ID: "acme-gorgias", Kind: config.KindGorgias, WebhookSecret: config.NewSecret("webhook-secret-0123456789")},
		}}}},
		Store:     NewStore(rdbtest.Client(f, apiTestDB), "fuzz:"),
		Helpdesks: map[string]Helpdesk{"acme-gorgias": &apiHelpdesk{}},
		PublicURL: "https://bridge.example", Now: func() time.Time { return now },
	})
	valid, err := svc.link(context.Background(), "acme-gorgias", connectors.Attachment{URL: "https://acme.gorgias.com/api/attachments/1/label.pdf", Name: "label.pdf"})
	if err != nil {
		f.Fatal(err)
	}
	valid = valid[strings.LastIndex(valid, "/")+1:]
	for _, s := range []string{valid, valid + "x", valid[1:], "", ".", "e30.", "e30.AAAA", strings.ToLower(valid)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		body, _, _, err := svc.OpenFile(context.Background(), token)
		if body != nil {
			body.Close()
		}
		// Only the issued token reaches the helpdesk (whose fake has no
		// such file: 502); anything else is an invalid link.
		var apiErr *httpapi.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("OpenFile(%q) = %v, want an API error", token, err)
		}
		if token == valid {
			if apiErr.Status != http.StatusBadGateway {
				t.Fatalf("the issued token: %v, want the helpdesk's 502", err)
			}
			return
		}
		if apiErr.Status != http.StatusNotFound || apiErr.Code != CodeInvalidLink {
			t.Fatalf("OpenFile(%q) = %v, want 404 %s", token, err, CodeInvalidLink)
		}
	})
}
