package zendeskfake_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
)

const (
	agentEmail = "agent@acme.example"
	agentToken = "secret-token"
	prefix     = "/acme"
)

// clock is a settable clock for the rate-limit and idempotency tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	t     *testing.T
	fake  *zendeskfake.Server
	srv   *httptest.Server
	clock *clock
}

func newFixture(t *testing.T, opts zendeskfake.Options) *fixture {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	if opts.Agents == nil {
		opts.Agents = map[string]string{agentEmail: agentToken}
	}
	opts.Prefix = prefix
	opts.Now = clk.Now
	fake := zendeskfake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &fixture{t: t, fake: fake, srv: srv, clock: clk}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

// request builds an authenticated request under the prefix, with a JSON
// Content-Type when there is a body.
func (f *fixture) request(method, path, body string) *http.Request {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+prefix+path, r)
	if err != nil {
		f.t.Fatal(err)
	}
	req.SetBasicAuth(agentEmail+"/token", agentToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func (f *fixture) send(req *http.Request) reply {
	f.t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) do(method, path, body string) reply {
	f.t.Helper()
	return f.send(f.request(method, path, body))
}

// create makes a ticket and returns its id.
func (f *fixture) create(externalID string) int64 {
	f.t.Helper()
	r := f.do("POST", "/api/v2/tickets", ticketJSON(externalID))
	if r.status != http.StatusCreated {
		f.t.Fatalf("create: %d %s", r.status, r.body)
	}
	return decode[api.TicketResponse](f.t, r.body).Ticket.ID
}

func ticketJSON(externalID string) string {
	return fmt.Sprintf(`{"ticket":{"subject":"Late order","external_id":%q,"requester":{"name":"Ada","email":"ada@shop.example"},"comment":{"body":"Order 42 is late","public":false}}}`, externalID)
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, b, err)
	}
	return v
}

func wantStatus(t *testing.T, r reply, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
}

