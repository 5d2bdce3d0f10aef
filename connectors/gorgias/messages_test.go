package gorgias_test

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
)

var receipt = connectors.File{Name: "receipt.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 receipt")}

// TestAppendLooksUpBeforeUploading checks the order of calls that makes an
// append exactly-once: look the external id up, then upload, then write;
// and on the second call look up only.
func TestAppendLooksUpBeforeUploading(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := startFake(t, setup{wrap: rec.wrap, now: func() time.Time { return fixedNow }})
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	m := connectors.Message{
		BodyText: "Here is my receipt.", FromCustomer: true, ExternalID: "mirakl:thread-9:msg-3",
		Author: connectors.Person{Email: "jane@example.com"}, Files: []connectors.File{receipt},
	}
	start := len(rec.calls())
	for range 2 {
		if err := h.hd.AddMessage(t.Context(), tk.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		"GET /acme/api/messages", "POST /acme/api/upload", "POST /acme/api/tickets/" + tk.ID + "/messages",
		"GET /acme/api/messages",
	}
	if diff := cmp.Diff(want, rec.calls()[start:]); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	if q := rec.last(http.MethodGet, prefix+"/api/messages").query; q.Get("ticket_id") != tk.ID || q.Get("limit") != "100" {
		t.Errorf("message listing query = %v", q)
	}

	up := rec.last(http.MethodPost, prefix+"/api/upload")
	if up.query.Get("type") != "attachment" {
		t.Errorf("upload type = %q, want attachment (private)", up.query.Get("type"))
	}
	mt, params, err := mime.ParseMediaType(up.header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		t.Fatalf("upload Content-Type = %q", up.header.Get("Content-Type"))
	}
	part, err := multipart.NewReader(bytes.NewReader(up.raw), params["boundary"]).NextPart()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(part)
	if part.FormName() != "file" || part.FileName() != receipt.Name || part.Header.Get("Content-Type") != receipt.ContentType || !bytes.Equal(data, receipt.Data) {
		t.Errorf("upload part = field %q, file %q, type %q, %d bytes", part.FormName(), part.FileName(), part.Header.Get("Content-Type"), len(data))
	}

	msg := rec.last(http.MethodPost, prefix+"/api/tickets/"+tk.ID+"/messages").body
	atts, _ := msg["attachments"].([]any)
	if msg["external_id"] != m.ExternalID || len(atts) != 1 || atts[0].(map[string]any)["name"] != receipt.Name {
		t.Errorf("message body = %v", msg)
	}
	if _, sent := msg["public"]; sent {
		t.Error("the message carries public, which a create does not document")
	}
}

func TestOperatorMessageWireFormat(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := startFake(t, setup{wrap: rec.wrap, now: func() time.Time { return fixedNow }})
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	m := connectors.Message{
		BodyText: "Refund the buyer.", BodyHTML: "<p>Refund the buyer.</p>", FromOperator: true,
		Author: connectors.Person{Name: "Marketplace <Ops> & Co", Email: "ops@marketplace.example"},
	}
	if err := h.hd.AddMessage(t.Context(), tk.ID, m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"channel": "internal-note", "via": "api", "from_agent": true,
		"sender":        map[string]any{"email": agentEmail},
		"body_text":     "Marketplace <Ops> & Co wrote:\n\nRefund the buyer.",
		"body_html":     "<p><strong>Marketplace &lt;Ops&gt; &amp; Co</strong> wrote:</p><p>Refund the buyer.</p>",
		"sent_datetime": wireNow,
	}
	if diff := cmp.Diff(want, rec.last(http.MethodPost, prefix+"/api/tickets/"+tk.ID+"/messages").body); diff != "" {
		t.Errorf("operator message (-want +got):\n%s", diff)
	}
	if h.fake.Sent() != 0 {
		t.Error("an operator message would have been sent")
	}
}

// TestListMessagesChecksTheTicketFilter: an API ignoring ticket_id must not
// make another ticket's messages look like this one's.
func TestListMessagesChecksTheTicketFilter(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{wrap: stale("ticket_id")})
	first, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	other := alertTicket()
	other.ExternalID += "-other"
	other.Message.BodyText = "Someone else's ticket."
	if _, _, err := h.hd.CreateTicket(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	msgs, err := h.hd.ListMessages(t.Context(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].BodyText != alertTicket().Message.BodyText {
		t.Errorf("ListMessages = %+v, want the ticket's one message", msgs)
	}
}

// fileHost is a file server elsewhere than the account, recording whether
// it was sent credentials.
type fileHost struct {
	mu    sync.Mutex
	auths []string
}

func (f *fileHost) auth(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.auths[i]
}

func (f *fileHost) start(t *testing.T, body func(w io.Writer)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		body(w)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestDownloadSendsCredentialsOnlyToTheAccount(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	host := &fileHost{}
	elsewhere := host.start(t, func(w io.Writer) { _, _ = io.WriteString(w, "hello") })
	// A host the account is not known to serve files from is refused
	// before any request...
	if _, _, err := h.hd.DownloadAttachment(t.Context(), elsewhere.URL+"/files/a.txt?token=abc"); !errors.Is(err, connectors.ErrRefusedURL) || strings.Contains(err.Error(), "abc") {
		t.Errorf("download from an unlisted host: err = %v, want ErrRefusedURL without the URL", err)
	}
	// ...and one the operator lists gets no credentials.
	hd := withFileHosts(t, h, elsewhere.URL)
	body, ct, err := hd.DownloadAttachment(t.Context(), elsewhere.URL+"/files/a.txt?token=abc")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(body)
	body.Close()
	if string(data) != "hello" || ct != "text/plain" {
		t.Errorf("download = %q, %q", data, ct)
	}
	if host.auth(0) != "" {
		t.Error("the API credentials were sent to a host other than the account's")
	}

	// The account's own private attachment needs them, and gets them.
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	m := connectors.Message{BodyText: "Receipt.", Internal: true, Files: []connectors.File{receipt}}
	if err := h.hd.AddMessage(t.Context(), tk.ID, m); err != nil {
		t.Fatal(err)
	}
	msgs, err := h.hd.ListMessages(t.Context(), tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	url := msgs[1].Attachments[0].URL
	if !strings.HasPrefix(url, h.srv.URL+prefix+"/") {
		t.Fatalf("attachment url %q is not on the account", url)
	}
	if _, _, err := h.wrong.DownloadAttachment(t.Context(), url); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("private attachment with wrong credentials: err = %v, want ErrUnauthorized", err)
	}
	if _, _, err := h.hd.DownloadAttachment(t.Context(), url); err != nil {
		t.Errorf("private attachment: %v", err)
	}
}

// withFileHosts is the harness's account with the hosts of these server
// URLs listed as file hosts.
func withFileHosts(t *testing.T, h *fakeHarness, urls ...string) *gorgias.Client {
	t.Helper()
	var hosts []string
	for _, u := range urls {
		hosts = append(hosts, strings.TrimPrefix(u, "http://"))
	}
	c, err := gorgias.New(gorgias.Options{BaseURL: h.srv.URL + prefix, Email: agentEmail, APIKey: agentKey, FileHosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDownloadRefusals(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	for _, u := range []string{"ftp://files.example.com/a", "/relative/a.png", "https://user:pass@files.example.com/a"} {
		if _, _, err := h.hd.DownloadAttachment(t.Context(), u); !errors.Is(err, connectors.ErrInvalid) || strings.Contains(err.Error(), "pass") {
			t.Errorf("DownloadAttachment(%q): err = %v, want ErrInvalid without the URL", u, err)
		}
	}
	host := &fileHost{}
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	if _, _, err := withFileHosts(t, h, missing.URL).DownloadAttachment(t.Context(), missing.URL+"/gone?token=s3cr3t"); !errors.Is(err, connectors.ErrNotFound) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("missing file: err = %v, want ErrNotFound without the URL", err)
	}
	huge := host.start(t, func(w io.Writer) {
		chunk := make([]byte, 1<<20)
		for range 65 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	// Reading 65 MiB takes longer than the harness's 1 s timeout under the
	// race detector.
	patient, err := gorgias.New(gorgias.Options{BaseURL: h.srv.URL + prefix, Email: agentEmail, APIKey: agentKey, HTTPClient: &http.Client{Timeout: time.Minute}, FileHosts: []string{strings.TrimPrefix(huge.URL, "http://")}})
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := patient.DownloadAttachment(t.Context(), huge.URL+"/huge.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if _, err := io.Copy(io.Discard, body); !errors.Is(err, connectors.ErrTooLarge) {
		t.Errorf("reading a 65 MiB attachment: err = %v, want ErrTooLarge", err)
	}
}
