package zendesk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/helpdesk-bridge/bridge/connectors/helpdesktest"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
)

const (
	agentEmail = "bridge@acme.example"
	agentToken = "zd-token"
	// prefix mounts the fake below a path, to catch absolute-URL bugs.
	prefix = "/acme"
	// clientTimeout keeps the suite's hang test short.
	clientTimeout = 750 * time.Millisecond
)

func TestConformance(t *testing.T) {
	helpdesktest.RunConformanceTests(t, newFakeHarness)
}

// TestLiveConformance runs the suite against a sandbox account, with -live
// and the ZENDESK_LIVE_* variables set. The tickets it creates are deleted
// when each test ends.
func TestLiveConformance(t *testing.T) {
	env := helpdesktest.LiveEnv(t, "ZENDESK_LIVE_BASE_URL", "ZENDESK_LIVE_EMAIL", "ZENDESK_LIVE_API_TOKEN")
	helpdesktest.RunConformanceTests(t, func(t *testing.T) helpdesktest.Harness {
		return newLiveHarness(t, env["ZENDESK_LIVE_BASE_URL"], env["ZENDESK_LIVE_EMAIL"], env["ZENDESK_LIVE_API_TOKEN"], &http.Client{Timeout: clientTimeout})
	})
}

// startFake serves a fake account under prefix.
func startFake(t *testing.T, opts zendeskfake.Options) (*zendeskfake.Server, *httptest.Server) {
	t.Helper()
	opts.Agents = map[string]string{agentEmail: agentToken}
	opts.Prefix = prefix
	fake := zendeskfake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv
}