// wantInvalid checks a 422 RecordInvalid naming field.
func wantInvalid(t *testing.T, r reply, field string) {
	t.Helper()
	wantStatus(t, r, http.StatusUnprocessableEntity)
	eb := decode[api.ErrorBody](t, r.body)
	if eb.Error.Name != api.ErrRecordInvalid || len(eb.Details[field]) == 0 {
		t.Fatalf("error body = %s, want RecordInvalid with details.%s", r.body, field)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	tests := []struct {
		name       string
		user, pass string
		noAuth     bool
		want       int
	}{
		{name: "token", user: agentEmail + "/token", pass: agentToken, want: http.StatusOK},
		{name: "email case does not matter", user: "Agent@ACME.example/token", pass: agentToken, want: http.StatusOK},
		{name: "no credentials", noAuth: true, want: http.StatusUnauthorized},
		{name: "wrong token", user: agentEmail + "/token", pass: "nope", want: http.StatusUnauthorized},
		{name: "password form", user: agentEmail, pass: agentToken, want: http.StatusUnauthorized},
		{name: "unknown agent", user: "someone@acme.example/token", pass: agentToken, want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request("GET", "/api/v2/tickets.json", "")
			req.Header.Del("Authorization")
			if !tt.noAuth {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			r := f.send(req)
			wantStatus(t, r, tt.want)
			if r.header.Get("X-Rate-Limit") == "" {
				t.Error("no X-Rate-Limit header")
			}
			if tt.want == http.StatusUnauthorized {
				if diff := cmp.Diff(`{"error":"Couldn't authenticate you"}`, string(r.body)); diff != "" {
					t.Errorf("401 body (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestPrefixAndDemoEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	f.create("ext-1")

	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v2/tickets.json", nil)
	req.SetBasicAuth(agentEmail+"/token", agentToken)
	wantStatus(t, f.send(req), http.StatusNotFound)

	req, _ = http.NewRequest("GET", f.srv.URL+prefix+"/_fake/tickets", nil)
	r := f.send(req)
	wantStatus(t, r, http.StatusOK)
	got := decode[[]api.Ticket](t, r.body)
	if len(got) != 1 || len(got[0].Comments) != 1 || got[0].Comments[0].Body != "Order 42 is late" {
		t.Errorf("demo endpoint = %s", r.body)
	}
	if n := f.fake.Requests()["POST /api/v2/tickets"]; n != 1 {
		t.Errorf("create requests counted = %d, want 1", n)
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 256)
	tests := []struct {
		name  string
		body  string
		field string // details key of the 422
	}{
		{name: "no comment", body: `{"ticket":{"subject":"s","requester":{"email":"a@b.example"}}}`, field: "description"},
		{name: "blank comment", body: `{"ticket":{"subject":"s","comment":{"body":"  "}}}`, field: "description"},
		{name: "bad requester email", body: `{"ticket":{"comment":{"body":"b"},"requester":{"email":"not-an-email"}}}`, field: "requester"},
		{name: "requester and requester_id", body: `{"ticket":{"comment":{"body":"b"},"requester":{"email":"a@b.example"},"requester_id":1}}`, field: "requester"},
		{name: "unknown requester_id", body: `{"ticket":{"comment":{"body":"b"},"requester_id":999}}`, field: "requester_id"},
		{name: "external_id too long", body: `{"ticket":{"comment":{"body":"b"},"external_id":"` + long + `"}}`, field: "external_id"},
		{name: "status outside the enum", body: `{"ticket":{"comment":{"body":"b"},"status":"archived"}}`, field: "status"},
		{name: "priority outside the enum", body: `{"ticket":{"comment":{"body":"b"},"priority":"bogus"}}`, field: "priority"},
		{name: "type outside the enum", body: `{"ticket":{"comment":{"body":"b"},"type":"nope"}}`, field: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, zendeskfake.Options{})
			wantInvalid(t, f.do("POST", "/api/v2/tickets", tt.body), tt.field)
			if n := len(f.fake.Tickets()); n != 0 {
				t.Errorf("%d tickets stored after a refusal", n)
			}
		})
	}
}

func TestCreateEchoesInvalidEmailLikeZendesk(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	r := f.do("POST", "/api/v2/tickets", `{"ticket":{"comment":{"body":"b"},"requester":{"email":"ada@nowhere"}}}`)
	if !strings.Contains(string(r.body), "ada@nowhere") {
		t.Errorf("422 body %s does not echo the email; clients must be tested against that", r.body)
	}
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{MaxBodyBytes: 1024})
	id := f.create("ext-1")
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		want        int
	}{
		{name: "not JSON", method: "POST", path: "/api/v2/tickets", body: `{"ticket":`, want: http.StatusBadRequest},
		{name: "no envelope", method: "POST", path: "/api/v2/tickets", body: `{"subject":"s"}`, want: http.StatusBadRequest},
		{name: "form content type", method: "POST", path: "/api/v2/tickets", body: ticketJSON("e"), contentType: "application/x-www-form-urlencoded", want: http.StatusBadRequest},
		{name: "too large", method: "POST", path: "/api/v2/tickets", body: ticketJSON(strings.Repeat("y", 2000)), want: http.StatusRequestEntityTooLarge},
		{name: "unknown route", method: "GET", path: "/api/v2/widgets", want: http.StatusNotFound},
		{name: "unknown ticket", method: "GET", path: "/api/v2/tickets/9999", want: http.StatusNotFound},
		{name: "non-numeric id", method: "GET", path: "/api/v2/tickets/abc", want: http.StatusNotFound},
		{name: "update unknown ticket", method: "PUT", path: "/api/v2/tickets/9999", body: `{"ticket":{"status":"open"}}`, want: http.StatusNotFound},
		{name: "show with .json", method: "GET", path: "/api/v2/tickets/" + strconv.FormatInt(id, 10) + ".json", want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(tt.method, tt.path, tt.body)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			r := f.send(req)
			wantStatus(t, r, tt.want)
			if tt.want == http.StatusNotFound && strings.Contains(tt.path, "/tickets/") {
				if eb := decode[api.ErrorBody](t, r.body); eb.Error.Name != api.ErrRecordNotFound {
					t.Errorf("404 error = %q, want RecordNotFound", eb.Error.Name)
				}
			}
		})
	}
}

func TestUpdateValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup string // an update applied first
		body  string
		field string
	}{
		{name: "status outside the enum", body: `{"ticket":{"status":"done"}}`, field: "status"},
		{name: "blank comment", body: `{"ticket":{"comment":{"body":""}}}`, field: "comment"},
		{name: "unknown author", body: `{"ticket":{"comment":{"body":"b","author_id":999}}}`, field: "comment"},
		{name: "closed ticket", setup: `{"ticket":{"status":"closed"}}`, body: `{"ticket":{"comment":{"body":"b"}}}`, field: "status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, zendeskfake.Options{})
			path := "/api/v2/tickets/" + strconv.FormatInt(f.create("ext-1"), 10)
			if tt.setup != "" {
				wantStatus(t, f.do("PUT", path, tt.setup), http.StatusOK)
			}
			wantInvalid(t, f.do("PUT", path, tt.body), tt.field)
		})
	}
}

