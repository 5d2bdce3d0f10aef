package gorgiasfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/helpdesktest"
)

type part struct {
	field, file, contentType string
	data                     []byte
}

// multipartBody encodes parts as POST /api/upload takes them.
func multipartBody(t *testing.T, parts ...part) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		if p.file != "" {
			h.Set("Content-Disposition", multipart.FileContentDisposition(p.field, p.file))
		} else {
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.field))
		}
		if p.contentType != "" {
			h.Set("Content-Type", p.contentType)
		}
		w, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(p.data)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// send makes one request to the fake, with the agent's credentials when
// auth is set.
func send(t *testing.T, h http.Handler, method, target, contentType string, body []byte, auth bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth {
		req.SetBasicAuth(agent, key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestUpload(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{MaxUploadBytes: 1024})
	png := []byte("\x89PNG\r\n\x1a\n\x00\xff")
	ct, body := multipartBody(t,
		part{field: "file", file: "box.png", contentType: "image/png", data: png},
		part{field: "label.txt", data: []byte("no file name: the field names it")},
	)
	rec := send(t, fake, http.MethodPost, "/api/upload", ct, body, true)
	if rec.Code != http.StatusCreated {
		t.Fatalf("upload: status %d, body %s", rec.Code, rec.Body)
	}
	var files []api.Attachment
	if err := json.Unmarshal(rec.Body.Bytes(), &files); err != nil || len(files) != 2 {
		t.Fatalf("upload answer %s: %v", rec.Body, err)
	}
	if files[0].Name != "box.png" || files[0].ContentType != "image/png" || files[0].Size != api.Size(len(png)) {
		t.Errorf("first file = %+v", files[0])
	}
	if files[1].Name != "label.txt" || files[1].ContentType != "application/octet-stream" {
		t.Errorf("second file = %+v", files[1])
	}

	u, err := url.Parse(files[0].URL)
	if err != nil || !u.IsAbs() {
		t.Fatalf("file url %q is not absolute", files[0].URL)
	}
	if got := send(t, fake, http.MethodGet, u.Path, "", nil, false); got.Code != http.StatusUnauthorized {
		t.Errorf("private file without credentials: status %d, want 401", got.Code)
	}
	got := send(t, fake, http.MethodGet, u.Path, "", nil, true)
	if got.Code != http.StatusOK || !bytes.Equal(got.Body.Bytes(), png) || got.Header().Get("Content-Type") != "image/png" {
		t.Errorf("private file: status %d, %q, %d bytes", got.Code, got.Header().Get("Content-Type"), got.Body.Len())
	}

	// A public attachment is open to anyone with its URL.
	ct, body = multipartBody(t, part{field: "file", file: "logo.png", contentType: "image/png", data: png})
	rec = send(t, fake, http.MethodPost, "/api/upload?type=public_attachment", ct, body, true)
	if rec.Code != http.StatusCreated {
		t.Fatalf("public upload: status %d", rec.Code)
	}
	_ = json.Unmarshal(rec.Body.Bytes(), &files)
	u, _ = url.Parse(files[0].URL)
	if got := send(t, fake, http.MethodGet, u.Path, "", nil, false); got.Code != http.StatusOK {
		t.Errorf("public file without credentials: status %d, want 200", got.Code)
	}
}

func TestUploadRefusals(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{MaxUploadBytes: 1024})
	okType, okBody := multipartBody(t, part{field: "file", file: "a.txt", data: []byte("a")})
	bigType, bigBody := multipartBody(t, part{field: "file", file: "big.bin", data: bytes.Repeat([]byte("x"), 1025)})
	emptyType, emptyBody := multipartBody(t, part{field: "file", file: "empty.txt"})
	noneType, noneBody := multipartBody(t)
	tests := []struct {
		name        string
		target      string
		contentType string
		body        []byte
		auth        bool
		want        int
	}{
		{"no credentials", "/api/upload", okType, okBody, false, http.StatusUnauthorized},
		{"unknown type", "/api/upload?type=bogus", okType, okBody, true, http.StatusBadRequest},
		{"unknown parameter", "/api/upload?name=x", okType, okBody, true, http.StatusBadRequest},
		{"JSON instead of multipart", "/api/upload", "application/json", []byte(`{"url":"x"}`), true, http.StatusBadRequest},
		{"file over the limit", "/api/upload", bigType, bigBody, true, http.StatusRequestEntityTooLarge},
		{"empty file", "/api/upload", emptyType, emptyBody, true, http.StatusBadRequest},
		{"no file", "/api/upload", noneType, noneBody, true, http.StatusBadRequest},
	}
	for _, tc := range tests {
		if got := send(t, fake, http.MethodPost, tc.target, tc.contentType, tc.body, tc.auth); got.Code != tc.want {
			t.Errorf("%s: status %d, want %d (body %s)", tc.name, got.Code, tc.want, got.Body)
		}
	}
}

func TestListMessages(t *testing.T) {
	t.Parallel()
	fake, clk := newFake(t, gorgiasfake.Options{})
	first := createTicket(t, fake, "alert-1")
	createTicket(t, fake, "alert-2")
	for range 3 {
		clk.Advance(1e9)
		if a := call(t, fake, http.MethodPost, fmt.Sprintf("/api/tickets/%d/messages", first), customerMessage()); a.status != http.StatusCreated {
			t.Fatalf("message: status %d", a.status)
		}
	}
	var ids []float64
	target := fmt.Sprintf("/api/messages?ticket_id=%d&limit=2", first)
	for target != "" {
		a := call(t, fake, http.MethodGet, target, nil)
		if a.status != http.StatusOK {
			t.Fatalf("list: status %d, %s", a.status, a.raw)
		}
		for _, m := range a.body["data"].([]any) {
			msg := m.(map[string]any)
			if msg["ticket_id"] != float64(first) || msg["public"] == nil {
				t.Errorf("listed message = %v", msg)
			}
			ids = append(ids, msg["id"].(float64))
		}
		target = ""
		if next, _ := a.body["meta"].(map[string]any)["next_cursor"].(string); next != "" {
			target = fmt.Sprintf("/api/messages?ticket_id=%d&limit=2&cursor=%s", first, next)
		}
	}
	// Newest first by default; the ticket's first message was created first.
	if diff := cmp.Diff([]float64{5, 4, 3, 1}, ids); diff != "" {
		t.Errorf("message ids (-want +got):\n%s", diff)
	}
	if a := call(t, fake, http.MethodGet, "/api/messages?ticket=1", nil); a.status != http.StatusBadRequest {
		t.Errorf("unknown parameter: status %d, want 400", a.status)
	}
}

func TestCreateMessageRefusesPublic(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	id := createTicket(t, fake, "alert-1")
	m := customerMessage()
	m.Public = ptr(true)
	a := call(t, fake, http.MethodPost, fmt.Sprintf("/api/tickets/%d/messages", id), m)
	if a.status != http.StatusBadRequest || !strings.Contains(strings.Join(a.errorFields(), ","), "public") {
		t.Errorf("message with public: status %d, fields %v; want 400 naming public", a.status, a.errorFields())
	}
}

func bridgeIntegration(url string) api.Integration {
	return api.Integration{
		Name: "bridge", Type: api.IntegrationTypeHTTP,
		HTTP: &api.HTTPIntegration{
			URL: url + "?ticket={{ticket.id}}", Method: http.MethodPost,
			Headers: map[string]string{"X-Secret": "s3cret"},
			Form: map[string]string{
				"ticket_id": "{{ticket.id}}", "message_id": "{{message.id}}", "from_agent": "{{message.from_agent}}",
				"channel": "{{message.channel}}", "public": "{{message.public}}", "status": "{{ ticket.status }}", "unknown": "{{ticket.nope}}",
			},
			RequestContentType: "application/json",
			Triggers:           map[string]bool{api.TriggerTicketMessageCreated: true},
		},
	}
}

func decodeForm(t *testing.T, d helpdesktest.Delivery) map[string]string {
	t.Helper()
	var form map[string]string
	if err := json.Unmarshal(d.Body, &form); err != nil {
		t.Fatalf("integration body %s: %v", d.Body, err)
	}
	return form
}

func TestIntegrationCalls(t *testing.T) {
	t.Parallel()
	rcv := helpdesktest.NewReceiver(t)
	formURL := bridgeIntegration(rcv.URL + "/form")
	formURL.Name, formURL.HTTP.RequestContentType = "form", "application/x-www-form-urlencoded"
	underscored := bridgeIntegration(rcv.URL + "/underscored")
	underscored.Name, underscored.HTTP.Triggers = "underscored", map[string]bool{"ticket_message_created": true}
	other := bridgeIntegration(rcv.URL + "/other")
	other.Name, other.HTTP.Triggers = "other", map[string]bool{api.TriggerTicketCreated: true}
	fake, _ := newFake(t, gorgiasfake.Options{
		Integrations:  []api.Integration{bridgeIntegration(rcv.URL + "/json"), formURL, underscored, other},
		WebhookClient: rcv.Client,
	})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	id := createTicket(t, fake, "alert-1")
	fake.WaitWebhooks()
	if rcv.Len() != 0 {
		t.Errorf("ticket creation called %d message integrations", rcv.Len())
	}

	// A message through the API: called in the background.
	if a := call(t, fake, http.MethodPost, fmt.Sprintf("/api/tickets/%d/messages", id), customerMessage()); a.status != http.StatusCreated {
		t.Fatalf("message: status %d", a.status)
	}
	fake.WaitWebhooks()
	calls := rcv.Since(0)
	if len(calls) != 3 {
		t.Fatalf("integration calls for an API message = %d, want 3 (json, form, underscored)", len(calls))
	}
	form := decodeForm(t, calls[0])
	want := map[string]string{"ticket_id": "1", "message_id": "2", "from_agent": "False", "channel": "api", "public": "True", "status": "open", "unknown": ""}
	if diff := cmp.Diff(want, form); diff != "" {
		t.Errorf("rendered form (-want +got):\n%s", diff)
	}
	if calls[0].Header.Get("X-Secret") != "s3cret" || calls[0].Header.Get("Content-Type") != "application/json" {
		t.Errorf("integration headers = %v", calls[0].Header)
	}
	if q, err := url.ParseQuery(string(calls[1].Body)); err != nil || q.Get("from_agent") != "False" || calls[1].Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("form-encoded call = %q, %v", calls[1].Body, calls[1].Header)
	}

	// An agent's reply and close: called before the route answers, twice
	// when asked.
	reply, _ := json.Marshal(gorgiasfake.AgentReply{
		BodyText: "On its way.", Status: api.StatusClosed, DeliverTwice: true,
		Files: []gorgiasfake.AgentFile{{Name: "label.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}},
	})
	resp, err := srv.Client().Post(fmt.Sprintf("%s/_fake/tickets/%d/agent-reply", srv.URL, id), "application/json", bytes.NewReader(reply))
	if err != nil {
		t.Fatal(err)
	}
	var out gorgiasfake.AgentReplyResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("agent reply: status %d, %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	if len(out.Deliveries) != 6 || out.Deliveries[0].Status != http.StatusOK {
		t.Errorf("deliveries = %+v, want 6 answered 200", out.Deliveries)
	}
	replyCalls := rcv.Since(3)
	form = decodeForm(t, replyCalls[0])
	if form["from_agent"] != "True" || form["public"] != "True" || form["status"] != "closed" || form["message_id"] != fmt.Sprint(out.MessageID) {
		t.Errorf("reply form = %v", form)
	}
	if !bytes.Equal(replyCalls[0].Body, replyCalls[1].Body) {
		t.Error("a call delivered twice changed between deliveries")
	}
	tk, _ := fake.Ticket(id)
	last := tk.Messages[len(tk.Messages)-1]
	if tk.Status != api.StatusClosed || last.Sender.Email != gorgiasfake.HumanAgent().Email || len(last.Attachments) != 1 {
		t.Errorf("after the reply: status %s, last message %+v", tk.Status, last)
	}
	if fake.Sent() != 0 {
		t.Error("an agent's reply counted as sent by the API")
	}
	if n := len(fake.Deliveries()); n != 9 {
		t.Errorf("Deliveries() = %d, want 9", n)
	}
}

func TestAgentReplyInternalNoteAndRefusals(t *testing.T) {
	t.Parallel()
	rcv := helpdesktest.NewReceiver(t)
	fake, _ := newFake(t, gorgiasfake.Options{Integrations: []api.Integration{bridgeIntegration(rcv.URL)}, WebhookClient: rcv.Client})
	id := createTicket(t, fake, "alert-1")
	post := func(body string) *httptest.ResponseRecorder {
		return send(t, fake, http.MethodPost, fmt.Sprintf("/_fake/tickets/%d/agent-reply", id), "application/json", []byte(body), false)
	}
	if rec := post(`{"body_text":"Note to self.","public":false}`); rec.Code != http.StatusOK {
		t.Fatalf("internal note: status %d, %s", rec.Code, rec.Body)
	}
	form := decodeForm(t, rcv.Since(0)[0])
	if form["channel"] != api.ChannelInternalNote || form["public"] != "False" {
		t.Errorf("internal note form = %v", form)
	}
	for name, body := range map[string]string{
		"no body":       `{"public":true}`,
		"bad status":    `{"body_text":"x","status":"solved"}`,
		"unknown field": `{"body_text":"x","bcc":"a@b.c"}`,
		"empty file":    `{"body_text":"x","files":[{"name":"a.txt"}]}`,
	} {
		if rec := post(body); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", name, rec.Code)
		}
	}
	rec := send(t, fake, http.MethodPost, "/_fake/tickets/99/agent-reply", "application/json", []byte(`{"body_text":"x"}`), false)
	if rec.Code != http.StatusNotFound {
		t.Errorf("unknown ticket: status %d, want 404", rec.Code)
	}
	if b, _ := io.ReadAll(rec.Body); len(b) == 0 {
		t.Error("404 without a body")
	}
}
