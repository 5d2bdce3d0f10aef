package gorgiasfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

const (
	agent = "bridge@acme.test"
	key   = "secret-key"
)

// clock is a settable clock for the bucket.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

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

func newFake(t *testing.T, opts gorgiasfake.Options) (*gorgiasfake.Server, *clock) {
	t.Helper()
	clk := newClock()
	if opts.Accounts == nil {
		opts.Accounts = map[string]string{agent: key}
	}
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Capacity == 0 && !opts.Unthrottled {
		// Most tests are not about the bucket: give them room.
		opts.Capacity = 1000
	}
	return gorgiasfake.New(opts), clk
}

// answer is a recorded response with its JSON body decoded.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends one request as the agent; body is JSON-encoded unless it is
// already a string.
func call(t *testing.T, h http.Handler, method, target string, body any) answer {
	t.Helper()
	return callAs(t, h, agent, key, method, target, body)
}

func callAs(t *testing.T, h http.Handler, user, pass, method, target string, body any) answer {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	req := httptest.NewRequest(method, target, bytes.NewReader(raw))
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if strings.HasPrefix(strings.TrimSpace(a.raw), "{") {
		if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
			t.Fatalf("%s %s: undecodable body %q: %v", method, target, a.raw, err)
		}
	}
	return a
}

// errorFields returns the field paths of a vendor-style error body.
func (a answer) errorFields() []string {
	e, _ := a.body["error"].(map[string]any)
	data, _ := e["data"].(map[string]any)
	var fields []string
	for f := range data {
		fields = append(fields, f)
	}
	return fields
}

func ptr[T any](v T) *T { return &v }

func validTicket() api.CreateTicketRequest {
	return api.CreateTicketRequest{
		Customer:   &api.Person{Email: "jane@example.com", Name: "Jane"},
		ExternalID: "alert-1",
		Subject:    "Late order",
		Channel:    "api",
		Via:        "api",
		Tags:       []api.Tag{{Name: "bridge"}},
		Messages: []api.Message{{
			Channel:   "internal-note",
			Via:       "api",
			FromAgent: ptr(true),
			Sender:    &api.Person{Email: agent},
			BodyText:  "Order 42 is late.",
		}},
	}
}

func customerMessage() api.Message {
	return api.Message{
		Channel:      "api",
		Via:          "api",
		FromAgent:    ptr(false),
		Sender:       &api.Person{Email: "jane@example.com"},
		BodyText:     "Where is my order?",
		SentDatetime: api.NewDatetime(time.Date(2025, 2, 1, 8, 0, 0, 0, time.UTC)),
	}
}

func createTicket(t *testing.T, h http.Handler, externalID string) int64 {
	t.Helper()
	req := validTicket()
	req.ExternalID = externalID
	a := call(t, h, http.MethodPost, "/api/tickets", req)
	if a.status != http.StatusCreated {
		t.Fatalf("create ticket: status %d, body %s", a.status, a.raw)
	}
	return int64(a.body["id"].(float64))
}

func TestAuth(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	tests := []struct {
		name       string
		user, pass string
		want       int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong key", agent, "nope", http.StatusUnauthorized},
		{"unknown user", "someone@acme.test", key, http.StatusUnauthorized},
		{"empty key", agent, "", http.StatusUnauthorized},
		{"right credentials", agent, key, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := callAs(t, fake, tc.user, tc.pass, http.MethodGet, "/api/tickets", nil)
			if a.status != tc.want {
				t.Fatalf("status = %d, want %d (body %s)", a.status, tc.want, a.raw)
			}
			if tc.want == http.StatusUnauthorized {
				if _, ok := a.body["error"]; !ok {
					t.Errorf("401 body %s has no error attribute", a.raw)
				}
				if a.header.Get(gorgiasfake.CallLimitHeader) != "" {
					t.Errorf("a refused caller has no account, yet got %s", gorgiasfake.CallLimitHeader)
				}
			}
		})
	}
}

func TestCreateTicketValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*api.CreateTicketRequest)
		field  string
	}{
		{"no messages", func(r *api.CreateTicketRequest) { r.Messages = nil }, "messages"},
		{"501 messages", func(r *api.CreateTicketRequest) {
			for len(r.Messages) < 501 {
				r.Messages = append(r.Messages, r.Messages[0])
			}
		}, "messages"},
		{"message without channel", func(r *api.CreateTicketRequest) { r.Messages[0].Channel = "" }, "messages.0.channel"},
		{"message without via", func(r *api.CreateTicketRequest) { r.Messages[0].Via = "" }, "messages.0.via"},
		{"message with unknown via", func(r *api.CreateTicketRequest) { r.Messages[0].Via = "carrier-pigeon" }, "messages.0.via"},
		{"message without from_agent", func(r *api.CreateTicketRequest) { r.Messages[0].FromAgent = nil }, "messages.0.from_agent"},
		{"message external id too long", func(r *api.CreateTicketRequest) { r.Messages[0].ExternalID = strings.Repeat("m", 256) }, "messages.0.external_id"},
		{"message without sender", func(r *api.CreateTicketRequest) { r.Messages[0].Sender = nil }, "messages.0.sender"},
		{"message without body", func(r *api.CreateTicketRequest) { r.Messages[0].BodyText = "" }, "messages.0.body_text"},
		{"internal note from a customer", func(r *api.CreateTicketRequest) { r.Messages[0].FromAgent = ptr(false) }, "messages.0.from_agent"},
		{"internal note by a non-user", func(r *api.CreateTicketRequest) { r.Messages[0].Sender = &api.Person{Email: "jane@example.com"} }, "messages.0.sender"},
		{"incoming message with a receiver", func(r *api.CreateTicketRequest) {
			m := customerMessage()
			m.Receiver = &api.Person{Email: agent}
			r.Messages = append(r.Messages, m)
		}, "messages.1.receiver"},
		{"attachment without url", func(r *api.CreateTicketRequest) { r.Messages[0].Attachments = []api.Attachment{{Name: "a.png"}} }, "messages.0.attachments.0.url"},
		{"ticket external id too long", func(r *api.CreateTicketRequest) { r.ExternalID = strings.Repeat("x", 256) }, "external_id"},
		{"ticket without via", func(r *api.CreateTicketRequest) { r.Via = "" }, "via"},
		{"unknown status", func(r *api.CreateTicketRequest) { r.Status = "pending" }, "status"},
		{"no customer", func(r *api.CreateTicketRequest) { r.Customer = nil }, "customer"},
		{"unknown customer id", func(r *api.CreateTicketRequest) { r.Customer = &api.Person{ID: 999} }, "customer.id"},
		{"tag without id or name", func(r *api.CreateTicketRequest) { r.Tags = []api.Tag{{}} }, "tags.0"},
		{"unknown tag id", func(r *api.CreateTicketRequest) { r.Tags = []api.Tag{{ID: 999}} }, "tags.0.id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake, _ := newFake(t, gorgiasfake.Options{})
			req := validTicket()
			tc.mutate(&req)
			a := call(t, fake, http.MethodPost, "/api/tickets", req)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (body %s)", a.status, a.raw)
			}
			if diff := cmp.Diff([]string{tc.field}, a.errorFields()); diff != "" {
				t.Errorf("error fields (-want +got):\n%s", diff)
			}
			if n := len(fake.Tickets()); n != 0 {
				t.Errorf("a refused request stored %d tickets", n)
			}
		})
	}

	t.Run("limits themselves are accepted", func(t *testing.T) {
		t.Parallel()
		fake, _ := newFake(t, gorgiasfake.Options{})
		req := validTicket()
		req.ExternalID = strings.Repeat("é", 255) // characters, not bytes
		for len(req.Messages) < 500 {
			req.Messages = append(req.Messages, req.Messages[0])
		}
		if a := call(t, fake, http.MethodPost, "/api/tickets", req); a.status != http.StatusCreated {
			t.Fatalf("status = %d, want 201 (body %s)", a.status, a.raw)
		}
	})

	t.Run("unknown body field", func(t *testing.T) {
		t.Parallel()
		fake, _ := newFake(t, gorgiasfake.Options{})
		a := call(t, fake, http.MethodPost, "/api/tickets", `{"messages": [], "priority_boost": 3}`)
		if a.status != http.StatusBadRequest {
			t.Fatalf("status = %d, want 400 (body %s)", a.status, a.raw)
		}
	})

	t.Run("customer taken from an incoming first message", func(t *testing.T) {
		t.Parallel()
		fake, _ := newFake(t, gorgiasfake.Options{})
		req := validTicket()
		req.Customer = nil
		req.Messages = []api.Message{customerMessage()}
		a := call(t, fake, http.MethodPost, "/api/tickets", req)
		if a.status != http.StatusCreated {
			t.Fatalf("status = %d, want 201 (body %s)", a.status, a.raw)
		}
		got, _ := fake.Ticket(1)
		if got.Customer == nil || got.Customer.Email != "jane@example.com" {
			t.Errorf("customer = %+v, want the sender of the first message", got.Customer)
		}
	})
}

