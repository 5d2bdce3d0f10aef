package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// actionsHarness is the actions service on a real Redis, in front of the
// Mirakl fake through the real connector.
type actionsHarness struct {
	rdb     redis.UniversalClient
	shop    *miraklShop
	store   *Store
	actions *Actions
	sync    *OrderSync
}

func newActionsHarness(t *testing.T) *actionsHarness {
	t.Helper()
	rdb := rdbtest.Client(t, ordersTestDB)
	shop := newMiraklShop(t, miraklfake.Options{})
	cfg := ordersConfig()
	store := NewStore(rdb, "t:", 365*24*time.Hour, 0, time.Now)
	queue := asynq.NewClientFromRedisClient(rdb)
	updater := NewUpdater(store, queue, 1)
	return &actionsHarness{
		rdb: rdb, shop: shop, store: store,
		actions: NewActions(ActionsOptions{
			Config: cfg, Store: store, Actors: map[string]connectors.OrderActor{ordAccount: shop.client},
			Updater: updater, Queue: queue, Shards: 1, Now: time.Now,
		}),
		sync: NewOrderSync(SyncOptions{
			Config: cfg, Redis: rdb, KeyPrefix: "t:", Listers: map[string]connectors.OrderLister{ordAccount: shop.client},
			Sink: updater, Queue: queue, Shards: 1,
		}),
	}
}

// seed puts an order at the marketplace and syncs it into the read model.
func (h *actionsHarness) seed(t *testing.T, id, state string) {
	t.Helper()
	o := miraklOrder(id, state, -time.Hour, -time.Minute)
	o.OrderLines[0].OrderLineState = state
	o.OrderLines = append(o.OrderLines, api.OrderLine{OfferSKU: "PLATE-02", ProductTitle: "Plate", Quantity: 3, Price: "9.00", OrderLineState: state})
	h.shop.put(t, o)
	_ = h.rdb.Del(context.Background(), h.sync.key(ordMerchant, "ocur", ordAccount))
	if err := h.sync.Sync(context.Background(), ordMerchant, ordAccount); err != nil {
		t.Fatal(err)
	}
}

