package gorgias_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/helpdesktest"
)

const (
	agentEmail = "bridge@acme.test"
	agentKey   = "test-api-key"
	// prefix mounts the fake below a path, so that a client dropping the
	// base URL's path fails every test.
	prefix = "/acme"
)

var fixedNow = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func TestConformance(t *testing.T) {
	t.Parallel()
	helpdesktest.RunConformanceTests(t, func(t *testing.T) helpdesktest.Harness {
		return startFake(t, setup{})
	})
}

// setup adjusts a harness over the fake.
type setup struct {
	// wrap sits between the client and the fake, to record or to alter.
	wrap func(http.Handler) http.Handler
	fake gorgiasfake.Options
	now  func() time.Time
}

// webhookSecret is the secret header value the fake's integration sends.
const webhookSecret = "gorgias-webhook-secret-for-tests"

// fakeHarness is the contract suite's view of a fresh fake account.
type fakeHarness struct {
	fake     *gorgiasfake.Server
	hd       *gorgias.Client
	wrong    *gorgias.Client
	srv      *httptest.Server
	receiver *helpdesktest.Receiver
}

func startFake(t *testing.T, s setup) *fakeHarness {
	t.Helper()
	s.fake.Accounts = map[string]string{agentEmail: agentKey}
	s.fake.PathPrefix = prefix
	// The account has the integration an admin sets up for the bridge,
	// calling a receiver that stands for the bridge's endpoint.
	receiver := helpdesktest.NewReceiver(t)
	s.fake.Integrations = []api.Integration{gorgias.Integration(receiver.URL+"/hooks/gorgias", webhookSecret)}
	s.fake.WebhookClient = receiver.Client
	fake := gorgiasfake.New(s.fake)
	var h http.Handler = fake
	if s.wrap != nil {
		h = s.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.Timeout = time.Second
	client := func(key string) *gorgias.Client {
		c, err := gorgias.New(gorgias.Options{
			BaseURL: srv.URL + prefix, Email: agentEmail, APIKey: key, HTTPClient: hc, Now: s.now,
		})
		if err != nil {
			t.Fatalf("gorgias.New: %v", err)
		}
		return c
	}
	// Background integration calls must end before the receiver stops.
	t.Cleanup(fake.WaitWebhooks)
	return &fakeHarness{fake: fake, hd: client(agentKey), wrong: client("not-the-key"), srv: srv, receiver: receiver}
}

func (h *fakeHarness) Helpdesk() connectors.Helpdesk         { return h.hd }
func (h *fakeHarness) WrongCredentials() connectors.Helpdesk { return h.wrong }
func (h *fakeHarness) Faults() *fault.Injector               { return h.fake.Faults() }
func (h *fakeHarness) Webhooks() helpdesktest.WebhookHarness { return h }

// AgentReply posts to the fake's agent-reply route, after the integration
// calls still running for earlier API writes, so that the calls it returns
// are the reply's.
func (h *fakeHarness) AgentReply(t *testing.T, ticketID string, r helpdesktest.AgentReply) []helpdesktest.Delivery {
	t.Helper()
	h.fake.WaitWebhooks()
	before := h.receiver.Len()
	req := gorgiasfake.AgentReply{BodyText: r.BodyText, BodyHTML: r.BodyHTML, DeliverTwice: r.Twice}
	if r.Internal {
		req.Public = ptr(false)
	}
	switch r.Status {
	case connectors.StatusSolved:
		req.Status = api.StatusClosed
	case connectors.StatusOpen, connectors.StatusPending:
		req.Status = api.StatusOpen
	}
	for _, f := range r.Files {
		req.Files = append(req.Files, gorgiasfake.AgentFile{Name: f.Name, ContentType: f.ContentType, Data: f.Data})
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.srv.Client().Post(h.srv.URL+prefix+"/_fake/tickets/"+ticketID+"/agent-reply", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("agent reply: %v", err)
	}
	defer resp.Body.Close()
	var out gorgiasfake.AgentReplyResult
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("agent reply: HTTP %d", resp.StatusCode)
	}
	for _, d := range out.Deliveries {
		if d.Status != http.StatusOK {
			t.Fatalf("integration call: status %d, %s", d.Status, d.Err)
		}
	}
	return h.receiver.Since(before)
}

// Deliver builds a call as the integration makes them: the secret header
// and a JSON body.
func (h *fakeHarness) Deliver(t *testing.T, body []byte, at time.Time) helpdesktest.Delivery {
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set(gorgias.WebhookSecretHeader, webhookSecret)
	return helpdesktest.Delivery{Header: header, Body: body, At: at}
}

func (h *fakeHarness) ParseWebhook(d helpdesktest.Delivery, secret string, _ time.Time) (connectors.WebhookEvent, error) {
	return gorgias.ParseWebhook(d.Header, d.Body, secret)
}

func (h *fakeHarness) Secret() string        { return webhookSecret }
func (h *fakeHarness) MaxAge() time.Duration { return 0 }

func (h *fakeHarness) Inspect(t *testing.T, ticketID string) helpdesktest.Snapshot {
	t.Helper()
	tk, ok := h.fake.Ticket(parseID(t, ticketID))
	if !ok {
		t.Fatalf("ticket %s not in the fake", ticketID)
	}
	return snapshot(tk)
}

func (h *fakeHarness) Trash(t *testing.T, ticketID string) {
	t.Helper()
	if !h.fake.Trash(parseID(t, ticketID)) {
		t.Fatalf("ticket %s not in the fake", ticketID)
	}
}

func (h *fakeHarness) TicketCount(t *testing.T, externalID string) int {
	n := 0
	for _, tk := range h.fake.Tickets() {
		if tk.ExternalID == externalID {
			n++
		}
	}
	return n
}

func parseID(t *testing.T, id string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatalf("ticket id %q: %v", id, err)
	}
	return n
}