func TestCreatedTicket(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	a := call(t, fake, http.MethodPost, "/api/tickets", validTicket())
	if a.status != http.StatusCreated {
		t.Fatalf("status = %d (body %s)", a.status, a.raw)
	}
	// Gorgias writes naive UTC datetimes with microseconds.
	if !regexp.MustCompile(`"created_datetime":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}"`).MatchString(a.raw) {
		t.Errorf("created_datetime not in Gorgias's form: %s", a.raw)
	}
	got, ok := fake.Ticket(1)
	if !ok {
		t.Fatal("ticket 1 not stored")
	}
	if got.Status != "open" || got.Trashed() || got.ExternalID != "alert-1" || got.Subject != "Late order" {
		t.Errorf("stored ticket = %+v", got)
	}
	if diff := cmp.Diff([]api.Tag{{ID: 1, Name: "bridge"}}, got.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if len(got.Messages) != 1 || !got.Messages[0].Internal() || got.Messages[0].BodyText != "Order 42 is late." {
		t.Errorf("messages = %+v", got.Messages)
	}
	if fake.Sent() != 0 {
		t.Errorf("an internal note counted as sent")
	}

	// The copy is the caller's own.
	got.Messages[0].BodyText = "changed"
	if again, _ := fake.Ticket(1); again.Messages[0].BodyText != "Order 42 is late." {
		t.Error("Ticket returned the fake's own storage")
	}
}

func TestCreateMessage(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	id := createTicket(t, fake, "alert-1")
	path := fmt.Sprintf("/api/tickets/%d/messages", id)

	if a := call(t, fake, http.MethodPost, "/api/tickets/999/messages", customerMessage()); a.status != http.StatusNotFound {
		t.Errorf("unknown ticket: status = %d, want 404", a.status)
	}
	bad := customerMessage()
	bad.FromAgent = nil
	if a := call(t, fake, http.MethodPost, path, bad); a.status != http.StatusBadRequest {
		t.Errorf("message without from_agent: status = %d, want 400", a.status)
	}
	if a := call(t, fake, http.MethodPost, path+"?action=maybe", customerMessage()); a.status != http.StatusBadRequest {
		t.Errorf("unknown action: status = %d, want 400", a.status)
	}
	if a := call(t, fake, http.MethodPost, path, customerMessage()); a.status != http.StatusCreated {
		t.Fatalf("valid message: status = %d (body %s)", a.status, a.raw)
	}

	// A public agent message without sent_datetime is one Gorgias sends.
	public := api.Message{Channel: "email", Via: "api", FromAgent: ptr(true), Sender: &api.Person{Email: agent}, BodyText: "Hello"}
	if a := call(t, fake, http.MethodPost, path, public); a.status != http.StatusCreated {
		t.Fatalf("public message: status = %d (body %s)", a.status, a.raw)
	}
	if fake.Sent() != 1 {
		t.Errorf("Sent() = %d, want 1", fake.Sent())
	}
	got, _ := fake.Ticket(id)
	if len(got.Messages) != 3 || got.Messages[1].BodyText != "Where is my order?" {
		t.Errorf("messages = %+v", got.Messages)
	}
}

func TestBodyTooLarge(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{MaxBodyBytes: 512})
	req := validTicket()
	req.Messages[0].BodyText = strings.Repeat("x", 1024)
	a := call(t, fake, http.MethodPost, "/api/tickets", req)
	if a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413 (body %s)", a.status, a.raw)
	}
}

