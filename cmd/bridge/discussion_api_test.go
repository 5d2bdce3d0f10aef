package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// discussionOptional are the Discussion fields an answer may leave out
// (omitted when empty), by fieldDiff path.
var discussionOptional = func() map[string]bool {
	out := map[string]bool{".next_cursor": true}
	for _, f := range []string{"entity_id", "entity_label", "customer_name", "customer_email", "ticket_id", "merchant_ticket_id"} {
		out["."+f], out[".discussions[]."+f] = true, true
	}
	return out
}()

// discussionCall sends one request to the discussion API and holds the
// answer, and a request it serves, to openapi.yaml: its status, headers,
// body, and every field of a 200's JSON.
func (h *harness) discussionCall(oa *openAPI, method, path, token string, body any) (int, map[string]any) {
	h.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(raw))
	if err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	answer, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err := oa.checkResponse(req, resp, answer); err != nil {
		h.t.Errorf("%s %s: the answer does not match openapi.yaml: %v\n%s", method, path, err, answer)
	}
	var out map[string]any
	if err := json.Unmarshal(answer, &out); err != nil {
		h.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, answer)
	}
	if resp.StatusCode < 400 {
		if err := oa.checkRequest(req, raw); err != nil {
			h.t.Errorf("%s %s: the request does not match openapi.yaml: %v", method, path, err)
		}
	}
	if resp.StatusCode == http.StatusOK {
		in, err := oa.input(req)
		if err != nil {
			h.t.Fatal(err)
		}
		schema := in.Route.Operation.Responses.Status(http.StatusOK).Value.Content.Get("application/json").Schema.Value
		undocumented, missing := fieldDiff("", schema, out, true, discussionOptional)
		if len(undocumented)+len(missing) > 0 {
			h.t.Errorf("%s %s: fields openapi.yaml does not document %v; documented fields missing %v", method, path, undocumented, missing)
		}
	}
	return resp.StatusCode, out
}

// discussionList GETs /v1/discussions with a query and returns the
// threads' ids, and the next cursor.
func (h *harness) discussionList(oa *openAPI, token, query string) ([]string, string) {
	h.t.Helper()
	code, body := h.discussionCall(oa, http.MethodGet, "/v1/discussions?"+query, token, nil)
	if code != http.StatusOK {
		h.t.Fatalf("list %q: %d %v", query, code, body)
	}
	ids := []string{}
	items, _ := body["discussions"].([]any)
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["thread_id"].(string))
	}
	cursor, _ := body["next_cursor"].(string)
	return ids, cursor
}

func errorOf(body map[string]any) (code, field string) {
	e, _ := body["error"].(map[string]any)
	code, _ = e["code"].(string)
	field, _ = e["field"].(string)
	return code, field
}