// snapshot states a Gorgias ticket in the suite's neutral terms.
func snapshot(tk api.Ticket) helpdesktest.Snapshot {
	s := helpdesktest.Snapshot{ExternalID: tk.ExternalID, Subject: tk.Subject, Status: connectors.StatusOpen}
	if tk.Status == api.StatusClosed {
		s.Status = connectors.StatusSolved
	}
	for _, tag := range tk.Tags {
		s.Tags = append(s.Tags, tag.Name)
	}
	if tk.Customer != nil {
		s.RequesterEmail, s.RequesterName = tk.Customer.Email, tk.Customer.Name
	}
	for _, m := range tk.Messages {
		s.Messages = append(s.Messages, helpdesktest.SnapshotMessage{
			BodyText:     m.BodyText,
			Internal:     m.Internal(),
			FromCustomer: m.FromAgent != nil && !*m.FromAgent,
		})
	}
	return s
}

// TestLiveConformance runs the suite against a Gorgias sandbox account:
//
//	GORGIAS_LIVE_BASE_URL=https://sandbox.gorgias.com GORGIAS_LIVE_EMAIL=… \
//		GORGIAS_LIVE_API_KEY=… go test ./connectors/gorgias -run Live -live
func TestLiveConformance(t *testing.T) {
	env := helpdesktest.LiveEnv(t, "GORGIAS_LIVE_BASE_URL", "GORGIAS_LIVE_EMAIL", "GORGIAS_LIVE_API_KEY")
	base, email, key := env["GORGIAS_LIVE_BASE_URL"], env["GORGIAS_LIVE_EMAIL"], env["GORGIAS_LIVE_API_KEY"]
	// Every call, the harness's own included, goes through one pacer that
	// keeps under 40 requests per 20 s. The timeout covers the wait for the
	// pacer; the suite's hang test, which needs a short one, skips here.
	hc := &http.Client{
		Timeout:   time.Minute,
		Transport: &connectors.Transport{System: "gorgias", Key: "live", Limiter: &pacer{every: 600 * time.Millisecond}},
	}
	client := func(t *testing.T, key string) *gorgias.Client {
		c, err := gorgias.New(gorgias.Options{BaseURL: base, Email: email, APIKey: key, HTTPClient: hc})
		if err != nil {
			t.Fatalf("gorgias.New: %v", err)
		}
		return c
	}
	helpdesktest.RunConformanceTests(t, func(t *testing.T) helpdesktest.Harness {
		return &liveHarness{
			base: strings.TrimRight(base, "/"), email: email, key: key, hc: hc,
			hd: client(t, key), wrong: client(t, key+"-wrong"),
		}
	})
}

// liveHarness inspects a sandbox account through the REST API itself.
type liveHarness struct {
	base, email, key string
	hc               *http.Client
	hd, wrong        *gorgias.Client
}

func (h *liveHarness) Helpdesk() connectors.Helpdesk         { return h.hd }
func (h *liveHarness) WrongCredentials() connectors.Helpdesk { return h.wrong }
func (h *liveHarness) Faults() *fault.Injector               { return nil }
func (h *liveHarness) Webhooks() helpdesktest.WebhookHarness { return nil }