func TestLeakyBucket(t *testing.T) {
	t.Parallel()

	t.Run("fills, refuses, then drains", func(t *testing.T) {
		t.Parallel()
		// 4 requests per 2 s: one slot frees every 500 ms.
		fake, clk := newFake(t, gorgiasfake.Options{Capacity: 4, Window: 2 * time.Second})
		get := func() answer { return call(t, fake, http.MethodGet, "/api/tickets", nil) }
		for i := 1; i <= 4; i++ {
			a := get()
			if a.status != http.StatusOK || a.header.Get(gorgiasfake.CallLimitHeader) != fmt.Sprintf("%d/4", i) {
				t.Fatalf("request %d: status %d, %s %q", i, a.status, gorgiasfake.CallLimitHeader, a.header.Get(gorgiasfake.CallLimitHeader))
			}
		}
		a := get()
		if a.status != http.StatusTooManyRequests {
			t.Fatalf("5th request: status = %d, want 429", a.status)
		}
		if got := a.header.Get("Retry-After"); got != "1" {
			t.Errorf("Retry-After = %q, want 1 (500 ms rounded up)", got)
		}
		if got := a.header.Get(gorgiasfake.CallLimitHeader); got != "4/4" {
			t.Errorf("%s on 429 = %q, want 4/4", gorgiasfake.CallLimitHeader, got)
		}
		// The refused request did not count: 500 ms frees exactly one slot.
		clk.Advance(500 * time.Millisecond)
		if a := get(); a.status != http.StatusOK {
			t.Errorf("after 500 ms: status = %d, want 200", a.status)
		}
		if a := get(); a.status != http.StatusTooManyRequests {
			t.Errorf("bucket full again: status = %d, want 429", a.status)
		}
		if fake.RateLimited() != 2 {
			t.Errorf("RateLimited() = %d, want 2", fake.RateLimited())
		}
		clk.Advance(2 * time.Second)
		if a := get(); a.header.Get(gorgiasfake.CallLimitHeader) != "1/4" {
			t.Errorf("after draining: %s = %q, want 1/4", gorgiasfake.CallLimitHeader, a.header.Get(gorgiasfake.CallLimitHeader))
		}
	})

	t.Run("Retry-After in whole seconds, rounded up", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			name     string
			capacity int
			window   time.Duration
			want     string
		}{
			{"api key default", 0, 0, "1"},                   // 40/20 s: 500 ms
			{"enterprise window", 40, 10 * time.Second, "1"}, // 250 ms
			{"slow bucket", 2, 9 * time.Second, "5"},         // 4.5 s
		}
		for _, tc := range tests {
			clk := newClock()
			fake := gorgiasfake.New(gorgiasfake.Options{
				Accounts: map[string]string{agent: key}, Capacity: tc.capacity, Window: tc.window, Now: clk.Now,
			})
			capacity := tc.capacity
			if capacity == 0 {
				capacity = gorgiasfake.DefaultCapacity
			}
			for range capacity {
				call(t, fake, http.MethodGet, "/api/tickets", nil)
			}
			a := call(t, fake, http.MethodGet, "/api/tickets", nil)
			if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") != tc.want {
				t.Errorf("%s: status %d, Retry-After %q, want 429 and %s", tc.name, a.status, a.header.Get("Retry-After"), tc.want)
			}
		}
	})

	t.Run("one bucket per account", func(t *testing.T) {
		t.Parallel()
		fake, _ := newFake(t, gorgiasfake.Options{
			Accounts: map[string]string{agent: key, "other@acme.test": "k2"}, Capacity: 1, Window: time.Minute,
		})
		call(t, fake, http.MethodGet, "/api/tickets", nil)
		if a := callAs(t, fake, "other@acme.test", "k2", http.MethodGet, "/api/tickets", nil); a.status != http.StatusOK {
			t.Errorf("another account: status = %d, want 200", a.status)
		}
	})

	t.Run("unthrottled still reports usage", func(t *testing.T) {
		t.Parallel()
		fake, _ := newFake(t, gorgiasfake.Options{Capacity: 2, Unthrottled: true})
		var a answer
		for range 3 {
			a = call(t, fake, http.MethodGet, "/api/tickets", nil)
		}
		if a.status != http.StatusOK || a.header.Get(gorgiasfake.CallLimitHeader) != "3/2" {
			t.Errorf("status %d, %s %q; want 200 and 3/2", a.status, gorgiasfake.CallLimitHeader, a.header.Get(gorgiasfake.CallLimitHeader))
		}
	})
}

