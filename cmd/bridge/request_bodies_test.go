package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/orders"
)

// The bridge's own API refuses a field its body does not take, naming its
// path, before anything is done; every body names a value of the wrong
// type or a date-time that does not parse by its path, with indexes, in
// words rather than Go's types.
func TestRequestBodiesNameTheFieldAtFault(t *testing.T) {
	h := newHarness(t, harnessOptions{before: func(h *harness) { h.cfg.Merchants[0].Stores[0].Invoices = invoiceSettings() }})
	oa := loadOpenAPI(t)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	h.sendAll([][]byte{pricedOrder("rb1", "FR-2001", at)})
	h.settle()

	credit := func(line string) string {
		return `{"key":"rf-1","reason":"damaged","lines":[{"description":"Mug","quantity":1,"unit_price":"10.00"},` + line + `]}`
	}
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code, field, msg         string
	}{
		{"an action's misspelt argument", "POST", "/v1/orders/acme-fr/FR-2001/actions", `{"action":"accept","refuse_line":[{"sku":"MUG"}]}`, 422, "invalid_field", "refuse_line", "refuse_line is not a field"},
		{"an action's made-up field", "POST", "/v1/orders/acme-fr/FR-2001/actions", `{"action":"accept","bogus":1}`, 422, "invalid_field", "bogus", "bogus is not a field"},
		{"a line's made-up field", "POST", "/v1/orders/acme-fr/FR-2001/actions", `{"action":"accept","refuse_lines":[{"sku":"MUG","bogus":1}]}`, 422, "invalid_field", "refuse_lines[0].bogus", "refuse_lines[0].bogus is not a field"},
		{"a string for the lines", "POST", "/v1/orders/acme-fr/FR-2001/actions", `{"action":"accept","refuse_lines":"x"}`, 400, "malformed_body", "refuse_lines", "refuse_lines must be an array"},
		{"an invoice's misspelt number", "POST", "/v1/orders/acme-fr/FR-2001/invoice", `{"numbr":2}`, 422, "invalid_field", "numbr", "numbr is not a field"},
		{"a credit note line's made-up field", "POST", "/v1/orders/acme-fr/FR-2001/credit-notes", credit(`{"description":"Mug","quantity":1,"unit_price":"1","bogus":1}`), 422, "invalid_field", "lines[1].bogus", "lines[1].bogus is not a field"},
		{"a quantity as text", "POST", "/v1/orders/acme-fr/FR-2001/credit-notes", credit(`{"description":"Mug","quantity":"1","unit_price":"1"}`), 400, "malformed_body", "lines[1].quantity", "lines[1].quantity must be a number"},
		{"a made-up setting", "PUT", "/v1/stores/acme-de/invoice-settings", `{"seller":{"name":"ACME"},"product_vat":"20","shipping_vat":"20","vat":"20"}`, 422, "invalid_field", "vat", "vat is not a field"},
		{"a bulk job's made-up field", "POST", "/v1/invoices/acme-fr/bulk", `{"order_ids":["FR-2001"],"first":1}`, 422, "invalid_field", "first", "first is not a field"},
		{"a subscription's made-up field", "POST", "/v1/orders/subscriptions", `{"url":"https://hooks.example.com/orders","secret":"s"}`, 422, "invalid_field", "secret", "secret is not a field"},
		{"a discussion's made-up field", "PATCH", "/v1/discussions/status", `{"discussions":[{"account":"acme-carrefour","thread_id":"t1","x":1}],"status":"open"}`, 422, "invalid_field", "discussions[0].x", "discussions[0].x is not a field"},
		{"a body that is a list", "PATCH", "/v1/discussions/status", `[]`, 400, "malformed_body", "", "body must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := h.invoiceCall(oa, tc.method, tc.path, acmeAPIKey, "", tc.body)
			wantError(t, tc.name, resp, body, tc.status, tc.code, tc.field)
			if msg := errorMessage(body); !strings.HasPrefix(msg, tc.msg) || strings.Contains(msg, "orders.") || strings.Contains(msg, "ActionArgs") {
				t.Errorf("message %q, want it to start with %q and name no Go type", msg, tc.msg)
			}
		})
	}
	// Nothing was done: no action asked, no invoice issued.
	if resp, body := h.invoiceCall(oa, "GET", "/v1/orders/acme-fr/FR-2001/invoice", acmeAPIKey, "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an invoice after refused requests: %d %s", resp.StatusCode, body)
	}
	if _, trail := h.actionCall(oa, "GET", "/v1/orders/acme-fr/FR-2001/actions", nil); trail["entries"] == nil || len(trail["entries"].([]any)) != 0 {
		t.Errorf("actions after refused requests: %v", trail)
	}

	// Events stay lenient about fields, and name the value at fault.
	upserted := func(updated string) []byte {
		return event("rb-u", orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-2002", "updated_at": updated, "created_at": at.Format(time.RFC3339),
			"customer": map[string]any{"email": "zoe@example.com"}, "lines": []any{},
		})
	}
	withQuantity := actionRequired("ORD-RB", "acme-fr")
	withQuantity["order"].(map[string]any)["lines"] = []map[string]any{{"sku": "MUG-01", "quantity": 1}, {"sku": "MUG-02", "quantity": "2"}}
	yesterday, _ := json.Marshal(map[string]any{"id": "rb-y", "kind": "order.action_required", "occurred_at": "yesterday", "data": actionRequired("ORD-RB", "acme-fr")})
	for _, tc := range []struct {
		name             string
		body             []byte
		status           int
		code, field, msg string
	}{
		{"occurred_at in words", yesterday, 422, "invalid_field", "occurred_at", "occurred_at " + httpapi.DateTimeRule},
		{"an impossible updated_at", upserted("2026-13-01T00:00:00Z"), 422, "invalid_field", "data.updated_at", "data.updated_at " + httpapi.DateTimeRule},
		{"an updated_at without a zone", upserted("2026-01-10T12:00:00"), 422, "invalid_field", "data.updated_at", "data.updated_at " + httpapi.DateTimeRule},
		{"a quantity as text", event("rb-q", "order.action_required", withQuantity), 400, "malformed_body", "data.order.lines[1].quantity", "data.order.lines[1].quantity must be a number"},
		{"a list", []byte(`[1]`), 400, "malformed_body", "", "body must be a JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, res := h.send(tc.body)
			e, _ := res["error"].(map[string]any)
			field, _ := e["field"].(string)
			msg, _ := e["message"].(string)
			if code != tc.status || e["code"] != tc.code || field != tc.field || msg != tc.msg {
				t.Errorf("%d %v, want %d %s naming %q: %q", code, res, tc.status, tc.code, tc.field, tc.msg)
			}
		})
	}
	extra := actionRequired("ORD-RB2", "acme-fr")
	extra["future_field"] = map[string]any{"a": 1}
	envelope, _ := json.Marshal(map[string]any{"id": "rb-x", "kind": "order.action_required", "occurred_at": time.Now().UTC().Format(time.RFC3339), "data": extra, "sender_version": "2"})
	if code, res := h.send(envelope); code != http.StatusAccepted {
		t.Errorf("an event with fields the bridge does not know: %d %v, want 202", code, res)
	}
}

func errorMessage(body []byte) string {
	var e struct{ Error struct{ Message string } }
	_ = json.Unmarshal(body, &e)
	return e.Error.Message
}