func (h *liveHarness) Inspect(t *testing.T, ticketID string) helpdesktest.Snapshot {
	t.Helper()
	var tk api.Ticket
	h.call(t, http.MethodGet, "/api/tickets/"+ticketID, nil, &tk)
	return snapshot(tk)
}

// Trash sets trashed_datetime, which is how the UI's trash shows in the
// API; that a PUT of it trashes the ticket is UNVERIFIED.
func (h *liveHarness) Trash(t *testing.T, ticketID string) {
	t.Helper()
	h.call(t, http.MethodPut, "/api/tickets/"+ticketID, api.UpdateTicketRequest{TrashedDatetime: api.NewDatetime(time.Now())}, nil)
}

func (h *liveHarness) TicketCount(t *testing.T, externalID string) int {
	t.Helper()
	// trashed defaults to true: trashed tickets are counted.
	var page api.List[api.Ticket]
	h.call(t, http.MethodGet, "/api/tickets?limit=100&external_id="+url.QueryEscape(externalID), nil, &page)
	n := 0
	for _, tk := range page.Data {
		if tk.ExternalID == externalID {
			n++
		}
	}
	return n
}

func (h *liveHarness) call(t *testing.T, method, path string, in, out any) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(h.email, h.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// pacer spaces calls evenly and honours 429 penalties: a one-process
// stand-in for the bridge's shared Redis limiter.
type pacer struct {
	every time.Duration
	mu    sync.Mutex
	next  time.Time
}

func (p *pacer) Acquire(ctx context.Context, _ string) error {
	p.mu.Lock()
	at := p.next
	if now := time.Now(); at.Before(now) {
		at = now
	}
	p.next = at.Add(p.every)
	p.mu.Unlock()
	select {
	case <-time.After(time.Until(at)):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *pacer) Penalize(_ context.Context, _ string, d time.Duration) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := time.Now().Add(d); until.After(p.next) {
		p.next = until
	}
	return nil
}

// recorder keeps every request that reaches the fake, go-github style.
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	body         map[string]any
	raw          []byte
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(raw))
		var body map[string]any
		if len(raw) > 0 {
			_ = json.Unmarshal(raw, &body)
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), body, raw})
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// calls lists the recorded requests as "METHOD path".
func (rec *recorder) calls() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, r := range rec.reqs {
		out = append(out, r.method+" "+r.path)
	}
	return out
}

func (rec *recorder) last(method, path string) recorded {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.reqs) - 1; i >= 0; i-- {
		if r := rec.reqs[i]; r.method == method && r.path == path {
			return r
		}
	}
	return recorded{}
}

func alertTicket() connectors.NewTicket {
	return connectors.NewTicket{
		ExternalID: "alert:acme:order-1042:late",
		Subject:    "Order 1042 is late",
		Requester:  connectors.Person{Email: "jane@example.com", Name: "Jane Doe"},
		Tags:       []string{"bridge", "late"},
		Language:   "fr",
		Message: connectors.Message{
			BodyText:   "Order 1042 has not shipped.",
			BodyHTML:   "<p>Order 1042 has not shipped.</p>",
			Internal:   true,
			ExternalID: "alert-msg-1",
		},
	}
}

const wireNow = "2025-03-01T09:00:00.000000"

func TestCreateTicketWireFormat(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := startFake(t, setup{wrap: rec.wrap, now: func() time.Time { return fixedNow }})
	if _, _, err := h.hd.CreateTicket(t.Context(), alertTicket()); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"customer":    map[string]any{"email": "jane@example.com", "name": "Jane Doe"},
		"external_id": "alert:acme:order-1042:late",
		"subject":     "Order 1042 is late",
		"channel":     "api",
		"via":         "api",
		"language":    "fr",
		"tags":        []any{map[string]any{"name": "bridge"}, map[string]any{"name": "late"}},
		"messages": []any{map[string]any{
			"channel":       "internal-note",
			"via":           "api",
			"from_agent":    true,
			"sender":        map[string]any{"email": agentEmail},
			"body_text":     "Order 1042 has not shipped.",
			"body_html":     "<p>Order 1042 has not shipped.</p>",
			"external_id":   "alert-msg-1",
			"sent_datetime": wireNow,
		}},
	}
	if diff := cmp.Diff(want, rec.last(http.MethodPost, prefix+"/api/tickets").body); diff != "" {
		t.Errorf("POST /api/tickets body (-want +got):\n%s", diff)
	}
}