func TestCommentsPublicAndAuthor(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	id := f.create("ext-1") // first comment public=false
	path := "/api/v2/tickets/" + strconv.FormatInt(id, 10)
	tk, _ := f.fake.Ticket(id)
	wantStatus(t, f.do("PUT", path, `{"ticket":{"comment":{"body":"no public given"}}}`), http.StatusOK)
	wantStatus(t, f.do("PUT", path, fmt.Sprintf(`{"ticket":{"comment":{"body":"from customer","public":true,"author_id":%d}}}`, tk.RequesterID)), http.StatusOK)

	got, _ := f.fake.Ticket(id)
	type row struct {
		Body        string
		Public      bool
		ByRequester bool
	}
	var rows []row
	for _, c := range got.Comments {
		rows = append(rows, row{c.Body, c.Public, c.AuthorID == got.RequesterID})
	}
	want := []row{
		{"Order 42 is late", false, false},
		{"no public given", false, false}, // the creation's value carries over
		{"from customer", true, true},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("comments (-want +got):\n%s", diff)
	}
	if got.Status != api.StatusNew {
		t.Errorf("status = %q, want new", got.Status)
	}
	u, ok := f.fake.User(got.RequesterID)
	if !ok || u.Email != "ada@shop.example" || u.Role != "end-user" {
		t.Errorf("requester = %+v", u)
	}
}

func TestCommentLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	id := f.create("ext-1")
	path := "/api/v2/tickets/" + strconv.FormatInt(id, 10)
	f.fake.FillComments(id, zendeskfake.MaxComments-1)
	wantStatus(t, f.do("PUT", path, `{"ticket":{"comment":{"body":"the 5000th"}}}`), http.StatusOK)
	wantInvalid(t, f.do("PUT", path, `{"ticket":{"comment":{"body":"one too many"}}}`), "base")
	// Updates without a comment still go through.
	wantStatus(t, f.do("PUT", path, `{"ticket":{"status":"pending"}}`), http.StatusOK)
	if got, _ := f.fake.Ticket(id); len(got.Comments) != zendeskfake.MaxComments {
		t.Errorf("%d comments, want %d", len(got.Comments), zendeskfake.MaxComments)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{IdempotencyTTL: time.Hour})
	post := func(key, body string) reply {
		req := f.request("POST", "/api/v2/tickets", body)
		req.Header.Set("Idempotency-Key", key)
		return f.send(req)
	}

	first := post("k1", ticketJSON("ext-1"))
	wantStatus(t, first, http.StatusCreated)
	if got := first.header.Get("x-idempotency-lookup"); got != "miss" {
		t.Errorf("first use: lookup = %q, want miss", got)
	}

	again := post("k1", ticketJSON("ext-1"))
	wantStatus(t, again, http.StatusCreated)
	if got := again.header.Get("x-idempotency-lookup"); got != "hit" {
		t.Errorf("replay: lookup = %q, want hit", got)
	}
	if diff := cmp.Diff(string(first.body), string(again.body)); diff != "" {
		t.Errorf("replayed body (-first +replay):\n%s", diff)
	}
	if again.header.Get("Location") == "" {
		t.Error("replay lost the Location header")
	}
	if n := len(f.fake.Tickets()); n != 1 {
		t.Fatalf("%d tickets after a replay, want 1", n)
	}

	mismatch := post("k1", ticketJSON("ext-2"))
	wantStatus(t, mismatch, http.StatusBadRequest)
	if eb := decode[api.ErrorBody](t, mismatch.body); eb.Error.Name != api.ErrIdempotentRequest {
		t.Errorf("mismatch error = %q, want %s", eb.Error.Name, api.ErrIdempotentRequest)
	}

	// A refused creation is kept under its key too.
	bad := `{"ticket":{"subject":"s"}}`
	wantStatus(t, post("k2", bad), http.StatusUnprocessableEntity)
	r := post("k2", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	if r.header.Get("x-idempotency-lookup") != "hit" {
		t.Error("refused creation was not replayed")
	}

	f.clock.Advance(time.Hour)
	expired := post("k1", ticketJSON("ext-2"))
	wantStatus(t, expired, http.StatusCreated)
	if got := expired.header.Get("x-idempotency-lookup"); got != "miss" {
		t.Errorf("after expiry: lookup = %q, want miss", got)
	}
	if n := len(f.fake.Tickets()); n != 2 {
		t.Errorf("%d tickets, want 2", n)
	}
	// Without a key, nothing is remembered and no lookup header is sent.
	if r := f.do("POST", "/api/v2/tickets", ticketJSON("ext-1")); r.header.Get("x-idempotency-lookup") != "" {
		t.Error("lookup header without a key")
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{RateLimit: 3})
	get := func() reply { return f.do("GET", "/api/v2/tickets", "") }

	for want := 2; want >= 0; want-- {
		r := get()
		wantStatus(t, r, http.StatusOK)
		if got := r.header.Get("X-Rate-Limit-Remaining"); got != strconv.Itoa(want) {
			t.Errorf("remaining = %s, want %d", got, want)
		}
		if got := r.header.Get("X-Rate-Limit"); got != "3" {
			t.Errorf("X-Rate-Limit = %s, want 3", got)
		}
		f.clock.Advance(10 * time.Second)
	}
	// Requests at 0 s, 10 s and 20 s; now is 30 s: the first slot frees at 60 s.
	r := get()
	wantStatus(t, r, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	if got := r.header.Get("X-Rate-Limit-Remaining"); got != "0" {
		t.Errorf("remaining on 429 = %q, want 0", got)
	}
	f.clock.Advance(29500 * time.Millisecond)
	r = get()
	wantStatus(t, r, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1 (rounded up)", got)
	}
	f.clock.Advance(500 * time.Millisecond)
	// Refused requests took no slot: exactly one is free now.
	wantStatus(t, get(), http.StatusOK)
	wantStatus(t, get(), http.StatusTooManyRequests)
	if n := f.fake.RateLimited(); n != 3 {
		t.Errorf("RateLimited = %d, want 3", n)
	}
	if n := f.fake.Requests()["GET /api/v2/tickets"]; n != 4 {
		t.Errorf("admitted = %d, want 4", n)
	}
}

func TestUpdateTicketLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{UpdateRateLimit: 2})
	path := "/api/v2/tickets/" + strconv.FormatInt(f.create("ext-1"), 10)
	for range 2 {
		wantStatus(t, f.do("PUT", path, `{"ticket":{"status":"open"}}`), http.StatusOK)
	}
	r := f.do("PUT", path, `{"ticket":{"status":"open"}}`)
	wantStatus(t, r, http.StatusTooManyRequests)
	if r.header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After = %q, want 60", r.header.Get("Retry-After"))
	}
	// Other endpoints, tags included, have the account's budget left.
	wantStatus(t, f.do("GET", path, ""), http.StatusOK)
	wantStatus(t, f.do("POST", path+"/tags", `{"tags":["a"]}`), http.StatusCreated)
	f.clock.Advance(time.Minute)
	wantStatus(t, f.do("PUT", path, `{"ticket":{"status":"open"}}`), http.StatusOK)
}

func TestUnthrottled(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{RateLimit: 1, Unthrottled: true})
	for range 3 {
		r := f.do("GET", "/api/v2/tickets", "")
		wantStatus(t, r, http.StatusOK)
		if r.header.Get("X-Rate-Limit-Remaining") != "0" {
			t.Errorf("remaining = %q, want 0", r.header.Get("X-Rate-Limit-Remaining"))
		}
	}
}