func (h *actionsHarness) order(t *testing.T, id string) Order {
	t.Helper()
	o, err := h.actions.Order(context.Background(), ordMerchant, ordStore, id)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (h *actionsHarness) audit(t *testing.T, orderID string) []string {
	t.Helper()
	p, err := h.store.Audit(context.Background(), ordMerchant, AuditQuery{OrderID: orderID})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range p.Entries {
		out = append(out, e.Kind+":"+e.Result)
	}
	return out
}

// pushed lists the event types the order's changes recorded for push.
func (h *actionsHarness) pushed(t *testing.T, orderID string) []string {
	t.Helper()
	xs, err := h.rdb.XRange(context.Background(), h.store.changesKey(ordMerchant), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range xs {
		var e changeEntry
		_ = json.Unmarshal([]byte(x.Values["e"].(string)), &e)
		if e.OrderID == orderID {
			out = append(out, e.Type)
		}
	}
	return out
}

func (h *actionsHarness) calls(suffix string) int {
	n := 0
	for pattern, c := range h.shop.fake.Requests() {
		if strings.HasSuffix(pattern, suffix) {
			n += c
		}
	}
	return n
}

var agent = Actor{Source: "api", ID: "token:abc", Agent: "alice"}

func ship(orderID string) ActionRequest {
	return ActionRequest{
		Merchant: ordMerchant, Store: ordStore, OrderID: orderID, Kind: ActShip, By: agent,
		Args: ActionArgs{CarrierCode: "UPS", TrackingNumber: "1Z999", TrackingURL: "https://track.example/1Z999"},
	}
}

// An agent ships an order: the order shows synchronizing until the task
// has the marketplace ship it and reads it back; then Shipped, with the
// action confirmed, in the audit trail and the push events, in order.
func TestShipAnOrder(t *testing.T) {
	h := newActionsHarness(t)
	ctx := context.Background()
	h.seed(t, "ORD-1", "SHIPPING")

	rec, err := h.actions.Request(ctx, ship("ORD-1"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != Synchronizing || rec.Attempt != 1 {
		t.Fatalf("requested: %+v", rec)
	}
	if o := h.order(t, "ORD-1"); ShownStatus(o) != Synchronizing || o.Status != StatusInProgress || len(h.actions.Allowed(ordMerchant, o)) != 0 {
		t.Fatalf("while waiting: shown %q, status %q, allowed %v", ShownStatus(o), o.Status, h.actions.Allowed(ordMerchant, o))
	}
	// The same request again, from anywhere, is the same action.
	again, err := h.actions.Request(ctx, ship("ORD-1"))
	if err != nil || again.ID != rec.ID || again.Attempt != 1 {
		t.Fatalf("asked twice: %+v, %v", again, err)
	}
	other := ship("ORD-1")
	other.Args.TrackingNumber = "OTHER"
	if _, err := h.actions.Request(ctx, other); httpapi.AsError(err).Code != CodeActionPending {
		t.Fatalf("another action while one waits: %v, want %s", err, CodeActionPending)
	}
	tasks, _ := asynq.NewInspectorFromRedisClient(h.rdb).ListPendingTasks(ActionsQueue)
	if len(tasks) != 1 || tasks[0].Type != TypeAction {
		t.Fatalf("%d tasks in %s, want one action", len(tasks), ActionsQueue)
	}

	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if mo, _ := h.shop.fake.Order("", "ORD-1"); mo.OrderState != "SHIPPED" || mo.ShippingTracking != "1Z999" {
		t.Errorf("at the marketplace: %s, tracking %q", mo.OrderState, mo.ShippingTracking)
	}
	o := h.order(t, "ORD-1")
	if ShownStatus(o) != StatusShipped || o.Action == nil || o.Action.State != Confirmed || o.Action.SettledAt == nil {
		t.Errorf("after: shown %q, action %+v", ShownStatus(o), o.Action)
	}
	if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Confirmed {
		t.Errorf("record: %+v", got)
	}
	if got := h.audit(t, "ORD-1"); strings.Join(got, ",") != "ship:confirmed,ship:requested" {
		t.Errorf("audit %v", got)
	}
	if got := strings.Join(h.pushed(t, "ORD-1"), ","); got != "order.created,order.action_requested,order.status_changed,order.changed,order.action_confirmed" {
		t.Errorf("push events %s", got)
	}
	// Done: asked again, it is not done twice.
	if again, err := h.actions.Request(ctx, ship("ORD-1")); err != nil || again.State != Confirmed {
		t.Errorf("asked again once confirmed: %+v, %v", again, err)
	}
	if n := h.calls("/ship"); n != 1 {
		t.Errorf("%d ship calls, want 1", n)
	}
}

// Shipping a cancelled order is refused at once: the order is unchanged
// but for the refusal it shows, and the audit trail records it. One the
// marketplace refuses (not paid yet) is refused with its reason.
func TestRefusedActions(t *testing.T) {
	h := newActionsHarness(t)
	ctx := context.Background()
	h.seed(t, "ORD-C", "CANCELED")
	before := h.order(t, "ORD-C")
	_, err := h.actions.Request(ctx, ship("ORD-C"))
	if e := httpapi.AsError(err); e.Status != http.StatusConflict || e.Code != CodeActionNotAllowed || !strings.Contains(e.Message, "Canceled") {
		t.Fatalf("shipping a cancelled order: %v", err)
	}
	o := h.order(t, "ORD-C")
	if o.Status != before.Status || o.MarketplaceStatus != before.MarketplaceStatus || o.Action == nil || o.Action.State != Refused {
		t.Errorf("after the refusal: %+v", o)
	}
	if got := h.audit(t, "ORD-C"); strings.Join(got, ",") != "ship:refused" {
		t.Errorf("audit %v", got)
	}
	if h.calls("/ship") != 0 {
		t.Error("the marketplace was called")
	}

	// The read model says in progress; Mirakl waits for the payment.
	h.seed(t, "ORD-D", "WAITING_DEBIT_PAYMENT")
	rec, err := h.actions.Request(ctx, ship("ORD-D"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	got, _ := h.actions.Get(ctx, ordMerchant, rec.ID)
	if got.State != Refused || !strings.Contains(got.Reason, "cannot ship order ORD-D") {
		t.Errorf("refused by the marketplace: %+v", got)
	}
	if o := h.order(t, "ORD-D"); o.Action.State != Refused || ShownStatus(o) != StatusInProgress {
		t.Errorf("order after the marketplace's refusal: %+v", o)
	}
	// Refused, it may be asked again: a new attempt.
	if _, err := h.shop.fake.MoveOrder("", "ORD-D", "SHIPPING"); err != nil {
		t.Fatal(err)
	}
	rec2, err := h.actions.Request(ctx, ship("ORD-D"))
	if err != nil || rec2.ID != rec.ID || rec2.Attempt != 2 || rec2.State != Synchronizing {
		t.Fatalf("asked again once refused: %+v, %v", rec2, err)
	}
	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Synchronizing {
		t.Errorf("the first attempt's task again changed the second: %+v", got)
	}
}

// The marketplace takes the action but its answer is lost (a 5xx after
// the fact), or fails before taking it: either way the order ends
// shipped, by one call that took effect.
func TestActionsAfterUncertainAnswers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fault.Fault
		calls int
	}{
		{"answer lost", fault.Fault{Status: 502, After: true}, 1},
		{"failed before", fault.Fault{Status: 503}, 1}, // the failed call never reached the handler
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newActionsHarness(t)
			ctx := context.Background()
			h.seed(t, "ORD-F", "SHIPPING")
			rec, err := h.actions.Request(ctx, ship("ORD-F"))
			if err != nil {
				t.Fatal(err)
			}
			f := tc.fault
			f.Match = func(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/ship") }
			h.shop.fake.Faults().Push(f)
			err = h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1})
			if err == nil {
				t.Fatal("the attempt with a lost answer succeeded")
			}
			if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Synchronizing || !got.Tried {
				t.Fatalf("after the failed attempt: %+v", got)
			}
			if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
				t.Fatal(err)
			}
			if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Confirmed {
				t.Errorf("after the retry: %+v", got)
			}
			if n := h.calls("/ship"); n != tc.calls {
				t.Errorf("%d ship calls, want %d", n, tc.calls)
			}
			if ShownStatus(h.order(t, "ORD-F")) != StatusShipped {
				t.Error("not shipped in the read model")
			}
		})
	}
}