func TestMessageWireFormat(t *testing.T) {
	t.Parallel()
	sentAt := time.Date(2025, 2, 27, 18, 30, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		msg  connectors.Message
		want map[string]any
	}{
		{
			name: "internal note",
			msg:  connectors.Message{BodyText: "Carrier says Monday.", Internal: true, Author: connectors.Person{Email: "ops@acme.test"}},
			want: map[string]any{
				"channel": "internal-note", "via": "api", "from_agent": true,
				"sender":    map[string]any{"email": agentEmail},
				"body_text": "Carrier says Monday.", "sent_datetime": wireNow,
			},
		},
		{
			name: "customer message",
			msg: connectors.Message{
				BodyText: "Where is it?", FromCustomer: true, SentAt: sentAt,
				Author:      connectors.Person{Email: "jane@example.com", Name: "Jane Doe"},
				Attachments: []connectors.Attachment{{Name: "photo.png", ContentType: "image/png", Size: 2048, URL: "https://files.example.com/photo.png"}},
			},
			want: map[string]any{
				"channel": "api", "via": "api", "from_agent": false,
				"sender":    map[string]any{"email": "jane@example.com", "name": "Jane Doe"},
				"body_text": "Where is it?", "sent_datetime": "2025-02-27T17:30:00.000000",
				"attachments": []any{map[string]any{
					"url": "https://files.example.com/photo.png", "name": "photo.png", "content_type": "image/png", "size": float64(2048),
				}},
			},
		},
		{
			name: "agent message without author",
			msg:  connectors.Message{BodyText: "We are on it."},
			want: map[string]any{
				"channel": "api", "via": "api", "from_agent": true,
				"sender":    map[string]any{"email": agentEmail},
				"body_text": "We are on it.", "sent_datetime": wireNow,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			h := startFake(t, setup{wrap: rec.wrap, now: func() time.Time { return fixedNow }})
			tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
			if err != nil {
				t.Fatal(err)
			}
			if err := h.hd.AddMessage(t.Context(), tk.ID, tc.msg); err != nil {
				t.Fatalf("AddMessage: %v", err)
			}
			got := rec.last(http.MethodPost, prefix+"/api/tickets/"+tk.ID+"/messages").body
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("message body (-want +got):\n%s", diff)
			}
			if n := h.fake.Sent(); n != 0 {
				t.Errorf("Gorgias would have sent %d messages to the customer", n)
			}
		})
	}
}

func TestLookupBeforeCreate(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := startFake(t, setup{wrap: rec.wrap})
	nt := alertTicket()
	for range 2 {
		if _, _, err := h.hd.CreateTicket(t.Context(), nt); err != nil {
			t.Fatal(err)
		}
	}
	// Look up and create; then the second call's look-up finds the
	// ticket: two calls a ticket.
	want := []string{"GET /acme/api/tickets", "POST /acme/api/tickets", "GET /acme/api/tickets"}
	if diff := cmp.Diff(want, rec.calls()); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
	q := rec.last(http.MethodGet, prefix+"/api/tickets").query
	for name, want := range map[string]string{"external_id": nt.ExternalID, "trashed": "false"} {
		if got := q.Get(name); got != want {
			t.Errorf("lookup %s = %q, want %q", name, got, want)
		}
	}
}

// stale returns a middleware that drops a query parameter before the fake
// sees it, as an API version ignoring that filter would.
func stale(param string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			q.Del(param)
			r.URL.RawQuery = q.Encode()
			next.ServeHTTP(w, r)
		})
	}
}