func TestListByExternalID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{PerPage: 2})
	a := f.create("shared")
	f.clock.Advance(time.Second)
	b := f.create("shared")
	f.create("other")
	f.clock.Advance(time.Second)
	c := f.create("shared")
	d := f.create("shared")
	if !f.fake.Delete(c) {
		t.Fatal("Delete reported no live ticket")
	}

	var ids []int64
	path := "/api/v2/tickets.json?external_id=shared&include=users"
	for page := 1; ; page++ {
		r := f.do("GET", path+"&page="+strconv.Itoa(page), "")
		wantStatus(t, r, http.StatusOK)
		list := decode[api.TicketList](t, r.body)
		if list.Count != 3 {
			t.Errorf("count = %d, want 3", list.Count)
		}
		if len(list.Users) == 0 {
			t.Error("include=users side-loaded nothing")
		}
		for _, tk := range list.Tickets {
			ids = append(ids, tk.ID)
		}
		if list.NextPage == nil {
			break
		}
		if !strings.Contains(*list.NextPage, prefix+"/api/v2/tickets.json?") {
			t.Errorf("next_page %q lost the prefix", *list.NextPage)
		}
	}
	if diff := cmp.Diff([]int64{d, b, a}, ids); diff != "" {
		t.Errorf("listed ids, newest first, deleted left out (-want +got):\n%s", diff)
	}
	wantStatus(t, f.do("GET", "/api/v2/tickets/"+strconv.FormatInt(c, 10), ""), http.StatusNotFound)
	if got, _ := f.fake.Ticket(c); got.Status != api.StatusDeleted {
		t.Errorf("deleted ticket status = %q", got.Status)
	}
}

func TestTags(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	path := "/api/v2/tickets/" + strconv.FormatInt(f.create("ext-1"), 10) + "/tags"
	steps := []struct {
		method, body string
		status       int
		want         []string
	}{
		{"POST", `{"tags":["a","b"]}`, http.StatusCreated, []string{"a", "b"}},
		{"PUT", `{"tags":["b","c"]}`, http.StatusOK, []string{"a", "b", "c"}},
		{"DELETE", `{"tags":["a"]}`, http.StatusOK, []string{"b", "c"}},
		{"POST", `{"tags":["z"]}`, http.StatusCreated, []string{"z"}},
		{"POST", `{"tags":[]}`, http.StatusBadRequest, nil},
		{"GET", "", http.StatusOK, []string{"z"}},
	}
	for _, st := range steps {
		r := f.do(st.method, path, st.body)
		wantStatus(t, r, st.status)
		if st.want == nil {
			continue
		}
		if diff := cmp.Diff(st.want, decode[api.Tags](t, r.body).Tags); diff != "" {
			t.Errorf("%s %s (-want +got):\n%s", st.method, st.body, diff)
		}
	}
}

func TestFaultsSitBehindAuthAndLimits(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{})
	f.fake.Faults().Push(fault.Fault{Status: http.StatusServiceUnavailable})

	req := f.request("GET", "/api/v2/tickets", "")
	req.SetBasicAuth(agentEmail+"/token", "wrong")
	wantStatus(t, f.send(req), http.StatusUnauthorized)
	if f.fake.Faults().Pending() != 1 {
		t.Fatal("an unauthenticated request consumed the fault")
	}
	r := f.do("GET", "/api/v2/tickets", "")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if r.header.Get("X-Rate-Limit-Remaining") == "" {
		t.Error("faulted answer lost the rate-limit headers")
	}
	wantStatus(t, f.do("GET", "/api/v2/tickets", ""), http.StatusOK)
}

func TestReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{RateLimit: 2})
	f.create("ext-1")
	f.create("ext-2")
	f.fake.Faults().Push(fault.Fault{Status: 500})
	f.fake.Reset()
	if len(f.fake.Tickets()) != 0 || len(f.fake.Requests()) != 0 || f.fake.Faults().Pending() != 0 {
		t.Fatal("Reset left state behind")
	}
	// The agent still authenticates and the window is empty again.
	wantStatus(t, f.do("GET", "/api/v2/tickets", ""), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v2/tickets", ""), http.StatusOK)
}

func TestConcurrentCreatesWithOneKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t, zendeskfake.Options{Unthrottled: true})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := f.request("POST", "/api/v2/tickets", ticketJSON("ext-1"))
			req.Header.Set("Idempotency-Key", "same")
			if resp, err := f.srv.Client().Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := len(f.fake.Tickets()); n != 1 {
		t.Errorf("%d tickets from one key, want 1", n)
	}
}