func newClient(t *testing.T, srv *httptest.Server, token string) *zendesk.Client {
	t.Helper()
	c, err := zendesk.New(zendesk.Options{
		BaseURL:    srv.URL + prefix,
		Email:      agentEmail,
		APIToken:   token,
		HTTPClient: &http.Client{Timeout: clientTimeout, Transport: srv.Client().Transport},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// webhookSecret is the signing secret of the fake's webhook.
const webhookSecret = "zendesk-signing-secret-for-tests"

// fakeHarness runs the suite against the fake, inspecting it through its
// Go methods so that inspection neither uses rate-limit slots nor meets
// queued faults.
type fakeHarness struct {
	fake     *zendeskfake.Server
	hd       *zendesk.Client
	wrong    *zendesk.Client
	srv      *httptest.Server
	receiver *helpdesktest.Receiver
}

func newFakeHarness(t *testing.T) helpdesktest.Harness {
	t.Helper()
	// The account has the webhook and trigger an admin sets up for the
	// bridge, calling a receiver that stands for the bridge's endpoint.
	receiver := helpdesktest.NewReceiver(t)
	fake, srv := startFake(t, zendeskfake.Options{
		Webhooks: []zendeskfake.Webhook{{
			ID: "01HBRIDGEWEBHOOK", Endpoint: receiver.URL + "/hooks/zendesk", Secret: webhookSecret, Body: zendesk.WebhookBody,
		}},
		WebhookClient: receiver.Client,
	})
	return &fakeHarness{fake: fake, hd: newClient(t, srv, agentToken), wrong: newClient(t, srv, "not-"+agentToken), srv: srv, receiver: receiver}
}

func (h *fakeHarness) Helpdesk() connectors.Helpdesk         { return h.hd }
func (h *fakeHarness) WrongCredentials() connectors.Helpdesk { return h.wrong }
func (h *fakeHarness) Faults() *fault.Injector               { return h.fake.Faults() }
func (h *fakeHarness) Webhooks() helpdesktest.WebhookHarness { return h }

// AgentReply posts to the fake's agent-reply route, which calls the
// webhook before it answers.
func (h *fakeHarness) AgentReply(t *testing.T, ticketID string, r helpdesktest.AgentReply) []helpdesktest.Delivery {
	t.Helper()
	before := h.receiver.Len()
	req := zendeskfake.AgentReply{Body: r.BodyText, HTMLBody: r.BodyHTML, Status: string(r.Status), DeliverTwice: r.Twice}
	if r.Internal {
		public := false
		req.Public = &public
	}
	for _, f := range r.Files {
		req.Files = append(req.Files, zendeskfake.AgentFile{Name: f.Name, ContentType: f.ContentType, Data: f.Data})
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
	var out zendeskfake.AgentReplyResult
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		t.Fatalf("agent reply: HTTP %d", resp.StatusCode)
	}
	for _, d := range out.Deliveries {
		if d.Status != http.StatusOK {
			t.Fatalf("webhook call: status %d, %s", d.Status, d.Err)
		}
	}
	return h.receiver.Since(before)
}

// Deliver signs body as Zendesk does, at time at.
func (h *fakeHarness) Deliver(t *testing.T, body []byte, at time.Time) helpdesktest.Delivery {
	return signed(body, webhookSecret, at)
}

func signed(body []byte, secret string, at time.Time) helpdesktest.Delivery {
	ts := at.UTC().Format(time.RFC3339)
	header := http.Header{}
	header.Set("Content-Type", "application/json")
	header.Set(api.HeaderWebhookSignatureTimestamp, ts)
	header.Set(api.HeaderWebhookSignature, base64.StdEncoding.EncodeToString(zendesk.Sign(secret, ts, body)))
	header.Set(api.HeaderWebhookInvocationID, "42")
	return helpdesktest.Delivery{Header: header, Body: body, At: at}
}

func (h *fakeHarness) ParseWebhook(d helpdesktest.Delivery, secret string, now time.Time) (connectors.WebhookEvent, error) {
	return zendesk.ParseWebhook(d.Header, d.Body, secret, now)
}

func (h *fakeHarness) Secret() string        { return webhookSecret }
func (h *fakeHarness) MaxAge() time.Duration { return zendesk.MaxWebhookAge }

func (h *fakeHarness) Inspect(t *testing.T, ticketID string) helpdesktest.Snapshot {
	t.Helper()
	tk := h.ticket(t, ticketID)
	requester, _ := h.fake.User(tk.RequesterID)
	return snapshot(tk, tk.Comments, requester)
}

func (h *fakeHarness) Trash(t *testing.T, ticketID string) {
	t.Helper()
	if !h.fake.Delete(h.ticket(t, ticketID).ID) {
		t.Fatalf("ticket %s was already deleted", ticketID)
	}
}

func (h *fakeHarness) TicketCount(t *testing.T, externalID string) int {
	t.Helper()
	n := 0
	for _, tk := range h.fake.Tickets() {
		if tk.ExternalID == externalID {
			n++
		}
	}
	return n
}

func (h *fakeHarness) ticket(t *testing.T, ticketID string) api.Ticket {
	t.Helper()
	id, err := strconv.ParseInt(ticketID, 10, 64)
	tk, ok := h.fake.Ticket(id)
	if err != nil || !ok {
		t.Fatalf("the fake has no ticket %q", ticketID)
	}
	return tk
}

// snapshot is a stored ticket in the suite's neutral terms.
func snapshot(tk api.Ticket, comments []api.Comment, requester api.User) helpdesktest.Snapshot {
	s := helpdesktest.Snapshot{
		ExternalID:     tk.ExternalID,
		Subject:        tk.Subject,
		Status:         neutralStatus(tk.Status),
		Tags:           tk.Tags,
		RequesterEmail: requester.Email,
		RequesterName:  requester.Name,
	}
	for _, c := range comments {
		s.Messages = append(s.Messages, helpdesktest.SnapshotMessage{
			BodyText:     c.Body,
			Internal:     !c.Public,
			FromCustomer: c.AuthorID == tk.RequesterID,
		})
	}
	return s
}

// neutralStatus is the suite's reading of Zendesk's statuses: solved and
// closed are done, pending waits on the customer, the rest is open work.
func neutralStatus(s string) connectors.Status {
	switch s {
	case api.StatusSolved, api.StatusClosed:
		return connectors.StatusSolved
	case api.StatusPending:
		return connectors.StatusPending
	default:
		return connectors.StatusOpen
	}
}

// liveHarness runs the suite against a real account, inspecting it through
// the API. It deletes the tickets it saw created when the test ends.
type liveHarness struct {
	hd    *cleaningHelpdesk
	wrong *zendesk.Client
	raw   rawAPI

	mu      sync.Mutex
	trashed map[string]int // deleted by Trash, by external id
}

func newLiveHarness(t *testing.T, base, email, token string, hc *http.Client) *liveHarness {
	t.Helper()
	mk := func(token string) *zendesk.Client {
		c, err := zendesk.New(zendesk.Options{BaseURL: base, Email: email, APIToken: token, HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	h := &liveHarness{
		hd:      &cleaningHelpdesk{Helpdesk: mk(token)},
		wrong:   mk("not-" + token),
		raw:     rawAPI{base: base, email: email, token: token, hc: hc},
		trashed: map[string]int{},
	}
	t.Cleanup(func() {
		for _, id := range h.hd.created() {
			// A ticket the test already deleted answers 404; that is fine.
			_ = h.raw.call(http.MethodDelete, "/api/v2/tickets/"+id, nil)
		}
	})
	return h
}

func (h *liveHarness) Helpdesk() connectors.Helpdesk         { return h.hd }
func (h *liveHarness) WrongCredentials() connectors.Helpdesk { return h.wrong }
func (h *liveHarness) Faults() *fault.Injector               { return nil }
func (h *liveHarness) Webhooks() helpdesktest.WebhookHarness { return nil }

func (h *liveHarness) Inspect(t *testing.T, ticketID string) helpdesktest.Snapshot {
	t.Helper()
	var tr api.TicketResponse
	if err := h.raw.call(http.MethodGet, "/api/v2/tickets/"+ticketID+"?include=users", &tr); err != nil {
		t.Fatalf("inspect ticket %s: %v", ticketID, err)
	}
	var comments []api.Comment
	for page := 1; ; page++ {
		var cl api.CommentList
		if err := h.raw.call(http.MethodGet, fmt.Sprintf("/api/v2/tickets/%s/comments?page=%d", ticketID, page), &cl); err != nil {
			t.Fatalf("inspect comments of ticket %s: %v", ticketID, err)
		}
		comments = append(comments, cl.Comments...)
		if cl.NextPage == nil || len(cl.Comments) == 0 {
			break
		}
	}
	var requester api.User
	for _, u := range tr.Users {
		if u.ID == tr.Ticket.RequesterID {
			requester = u
		}
	}
	return snapshot(tr.Ticket, comments, requester)
}

func (h *liveHarness) Trash(t *testing.T, ticketID string) {
	t.Helper()
	var tr api.TicketResponse
	if err := h.raw.call(http.MethodGet, "/api/v2/tickets/"+ticketID, &tr); err != nil {
		t.Fatalf("trash ticket %s: %v", ticketID, err)
	}
	if err := h.raw.call(http.MethodDelete, "/api/v2/tickets/"+ticketID, nil); err != nil {
		t.Fatalf("trash ticket %s: %v", ticketID, err)
	}
	h.mu.Lock()
	h.trashed[tr.Ticket.ExternalID]++
	h.mu.Unlock()
}

// TicketCount counts the live tickets the API lists, plus those this
// harness deleted: Zendesk lists deleted tickets without their external id.
func (h *liveHarness) TicketCount(t *testing.T, externalID string) int {
	t.Helper()
	n := 0
	for page := 1; ; page++ {
		var tl api.TicketList
		path := "/api/v2/tickets?external_id=" + url.QueryEscape(externalID) + "&page=" + strconv.Itoa(page)
		if err := h.raw.call(http.MethodGet, path, &tl); err != nil {
			t.Fatalf("count tickets: %v", err)
		}
		n += len(tl.Tickets)
		if tl.NextPage == nil || len(tl.Tickets) == 0 {
			break
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return n + h.trashed[externalID]
}

// cleaningHelpdesk records the tickets created through it, for cleanup.
type cleaningHelpdesk struct {
	connectors.Helpdesk
	mu  sync.Mutex
	ids []string
}

func (c *cleaningHelpdesk) CreateTicket(ctx context.Context, t connectors.NewTicket) (connectors.Ticket, bool, error) {
	tk, created, err := c.Helpdesk.CreateTicket(ctx, t)
	if err == nil && created {
		c.mu.Lock()
		c.ids = append(c.ids, tk.ID)
		c.mu.Unlock()
	}
	return tk, created, err
}

func (c *cleaningHelpdesk) created() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// rawAPI calls the API directly, for inspection.
type rawAPI struct {
	base, email, token string
	hc                 *http.Client
}

func (a rawAPI) call(method, path string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, nil)
	if err != nil {
		return err
	}
	req.SetBasicAuth(a.email+"/token", a.token)
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(b, out)
}

// wire records every request reaching the fake, go-github style.
type wire struct {
	next http.Handler
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	method string
	path   string
	query  string
	header http.Header
	body   []byte
}

func (wr *wire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	wr.mu.Lock()
	wr.reqs = append(wr.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	wr.mu.Unlock()
	wr.next.ServeHTTP(w, r)
}

// find returns the recorded requests with this method and path (below the
// prefix).
func (wr *wire) find(method, path string) []seen {
	wr.mu.Lock()
	defer wr.mu.Unlock()
	var out []seen
	for _, s := range wr.reqs {
		if s.method == method && s.path == prefix+path {
			out = append(out, s)
		}
	}
	return out
}

type env struct {
	fake *zendeskfake.Server
	wire *wire
	srv  *httptest.Server
	hd   *zendesk.Client
}

// newEnv serves the fake behind a recorder, with middleware (if any) in
// between.
func newEnv(t *testing.T, opts zendeskfake.Options, middleware ...func(http.Handler) http.Handler) *env {
	t.Helper()
	opts.Agents = map[string]string{agentEmail: agentToken}
	opts.Prefix = prefix
	fake := zendeskfake.New(opts)
	var h http.Handler = fake
	for _, m := range middleware {
		h = m(h)
	}
	wr := &wire{next: h}
	srv := httptest.NewServer(wr)
	t.Cleanup(srv.Close)
	return &env{fake: fake, wire: wr, srv: srv, hd: newClient(t, srv, agentToken)}
}

// seed creates a ticket straight through the API, as another integration
// or an agent would, and returns its id.
func (e *env) seed(t *testing.T, externalID, subject string) int64 {
	t.Helper()
	body := `{"ticket":{"subject":"` + subject + `","external_id":"` + externalID + `","requester":{"email":"ada@shop.example"},"comment":{"body":"seeded"}}}`
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+prefix+"/api/v2/tickets", strings.NewReader(body))
	req.SetBasicAuth(agentEmail+"/token", agentToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr api.TicketResponse
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&tr) != nil {
		t.Fatalf("seed: HTTP %d", resp.StatusCode)
	}
	return tr.Ticket.ID
}

func alert(externalID string) connectors.NewTicket {
	return connectors.NewTicket{
		ExternalID: externalID,
		Subject:    "Late shipment on order 42",
		Requester:  connectors.Person{Email: "ada@shop.example", Name: "Ada Lovelace"},
		Tags:       []string{"bridge", "alert"},
		Message: connectors.Message{
			BodyText: "Order 42 has not shipped.",
			BodyHTML: "<p>Order 42 has not shipped.</p>",
			Internal: true,
		},
	}
}

func id(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("ticket id %q: %v", s, err)
	}
	return n
}

func TestCreateSendsIdempotencyKeyAndExternalID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	got, created, err := e.hd.CreateTicket(ctx, alert("order-42:late"))
	if err != nil || !created {
		t.Fatalf("CreateTicket: created=%v err=%v", created, err)
	}
	want := connectors.Ticket{ID: got.ID, ExternalID: "order-42:late", Subject: "Late shipment on order 42", Status: connectors.StatusOpen, Tags: []string{"bridge", "alert"}, RequesterEmail: "ada@shop.example"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ticket (-want +got):\n%s", diff)
	}

	lookups := e.wire.find(http.MethodGet, "/api/v2/tickets")
	if len(lookups) != 1 || !strings.Contains(lookups[0].query, "external_id=order-42%3Alate") {
		t.Errorf("lookup before create = %+v", lookups)
	}
	posts := e.wire.find(http.MethodPost, "/api/v2/tickets")
	if len(posts) != 1 {
		t.Fatalf("%d creates, want 1", len(posts))
	}
	p := posts[0]
	for h, want := range map[string]string{"Content-Type": "application/json", "Accept": "application/json"} {
		if got := p.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	req, _ := http.NewRequest("GET", "/", nil)
	req.Header = p.header
	if user, pass, ok := req.BasicAuth(); !ok || user != agentEmail+"/token" || pass != agentToken {
		t.Errorf("basic auth = %q, %v", user, ok)
	}
	key := p.header.Get("Idempotency-Key")
	if key == "" || len(key) > 255 {
		t.Fatalf("Idempotency-Key = %q", key)
	}
	var body map[string]any
	if err := json.Unmarshal(p.body, &body); err != nil {
		t.Fatal(err)
	}
	wantBody := map[string]any{"ticket": map[string]any{
		"subject":     "Late shipment on order 42",
		"external_id": "order-42:late",
		"requester":   map[string]any{"name": "Ada Lovelace", "email": "ada@shop.example"},
		"tags":        []any{"bridge", "alert"},
		"comment":     map[string]any{"body": "Order 42 has not shipped.", "html_body": "<p>Order 42 has not shipped.</p>", "public": false},
	}}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("create body (-want +got):\n%s", diff)
	}

	// Every replica derives the same key for the same external id, and
	// another external id gets another key.
	e.fake.Reset()
	other := newClient(t, e.srv, agentToken)
	for _, ext := range []string{"order-42:late", "order-43:late"} {
		if _, _, err := other.CreateTicket(ctx, alert(ext)); err != nil {
			t.Fatal(err)
		}
	}
	posts = e.wire.find(http.MethodPost, "/api/v2/tickets")
	if k := posts[1].header.Get("Idempotency-Key"); k != key {
		t.Errorf("second client's key %q, want %q", k, key)
	}
	if k := posts[2].header.Get("Idempotency-Key"); k == key {
		t.Error("two external ids share a key")
	}
}

func TestInternalNoteHasPublicFalse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	nt := alert("ext-1")
	nt.Message.Internal = false
	tk, _, err := e.hd.CreateTicket(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []connectors.Message{
		{BodyText: "note for agents", Internal: true},
		{BodyText: "reply to the customer"},
	} {
		if err := e.hd.AddMessage(ctx, tk.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	var sent []any
	for _, p := range e.wire.find(http.MethodPut, "/api/v2/tickets/"+tk.ID) {
		var b struct {
			Ticket struct {
				Comment map[string]any `json:"comment"`
			} `json:"ticket"`
		}
		if err := json.Unmarshal(p.body, &b); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, b.Ticket.Comment["public"])
	}
	// public is always sent, because Zendesk carries the last value over.
	if diff := cmp.Diff([]any{false, true}, sent); diff != "" {
		t.Errorf("public sent (-want +got):\n%s", diff)
	}
	stored, _ := e.fake.Ticket(id(t, tk.ID))
	var public []bool
	for _, c := range stored.Comments {
		public = append(public, c.Public)
	}
	if diff := cmp.Diff([]bool{true, false, true}, public); diff != "" {
		t.Errorf("stored public flags (-want +got):\n%s", diff)
	}
}

func TestOldestOfSeveralMatchesIsReturned(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 9, 0, 10, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	setClock := func(t time.Time) { mu.Lock(); now = t; mu.Unlock() }
	// One ticket a page, so the oldest is neither first nor on page one.
	e := newEnv(t, zendeskfake.Options{PerPage: 1, Now: clock})
	ctx := context.Background()

	e.seed(t, "shared", "created at 10 s")
	setClock(now.Add(-10 * time.Second))
	oldest := e.seed(t, "shared", "created at 0 s")
	tie := e.seed(t, "shared", "created at 0 s too, higher id")
	setClock(now.Add(20 * time.Second))
	e.seed(t, "shared", "created at 20 s")
	e.seed(t, "unrelated", "another external id")

	for _, want := range []int64{oldest, tie} {
		found, err := e.hd.FindTicket(ctx, "shared")
		if err != nil {
			t.Fatal(err)
		}
		if found.ID != strconv.FormatInt(want, 10) {
			t.Errorf("FindTicket = %s, want %d", found.ID, want)
		}
		got, created, err := e.hd.CreateTicket(ctx, alert("shared"))
		if err != nil || created || got.ID != found.ID {
			t.Errorf("CreateTicket = %s created=%v err=%v, want %d", got.ID, created, err, want)
		}
		if got.RequesterEmail != "ada@shop.example" {
			t.Errorf("requester email = %q", got.RequesterEmail)
		}
		// Deleted tickets do not count: the next oldest takes over.
		e.fake.Delete(want)
	}
	if n := len(e.wire.find(http.MethodPost, "/api/v2/tickets")); n != 5 {
		t.Errorf("%d creates, want only the 5 seeds", n)
	}
}

// TestDeletedTicketIsNotReplayed: the key of a deleted ticket's creation is
// still remembered, so a plain retry would get the deleted ticket back.
func TestDeletedTicketIsNotReplayed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*connectors.NewTicket)
	}{
		{name: "same content (replayed, hit)", change: func(*connectors.NewTicket) {}},
		{name: "new content (key refused, 400)", change: func(nt *connectors.NewTicket) { nt.Subject = "Still late" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, zendeskfake.Options{})
			ctx := context.Background()
			first, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
			if err != nil {
				t.Fatal(err)
			}
			e.fake.Delete(id(t, first.ID))

			nt := alert("ext-1")
			tt.change(&nt)
			second, created, err := e.hd.CreateTicket(ctx, nt)
			if err != nil || !created {
				t.Fatalf("CreateTicket after delete: created=%v err=%v", created, err)
			}
			if second.ID == first.ID {
				t.Fatal("the deleted ticket came back")
			}
			if stored, _ := e.fake.Ticket(id(t, second.ID)); stored.Status == api.StatusDeleted || stored.Subject != nt.Subject {
				t.Errorf("new ticket = %+v", stored)
			}
			// And it is stable: a third call finds the new ticket.
			third, created, err := e.hd.CreateTicket(ctx, nt)
			if err != nil || created || third.ID != second.ID {
				t.Errorf("third CreateTicket = %s created=%v err=%v", third.ID, created, err)
			}
		})
	}
}

// gateLookups holds the first n external-id lookups until all n arrived,
// so that n concurrent creates all miss.
func gateLookups(n int) func(http.Handler) http.Handler {
	var mu sync.Mutex
	arrived := 0
	release := make(chan struct{})
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !r.URL.Query().Has("external_id") {
				next.ServeHTTP(w, r)
				return
			}
			// The lookup runs first and its answer is held back until n
			// lookups have run: every one of them sees no ticket, whatever
			// the goroutines' timing.
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			mu.Lock()
			arrived++
			gated := arrived <= n
			if arrived == n {
				close(release)
			}
			mu.Unlock()
			if gated {
				select {
				case <-release:
				case <-time.After(clientTimeout / 2):
				}
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
}

func TestConcurrentCreatesMakeOneTicket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{}, gateLookups(2))
	type result struct {
		tk      connectors.Ticket
		created bool
		err     error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			tk, created, err := e.hd.CreateTicket(context.Background(), alert("ext-1"))
			results <- result{tk, created, err}
		}()
	}
	a, b := <-results, <-results
	if a.err != nil || b.err != nil {
		t.Fatalf("errors: %v, %v", a.err, b.err)
	}
	if a.created == b.created || a.tk.ID != b.tk.ID {
		t.Errorf("got %+v and %+v, want one created and the same ticket twice", a, b)
	}
	if n := len(e.fake.Tickets()); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	if n := len(e.wire.find(http.MethodPost, "/api/v2/tickets")); n != 2 {
		t.Errorf("%d creates, want 2 (one replayed)", n)
	}
}

