package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/orders"
)

// widgetEvents is one customer's history in acme's two stores, plus
// another customer's order.
func widgetEvents(now time.Time) [][]byte {
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }
	customer := map[string]any{"email": "Jeanne.Martin@Example.com", "name": buyerName, "phone": "+33 6 12 34 56 78", "external_id": "cust-77"}
	return [][]byte{
		event("o1", orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-1001", "updated_at": at(-2 * time.Hour), "customer": customer,
			"marketplace": "carrefour", "status": "Shipped", "marketplace_status": "SHIPPED", "created_at": at(-72 * time.Hour),
			"total": "49.90", "currency": "eur",
			"lines": []map[string]any{{"sku": "MUG-01", "name": "Blue mug", "quantity": 2}, {"sku": "TEA-7", "name": "Green tea", "quantity": 1}},
		}),
		event("o2", orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-1002", "updated_at": at(-time.Hour), "customer": customer,
			"marketplace": "decathlon", "status": "New", "created_at": at(-24 * time.Hour),
			"total": "12", "currency": "EUR", "support_url": "https://marketplace.example/support/FR-1002",
			"lines": []map[string]any{{"sku": "SOCK-3", "quantity": 3}},
		}),
		event("o3", orders.KindOrderUpserted, map[string]any{
			"store": "acme-de", "order_id": "DE-2001", "updated_at": at(-time.Hour), "customer": customer,
			"status": "Canceled", "created_at": at(-2 * time.Hour), "lines": []map[string]any{},
		}),
		event("o4", orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-9999", "updated_at": at(-time.Hour),
			"customer": map[string]any{"email": "someone.else@example.com"}, "created_at": at(-time.Hour),
			"lines": []map[string]any{{"sku": "X", "quantity": 1}},
		}),
		event("s1", orders.KindShipmentUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-1001", "shipment_id": "P1", "updated_at": at(-30 * time.Minute),
			"status": "delivered", "carrier": "Colissimo", "tracking_number": "6A123", "tracking_url": "https://track.example/6A123",
		}),
		event("r1", orders.KindReturnUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-1001", "return_id": "R1", "updated_at": at(-20 * time.Minute),
			"tracking_number": "RET-9", "refund_method": "original_payment",
			"products": []map[string]any{{"sku": "MUG-01", "name": "Blue mug", "quantity": 1, "damaged": true}},
		}),
		event("q1", orders.KindSupportRequestUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-1001", "request_id": "SR1", "updated_at": at(-10 * time.Minute),
			"subject": "Mug arrived broken", "url": "https://marketplace.example/requests/SR1",
		}),
	}
}

func (h *harness) sendAll(bodies [][]byte) {
	h.t.Helper()
	for _, b := range bodies {
		if code, body := h.send(b); code != http.StatusAccepted {
			h.t.Fatalf("event: %d %v", code, body)
		}
	}
}

// widget GETs a widget route with a bearer token.
func (h *harness) widget(path, token string, query url.Values, header http.Header) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+path+"?"+query.Encode(), nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func emailQuery(email string) url.Values { return url.Values{"email": {email}} }

// waitWidget waits until the widget of email shows n orders.
func (h *harness) waitWidget(token, email string, n int) map[string]any {
	h.t.Helper()
	var got map[string]any
	eventually(h.t, 20*time.Second, fmt.Sprintf("a widget with %d orders", n), func() bool {
		resp, body := h.widget("/v1/widgets/gorgias", token, emailQuery(email), nil)
		got = nil
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
			return false
		}
		orders, _ := got["orders"].([]any)
		return len(orders) == n
	})
	return got
}