func TestListTrashedDefault(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	trashed := createTicket(t, fake, "alert-1")
	live := createTicket(t, fake, "alert-1")
	createTicket(t, fake, "alert-2")
	if !fake.Trash(trashed) {
		t.Fatal("Trash: ticket not found")
	}
	tests := []struct {
		query string
		want  []int64
	}{
		{"external_id=alert-1", []int64{live, trashed}}, // trashed defaults to true
		{"external_id=alert-1&trashed=true", []int64{live, trashed}},
		{"external_id=alert-1&trashed=false", []int64{live}},
		{"external_id=alert-3", nil},
	}
	for _, tc := range tests {
		a := call(t, fake, http.MethodGet, "/api/tickets?"+tc.query, nil)
		if diff := cmp.Diff(tc.want, ids(t, a)); diff != "" {
			t.Errorf("%s: ids (-want +got):\n%s", tc.query, diff)
		}
	}
	if a := call(t, fake, http.MethodGet, "/api/tickets?trashed=no", nil); a.status != http.StatusBadRequest {
		t.Errorf("trashed=no: status = %d, want 400", a.status)
	}
}

// ids lists the ticket ids of a list answer.
func ids(t *testing.T, a answer) []int64 {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("list: status %d (body %s)", a.status, a.raw)
	}
	var out []int64
	for _, item := range a.body["data"].([]any) {
		out = append(out, int64(item.(map[string]any)["id"].(float64)))
	}
	return out
}

func cursors(a answer) (prev, next string) {
	meta := a.body["meta"].(map[string]any)
	prev, _ = meta["prev_cursor"].(string)
	next, _ = meta["next_cursor"].(string)
	return prev, next
}