func TestMessageFromCustomerIsAuthoredByRequester(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hd.AddMessage(ctx, tk.ID, connectors.Message{BodyText: "Where is my parcel?", FromCustomer: true}); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.fake.Ticket(id(t, tk.ID))
	last := stored.Comments[len(stored.Comments)-1]
	if last.AuthorID != stored.RequesterID || !last.Public {
		t.Errorf("customer comment = %+v, requester %d", last, stored.RequesterID)
	}
}

func TestAttachmentsAreListedAsLinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	m := connectors.Message{
		BodyText:    "Photo of the damage",
		Attachments: []connectors.Attachment{{Name: "box.jpg", URL: "https://files.example/box.jpg"}},
	}
	if err := e.hd.AddMessage(ctx, tk.ID, m); err != nil {
		t.Fatal(err)
	}
	stored, _ := e.fake.Ticket(id(t, tk.ID))
	body := stored.Comments[len(stored.Comments)-1].Body
	if !strings.HasPrefix(body, "Photo of the damage") || !strings.Contains(body, "box.jpg: https://files.example/box.jpg") {
		t.Errorf("comment body = %q", body)
	}
}

func TestSetTags(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.hd.SetTags(ctx, tk.ID, []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.fake.Ticket(id(t, tk.ID)); !cmp.Equal(got.Tags, []string{"vip"}) {
		t.Errorf("tags = %v, want [vip]", got.Tags)
	}
	if len(e.wire.find(http.MethodPost, "/api/v2/tickets/"+tk.ID+"/tags")) != 1 {
		t.Error("tags were not set with Set Tags")
	}
	// The fake refuses Set Tags without tags: clearing goes through Update
	// Ticket.
	if err := e.hd.SetTags(ctx, tk.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.fake.Ticket(id(t, tk.ID)); len(got.Tags) != 0 {
		t.Errorf("tags = %v, want none", got.Tags)
	}
}

func TestStatusMapping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	ctx := context.Background()
	h := &fakeHarness{fake: e.fake}
	tests := []struct {
		zendesk string
		want    connectors.Status
	}{
		{"new", connectors.StatusOpen},
		{"open", connectors.StatusOpen},
		{"hold", connectors.StatusOpen},
		{"pending", connectors.StatusPending},
		{"solved", connectors.StatusSolved},
		{"closed", connectors.StatusSolved},
	}
	for _, tt := range tests {
		t.Run(tt.zendesk, func(t *testing.T) {
			tid := e.seed(t, "status-"+tt.zendesk, "s")
			req, _ := http.NewRequest(http.MethodPut, e.srv.URL+prefix+"/api/v2/tickets/"+strconv.FormatInt(tid, 10), strings.NewReader(`{"ticket":{"status":"`+tt.zendesk+`"}}`))
			req.SetBasicAuth(agentEmail+"/token", agentToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := e.srv.Client().Do(req)
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("set status: %v %v", resp, err)
			}
			resp.Body.Close()
			got, err := e.hd.GetTicket(ctx, strconv.FormatInt(tid, 10))
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.want {
				t.Errorf("GetTicket status = %q, want %q", got.Status, tt.want)
			}
			if s := h.Inspect(t, got.ID).Status; s != tt.want {
				t.Errorf("Inspect status = %q, want %q", s, tt.want)
			}
		})
	}
	tk, _, err := e.hd.CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []connectors.Status{connectors.StatusPending, connectors.StatusSolved, connectors.StatusOpen} {
		if err := e.hd.SetStatus(ctx, tk.ID, s); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.fake.Ticket(id(t, tk.ID)); got.Status != string(s) {
			t.Errorf("stored status = %q, want %q", got.Status, s)
		}
	}
	if err := e.hd.SetStatus(ctx, tk.ID, "hold"); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("SetStatus(hold) = %v, want ErrInvalid", err)
	}
}

func TestValidationBeforeSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{})
	tests := []struct {
		name   string
		change func(*connectors.NewTicket)
		field  string
	}{
		{"no external id", func(nt *connectors.NewTicket) { nt.ExternalID = "" }, "external_id"},
		{"external id too long", func(nt *connectors.NewTicket) { nt.ExternalID = strings.Repeat("x", 256) }, "external_id"},
		{"external id too long in bytes", func(nt *connectors.NewTicket) { nt.ExternalID = strings.Repeat("é", 128) }, "external_id"},
		{"no subject", func(nt *connectors.NewTicket) { nt.Subject = " " }, "subject"},
		{"no requester email", func(nt *connectors.NewTicket) { nt.Requester.Email = "" }, "requester email"},
		{"malformed requester email", func(nt *connectors.NewTicket) { nt.Requester.Email = "Ada <ada@shop.example>" }, "requester email"},
		{"requester email without domain dot", func(nt *connectors.NewTicket) { nt.Requester.Email = "ada@localhost" }, "requester email"},
		{"no body", func(nt *connectors.NewTicket) { nt.Message.BodyText = "" }, "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nt := alert("ext-1")
			tt.change(&nt)
			_, _, err := e.hd.CreateTicket(context.Background(), nt)
			if !errors.Is(err, connectors.ErrInvalid) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("err = %v, want ErrInvalid naming %s", err, tt.field)
			}
			if nt.Requester.Email != "" && strings.Contains(err.Error(), nt.Requester.Email) {
				t.Errorf("error %q carries the customer's email", err)
			}
		})
	}
	ctx := context.Background()
	if err := e.hd.AddMessage(ctx, "1", connectors.Message{}); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("AddMessage without body = %v, want ErrInvalid", err)
	}
	for _, bad := range []string{"", "abc", "-3", "0", "1/../2"} {
		if _, err := e.hd.GetTicket(ctx, bad); !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("GetTicket(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	if n := len(e.fake.Requests()); n != 0 {
		t.Errorf("refused calls reached the account: %v", e.fake.Requests())
	}
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		status      int
		contentType string
		header      map[string]string
		body        string
		want        error
		message     string // the APIError's message, when there is one
	}{
		{name: "401", status: 401, body: `{"error":"Couldn't authenticate you"}`, want: connectors.ErrUnauthorized, message: "Couldn't authenticate you"},
		{name: "403 object form", status: 403, body: `{"error":{"title":"Forbidden","message":"You do not have access to this page."}}`, want: connectors.ErrForbidden, message: "Forbidden"},
		{name: "404", status: 404, body: `{"error":"RecordNotFound","description":"Not found"}`, want: connectors.ErrNotFound, message: "RecordNotFound"},
		{name: "409", status: 409, body: `{"error":"UpdateConflict","description":"Ticket was updated"}`, want: connectors.ErrConflict, message: "UpdateConflict"},
		{name: "413", status: 413, body: `{"error":"RequestEntityTooLarge"}`, want: connectors.ErrTooLarge},
		{name: "422 echoing customer data", status: 422, want: connectors.ErrInvalid,
			body:    `{"error":"RecordInvalid","description":"Record validation errors","details":{"requester":[{"description":"Requester: Email: ada@shop.example is not properly formatted","error":"InvalidValue"}],"base":[{"description":"Ada Lovelace is suspended"}]}}`,
			message: "RecordInvalid (base, requester InvalidValue)"},
		{name: "400 text/plain", status: 400, contentType: "text/plain", body: "Bad request", want: connectors.ErrInvalid},
		{name: "503", status: 503, body: `{"error":"ServiceUnavailable"}`, want: connectors.ErrUnavailable},
		{name: "200 that is not JSON", status: 200, contentType: "text/html", body: "<html>maintenance</html>", want: connectors.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", cmpOr(tt.contentType, "application/json"))
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)
			_, err := newClient(t, srv, agentToken).GetTicket(context.Background(), "7")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "zendesk: get ticket 7: ") {
				t.Errorf("err = %q, want the operation and id first", err)
			}
			for _, pii := range []string{"ada@", "Ada Lovelace"} {
				if strings.Contains(err.Error(), pii) {
					t.Errorf("err = %q carries customer data", err)
				}
			}
			var ae *connectors.APIError
			if tt.message != "" && (!errors.As(err, &ae) || ae.Message != tt.message) {
				t.Errorf("APIError = %+v, want message %q", ae, tt.message)
			}
		})
	}
}

func TestRateLimitedHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, zendeskfake.Options{RateLimit: 1, Now: clock})
	ctx := context.Background()
	if _, err := e.hd.GetTicket(ctx, "1"); !errors.Is(err, connectors.ErrNotFound) {
		t.Fatalf("first call: %v", err)
	}
	mu.Lock()
	now = now.Add(15 * time.Second)
	mu.Unlock()
	_, err := e.hd.GetTicket(ctx, "1")
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 45*time.Second {
		t.Fatalf("err = %v, want rate limited for 45s", err)
	}
	if !connectors.IsRetryable(err) {
		t.Error("a 429 is not retryable")
	}
}

func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	good := zendesk.Options{BaseURL: "https://acme.zendesk.com", Email: agentEmail, APIToken: agentToken}
	tests := []struct {
		name   string
		change func(*zendesk.Options)
		ok     bool
	}{
		{"good", func(*zendesk.Options) {}, true},
		{"prefix with trailing slash", func(o *zendesk.Options) { o.BaseURL = "https://proxy.example/zendesk/" }, true},
		{"relative", func(o *zendesk.Options) { o.BaseURL = "acme.zendesk.com" }, false},
		{"other scheme", func(o *zendesk.Options) { o.BaseURL = "ftp://acme.zendesk.com" }, false},
		{"query", func(o *zendesk.Options) { o.BaseURL = "https://acme.zendesk.com?x=1" }, false},
		{"credentials in the URL", func(o *zendesk.Options) { o.BaseURL = "https://bridge:" + agentToken + "@acme.zendesk.com" }, false},
		{"no email", func(o *zendesk.Options) { o.Email = "" }, false},
		{"no token", func(o *zendesk.Options) { o.APIToken = "" }, false},
	}
	for _, tt := range tests {
		opts := good
		tt.change(&opts)
		_, err := zendesk.New(opts)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if err != nil && strings.Contains(err.Error(), agentToken) {
			t.Errorf("%s: error carries the token", tt.name)
		}
	}
}