func TestDiscussionAPIEndToEnd(t *testing.T) {
	oa := loadOpenAPI(t)
	h := newHarness(t, harnessOptions{})
	t.Cleanup(func() {
		for _, tok := range []string{acmeAPIKey, globexAPIKey} {
			if strings.Contains(h.logs.String(), tok) {
				t.Errorf("the logs contain an API token")
			}
		}
	})
	// The widget read model knows order FR-1001's customer: its thread
	// gets the customer's email.
	h.sendAll(widgetEvents(time.Now().UTC())[:1])
	h.waitWidget(sidebarToken, buyerEmail, 1)

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	seeds := []miraklfake.ThreadSeed{
		{EntityType: mapi.EntityOrder, EntityID: "FR-1001", Topic: "Where is my parcel?", CustomerName: buyerName, Message: miraklfake.MessageSeed{Body: "Hello, where is it?"}},
		{EntityType: mapi.EntityOffer, EntityID: "OFFER-9", Topic: "Is it waterproof?", CustomerName: "Paul Durand", Message: miraklfake.MessageSeed{Body: "Is it?"}},
		{Topic: "Catalogue import", Message: miraklfake.MessageSeed{Body: "Your catalogue failed to import."}},
		{EntityType: mapi.EntityOrder, EntityID: "FR-2002", Topic: "Broken mug", CustomerName: "Lucie Bernard", Message: miraklfake.MessageSeed{Body: "It arrived broken."}},
		{EntityType: mapi.EntityOrder, EntityID: "FR-3003", Topic: "Refund please", CustomerName: "Marc Petit", Message: miraklfake.MessageSeed{Body: "I want a refund."}},
	}
	var a, b, c, d, e string // threads, oldest first
	for i, ptr := range []*string{&a, &b, &c, &d, &e} {
		seeds[i].Message.At = base.Add(time.Duration(i+1) * time.Minute)
		th, err := h.mkl.AddThread(seeds[i])
		if err != nil {
			t.Fatal(err)
		}
		*ptr = th.ID
	}
	// The threads are dated an hour back, behind the cursor of a periodic
	// sync that may have run since the harness started, and such a sync may
	// hold the account while the one asked for here comes: a full sync,
	// again until all five are listed.
	eventually(t, time.Minute, "the five discussions", func() bool {
		c := asynq.NewClientFromRedisClient(h.rdb)
		if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-carrefour", Full: true}, 1)); err != nil {
			t.Fatal(err)
		}
		h.settle()
		ids, _ := h.discussionList(oa, acmeAPIKey, "")
		return len(ids) == 5
	})
	ticketOf := func(thread string) string { return "bridge-disc-carrefour-" + miraklShop + "-" + thread }

	t.Run("filters", func(t *testing.T) {
		tests := []struct {
			query string
			want  []string
		}{
			{"", []string{e, d, c, b, a}},
			{"type=order", []string{e, d, a}},
			{"type=product", []string{b}},
			{"type=other", []string{c}},
			{"marketplace=CARREFOUR", []string{e, d, c, b, a}},
			{"marketplace=darty", []string{}},
			{"status=open", []string{e, d, c, b, a}},
			{"read=false", []string{e, d, c, b, a}},
			{"read=true", []string{}},
			{"order_id=FR-1001", []string{a}},
			{"order_id=OFFER-9", []string{}},
			{"participant=" + url.QueryEscape("Jeanne.Martin@EXAMPLE"), []string{a}},
			{"participant=durand", []string{b}},
			{"participant=LUCIE", []string{d}},
			{"subject=MUG", []string{d}},
			{"subject=parcel&type=order&status=open", []string{a}},
			// A filter given empty selects everything.
			{"status=", []string{e, d, c, b, a}},
			{"status=&type=&read=&marketplace=", []string{e, d, c, b, a}},
			{"type=other&status=", []string{c}},
		}
		for _, tt := range tests {
			if got, _ := h.discussionList(oa, acmeAPIKey, tt.query); !cmp.Equal(tt.want, got) {
				t.Errorf("?%s: %v, want %v", tt.query, got, tt.want)
			}
		}
	})

	t.Run("pages", func(t *testing.T) {
		var all []string
		query := "limit=2"
		for page := 0; ; page++ {
			ids, cursor := h.discussionList(oa, acmeAPIKey, query)
			all = append(all, ids...)
			if cursor == "" {
				if page != 2 {
					t.Errorf("%d pages of 2 for 5 discussions", page+1)
				}
				break
			}
			query = "limit=2&cursor=" + url.QueryEscape(cursor)
		}
		if diff := cmp.Diff([]string{e, d, c, b, a}, all); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
	})

	t.Run("one discussion", func(t *testing.T) {
		code, body := h.discussionCall(oa, http.MethodGet, "/v1/discussions/acme-carrefour/"+a, acmeAPIKey, nil)
		ticket := h.discussionTickets()[ticketOf(a)]
		if code != http.StatusOK || body["subject"] != "Where is my parcel?" || body["type"] != "order" || body["entity_id"] != "FR-1001" ||
			body["customer_email"] != buyerEmail || body["marketplace"] != "carrefour" || body["status"] != "open" || body["read"] != false ||
			body["ticket_id"] != fmt.Sprint(ticket.ID) || body["merchant_ticket_id"] != fmt.Sprint(ticket.ID) || body["messages"] != 1.0 {
			t.Errorf("%d %v; ticket %d", code, body, ticket.ID)
		}
	})

	ref := func(thread string) map[string]string {
		return map[string]string{"account": "acme-carrefour", "thread_id": thread}
	}
	patch := func(token, status string, threads ...string) (int, map[string]any) {
		refs := []map[string]string{}
		for _, th := range threads {
			refs = append(refs, ref(th))
		}
		return h.discussionCall(oa, http.MethodPatch, "/v1/discussions/status", token, map[string]any{"discussions": refs, "status": status})
	}

	t.Run("status of one and of many, all or none", func(t *testing.T) {
		if code, body := patch(acmeAPIKey, "solved", a); code != http.StatusOK {
			t.Fatalf("one: %d %v", code, body)
		}
		code, body := patch(acmeAPIKey, "pending", b, c)
		if items, _ := body["discussions"].([]any); code != http.StatusOK || len(items) != 2 || items[1].(map[string]any)["status"] != "pending" {
			t.Fatalf("many: %d %v", code, body)
		}
		code, body = patch(acmeAPIKey, "closed", d, e, "no-such-thread")
		if got, field := errorOf(body); code != http.StatusNotFound || got != "not_found" || field != "discussions[2]" {
			t.Errorf("with an unknown one: %d %v", code, body)
		}
		code, body = h.discussionCall(oa, http.MethodPatch, "/v1/discussions/status", acmeAPIKey, map[string]any{"discussions": []any{map[string]string{"account": "acme-carrefour"}}, "status": "closed"})
		if got, field := errorOf(body); code != http.StatusUnprocessableEntity || got != "invalid_field" || field != "discussions[0].thread_id" {
			t.Errorf("without a thread id: %d %v", code, body)
		}
		for query, want := range map[string][]string{
			"status=closed":                  {},
			"status=pending":                 {c, b},
			"status=solved&status=pending":   {c, b, a},
			"status=open":                    {e, d},
			"status=open&type=order&limit=1": {e},
		} {
			if got, _ := h.discussionList(oa, acmeAPIKey, query); !cmp.Equal(want, got) {
				t.Errorf("?%s: %v, want %v", query, got, want)
			}
		}
	})

	t.Run("read and unread", func(t *testing.T) {
		code, body := h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/"+a+"/read", acmeAPIKey, nil)
		if code != http.StatusOK || body["read"] != true {
			t.Fatalf("read: %d %v", code, body)
		}
		if got, _ := h.discussionList(oa, acmeAPIKey, "read=true"); !cmp.Equal([]string{a}, got) {
			t.Errorf("read ones: %v", got)
		}
		code, body = h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/"+a+"/unread", acmeAPIKey, nil)
		if code != http.StatusOK || body["read"] != false {
			t.Fatalf("unread: %d %v", code, body)
		}
		if got, _ := h.discussionList(oa, acmeAPIKey, "read=true"); len(got) != 0 {
			t.Errorf("read ones after unread: %v", got)
		}
		h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/"+a+"/read", acmeAPIKey, nil)
	})

	t.Run("merchant ticket id survives mirroring", func(t *testing.T) {
		path := "/v1/discussions/acme-carrefour/" + d + "/merchant-ticket-id"
		code, body := h.discussionCall(oa, http.MethodPut, path, acmeAPIKey, map[string]string{"merchant_ticket_id": "CRM-20931"})
		ticket := h.discussionTickets()[ticketOf(d)]
		if code != http.StatusOK || body["merchant_ticket_id"] != "CRM-20931" || body["ticket_id"] != fmt.Sprint(ticket.ID) {
			t.Fatalf("%d %v", code, body)
		}
		code, body = h.discussionCall(oa, http.MethodPut, path, acmeAPIKey, map[string]string{"merchant_ticket_id": strings.Repeat("x", 256)})
		if got, field := errorOf(body); code != http.StatusUnprocessableEntity || got != "invalid_field" || field != "merchant_ticket_id" {
			t.Errorf("too long: %d %v", code, body)
		}
		// Solved, then the customer writes again: the next sync appends
		// the message to the bridge's ticket, reopens the discussion and
		// keeps the integrator's ticket id; a discussion nobody wrote to
		// keeps the status it was given. (Read is not asserted: the
		// helpdesk's webhook for the appended message reaches Reply,
		// which marks the discussion read.)
		if code, body := patch(acmeAPIKey, "solved", d); code != http.StatusOK {
			t.Fatalf("%d %v", code, body)
		}
		if _, err := h.mkl.AddMessage(d, miraklfake.MessageSeed{Body: "Still broken, any news?"}); err != nil {
			t.Fatal(err)
		}
		h.syncNow()
		code, body = h.discussionCall(oa, http.MethodGet, "/v1/discussions/acme-carrefour/"+d, acmeAPIKey, nil)
		if code != http.StatusOK || body["merchant_ticket_id"] != "CRM-20931" || body["ticket_id"] != fmt.Sprint(ticket.ID) ||
			body["status"] != "open" || body["messages"] != 2.0 {
			t.Errorf("after a new message: %d %v", code, body)
		}
		if msgs := h.discussionTickets()[ticketOf(d)].Messages; len(msgs) != 2 {
			t.Errorf("the bridge's ticket has %d messages, want 2", len(msgs))
		}
		code, body = h.discussionCall(oa, http.MethodGet, "/v1/discussions/acme-carrefour/"+a, acmeAPIKey, nil)
		if code != http.StatusOK || body["status"] != "solved" || body["read"] != true {
			t.Errorf("a discussion nobody wrote to: %d %v", code, body)
		}
	})

	t.Run("resync a thread", func(t *testing.T) {
		if _, err := h.mkl.AddMessage(e, miraklfake.MessageSeed{Body: "Hello again?"}); err != nil {
			t.Fatal(err)
		}
		fetched := h.mkl.Requests()["GET /api/inbox/threads/{thread_id}"]
		code, body := h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/"+e+"/resync", acmeAPIKey, nil)
		if code != http.StatusAccepted || body["status"] != "enqueued" || body["thread_id"] != e {
			t.Fatalf("%d %v", code, body)
		}
		if n := h.mkl.Requests()["GET /api/inbox/threads/{thread_id}"]; n != fetched+1 {
			t.Errorf("the thread was fetched %d times, want once", n-fetched)
		}
		h.settle()
		if msgs := h.discussionTickets()[ticketOf(e)].Messages; len(msgs) != 2 || msgs[1].BodyText != "Hello again?" {
			t.Errorf("after the resync, the ticket's messages: %+v", msgs)
		}
		code, body = h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/no-such-thread/resync", acmeAPIKey, nil)
		if got, _ := errorOf(body); code != http.StatusNotFound || got != "not_found" {
			t.Errorf("a thread the marketplace lacks: %d %v", code, body)
		}
	})

	t.Run("resync the account", func(t *testing.T) {
		th, err := h.mkl.AddThread(miraklfake.ThreadSeed{EntityType: mapi.EntityOrder, EntityID: "FR-4004", Topic: "Wrong size", CustomerName: "Ana Lopes", Message: miraklfake.MessageSeed{Body: "Too small."}})
		if err != nil {
			t.Fatal(err)
		}
		// full is an option: given empty, it is refused.
		for _, full := range []string{"", "yes"} {
			code, body := h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/resync?full="+full, acmeAPIKey, nil)
			if c, field := errorOf(body); code != http.StatusUnprocessableEntity || c != "invalid_field" || field != "full" {
				t.Errorf("full=%s: %d %v, want 422 naming full", full, code, body)
			}
		}
		before := time.Now().Truncate(time.Minute)
		code, body := h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/resync", acmeAPIKey, nil)
		if code != http.StatusAccepted || body["status"] != "enqueued" || body["account"] != "acme-carrefour" {
			t.Fatalf("%d %v", code, body)
		}
		code, body = h.discussionCall(oa, http.MethodPost, "/v1/discussions/acme-carrefour/resync", acmeAPIKey, nil)
		if code != http.StatusAccepted {
			t.Fatalf("again: %d %v", code, body)
		}
		if time.Now().Truncate(time.Minute).Equal(before) && body["status"] != "already_enqueued" {
			t.Errorf("asked again within the minute: %v", body)
		}
		h.settle()
		if got, _ := h.discussionList(oa, acmeAPIKey, "order_id=FR-4004"); !cmp.Equal([]string{th.ID}, got) {
			t.Errorf("the new thread after the account's sync: %v", got)
		}
	})

	t.Run("authentication and isolation", func(t *testing.T) {
		tests := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"no token", http.MethodGet, "/v1/discussions", "", nil, 401, "missing_token", "Authorization"},
			{"a sidebar's token", http.MethodGet, "/v1/discussions", sidebarToken, nil, 401, "invalid_token", "Authorization"},
			{"another merchant's sidebar token", http.MethodGet, "/v1/discussions", globexToken, nil, 401, "invalid_token", "Authorization"},
			{"bad filter", http.MethodGet, "/v1/discussions?type=refund", acmeAPIKey, nil, 422, "invalid_field", "type"},
			{"bad limit", http.MethodGet, "/v1/discussions?limit=500", acmeAPIKey, nil, 422, "invalid_field", "limit"},
			{"globex reads acme's", http.MethodGet, "/v1/discussions/acme-carrefour/" + a, globexAPIKey, nil, 404, "not_found", "thread"},
			{"globex changes acme's status", http.MethodPatch, "/v1/discussions/status", globexAPIKey, map[string]any{"discussions": []any{ref(a)}, "status": "closed"}, 404, "not_found", "discussions[0]"},
			{"globex marks acme's unread", http.MethodPost, "/v1/discussions/acme-carrefour/" + a + "/unread", globexAPIKey, nil, 404, "not_found", "thread"},
			{"globex sets acme's ticket id", http.MethodPut, "/v1/discussions/acme-carrefour/" + a + "/merchant-ticket-id", globexAPIKey, map[string]string{"merchant_ticket_id": "X-1"}, 404, "not_found", "thread"},
			{"globex resyncs acme's thread", http.MethodPost, "/v1/discussions/acme-carrefour/" + a + "/resync", globexAPIKey, nil, 404, "not_found", "account"},
			{"globex resyncs acme's account", http.MethodPost, "/v1/discussions/acme-carrefour/resync", globexAPIKey, nil, 404, "not_found", "account"},
		}
		for _, tt := range tests {
			code, body := h.discussionCall(oa, tt.method, tt.path, tt.token, tt.body)
			if got, field := errorOf(body); code != tt.status || got != tt.code || field != tt.field {
				t.Errorf("%s: %d %q on %q, want %d %q on %q", tt.name, code, got, field, tt.status, tt.code, tt.field)
			}
		}
		if got, _ := h.discussionList(oa, globexAPIKey, ""); len(got) != 0 {
			t.Errorf("globex lists %v", got)
		}
		code, body := h.discussionCall(oa, http.MethodGet, "/v1/discussions/acme-carrefour/"+a, acmeAPIKey, nil)
		if code != http.StatusOK || body["status"] != "solved" || body["read"] != true || body["merchant_ticket_id"] == "X-1" {
			t.Errorf("acme's discussion after globex's attempts: %d %v", code, body)
		}
	})
}