func TestLookupFiltersClientSide(t *testing.T) {
	t.Parallel()

	t.Run("trashed ticket from an API ignoring trashed=false", func(t *testing.T) {
		t.Parallel()
		h := startFake(t, setup{wrap: stale("trashed")})
		nt := alertTicket()
		old, _, err := h.hd.CreateTicket(t.Context(), nt)
		if err != nil {
			t.Fatal(err)
		}
		h.Trash(t, old.ID)
		fresh, created, err := h.hd.CreateTicket(t.Context(), nt)
		if err != nil {
			t.Fatal(err)
		}
		if !created || fresh.ID == old.ID {
			t.Errorf("CreateTicket = id %s, created %t; want a new ticket, not trashed %s", fresh.ID, created, old.ID)
		}
	})

	t.Run("other external ids from an API ignoring external_id", func(t *testing.T) {
		t.Parallel()
		h := startFake(t, setup{wrap: stale("external_id")})
		other := alertTicket()
		other.ExternalID = "alert:acme:order-7:late"
		if _, _, err := h.hd.CreateTicket(t.Context(), other); err != nil {
			t.Fatal(err)
		}
		if _, created, err := h.hd.CreateTicket(t.Context(), alertTicket()); err != nil || !created {
			t.Errorf("CreateTicket = created %t, err %v; want a new ticket", created, err)
		}
	})

	t.Run("oldest of several live matches", func(t *testing.T) {
		t.Parallel()
		h := startFake(t, setup{})
		// Two replicas raced past the lookup and both created the ticket.
		for range 2 {
			h.rawCreate(t, alertTicket().ExternalID)
		}
		tk, created, err := h.hd.CreateTicket(t.Context(), alertTicket())
		if err != nil || created || tk.ID != "1" {
			t.Errorf("CreateTicket = id %s, created %t, err %v; want the oldest, 1", tk.ID, created, err)
		}
	})
}

