package zendesk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
)

var receipt = connectors.File{Name: "receipt.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 receipt")}

// TestAppendWireFormat checks the calls that make an append exactly-once:
// read the audits, then upload, then update with the comment and the
// external id in the audit's metadata; and on the second call read only.
func TestAppendWireFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	m := connectors.Message{
		BodyText: "Here is my receipt.", FromCustomer: true, ExternalID: "mirakl:thread-9:msg-3", Files: []connectors.File{receipt},
	}
	for range 2 {
		if err := e.hd.AddMessage(ctx, tk.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	path := "/api/v2/tickets/" + tk.ID
	counts := map[string]int{
		"audits": len(e.wire.find(http.MethodGet, path+"/audits")),
		"upload": len(e.wire.find(http.MethodPost, "/api/v2/uploads")),
		"update": len(e.wire.find(http.MethodPut, path)),
	}
	if diff := cmp.Diff(map[string]int{"audits": 2, "upload": 1, "update": 1}, counts); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	up := e.wire.find(http.MethodPost, "/api/v2/uploads")[0]
	if q, _ := url.ParseQuery(up.query); q.Get("filename") != receipt.Name || up.header.Get("Content-Type") != receipt.ContentType || !bytes.Equal(up.body, receipt.Data) {
		t.Errorf("upload = query %q, type %q, %d bytes", up.query, up.header.Get("Content-Type"), len(up.body))
	}
	var req struct {
		Ticket struct {
			Comment  api.NewComment `json:"comment"`
			Metadata map[string]any `json:"metadata"`
		} `json:"ticket"`
	}
	if err := json.Unmarshal(e.wire.find(http.MethodPut, path)[0].body, &req); err != nil {
		t.Fatal(err)
	}
	if len(req.Ticket.Comment.Uploads) != 1 || req.Ticket.Metadata[api.MetadataExternalID] != m.ExternalID {
		t.Errorf("update = uploads %v, metadata %v", req.Ticket.Comment.Uploads, req.Ticket.Metadata)
	}
}

func TestOperatorMessageIsAHeadedNote(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	m := connectors.Message{
		BodyText: "Refund the buyer.", BodyHTML: "<p>Refund the buyer.</p>", FromOperator: true,
		Author: connectors.Person{Name: "Marketplace <Ops>"},
	}
	if err := e.hd.AddMessage(ctx, tk.ID, m); err != nil {
		t.Fatal(err)
	}
	var req api.TicketRequest
	puts := e.wire.find(http.MethodPut, "/api/v2/tickets/"+tk.ID)
	if err := json.Unmarshal(puts[len(puts)-1].body, &req); err != nil {
		t.Fatal(err)
	}
	c := req.Ticket.Comment
	want := api.NewComment{
		Body:     "Marketplace <Ops> wrote:\n\nRefund the buyer.",
		HTMLBody: "<p><strong>Marketplace &lt;Ops&gt;</strong> wrote:</p><p>Refund the buyer.</p>",
		Public:   ptr(false),
	}
	if diff := cmp.Diff(want, *c); diff != "" {
		t.Errorf("operator comment (-want +got):\n%s", diff)
	}
}

// TestOthersMetadataIsNotTheBridges: an update by someone else with custom
// metadata, or with the bridge's key on a comment-less update, marks no
// comment.
func TestOthersMetadataIsNotTheBridges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"ticket":{"comment":{"body":"From another app","public":false},"metadata":{"app":"other","helpdesk_bridge_external_id":42}}}`
	req, _ := http.NewRequest(http.MethodPut, e.srv.URL+prefix+"/api/v2/tickets/"+tk.ID, strings.NewReader(body))
	req.SetBasicAuth(agentEmail+"/token", agentToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("other app's update: %v", err)
	}
	resp.Body.Close()
	msgs, err := e.hd.ListMessages(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.ExternalID != "" {
			t.Errorf("message %q has external id %q", m.BodyText, m.ExternalID)
		}
	}
}

func TestDownloadSendsCredentialsOnlyToTheAccount(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	var mu sync.Mutex
	var auth []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(elsewhere.Close)
	// A host the account is not known to serve files from is refused
	// before any request; one the operator lists gets no credentials.
	if _, _, err := e.hd.DownloadAttachment(ctx, elsewhere.URL+"/attachments/token/abc/?name=a.txt"); !errors.Is(err, connectors.ErrRefusedURL) || strings.Contains(err.Error(), "abc") {
		t.Errorf("download from an unlisted host: err = %v, want ErrRefusedURL without the URL", err)
	}
	listed, err := zendesk.New(zendesk.Options{BaseURL: e.srv.URL + prefix, Email: agentEmail, APIToken: agentToken, FileHosts: []string{strings.TrimPrefix(elsewhere.URL, "http://")}})
	if err != nil {
		t.Fatal(err)
	}
	body, ct, err := listed.DownloadAttachment(ctx, elsewhere.URL+"/attachments/token/abc/?name=a.txt")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(body)
	body.Close()
	mu.Lock()
	sent := auth[0]
	mu.Unlock()
	if string(data) != "hello" || ct != "text/plain" || sent != "" {
		t.Errorf("download elsewhere = %q, %q, credentials sent: %t", data, ct, sent != "")
	}

	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hd.AddMessage(ctx, tk.ID, connectors.Message{BodyText: "Receipt.", Internal: true, Files: []connectors.File{receipt}}); err != nil {
		t.Fatal(err)
	}
	msgs, err := e.hd.ListMessages(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	u := msgs[1].Attachments[0].URL
	if !strings.HasPrefix(u, e.srv.URL+prefix+"/attachments/token/") {
		t.Fatalf("attachment url %q is not on the account", u)
	}
	wrong := newClient(t, e.srv, "not-"+agentToken)
	if _, _, err := wrong.DownloadAttachment(ctx, u); !errors.Is(err, connectors.ErrUnauthorized) || strings.Contains(err.Error(), "token/") {
		t.Errorf("private attachment with wrong credentials: err = %v, want ErrUnauthorized without the URL", err)
	}
	body, _, err = e.hd.DownloadAttachment(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	data, _ = io.ReadAll(body)
	body.Close()
	if !bytes.Equal(data, receipt.Data) {
		t.Errorf("private attachment = %d bytes, want the receipt", len(data))
	}
}

func ptr[T any](v T) *T { return &v }

func TestDownloadRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	for _, u := range []string{"ftp://files.example.com/a", "/relative/a.png", "https://user:pass@files.example.com/a"} {
		if _, _, err := e.hd.DownloadAttachment(ctx, u); !errors.Is(err, connectors.ErrInvalid) || strings.Contains(err.Error(), "pass") {
			t.Errorf("DownloadAttachment(%q): err = %v, want ErrInvalid without the URL", u, err)
		}
	}
	gone := e.srv.URL + prefix + "/attachments/token/s3cr3t/?name=gone.pdf"
	if _, _, err := e.hd.DownloadAttachment(ctx, gone); !errors.Is(err, connectors.ErrNotFound) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("unknown attachment: err = %v, want ErrNotFound without the URL", err)
	}
}