// Lines named by SKU: accept while refusing one, and cancel part of a
// line's quantity, confirmed once the marketplace shows it.
func TestLineActionsBySKU(t *testing.T) {
	h := newActionsHarness(t)
	ctx := context.Background()
	h.seed(t, "ORD-A", "WAITING_ACCEPTANCE")
	rec, err := h.actions.Request(ctx, ActionRequest{Merchant: ordMerchant, Store: ordStore, OrderID: "ORD-A", Kind: ActAccept, By: agent,
		Args: ActionArgs{RefuseLines: []LineRef{{SKU: "PLATE-02"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Confirmed {
		t.Fatalf("accept: %+v", got)
	}
	mo, _ := h.shop.fake.Order("", "ORD-A")
	if mo.OrderLines[1].OrderLineState != "REFUSED" || mo.OrderLines[0].OrderLineState == "REFUSED" {
		t.Errorf("lines at the marketplace: %s, %s", mo.OrderLines[0].OrderLineState, mo.OrderLines[1].OrderLineState)
	}

	h.seed(t, "ORD-L", "SHIPPING")
	cancel := ActionRequest{Merchant: ordMerchant, Store: ordStore, OrderID: "ORD-L", Kind: ActCancelLines, By: agent,
		Args: ActionArgs{Reason: "34", Lines: []LineRef{{SKU: "PLATE-02", Quantity: 1}}}}
	rec, err = h.actions.Request(ctx, cancel)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Confirmed {
		t.Fatalf("cancel_lines: %+v", got)
	}
	// Run again (a redelivered task): settled, nothing sent again.
	n := h.calls("/api/orders/cancel")
	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil || h.calls("/api/orders/cancel") != n {
		t.Errorf("a settled action ran again: %v", err)
	}

	bad := cancel
	bad.OrderID = "ORD-A"
	bad.Args.Lines = []LineRef{{SKU: "NOPE"}}
	h.seed(t, "ORD-A2", "SHIPPING")
	bad.OrderID = "ORD-A2"
	rec, err = h.actions.Request(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.actions.Run(ctx, ActionPayload{Merchant: ordMerchant, ID: rec.ID, Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.actions.Get(ctx, ordMerchant, rec.ID); got.State != Refused || !strings.Contains(got.Reason, "no line of SKU NOPE") {
		t.Errorf("unknown SKU: %+v", got)
	}
}

// Every bad request names its field, and nothing is recorded.
func TestActionRequestValidation(t *testing.T) {
	h := newActionsHarness(t)
	ctx := context.Background()
	h.seed(t, "ORD-V", "SHIPPING")
	for _, tc := range []struct {
		name  string
		edit  func(*ActionRequest)
		code  string
		field string
	}{
		{"unknown action", func(r *ActionRequest) { r.Kind = "explode" }, httpapi.CodeInvalidField, "action"},
		{"tracking on cancel", func(r *ActionRequest) { r.Kind = ActCancel }, httpapi.CodeInvalidField, "carrier_code"},
		{"both carriers", func(r *ActionRequest) { r.Args.CarrierName = "Colis" }, httpapi.CodeInvalidField, "carrier_name"},
		{"bad URL", func(r *ActionRequest) { r.Args.TrackingURL = "javascript:alert(1)" }, httpapi.CodeInvalidField, "tracking_url"},
		{"lines without reason", func(r *ActionRequest) {
			r.Kind, r.Args = ActCancelLines, ActionArgs{Lines: []LineRef{{SKU: "MUG-01"}}}
		}, httpapi.CodeInvalidField, "reason"},
		{"no lines", func(r *ActionRequest) { r.Kind, r.Args = ActCancelLines, ActionArgs{Reason: "34"} }, httpapi.CodeInvalidField, "lines"},
		{"unknown order", func(r *ActionRequest) { r.OrderID = "NOPE" }, CodeOrderNotFound, "order_id"},
		{"store without marketplace", func(r *ActionRequest) { r.Store = "elsewhere" }, CodeActionUnsupported, "store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := ship("ORD-V")
			tc.edit(&req)
			_, err := h.actions.Request(ctx, req)
			e := httpapi.AsError(err)
			if e.Code != tc.code || e.Field != tc.field {
				t.Errorf("error %+v, want %s on %s", e, tc.code, tc.field)
			}
		})
	}
	if got := h.audit(t, "ORD-V"); len(got) != 0 {
		t.Errorf("audit after bad requests: %v", got)
	}
}

// The API: an action asked over HTTP answers 202 with its record, which
// GET reads back; refusals and bad requests are JSON with a stable code
// naming the field; the audit trail lists what happened, per order too.
func TestActionsAPI(t *testing.T) {
	h := newActionsHarness(t)
	h.seed(t, "ORD-H", "SHIPPING")
	h.seed(t, "ORD-X", "CANCELED")
	e := httpapi.NewEngine(zerolog.Nop(), nil)
	NewAPI(h.store, h.actions, httpapi.NewMerchantTokens(map[string][]string{ordMerchant: {apiToken}, "globex": {"globex-api-token-0123456789abcdef"}})).RegisterAPI(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		if e, ok := out["error"].(map[string]any); ok {
			out = e
		}
		return resp.StatusCode, out
	}
	path := "/v1/orders/" + ordStore + "/ORD-H/actions"
	status, rec := call("POST", path, apiToken, `{"action":"ship","carrier_code":"UPS","tracking_number":"1Z1","agent":"bob@acme.example"}`)
	if status != 202 || rec["state"] != Synchronizing || rec["id"] == "" {
		t.Fatalf("POST: %d %v", status, rec)
	}
	id := rec["id"].(string)
	if status, again := call("POST", path, apiToken, `{"action":"ship","carrier_code":"UPS","tracking_number":"1Z1"}`); status != 202 || again["id"] != id {
		t.Errorf("POST again: %d %v", status, again)
	}
	if status, got := call("GET", "/v1/order-actions/"+id, apiToken, ""); status != 200 || got["state"] != Synchronizing {
		t.Errorf("GET: %d %v", status, got)
	}
	if status, _ := call("GET", "/v1/order-actions/"+id, "globex-api-token-0123456789abcdef", ""); status != 404 {
		t.Errorf("another merchant's token reads the action: %d", status)
	}
	if status, got := call("POST", "/v1/orders/"+ordStore+"/ORD-X/actions", apiToken, `{"action":"ship"}`); status != 409 || got["code"] != CodeActionNotAllowed {
		t.Errorf("ship a cancelled order: %d %v", status, got)
	}
	for body, field := range map[string]string{
		`{"action":"ship","tracking_url":"ftp://x"}`:                      "tracking_url",
		`{"action":"teleport"}`:                                           "action",
		`{"carrier_code":"UPS"}`:                                          "action",
		`{"action":"cancel","reason":"` + strings.Repeat("x", 101) + `"}`: "reason",
	} {
		if status, got := call("POST", path, apiToken, body); status != 422 || got["field"] != field {
			t.Errorf("%s: %d %v, want 422 on %s", body, status, got, field)
		}
	}
	if status, got := call("POST", path, apiToken, `{"action":`); status != 400 || got["code"] == nil {
		t.Errorf("malformed body: %d %v", status, got)
	}
	if status, _ := call("POST", path, "", `{"action":"ship"}`); status != 401 {
		t.Errorf("no token: %d", status)
	}
	status, page := call("GET", "/v1/order-actions?limit=1", apiToken, "")
	entries, _ := page["entries"].([]any)
	if status != 200 || len(entries) != 1 || page["next_cursor"] == nil {
		t.Fatalf("audit page: %d %v", status, page)
	}
	first := entries[0].(map[string]any)
	if first["result"] != Refused || first["order_id"] != "ORD-X" {
		t.Errorf("latest audit entry %v", first)
	}
	status, page = call("GET", "/v1/order-actions?limit=1&cursor="+page["next_cursor"].(string), apiToken, "")
	entries, _ = page["entries"].([]any)
	if status != 200 || len(entries) != 1 || entries[0].(map[string]any)["action_id"] != id {
		t.Errorf("second audit page: %d %v", status, page)
	}
	by := entries[0].(map[string]any)["by"].(map[string]any)
	if by["source"] != "api" || by["agent"] != "bob@acme.example" || !strings.HasPrefix(by["id"].(string), "token:") || strings.Contains(by["id"].(string), apiToken[:12]) {
		t.Errorf("who: %v", by)
	}
	if status, page := call("GET", path, apiToken, ""); status != 200 || len(page["entries"].([]any)) != 1 {
		t.Errorf("the order's audit: %d %v", status, page)
	}
	if status, got := call("GET", "/v1/order-actions?cursor=zzz", apiToken, ""); status != 422 || got["field"] != "cursor" {
		t.Errorf("bad cursor: %d %v", status, got)
	}
}