// rawCreate creates a ticket straight in the fake, without the lookup.
func (h *fakeHarness) rawCreate(t *testing.T, externalID string) {
	t.Helper()
	req := api.CreateTicketRequest{
		Customer: &api.Person{Email: "jane@example.com"}, ExternalID: externalID, Via: "api",
		Messages: []api.Message{{Channel: "api", Via: "api", FromAgent: ptr(false), Sender: &api.Person{Email: "jane@example.com"}, BodyText: "Hi"}},
	}
	body, _ := json.Marshal(req)
	r := httptest.NewRequest(http.MethodPost, prefix+"/api/tickets", bytes.NewReader(body))
	r.SetBasicAuth(agentEmail, agentKey)
	w := httptest.NewRecorder()
	h.fake.ServeHTTP(w, r)
	if w.Code != http.StatusCreated {
		t.Fatalf("raw create: HTTP %d: %s", w.Code, w.Body)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSetTagsByID(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h := startFake(t, setup{wrap: rec.wrap})
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket()) // creates tags 1 bridge, 2 late
	if err != nil {
		t.Fatal(err)
	}
	if err := h.hd.SetTags(t.Context(), tk.ID, []string{"late", "escalated", "late"}); err != nil {
		t.Fatalf("SetTags: %v", err)
	}
	if diff := cmp.Diff(map[string]any{"name": "escalated"}, rec.last(http.MethodPost, prefix+"/api/tags").body); diff != "" {
		t.Errorf("created tag (-want +got):\n%s", diff)
	}
	put := rec.last(http.MethodPut, prefix+"/api/tickets/"+tk.ID+"/tags").body
	if diff := cmp.Diff(map[string]any{"ids": []any{float64(2), float64(3)}}, put); diff != "" {
		t.Errorf("PUT tags body (-want +got):\n%s", diff)
	}
	if err := h.hd.SetTags(t.Context(), tk.ID, []string{"escalated"}); err != nil {
		t.Fatalf("SetTags: %v", err)
	}
	if n := h.fake.Requests()["POST /api/tags"]; n != 1 {
		t.Errorf("tags created = %d, want 1: known tags are reused", n)
	}
	if diff := cmp.Diff([]string{"escalated"}, h.Inspect(t, tk.ID).Tags); diff != "" {
		t.Errorf("stored tags (-want +got):\n%s", diff)
	}
}

func TestSetTagsAfterConcurrentCreation(t *testing.T) {
	t.Parallel()
	// The first tag listing is stale: it misses "bridge", which exists.
	var once sync.Once
	staleListing := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served := false
			if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/api/tags") {
				once.Do(func() {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"data": [], "meta": {"prev_cursor": null, "next_cursor": null}}`)
					served = true
				})
			}
			if !served {
				next.ServeHTTP(w, r)
			}
		})
	}
	h := startFake(t, setup{wrap: staleListing})
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.hd.SetTags(t.Context(), tk.ID, []string{"bridge"}); err != nil {
		t.Fatalf("SetTags after a 409 on tag creation: %v", err)
	}
	if diff := cmp.Diff([]string{"bridge"}, h.Inspect(t, tk.ID).Tags); diff != "" {
		t.Errorf("stored tags (-want +got):\n%s", diff)
	}
}

func TestSetStatusMapping(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status connectors.Status
		want   string
	}{
		{connectors.StatusSolved, "closed"},
		{connectors.StatusPending, "open"}, // Gorgias has no pending
		{connectors.StatusSolved, "closed"},
		{connectors.StatusOpen, "open"},
	} {
		if err := h.hd.SetStatus(t.Context(), tk.ID, tc.status); err != nil {
			t.Fatalf("SetStatus(%s): %v", tc.status, err)
		}
		if got, _ := h.fake.Ticket(parseID(t, tk.ID)); got.Status != tc.want {
			t.Errorf("SetStatus(%s): Gorgias status %q, want %q", tc.status, got.Status, tc.want)
		}
	}
	if err := h.hd.SetStatus(t.Context(), tk.ID, "archived"); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("SetStatus(archived): err = %v, want ErrInvalid", err)
	}
}

func TestBucketRateLimit(t *testing.T) {
	t.Parallel()
	now := fixedNow
	// 2 requests per 10 s: the third waits 5 s for a slot.
	h := startFake(t, setup{fake: gorgiasfake.Options{Capacity: 2, Window: 10 * time.Second, Now: func() time.Time { return now }}})
	for range 2 {
		if _, err := h.hd.FindTicket(t.Context(), "alert-x"); !errors.Is(err, connectors.ErrNotFound) {
			t.Fatalf("FindTicket: %v", err)
		}
	}
	_, err := h.hd.FindTicket(t.Context(), "alert-x")
	if d, ok := connectors.RetryDelay(err); !ok || d != 5*time.Second {
		t.Errorf("third FindTicket: err = %v, RetryDelay = %s; want a rate limit of 5s", err, d)
	}
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	create := func(mutate func(*connectors.NewTicket)) error {
		nt := alertTicket()
		mutate(&nt)
		_, _, err := h.hd.CreateTicket(t.Context(), nt)
		return err
	}
	tests := []struct {
		name string
		err  error
	}{
		{"no subject", create(func(nt *connectors.NewTicket) { nt.Subject = " " })},
		{"no requester email", create(func(nt *connectors.NewTicket) { nt.Requester.Email = "" })},
		{"empty body", create(func(nt *connectors.NewTicket) { nt.Message.BodyText = "" })},
		{"internal note from the customer", create(func(nt *connectors.NewTicket) { nt.Message.FromCustomer = true })},
		{"empty tag", create(func(nt *connectors.NewTicket) { nt.Tags = []string{""} })},
		{"message external id too long", create(func(nt *connectors.NewTicket) { nt.Message.ExternalID = strings.Repeat("m", 256) })},
		{"attachment without url", create(func(nt *connectors.NewTicket) { nt.Message.Attachments = []connectors.Attachment{{Name: "a.png"}} })},
		{"find with an external id too long", func() error { _, err := h.hd.FindTicket(t.Context(), strings.Repeat("x", 256)); return err }()},
		{"add message to a malformed id", h.hd.AddMessage(t.Context(), "abc", connectors.Message{BodyText: "x", Internal: true})},
		{"customer message without author", h.hd.AddMessage(t.Context(), "1", connectors.Message{BodyText: "x", FromCustomer: true})},
		{"set tags on a malformed id", h.hd.SetTags(t.Context(), "-1", nil)},
	}
	for _, tc := range tests {
		if !errors.Is(tc.err, connectors.ErrInvalid) || connectors.IsRetryable(tc.err) {
			t.Errorf("%s: err = %v, want ErrInvalid, not retryable", tc.name, tc.err)
		}
	}
	if _, err := h.hd.GetTicket(t.Context(), "abc"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("GetTicket(abc): err = %v, want ErrNotFound", err)
	}
	if n := len(h.fake.Requests()); n != 0 {
		t.Errorf("invalid input reached Gorgias: %v", h.fake.Requests())
	}
}

func TestNewValidatesOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts gorgias.Options
		ok   bool
	}{
		{"valid", gorgias.Options{BaseURL: "https://acme.gorgias.com/", Email: agentEmail, APIKey: agentKey}, true},
		{"valid with a path prefix", gorgias.Options{BaseURL: "https://proxy.example.com/gorgias", Email: agentEmail, APIKey: agentKey}, true},
		{"no base url", gorgias.Options{Email: agentEmail, APIKey: agentKey}, false},
		{"not http", gorgias.Options{BaseURL: "ftp://acme.gorgias.com", Email: agentEmail, APIKey: agentKey}, false},
		{"no host", gorgias.Options{BaseURL: "https://", Email: agentEmail, APIKey: agentKey}, false},
		{"credentials in the url", gorgias.Options{BaseURL: "https://u:p@acme.gorgias.com", Email: agentEmail, APIKey: agentKey}, false},
		{"no email", gorgias.Options{BaseURL: "https://acme.gorgias.com", APIKey: agentKey}, false},
		{"no api key", gorgias.Options{BaseURL: "https://acme.gorgias.com", Email: agentEmail}, false},
	}
	for _, tc := range tests {
		_, err := gorgias.New(tc.opts)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok = %t", tc.name, err, tc.ok)
		}
	}
}

// canned serves one fixed answer to every request.
func canned(t *testing.T, status int, body string) *gorgias.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := gorgias.New(gorgias.Options{BaseURL: srv.URL, Email: agentEmail, APIKey: agentKey, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorMessages(t *testing.T) {
	t.Parallel()
	nt := alertTicket()
	tests := []struct {
		name        string
		status      int
		body        string
		kind        error
		wantMessage string
	}{
		{"validation error with echoed values", http.StatusBadRequest,
			`{"error": {"msg": "Invalid request", "data": {"customer.email": ["jane@example.com is taken"], "messages": ["Order 1042 has not shipped."]}}}`,
			connectors.ErrInvalid, "Invalid request (fields: customer.email, messages)"},
		{"error as a string", http.StatusInternalServerError, `{"error": "injected fault"}`, connectors.ErrUnavailable, "injected fault"},
		{"message attribute", http.StatusUnauthorized, `{"message": "Unauthorized"}`, connectors.ErrUnauthorized, "Unauthorized"},
		{"conflict", http.StatusConflict, `{"error": {"msg": "Identifier already in use"}}`, connectors.ErrConflict, "Identifier already in use"},
		{"too large", http.StatusRequestEntityTooLarge, `{"error": {"msg": "Payload too large"}}`, connectors.ErrTooLarge, "Payload too large"},
		{"html from a proxy", http.StatusBadGateway, `<html><body>Bad gateway</body></html>`, connectors.ErrUnavailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := canned(t, tc.status, tc.body).CreateTicket(t.Context(), nt)
			var apiErr *connectors.APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, tc.kind) {
				t.Fatalf("err = %v, want an *APIError of kind %v", err, tc.kind)
			}
			if apiErr.Status != tc.status || apiErr.Message != tc.wantMessage {
				t.Errorf("APIError = %d %q, want %d %q", apiErr.Status, apiErr.Message, tc.status, tc.wantMessage)
			}
			if !strings.HasPrefix(err.Error(), "gorgias: create ticket "+nt.ExternalID+": ") {
				t.Errorf("error %q does not name the operation and the id", err)
			}
			assertNoCustomerData(t, err, nt)
		})
	}
}

func TestTransportErrorsKeepCustomerDataOut(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	nt := alertTicket()
	h.fake.Faults().Push(fault.Fault{After: true, Hang: 3 * time.Second, Match: func(r *http.Request) bool { return r.Method == http.MethodPost }})
	_, _, err := h.hd.CreateTicket(t.Context(), nt)
	if !errors.Is(err, connectors.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	assertNoCustomerData(t, err, nt)
}

// TestCreateKeepsTheOldestOfDuplicates: a create that lands while another
// is under way (an earlier attempt handled late, a concurrent replica)
// leaves one live ticket, the oldest, whichever create answers last.
func TestCreateKeepsTheOldestOfDuplicates(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	nt := alertTicket()
	// Two tickets with the external id, as a create that landed after
	// its settle delay would leave: the look-up keeps the oldest.
	for range 2 {
		body, _ := json.Marshal(map[string]any{
			"external_id": nt.ExternalID, "subject": "dup", "channel": "api", "via": "api",
			"customer": map[string]string{"email": "buyer@example.com"},
			"messages": []map[string]any{{"channel": "api", "via": "api", "from_agent": false, "body_text": "x",
				"sender": map[string]string{"email": "buyer@example.com"}, "sent_datetime": "2026-11-01T10:00:00Z"}},
		})
		req := httptest.NewRequest(http.MethodPost, prefix+"/api/tickets", bytes.NewReader(body))
		req.SetBasicAuth(agentEmail, agentKey)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.fake.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Fatalf("seeding a duplicate: %d %s", rec.Code, rec.Body)
		}
	}
	got, created, err := h.hd.CreateTicket(t.Context(), nt)
	if err != nil {
		t.Fatal(err)
	}
	var live []int64
	for _, tk := range h.fake.Tickets() {
		if tk.ExternalID == nt.ExternalID && !tk.Trashed() {
			live = append(live, tk.ID)
		}
	}
	if len(live) != 1 || got.ID != strconv.FormatInt(live[0], 10) || live[0] != 1 || created {
		t.Errorf("live tickets %v, CreateTicket gave %s (created %v); want only the oldest, 1, not created by this call", live, got.ID, created)
	}
	if n := len(h.fake.Tickets()); n != 2 {
		t.Errorf("%d tickets in all, want the duplicate kept in the trash", n)
	}
}

// TestUncertainWrites: a write that got no answer says that it may have
// happened; one Gorgias refused does not.
func TestUncertainWrites(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	isPost := func(r *http.Request) bool { return r.Method == http.MethodPost }
	h.fake.Faults().Push(fault.Fault{Status: http.StatusBadGateway, Match: isPost})
	if _, _, err := h.hd.CreateTicket(t.Context(), alertTicket()); !errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("a 502 on create: %v, want ErrUncertain", err)
	}
	h.fake.Faults().Push(fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Match: isPost})
	if _, _, err := h.hd.CreateTicket(t.Context(), alertTicket()); err == nil || errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("a 429 on create: %v, want a refusal, not ErrUncertain", err)
	}
	tk, _, err := h.hd.CreateTicket(t.Context(), alertTicket())
	if err != nil {
		t.Fatal(err)
	}
	h.fake.Faults().Push(fault.Fault{Late: true, Hang: 1500 * time.Millisecond, Match: isPost})
	if err := h.hd.AddMessage(t.Context(), tk.ID, connectors.Message{BodyText: "late", Internal: true, ExternalID: "m-1"}); !errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("an append past the timeout: %v, want ErrUncertain", err)
	}
}

func assertNoCustomerData(t *testing.T, err error, nt connectors.NewTicket) {
	t.Helper()
	for _, secret := range []string{nt.Requester.Email, nt.Requester.Name, nt.Subject, nt.Message.BodyText, agentKey} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains customer data or a secret (%q)", err, secret)
		}
	}
}

func TestDecodesGorgiasAnswers(t *testing.T) {
	t.Parallel()
	// Shaped after the reference's examples: naive datetimes, an attachment
	// size written as a string, nullable fields set to null.
	body := `{
		"id": 7, "uri": "/api/tickets/7/", "external_id": "alert-7", "status": "closed",
		"channel": "api", "via": "api", "subject": "Late", "language": null,
		"customer": {"id": 3, "email": "jane@example.com", "name": "Jane", "firstname": "Jane"},
		"tags": [{"id": 1, "name": "bridge", "decoration": {"color": "#F58D86"}}],
		"messages": [{"id": 9, "channel": "email", "via": "email", "from_agent": false,
			"body_text": "Hi", "attachments": [{"url": "https://x/y.png", "name": "y.png", "content_type": "image/png", "size": "784554"}],
			"sent_datetime": "2019-11-16T15:59:41.966927", "created_datetime": "2019-11-16T15:59:41.966927"}],
		"created_datetime": "2019-11-16T15:59:41.966927", "updated_datetime": "2020-07-13T00:00:00-05:00",
		"closed_datetime": "2019-11-17T10:00:00.000001", "trashed_datetime": null, "spam": false
	}`
	got, err := canned(t, http.StatusOK, body).GetTicket(t.Context(), "7")
	if err != nil {
		t.Fatalf("GetTicket: %v", err)
	}
	want := connectors.Ticket{
		ID: "7", ExternalID: "alert-7", Subject: "Late", Status: connectors.StatusSolved,
		Tags: []string{"bridge"}, RequesterEmail: "jane@example.com",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticket (-want +got):\n%s", diff)
	}
}

func TestUndecodableSuccessIsRetryable(t *testing.T) {
	t.Parallel()
	_, err := canned(t, http.StatusOK, `<html>maintenance</html>`).GetTicket(t.Context(), "7")
	if !errors.Is(err, connectors.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
}

func TestRetryAfterAsDate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", fixedNow.Add(12*time.Second).Format(http.TimeFormat))
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	c, err := gorgias.New(gorgias.Options{BaseURL: srv.URL, Email: agentEmail, APIKey: agentKey, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetTicket(t.Context(), "7")
	if d, ok := connectors.RetryDelay(err); !ok || d != 12*time.Second {
		t.Errorf("RetryDelay = %s, %t; want 12s from the injected clock", d, ok)
	}
}