// TestLiveHarnessAgainstFake checks the live harness's inspection code
// without credentials: against the fake it must see what the fake harness
// sees.
func TestLiveHarnessAgainstFake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, zendeskfake.Options{PerPage: 2})
	live := newLiveHarness(t, e.srv.URL+prefix, agentEmail, agentToken, e.srv.Client())
	fake := &fakeHarness{fake: e.fake}
	ctx := context.Background()
	tk, _, err := live.Helpdesk().CreateTicket(ctx, alert("ext-1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []connectors.Message{{BodyText: "a", FromCustomer: true}, {BodyText: "b", Internal: true}} {
		if err := live.Helpdesk().AddMessage(ctx, tk.ID, m); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(fake.Inspect(t, tk.ID), live.Inspect(t, tk.ID)); diff != "" {
		t.Errorf("Inspect (-fake +live):\n%s", diff)
	}
	if got := live.TicketCount(t, "ext-1"); got != 1 {
		t.Errorf("live TicketCount = %d, want 1", got)
	}
	live.Trash(t, tk.ID)
	if live.TicketCount(t, "ext-1") != fake.TicketCount(t, "ext-1") {
		t.Errorf("after Trash: live count %d, fake count %d", live.TicketCount(t, "ext-1"), fake.TicketCount(t, "ext-1"))
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestIsUpdateTicket(t *testing.T) {
	for _, c := range []struct {
		method, url string
		want        bool
	}{
		{http.MethodPut, "https://acme.zendesk.com/api/v2/tickets/42", true},
		{http.MethodPut, "https://proxy.example/zd/api/v2/tickets/42.json", true},
		{http.MethodGet, "https://acme.zendesk.com/api/v2/tickets/42", false},
		{http.MethodPut, "https://acme.zendesk.com/api/v2/tickets/42/tags", false},
		{http.MethodPost, "https://acme.zendesk.com/api/v2/tickets", false},
		{http.MethodPut, "https://acme.zendesk.com/api/v2/tickets/", false},
	} {
		req, _ := http.NewRequest(c.method, c.url, nil)
		if got := zendesk.IsUpdateTicket(req); got != c.want {
			t.Errorf("%s %s: %v, want %v", c.method, c.url, got, c.want)
		}
	}
}