func TestListPagination(t *testing.T) {
	t.Parallel()
	fake, clk := newFake(t, gorgiasfake.Options{})
	for i := range 5 {
		createTicket(t, fake, fmt.Sprintf("alert-%d", i))
		clk.Advance(time.Second)
	}

	first := call(t, fake, http.MethodGet, "/api/tickets?limit=2", nil)
	if diff := cmp.Diff([]int64{5, 4}, ids(t, first)); diff != "" {
		t.Fatalf("first page, newest first (-want +got):\n%s", diff)
	}
	prev, next := cursors(first)
	if prev != "" || next == "" {
		t.Fatalf("first page cursors: prev %q, next %q", prev, next)
	}
	second := call(t, fake, http.MethodGet, "/api/tickets?limit=2&cursor="+next, nil)
	if diff := cmp.Diff([]int64{3, 2}, ids(t, second)); diff != "" {
		t.Errorf("second page (-want +got):\n%s", diff)
	}
	prev, next = cursors(second)
	last := call(t, fake, http.MethodGet, "/api/tickets?limit=2&cursor="+next, nil)
	if diff := cmp.Diff([]int64{1}, ids(t, last)); diff != "" {
		t.Errorf("last page (-want +got):\n%s", diff)
	}
	if _, end := cursors(last); end != "" {
		t.Errorf("last page next_cursor = %q, want null", end)
	}
	back := call(t, fake, http.MethodGet, "/api/tickets?limit=2&cursor="+prev, nil)
	if diff := cmp.Diff([]int64{5, 4}, ids(t, back)); diff != "" {
		t.Errorf("back to the first page (-want +got):\n%s", diff)
	}

	asc := call(t, fake, http.MethodGet, "/api/tickets?limit=2&order_by=created_datetime:asc", nil)
	if diff := cmp.Diff([]int64{1, 2}, ids(t, asc)); diff != "" {
		t.Errorf("ascending (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ name, query string }{
		{"limit over 100", "limit=101"},
		{"limit zero", "limit=0"},
		{"limit not a number", "limit=ten"},
		{"garbage cursor", "cursor=%21%21"},
		{"cursor of another order", "order_by=created_datetime:asc&cursor=" + next},
		{"unknown order", "order_by=subject:asc"},
		{"unknown parameter", "page=2"},
	} {
		if a := call(t, fake, http.MethodGet, "/api/tickets?"+tc.query, nil); a.status != http.StatusBadRequest {
			t.Errorf("%s: status = %d, want 400", tc.name, a.status)
		}
	}
}

func TestListDefaultLimit(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	for i := range 31 {
		createTicket(t, fake, fmt.Sprintf("alert-%d", i))
	}
	a := call(t, fake, http.MethodGet, "/api/tickets", nil)
	if n := len(ids(t, a)); n != 30 {
		t.Errorf("default page size = %d, want 30", n)
	}
	if a := call(t, fake, http.MethodGet, "/api/tickets?limit=100", nil); len(ids(t, a)) != 31 {
		t.Errorf("limit=100 did not return every ticket")
	}
}

func TestTagsAndStatus(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	id := createTicket(t, fake, "alert-1") // creates tag 1, "bridge"
	tagsPath := fmt.Sprintf("/api/tickets/%d/tags", id)

	if a := call(t, fake, http.MethodPost, "/api/tags", api.CreateTagRequest{Name: "bridge"}); a.status != http.StatusConflict {
		t.Errorf("duplicate tag: status = %d, want 409", a.status)
	}
	if a := call(t, fake, http.MethodPost, "/api/tags", api.CreateTagRequest{Name: "Bridge"}); a.status != http.StatusCreated {
		t.Errorf("names are case sensitive: status = %d, want 201", a.status)
	}
	if a := call(t, fake, http.MethodPost, "/api/tags", api.CreateTagRequest{}); a.status != http.StatusBadRequest {
		t.Errorf("tag without name: status = %d, want 400", a.status)
	}
	search := call(t, fake, http.MethodGet, "/api/tags?search=BRID", nil)
	if n := len(search.body["data"].([]any)); n != 2 {
		t.Errorf("search is case insensitive: %d tags, want 2", n)
	}

	if a := call(t, fake, http.MethodPut, tagsPath, `{"names": ["x"]}`); a.status != http.StatusBadRequest {
		t.Errorf("tags by name: status = %d, want 400 (replacing by name is unverified)", a.status)
	}
	if a := call(t, fake, http.MethodPut, tagsPath, `{}`); a.status != http.StatusBadRequest {
		t.Errorf("no ids: status = %d, want 400", a.status)
	}
	if a := call(t, fake, http.MethodPut, tagsPath, api.SetTicketTagsRequest{IDs: []int64{99}}); a.status != http.StatusBadRequest {
		t.Errorf("unknown tag id: status = %d, want 400", a.status)
	}
	if a := call(t, fake, http.MethodPut, "/api/tickets/99/tags", api.SetTicketTagsRequest{IDs: []int64{2}}); a.status != http.StatusNotFound {
		t.Errorf("unknown ticket: status = %d, want 404", a.status)
	}
	if a := call(t, fake, http.MethodPut, tagsPath, api.SetTicketTagsRequest{IDs: []int64{2}}); a.status != http.StatusAccepted {
		t.Fatalf("replace tags: status = %d (body %s)", a.status, a.raw)
	}
	got, _ := fake.Ticket(id)
	if diff := cmp.Diff([]api.Tag{{ID: 2, Name: "Bridge"}}, got.Tags); diff != "" {
		t.Errorf("tags after replace (-want +got):\n%s", diff)
	}

	ticketPath := fmt.Sprintf("/api/tickets/%d", id)
	if a := call(t, fake, http.MethodPut, ticketPath, api.UpdateTicketRequest{Status: "solved"}); a.status != http.StatusBadRequest {
		t.Errorf("status solved: status = %d, want 400", a.status)
	}
	if a := call(t, fake, http.MethodPut, ticketPath, api.UpdateTicketRequest{Status: "closed"}); a.status != http.StatusOK || a.body["status"] != "closed" || a.body["closed_datetime"] == nil {
		t.Errorf("close: status %d, body %s", a.status, a.raw)
	}
	if a := call(t, fake, http.MethodPut, ticketPath, api.UpdateTicketRequest{Status: "open"}); a.body["status"] != "open" || a.body["closed_datetime"] != nil {
		t.Errorf("reopen: body %s", a.raw)
	}
	if a := call(t, fake, http.MethodGet, "/api/tickets/99", nil); a.status != http.StatusNotFound {
		t.Errorf("unknown ticket: status = %d, want 404", a.status)
	}
}

func TestFaultsSitBehindAuthAndBucket(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{})
	fake.Faults().Push(fault.Fault{Status: http.StatusServiceUnavailable})
	if a := callAs(t, fake, agent, "wrong", http.MethodGet, "/api/tickets", nil); a.status != http.StatusUnauthorized {
		t.Fatalf("wrong credentials: status = %d, want 401", a.status)
	}
	if fake.Faults().Pending() != 1 {
		t.Fatal("an unauthenticated request consumed the fault")
	}
	a := call(t, fake, http.MethodGet, "/api/tickets", nil)
	if a.status != http.StatusServiceUnavailable || a.header.Get(gorgiasfake.CallLimitHeader) == "" {
		t.Errorf("injected fault: status %d, %s %q", a.status, gorgiasfake.CallLimitHeader, a.header.Get(gorgiasfake.CallLimitHeader))
	}
}

