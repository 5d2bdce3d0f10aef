package zendeskfake_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/helpdesktest"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
)

// upload posts a file to Upload Files, under token when not empty.
func (f *fixture) upload(name, contentType string, data []byte, token string) reply {
	f.t.Helper()
	q := url.Values{}
	if name != "" {
		q.Set("filename", name)
	}
	if token != "" {
		q.Set("token", token)
	}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+prefix+"/api/v2/uploads.json?"+q.Encode(), bytes.NewReader(data))
	if err != nil {
		f.t.Fatal(err)
	}
	req.SetBasicAuth(agentEmail+"/token", agentToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return f.send(req)
}

// get fetches an absolute URL, with the agent's credentials when auth is
// set.
func (f *fixture) get(u string, auth bool) reply {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(agentEmail+"/token", agentToken)
	}
	return f.send(req)
}

func TestUploadAndAttach(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	pdf := []byte("%PDF-1.4\n\xe2\xe3")
	r := f.upload("receipt.pdf", "application/pdf", pdf, "")
	wantStatus(t, r, http.StatusCreated)
	up := decode[api.UploadResponse](t, r.body).Upload
	if up.Token == "" || up.Attachment == nil || len(up.Attachments) != 1 || up.Attachment.FileName != "receipt.pdf" || up.Attachment.Size != int64(len(pdf)) {
		t.Fatalf("upload = %s", r.body)
	}
	// A second file under the same token joins the upload.
	r = f.upload("photo.png", "image/png", []byte("\x89PNG"), up.Token)
	wantStatus(t, r, http.StatusCreated)
	if got := decode[api.UploadResponse](t, r.body).Upload; got.Token != up.Token || len(got.Attachments) != 2 {
		t.Fatalf("second upload = %s", r.body)
	}

	id := f.create("ext-1")
	path := "/api/v2/tickets/" + strconv.FormatInt(id, 10)
	body := fmt.Sprintf(`{"ticket":{"comment":{"body":"See files","public":false,"uploads":[%q]},"metadata":{"helpdesk_bridge_external_id":"m-1"}}}`, up.Token)
	wantStatus(t, f.do("PUT", path, body), http.StatusOK)
	// A token is used once.
	wantInvalid(t, f.do("PUT", path, body), "comment")

	cl := decode[api.CommentList](t, f.do("GET", path+"/comments?include=users", "").body)
	c := cl.Comments[1]
	if len(c.Attachments) != 2 || c.Attachments[0].ContentType != "application/pdf" || len(cl.Users) == 0 {
		t.Fatalf("comment = %+v, users %d", c, len(cl.Users))
	}
	if got := f.get(c.Attachments[0].ContentURL, false); got.status != http.StatusUnauthorized {
		t.Errorf("private attachment without credentials: status %d, want 401", got.status)
	}
	got := f.get(c.Attachments[0].ContentURL, true)
	wantStatus(t, got, http.StatusOK)
	if !bytes.Equal(got.body, pdf) || got.header.Get("Content-Type") != "application/pdf" {
		t.Errorf("attachment = %q as %q", got.body, got.header.Get("Content-Type"))
	}

	audits := decode[api.AuditList](t, f.do("GET", path+"/audits", "").body)
	if len(audits.Audits) != 2 {
		t.Fatalf("audits = %s", f.do("GET", path+"/audits", "").body)
	}
	a := audits.Audits[1]
	if a.Metadata.Custom[api.MetadataExternalID] != "m-1" || len(a.Events) != 1 || a.Events[0].Type != api.AuditEventComment || a.Events[0].ID != c.ID {
		t.Errorf("audit = %+v", a)
	}
	if len(audits.Audits[0].Metadata.Custom) != 0 {
		t.Errorf("the creation's audit has custom metadata %v", audits.Audits[0].Metadata.Custom)
	}
}

func TestPublicAttachments(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{PublicAttachments: true})
	r := f.upload("a.txt", "text/plain", []byte("a"), "")
	wantStatus(t, r, http.StatusCreated)
	u := decode[api.UploadResponse](t, r.body).Upload.Attachment.ContentURL
	wantStatus(t, f.get(u, false), http.StatusOK)
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{MaxUploadBytes: 16})
	wantStatus(t, f.upload("", "text/plain", []byte("a"), ""), http.StatusBadRequest)
	wantStatus(t, f.upload("big.bin", "application/octet-stream", bytes.Repeat([]byte("x"), 17), ""), http.StatusRequestEntityTooLarge)
	wantStatus(t, f.upload("empty.txt", "text/plain", nil, ""), http.StatusUnprocessableEntity)
	wantStatus(t, f.upload("a.txt", "text/plain", []byte("a"), "no-such-token"), http.StatusNotFound)

	// An expired token is refused on the comment.
	r := f.upload("a.txt", "text/plain", []byte("a"), "")
	token := decode[api.UploadResponse](t, r.body).Upload.Token
	f.clock.Advance(zendeskfake.UploadTTL)
	path := "/api/v2/tickets/" + strconv.FormatInt(f.create("ext-1"), 10)
	wantInvalid(t, f.do("PUT", path, fmt.Sprintf(`{"ticket":{"comment":{"body":"late","uploads":[%q]}}}`, token)), "comment")
	wantInvalid(t, f.do("PUT", path, `{"ticket":{"comment":{"body":"made up","uploads":["abc"]}}}`), "comment")
}