func TestWidgetEventsInWidgetOut(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	now := time.Now().UTC().Truncate(time.Second)
	h.sendAll(widgetEvents(now))
	h.waitWidget(sidebarToken, buyerEmail, 3)
	h.settle()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }

	resp, body := h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery("JEANNE.MARTIN@example.com"), nil)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"version": 1.0, "status": "ok",
		"customer": map[string]any{
			"email": buyerEmail, "name": buyerName, "phone": "+33 6 12 34 56 78", "external_id": "cust-77",
			"orders_count": 3.0, "last_order_at": at(-2 * time.Hour),
		},
		"orders": []any{
			map[string]any{
				"id": "DE-2001", "status": "Canceled", "marketplace_status": "", "created_at": at(-2 * time.Hour),
				"total": "", "currency": "", "marketplace": "", "store": "acme-de", "url": "", "support_url": "",
				"lines": []any{}, "shipments": []any{}, "returns": []any{}, "support_requests": []any{},
				// No action asked for, and the sidebar allows none.
				"action": nil, "actions": []any{}, "invoice_url": "",
			},
			map[string]any{
				"id": "FR-1002", "status": "New", "marketplace_status": "", "created_at": at(-24 * time.Hour),
				"total": "12", "currency": "EUR", "marketplace": "decathlon", "store": "acme-fr",
				"url":         "https://backoffice.example/orders/FR-1002",
				"support_url": "https://marketplace.example/support/FR-1002",
				"lines":       []any{map[string]any{"name": "", "sku": "SOCK-3", "quantity": 3.0}},
				"shipments":   []any{}, "returns": []any{}, "support_requests": []any{},
				// No action asked for, and the sidebar allows none.
				"action": nil, "actions": []any{}, "invoice_url": "",
			},
			map[string]any{
				"id": "FR-1001", "status": "Shipped", "marketplace_status": "SHIPPED", "created_at": at(-72 * time.Hour),
				"total": "49.90", "currency": "EUR", "marketplace": "carrefour", "store": "acme-fr",
				"url": "https://backoffice.example/orders/FR-1001", "support_url": "",
				"lines": []any{
					map[string]any{"name": "Blue mug", "sku": "MUG-01", "quantity": 2.0},
					map[string]any{"name": "Green tea", "sku": "TEA-7", "quantity": 1.0},
				},
				"shipments": []any{map[string]any{"status": "delivered", "carrier": "Colissimo", "tracking_number": "6A123", "tracking_url": "https://track.example/6A123"}},
				"returns": []any{map[string]any{"tracking_number": "RET-9", "refund_method": "original_payment", "products": []any{
					map[string]any{"name": "Blue mug", "sku": "MUG-01", "quantity": 1.0, "damaged": true},
				}}},
				"support_requests": []any{map[string]any{"subject": "Mug arrived broken", "url": "https://marketplace.example/requests/SR1", "updated_at": at(-10 * time.Minute)}},
				// No action asked for, and the sidebar allows none.
				"action": nil, "actions": []any{}, "invoice_url": "",
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("widget (-want +got):\n%s", diff)
	}

	// The ETag answers 304 until the customer's data changes.
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	resp, body = h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery(buyerEmail), http.Header{"If-None-Match": {etag}})
	if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match: %d %q, want 304 with no body", resp.StatusCode, body)
	}
	h.sendAll([][]byte{event("s2", orders.KindShipmentUpserted, map[string]any{
		"store": "acme-fr", "order_id": "FR-1002", "shipment_id": "P2", "updated_at": at(0), "status": "in_transit",
	})})
	eventually(t, 20*time.Second, "a new ETag", func() bool {
		resp, _ := h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery(buyerEmail), http.Header{"If-None-Match": {etag}})
		return resp.StatusCode == http.StatusOK && resp.Header.Get("ETag") != etag
	})

	// An older update of an order, sent late, changes nothing.
	h.sendAll([][]byte{event("o1-old", orders.KindOrderUpserted, map[string]any{
		"store": "acme-fr", "order_id": "FR-1001", "updated_at": at(-48 * time.Hour), "customer": map[string]any{"email": buyerEmail},
		"status": "New", "created_at": at(-72 * time.Hour), "lines": []map[string]any{},
	})})
	h.settle()
	got = h.waitWidget(sidebarToken, buyerEmail, 3)
	if o := got["orders"].([]any)[2].(map[string]any); o["status"] != "Shipped" || len(o["lines"].([]any)) != 2 {
		t.Errorf("an old update overwrote the order: %v", o)
	}

	// An unknown customer is an empty list, not an error.
	resp, body = h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery("nobody@example.com"), nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"orders":[]`)) || !bytes.Contains(body, []byte(`"orders_count":0`)) {
		t.Errorf("unknown customer: %d %s", resp.StatusCode, body)
	}
}

func TestWidgetLayoutStoresAndIsolation(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	now := time.Now().UTC().Truncate(time.Second)
	h.sendAll(widgetEvents(now))
	h.waitWidget(sidebarToken, buyerEmail, 3)
	h.settle() // the shipments, returns and support requests too

	// The compact sidebar shows acme-fr only, orders before the customer,
	// and only the fields its layout lists, in its order.
	resp, body := h.widget("/v1/widgets/gorgias", compactToken, emailQuery(buyerEmail), nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("compact: %d %s", resp.StatusCode, body)
	}
	want := `{"version":1,"status":"ok","orders":[` +
		`{"status":"New","id":"FR-1002","shipments":[]},` +
		`{"status":"Shipped","id":"FR-1001","shipments":[{"tracking_number":"6A123"}]}],` +
		`"customer":{"name":"Jeanne Martin","orders_count":2}}`
	if string(body) != want {
		t.Errorf("compact widget:\n got %s\nwant %s", body, want)
	}

	// A sidebar narrowed to one of its stores, and refused another's.
	_, body = h.widget("/v1/widgets/gorgias", sidebarToken, url.Values{"email": {buyerEmail}, "store": {"acme-de"}}, nil)
	if !bytes.Contains(body, []byte(`"DE-2001"`)) || bytes.Contains(body, []byte(`"FR-1001"`)) {
		t.Errorf("?store=acme-de: %s", body)
	}
	for _, c := range []struct {
		name, token, store string
	}{
		{"acme store outside the sidebar", compactToken, "acme-de"},
		{"another merchant's store", globexToken, "acme-fr"},
	} {
		resp, body := h.widget("/v1/widgets/gorgias", c.token, url.Values{"email": {buyerEmail}, "store": {c.store}}, nil)
		if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte(`"code":"store_not_allowed"`)) || !bytes.Contains(body, []byte(`"field":"store"`)) {
			t.Errorf("%s: %d %s, want 403 store_not_allowed", c.name, resp.StatusCode, body)
		}
	}
	// Another merchant's token never sees acme's customer.
	resp, body = h.widget("/v1/widgets/gorgias", globexToken, emailQuery(buyerEmail), nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"orders":[]`)) || bytes.Contains(body, []byte("FR-1001")) || bytes.Contains(body, []byte(buyerName)) {
		t.Errorf("globex reading acme's customer: %d %s", resp.StatusCode, body)
	}

	// The HTML formats apply the same layout and escape the data.
	_, body = h.widget("/v1/widgets/zendesk", compactToken, emailQuery(buyerEmail), nil)
	var z struct {
		Version int    `json:"version"`
		Status  string `json:"status"`
		HTML    string `json:"html"`
	}
	if err := json.Unmarshal(body, &z); err != nil || z.Status != "ok" || !strings.Contains(z.HTML, "FR-1001") || strings.Contains(z.HTML, "DE-2001") || strings.Contains(z.HTML, "Colissimo") {
		t.Errorf("zendesk widget: %v %s", err, body)
	}
	resp, body = h.widget("/v1/widgets/html", sidebarToken, emailQuery(buyerEmail), nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !bytes.Contains(body, []byte("FR-1001")) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("html widget: %s %s", ct, body)
	}

	// The Gorgias template follows the layout too.
	resp, body = h.widget("/v1/widgets/gorgias/template", compactToken, nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"tracking_number"`)) || bytes.Contains(body, []byte(`"carrier"`)) {
		t.Errorf("template: %d %s", resp.StatusCode, body)
	}
}

func TestWidgetHelpScout(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.sendAll(widgetEvents(time.Now().UTC()))
	h.waitWidget(sidebarToken, buyerEmail, 3)
	h.settle()

	post := func(sidebar string, body []byte, signature string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/widgets/helpscout/"+sidebar, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if signature != "" {
			req.Header.Set("X-HelpScout-Signature", signature)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	sign := func(secret string, body []byte) string {
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write(body)
		return base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	body := []byte(`{"ticket":{"id":1,"number":2,"subject":"Broken mug"},"customer":{"id":3,"fname":"Jeanne","emails":["` + buyerEmail + `"]},"user":{"id":4},"mailbox":{"id":5}}`)

	code, out := post("acme-helpscout", body, sign(helpScoutKey, body))
	var answer struct {
		HTML string `json:"html"`
	}
	if err := json.Unmarshal(out, &answer); code != http.StatusOK || err != nil || !strings.Contains(answer.HTML, "FR-1001") || strings.Contains(answer.HTML, "DE-2001") {
		t.Fatalf("signed request: %d %s", code, out)
	}
	for _, c := range []struct {
		name, sidebar, signature, code string
		status                         int
	}{
		{"no signature", "acme-helpscout", "", "invalid_signature", 401},
		{"wrong secret", "acme-helpscout", sign("another-secret-1234", body), "invalid_signature", 401},
		{"not base64", "acme-helpscout", "%%%", "invalid_signature", 401},
		{"unknown sidebar", "nope", sign(helpScoutKey, body), "unknown_sidebar", 404},
		{"a bearer sidebar", "acme-compact", sign(helpScoutKey, body), "unknown_sidebar", 404},
	} {
		code, out := post(c.sidebar, body, c.signature)
		if code != c.status || !bytes.Contains(out, []byte(`"code":"`+c.code+`"`)) {
			t.Errorf("%s: %d %s, want %d %s", c.name, code, out, c.status, c.code)
		}
	}
	noEmail := []byte(`{"customer":{"id":3}}`)
	if code, out := post("acme-helpscout", noEmail, sign(helpScoutKey, noEmail)); code != 400 || !bytes.Contains(out, []byte(`"field":"customer.email"`)) {
		t.Errorf("no email: %d %s", code, out)
	}
}

func TestWidgetRefusesBadRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, c := range []struct {
		name, token, email, auth string
		status                   int
		code, field              string
	}{
		{"no token", "", buyerEmail, "", 401, "missing_token", "Authorization"},
		{"basic auth", "", buyerEmail, "Basic YWxhZGRpbjpvcGVu", 401, "missing_token", "Authorization"},
		{"unknown token", "not-a-sidebar-token-0123456789", buyerEmail, "", 401, "invalid_token", "Authorization"},
		{"a prefix of a token", sidebarToken[:20], buyerEmail, "", 401, "invalid_token", "Authorization"},
		{"no email", sidebarToken, "", "", 400, "missing_email", "email"},
		{"blank email", sidebarToken, "   ", "", 400, "missing_email", "email"},
		{"not an email", sidebarToken, "jeanne", "", 400, "invalid_email", "email"},
		{"display name", sidebarToken, "Jeanne <jeanne@example.com>", "", 400, "invalid_email", "email"},
		{"too long", sidebarToken, strings.Repeat("a", 250) + "@example.com", "", 400, "invalid_email", "email"},
	} {
		header := http.Header{}
		if c.auth != "" {
			header.Set("Authorization", c.auth)
		}
		resp, body := h.widget("/v1/widgets/gorgias", c.token, emailQuery(c.email), header)
		var e struct {
			Error struct{ Code, Field, Message string }
		}
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != c.status || e.Error.Code != c.code || e.Error.Field != c.field || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d %s on %s", c.name, resp.StatusCode, body, c.status, c.code, c.field)
		}
	}
}

// TestWidgetRedisStoppedMidTest runs the bridge on a Redis of its own,
// then freezes it (a hung server) and kills it (a dead one): the sidebar
// still answers 200 within the budget, with the last known data and its
// age, or with an "unavailable" payload for a customer never read.
func TestWidgetRedisStoppedMidTest(t *testing.T) {
	srv := rdbtest.Start(t)
	h := newHarness(t, harnessOptions{redisURL: srv.URL(), mode: ModeServe})
	h.sendAll(widgetEvents(time.Now().UTC()))
	h.waitWidget(sidebarToken, buyerEmail, 3)

	check := func(what, email, wantStatus string) {
		t.Helper()
		start := time.Now()
		resp, body := h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery(email), nil)
		took := time.Since(start)
		var got map[string]any
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil {
			t.Fatalf("%s: %d %s, want 200 JSON", what, resp.StatusCode, body)
		}
		if got["status"] != wantStatus {
			t.Errorf("%s: status %v, want %s: %s", what, got["status"], wantStatus, body)
		}
		// Generous: the budget is 250ms; this only tells "answered in
		// time" from "hung until Redis's own timeouts".
		if took > 2*time.Second {
			t.Errorf("%s: answered after %s", what, took)
		}
		if wantStatus == "stale" {
			if n := len(got["orders"].([]any)); n != 3 || got["as_of"] == nil || got["age_seconds"] == nil || got["notice"] == "" {
				t.Errorf("%s: a stale answer must carry the data and its age: %s", what, body)
			}
		}
		if wantStatus == "unavailable" && (len(got["orders"].([]any)) != 0 || got["notice"] == "") {
			t.Errorf("%s: %s", what, body)
		}
	}

	srv.Signal(t, syscall.SIGSTOP)
	check("redis frozen", buyerEmail, "stale")
	check("redis frozen, a customer never read", "first.time@example.com", "unavailable")
	srv.Signal(t, syscall.SIGCONT)
	check("redis back", buyerEmail, "ok")
	srv.Signal(t, syscall.SIGKILL)
	check("redis dead", buyerEmail, "stale")
	if m := h.metrics(); !strings.Contains(m, `bridge_widget_reads_total{format="json",state="stale"} 2`) || !strings.Contains(m, `bridge_widget_reads_total{format="json",state="unavailable"} 1`) {
		t.Errorf("degraded answers are not counted:\n%s", grepLines(m, "bridge_widget_reads_total"))
	}
	resp, _ := h.widget("/v1/widgets/html", sidebarToken, emailQuery(buyerEmail), nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("html while redis is dead: %d", resp.StatusCode)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