func TestPathPrefixAndDemoListing(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{PathPrefix: "/acme/"})
	if a := call(t, fake, http.MethodGet, "/api/tickets", nil); a.status != http.StatusNotFound {
		t.Errorf("outside the prefix: status = %d, want 404", a.status)
	}
	if a := call(t, fake, http.MethodPost, "/api/tickets", validTicket()); a.status != http.StatusNotFound {
		t.Errorf("create outside the prefix: status = %d, want 404", a.status)
	}
	if len(fake.Tickets()) != 0 {
		t.Fatal("a request outside the prefix created a ticket")
	}
	a := call(t, fake, http.MethodPost, "/acme/api/tickets", validTicket())
	if a.status != http.StatusCreated {
		t.Fatalf("inside the prefix: status = %d", a.status)
	}
	dump := callAs(t, fake, "", "", http.MethodGet, "/acme/_fake/tickets", nil)
	var tickets []api.Ticket
	if err := json.Unmarshal([]byte(dump.raw), &tickets); err != nil || dump.status != http.StatusOK {
		t.Fatalf("demo listing: status %d, %v", dump.status, err)
	}
	if len(tickets) != 1 || len(tickets[0].Messages) != 1 {
		t.Errorf("demo listing = %+v", tickets)
	}
	if got := fake.Requests()["POST /api/tickets"]; got != 1 {
		t.Errorf(`Requests()["POST /api/tickets"] = %d, want 1`, got)
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	fake, _ := newFake(t, gorgiasfake.Options{Capacity: 1, Window: time.Hour})
	createTicket(t, fake, "alert-1")
	fake.Faults().Push(fault.Fault{Status: http.StatusInternalServerError})
	fake.Reset()
	if len(fake.Tickets()) != 0 || len(fake.Requests()) != 0 || fake.Faults().Pending() != 0 {
		t.Error("Reset left state behind")
	}
	if a := call(t, fake, http.MethodGet, "/api/tickets", nil); a.status != http.StatusOK {
		t.Errorf("Reset did not empty the bucket: status %d", a.status)
	}
}