// agentReply posts to the fake-only route.
func (f *fixture) agentReply(id int64, r zendeskfake.AgentReply) (reply, zendeskfake.AgentReplyResult) {
	f.t.Helper()
	body, _ := json.Marshal(r)
	resp, err := f.srv.Client().Post(fmt.Sprintf("%s%s/_fake/tickets/%d/agent-reply", f.srv.URL, prefix, id), "application/json", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out zendeskfake.AgentReplyResult
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	_ = json.Unmarshal(buf.Bytes(), &out)
	return reply{status: resp.StatusCode, header: resp.Header, body: buf.Bytes()}, out
}

func TestWebhookOnAgentReply(t *testing.T) {
	t.Parallel()
	rcv := helpdesktest.NewReceiver(t)
	hook := zendeskfake.Webhook{
		ID: "01HWEBHOOK", Endpoint: rcv.URL + "/hook", Secret: "signing-secret",
		Body: `{"ticket_id":"{{ticket.id}}","status":"{{ticket.status}}","agent":"{{current_user.name}}","x":"{{ticket.nope}}"}`,
	}
	f := newFixture(t, zendeskfake.Options{Webhooks: []zendeskfake.Webhook{hook}, WebhookClient: rcv.Client})
	id := f.create("ext-1")
	path := "/api/v2/tickets/" + strconv.FormatInt(id, 10)

	// The bridge's own API updates, and internal notes, call nothing.
	wantStatus(t, f.do("PUT", path, `{"ticket":{"comment":{"body":"mirrored","public":true}}}`), http.StatusOK)
	r, out := f.agentReply(id, zendeskfake.AgentReply{Body: "note", Public: ptr(false)})
	wantStatus(t, r, http.StatusOK)
	if rcv.Len() != 0 || len(out.Deliveries) != 0 {
		t.Fatalf("an API update or an internal note called the webhook (%d calls)", rcv.Len())
	}

	r, out = f.agentReply(id, zendeskfake.AgentReply{
		Body: "On its way.", Status: api.StatusSolved, DeliverTwice: true,
		Files: []zendeskfake.AgentFile{{Name: "label.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}},
	})
	wantStatus(t, r, http.StatusOK)
	calls := rcv.Since(0)
	if len(calls) != 2 || len(out.Deliveries) != 2 || out.Deliveries[0].Status != http.StatusOK {
		t.Fatalf("a public reply delivered twice: %d calls, deliveries %+v", len(calls), out.Deliveries)
	}
	c := calls[0]
	if want := `{"ticket_id":"1","status":"Solved","agent":"Alex Agent","x":""}`; string(c.Body) != want {
		t.Errorf("body = %s, want %s", c.Body, want)
	}
	ts := c.Header.Get(api.HeaderWebhookSignatureTimestamp)
	if _, err := time.Parse(time.RFC3339, ts); err != nil {
		t.Errorf("timestamp %q is not RFC 3339", ts)
	}
	mac := hmac.New(sha256.New, []byte(hook.Secret))
	mac.Write([]byte(ts))
	mac.Write(c.Body)
	if got := c.Header.Get(api.HeaderWebhookSignature); got != base64.StdEncoding.EncodeToString(mac.Sum(nil)) {
		t.Errorf("signature %q is not base64(HMAC-SHA256(secret, timestamp+body))", got)
	}
	if c.Header.Get(api.HeaderWebhookID) != hook.ID || c.Header.Get(api.HeaderWebhookInvocationID) == "" ||
		c.Header.Get(api.HeaderWebhookInvocationID) != calls[1].Header.Get(api.HeaderWebhookInvocationID) {
		t.Errorf("ids: webhook %q, invocations %q and %q", c.Header.Get(api.HeaderWebhookID),
			c.Header.Get(api.HeaderWebhookInvocationID), calls[1].Header.Get(api.HeaderWebhookInvocationID))
	}

	tk, _ := f.fake.Ticket(id)
	last := tk.Comments[len(tk.Comments)-1]
	agent, _ := f.fake.User(last.AuthorID)
	if tk.Status != api.StatusSolved || !last.Public || len(last.Attachments) != 1 || agent.Email != zendeskfake.HumanAgentEmail || agent.Role != "agent" {
		t.Errorf("after the reply: status %s, comment %+v by %+v", tk.Status, last, agent)
	}
	if len(f.fake.Deliveries()) != 2 {
		t.Errorf("Deliveries() = %d, want 2", len(f.fake.Deliveries()))
	}
	// The next reply is another invocation.
	f.agentReply(id, zendeskfake.AgentReply{Body: "Anything else?"})
	if next := rcv.Since(2); len(next) != 1 || next[0].Header.Get(api.HeaderWebhookInvocationID) == c.Header.Get(api.HeaderWebhookInvocationID) {
		t.Error("a new reply reused the invocation id")
	}
}

func TestAgentReplyRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	id := f.create("ext-1")
	for name, r := range map[string]zendeskfake.AgentReply{
		"no body":    {Public: ptr(true)},
		"bad status": {Body: "x", Status: "done"},
		"new status": {Body: "x", Status: api.StatusNew},
		"empty file": {Body: "x", Files: []zendeskfake.AgentFile{{Name: "a.txt"}}},
	} {
		if r, _ := f.agentReply(id, r); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", name, r.status)
		}
	}
	if r, _ := f.agentReply(99, zendeskfake.AgentReply{Body: "x"}); r.status != http.StatusNotFound {
		t.Errorf("unknown ticket: status %d, want 404", r.status)
	}
	f.fake.FillComments(id, zendeskfake.MaxComments)
	if r, _ := f.agentReply(id, zendeskfake.AgentReply{Body: "x"}); r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "TooManyComments") {
		t.Errorf("past the comment limit: status %d, %s", r.status, r.body)
	}
}

func ptr[T any](v T) *T { return &v }
