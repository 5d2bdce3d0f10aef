package main

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

const actionsBuyer = "k7w2@carrefour-relay.example"

// actionsKillDB is the test Redis database of the test that runs bridge
// processes, apart from the in-process harness's.
const actionsKillDB = 4

// actionCall sends one request to an order action route with acme's API
// token and holds the answer (and a request it serves) to openapi.yaml.
func (h *harness) actionCall(oa *openAPI, method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(method, h.url+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+acmeAPIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
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
	if resp.StatusCode < 400 {
		if err := oa.checkRequest(req, raw); err != nil {
			h.t.Errorf("%s %s: the request does not match openapi.yaml: %v", method, path, err)
		}
	}
	var out map[string]any
	if err := json.Unmarshal(answer, &out); err != nil {
		h.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, answer)
	}
	if e, ok := out["error"].(map[string]any); ok {
		out = e
	}
	return resp.StatusCode, out
}

// restartWith restarts the bridge with the acme-carrefour account edited.
func (h *harness) restartWith(edit func(*config.Marketplace)) {
	h.t.Helper()
	h.stop()
	for i := range h.cfg.Merchants[0].Marketplaces {
		if mk := &h.cfg.Merchants[0].Marketplaces[i]; mk.ID == "acme-carrefour" {
			edit(mk)
		}
	}
	h.start(ModeServe)
}

// putOrder puts an order of actionsBuyer at the harness's Carrefour shop.
func (h *harness) putOrder(t *testing.T, id, state string) {
	t.Helper()
	if _, err := h.mkl.PutOrder(miraklShop, mapi.Order{
		OrderID: id, OrderState: state, CustomerNotificationEmail: actionsBuyer, TotalPrice: "19.90", CurrencyISOCode: "EUR",
		OrderLines: []mapi.OrderLine{{OrderLineID: id + "-1", OfferSKU: "MUG-01", ProductTitle: "Blue mug", Quantity: 1, Price: "19.90", OrderLineState: state}},
	}); err != nil {
		t.Fatal(err)
	}
}

// syncOrders has the workers read the Carrefour shop's orders now, n
// times, as several replicas' schedulers would.
func (h *harness) syncOrders(t *testing.T, n int) {
	t.Helper()
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	for range n {
		if _, err := c.EnqueueContext(context.Background(), orders.NewSyncTask(orders.SyncPayload{Merchant: "acme", Account: "acme-carrefour"}, 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// widgetOrder is one order of actionsBuyer as the Gorgias widget shows
// it, or nil.
func (h *harness) widgetOrder(id string) map[string]any {
	resp, body := h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery(actionsBuyer), nil)
	var w map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &w) != nil {
		return nil
	}
	list, _ := w["orders"].([]any)
	for _, o := range list {
		if m, _ := o.(map[string]any); m["id"] == id {
			return m
		}
	}
	return nil
}

func (h *harness) shipCalls() int {
	n := 0
	for route, c := range h.mkl.Requests() {
		if strings.HasSuffix(route, "/ship") {
			n += c
		}
	}
	return n
}

func isShip(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/ship") }

// subscribe has acme's integrator subscribe recv to order events.
func (h *harness) subscribe(t *testing.T, recv *pushReceiver) {
	t.Helper()
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	body, _ := json.Marshal(map[string]string{"url": srv.URL + "/orders"})
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/orders/subscriptions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+acmeAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sub push.Subscription
	_ = json.NewDecoder(resp.Body).Decode(&sub)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || sub.Secret == "" {
		t.Fatalf("subscribe: %d %+v", resp.StatusCode, sub)
	}
	recv.mu.Lock()
	recv.secret = sub.Secret
	recv.mu.Unlock()
}

// pushedTypes are the event types recv got for one order, in order.
func pushedTypes(recv *pushReceiver, orderID string) []string {
	var out []string
	for _, ev := range recv.events() {
		if ev.OrderID == orderID {
			out = append(out, ev.Type)
		}
	}
	return out
}

// An order arrives at the marketplace, is accepted once with two bridge
// replicas running, is shipped by an agent with carrier and tracking:
// the widget shows synchronizing, then Shipped, and the integrator's
// server gets every event, signed, in order. Shipping a cancelled order
// is refused: the API and the widget show the refusal, the order stays
// as it was, and the audit trail records it.
func TestOrderActionsEndToEnd(t *testing.T) {
	oa := loadOpenAPI(t)
	h := newHarness(t, harnessOptions{})
	h.restartWith(func(mk *config.Marketplace) { mk.AutoAccept.Enabled = true })
	second := h.workerReplica()
	recv := &pushReceiver{}
	h.subscribe(t, recv)

	h.putOrder(t, "CRF-70001-A", "WAITING_ACCEPTANCE")
	h.syncOrders(t, 4)
	eventually(t, 20*time.Second, "the order accepted", func() bool {
		o, _ := h.mkl.Order(miraklShop, "CRF-70001-A")
		return o.OrderState == "WAITING_DEBIT"
	})
	// The customer's payment goes through.
	if _, err := h.mkl.MoveOrder(miraklShop, "CRF-70001-A", "SHIPPING"); err != nil {
		t.Fatal(err)
	}
	h.syncOrders(t, 1)
	eventually(t, 20*time.Second, "the widget to show it to ship", func() bool {
		o := h.widgetOrder("CRF-70001-A")
		return o != nil && o["marketplace_status"] == "SHIPPING"
	})

	// An agent ships it from the HTML sidebar: the Ship button opens the
	// confirmation page, whose form sends carrier and tracking. The
	// marketplace takes its time: the agent sees synchronizing.
	h.mkl.Faults().Push(fault.Fault{Hang: 2 * time.Second, Match: isShip})
	confirm := h.sidebarButton(t, "ship")
	form := h.confirmForm(t, confirm)
	if status, _ := h.postForm(t, url.Values{"t": {form.Get("t")}, "carrier_code": {"UPS"}, "tracking_number": {"1Z999AA10123456784"}}); status != http.StatusForbidden {
		t.Errorf("a forged POST without the form token: %d, want 403", status)
	}
	form.Set("carrier_code", "UPS")
	form.Set("tracking_number", "1Z999AA10123456784")
	form.Set("agent", "alice")
	// A reason, which ship does not take: refused as the API refuses it,
	// and the form's token is left for the corrected form.
	form.Set("reason", "34")
	if status, page := h.postForm(t, form); status != http.StatusUnprocessableEntity || !strings.Contains(page, "reason: only refuse, cancel and cancel_lines take a reason") {
		t.Errorf("ship with a reason: %d %s", status, page)
	}
	form.Del("reason")
	status, page := h.postForm(t, form)
	if status != http.StatusOK || !strings.Contains(page, "synchronizing") {
		t.Fatalf("the confirmed form: %d %s", status, page)
	}
	if status, _ := h.postForm(t, form); status != http.StatusForbidden {
		t.Errorf("the same form posted again: %d, want 403", status)
	}
	_, trail := h.actionCall(oa, "GET", "/v1/orders/acme-fr/CRF-70001-A/actions?action=ship", nil)
	entries, _ := trail["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("the audit trail after the sidebar's request: %v", trail)
	}
	rec := map[string]any{"id": entries[0].(map[string]any)["action_id"]}
	if by := entries[0].(map[string]any)["by"].(map[string]any); by["source"] != "html" || by["id"] != "acme-desk" || by["agent"] != "alice" {
		t.Errorf("who asked: %v", by)
	}
	eventually(t, 10*time.Second, "the widget to show synchronizing", func() bool {
		o := h.widgetOrder("CRF-70001-A")
		return o != nil && o["status"] == orders.Synchronizing
	})
	eventually(t, 20*time.Second, "the widget to show it shipped", func() bool {
		o := h.widgetOrder("CRF-70001-A")
		return o != nil && o["status"] == orders.StatusShipped
	})
	if status, got := h.actionCall(oa, "GET", "/v1/order-actions/"+rec["id"].(string), nil); status != 200 || got["state"] != orders.Confirmed {
		t.Errorf("the action: %d %v", status, got)
	}
	if o, _ := h.mkl.Order(miraklShop, "CRF-70001-A"); o.OrderState != "SHIPPED" || o.ShippingTracking != "1Z999AA10123456784" || o.ShippingCarrierCode != "UPS" {
		t.Errorf("at the marketplace: %s, %q by %q", o.OrderState, o.ShippingTracking, o.ShippingCarrierCode)
	}
	eventually(t, 20*time.Second, "the confirmation pushed", func() bool {
		return slices.Contains(pushedTypes(recv, "CRF-70001-A"), orders.EventActionConfirmed)
	})

	// Shipping a cancelled order.
	h.putOrder(t, "CRF-70002-A", "CANCELED")
	h.syncOrders(t, 1)
	eventually(t, 20*time.Second, "the cancelled order in the widget", func() bool { return h.widgetOrder("CRF-70002-A") != nil })
	status, refused := h.actionCall(oa, "POST", "/v1/orders/acme-fr/CRF-70002-A/actions", map[string]any{"action": "ship", "tracking_number": "X1"})
	if status != http.StatusConflict || refused["code"] != orders.CodeActionNotAllowed || refused["field"] != "action" {
		t.Errorf("ship a cancelled order: %d %v", status, refused)
	}
	if o := h.widgetOrder("CRF-70002-A"); o == nil || o["status"] != orders.StatusCanceled {
		t.Errorf("the refused order in the widget: %v", o)
	} else if a, _ := o["action"].(map[string]any); a["state"] != orders.Refused || !strings.Contains(a["reason"].(string), "cannot be shipped") {
		t.Errorf("the widget's refusal: %v", o["action"])
	}
	if o, _ := h.mkl.Order(miraklShop, "CRF-70002-A"); o.OrderState != "CANCELED" {
		t.Errorf("the cancelled order is %s at the marketplace", o.OrderState)
	}
	_, audit := h.actionCall(oa, "GET", "/v1/order-actions?order_id=CRF-70002-A", nil)
	if entries, _ := audit["entries"].([]any); len(entries) != 1 || entries[0].(map[string]any)["result"] != orders.Refused {
		t.Errorf("the audit trail of the refused order: %v", audit)
	}
	_, audit = h.actionCall(oa, "GET", "/v1/orders/acme-fr/CRF-70001-A/actions", nil)
	var results []string // and the automatic acceptance
	for _, e := range audit["entries"].([]any) {
		results = append(results, e.(map[string]any)["result"].(string))
	}
	if strings.Join(results, ",") != "confirmed,requested,confirmed" {
		t.Errorf("the shipped order's audit trail: %v", results)
	}

	h.settle()
	second.stop()
	if n := h.shipCalls(); n != 1 {
		t.Errorf("%d ship calls, want 1", n)
	}
	accepts := 0
	for route, n := range h.mkl.Requests() {
		if route == "PUT /api/orders/{order_id}/accept" {
			accepts += n
		}
	}
	if accepts != 1 {
		t.Errorf("%d acceptances, want 1", accepts)
	}
	// In order: created, accepted (status), paid (changed), the action,
	// shipped and its tracking, confirmed. None twice, each signed. The
	// tracking (OR23) and the shipment (OR24) are two calls: a sync
	// between them sees the tracking first, so those two come in either
	// order.
	got := pushedTypes(recv, "CRF-70001-A")
	want := []string{orders.EventCreated, orders.EventStatusChanged, orders.EventChanged, orders.EventActionRequested, orders.EventStatusChanged, orders.EventChanged, orders.EventActionConfirmed}
	swapped := slices.Clone(want)
	swapped[4], swapped[5] = swapped[5], swapped[4]
	if !slices.Equal(got, want) && !slices.Equal(got, swapped) {
		t.Errorf("pushed %v, want %v (the middle two in either order)", got, want)
	}
	eventually(t, 20*time.Second, "the refusal pushed", func() bool {
		return slices.Contains(pushedTypes(recv, "CRF-70002-A"), orders.EventActionRefused)
	})
	if got := pushedTypes(recv, "CRF-70002-A"); !slices.Equal(got, []string{orders.EventCreated, orders.EventActionRefused}) {
		t.Errorf("pushed for the refused order %v", got)
	}
	if recv.forged > 0 {
		t.Errorf("%d pushes failed the receiver's signature check", recv.forged)
	}
}

// The marketplace fails during an action: with a 5xx before it took it,
// with a 5xx after (the answer lost), or it hangs past the bridge's
// timeout and takes it late. Each time the order ends shipped, by one
// ship that took effect.
func TestOrderActionFaults(t *testing.T) {
	oa := loadOpenAPI(t)
	h := newHarness(t, harnessOptions{})
	h.restartWith(func(mk *config.Marketplace) { mk.Timeout = time.Second })
	for i, f := range []fault.Fault{
		{Status: http.StatusServiceUnavailable},
		{Status: http.StatusBadGateway, After: true},
		{Hang: 2 * time.Second, Late: true},
	} {
		id := "CRF-7100" + string(rune('1'+i)) + "-A"
		h.putOrder(t, id, "SHIPPING")
		h.syncOrders(t, 1)
		eventually(t, 20*time.Second, id+" in the widget", func() bool { return h.widgetOrder(id) != nil })
		before := h.shipCalls()
		f.Match = isShip
		h.mkl.Faults().Push(f)
		status, rec := h.actionCall(oa, "POST", "/v1/orders/acme-fr/"+id+"/actions", map[string]any{"action": "ship", "carrier_name": "Colis Privé", "tracking_number": "CP" + id})
		if status != http.StatusAccepted {
			t.Fatalf("%s: %d %v", id, status, rec)
		}
		eventually(t, 40*time.Second, id+" confirmed", func() bool {
			_, got := h.actionCall(oa, "GET", "/v1/order-actions/"+rec["id"].(string), nil)
			return got["state"] == orders.Confirmed
		})
		if n := h.shipCalls() - before; n != 1 {
			t.Errorf("%s (%+v): %d ship calls reached the marketplace, want 1", id, f, n)
		}
		if o, _ := h.mkl.Order(miraklShop, id); o.OrderState != "SHIPPED" {
			t.Errorf("%s is %s", id, o.OrderState)
		}
		if o := h.widgetOrder(id); o == nil || o["status"] != orders.StatusShipped {
			t.Errorf("%s in the widget: %v", id, o)
		}
	}
}

// The bridge is killed (kill -9) once the marketplace has shipped the
// order and before its answer came back. Another bridge takes the task
// over: it reads the order, sees it shipped, and ships nothing again.
func TestOrderActionSurvivesAKillBetweenTheMarketplaceAndTheAck(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bridge processes")
	}
	oa := loadOpenAPI(t)
	h := newHarness(t, harnessOptions{mode: ModeAPI, db: actionsKillDB})
	h.putOrder(t, "CRF-72001-A", "SHIPPING")
	child := h.startBridge("first", "worker")
	h.syncOrders(t, 1)
	eventually(t, 30*time.Second, "the order in the widget", func() bool { return h.widgetOrder("CRF-72001-A") != nil })

	held := holdNth(h.mkl.Faults(), 1, true, isShip)
	status, rec := h.actionCall(oa, "POST", "/v1/orders/acme-fr/CRF-72001-A/actions", map[string]any{"action": "ship", "carrier_code": "DHL", "tracking_number": "JD0142"})
	if status != http.StatusAccepted {
		t.Fatalf("ship: %d %v", status, rec)
	}
	waitHeld(t, held, "the ship call")
	// The hold answers late: Mirakl handles the call just after.
	eventually(t, 10*time.Second, "the held ship to take effect", func() bool {
		o, _ := h.mkl.Order(miraklShop, "CRF-72001-A")
		return o.OrderState == "SHIPPED"
	})
	child.kill(t)
	h.mkl.Faults().Clear()
	if o := h.widgetOrder("CRF-72001-A"); o == nil || o["status"] != orders.Synchronizing {
		t.Errorf("after the kill the widget shows %v, want synchronizing", o)
	}
	expireLeases(t, h.rdb, orders.ActionsQueue)

	h.startBridge("second", "worker")
	eventually(t, 60*time.Second, "the action confirmed by the second bridge", func() bool {
		_, got := h.actionCall(oa, "GET", "/v1/order-actions/"+rec["id"].(string), nil)
		return got["state"] == orders.Confirmed
	})
	if n := h.shipCalls(); n != 1 {
		t.Errorf("%d ship calls, want 1", n)
	}
	eventually(t, 20*time.Second, "the widget to show it shipped", func() bool {
		o := h.widgetOrder("CRF-72001-A")
		return o != nil && o["status"] == orders.StatusShipped
	})
}

// expireLeases ends the leases of the tasks a killed worker held in
// queue, so that asynq's recoverer gives them back at its next look
// rather than half a minute later.
func expireLeases(t *testing.T, rdb redis.UniversalClient, queue string) {
	t.Helper()
	ctx := context.Background()
	key := "asynq:{" + queue + "}:lease"
	ids, err := rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	past := float64(time.Now().Add(-time.Minute).Unix())
	for _, id := range ids {
		if err := rdb.ZAddXX(ctx, key, redis.Z{Score: past, Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	buttonLink  = regexp.MustCompile(`class="hb-btn hb-btn-([a-z_]+)" href="([^"]+)"`)
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)
)

// sidebarButton is the link of the first button for action in the HTML
// sidebar of actionsBuyer.
func (h *harness) sidebarButton(t *testing.T, action string) string {
	t.Helper()
	var link string
	eventually(t, 10*time.Second, "a "+action+" button in the HTML sidebar", func() bool {
		resp, body := h.widget("/v1/widgets/html", deskToken, emailQuery(actionsBuyer), nil)
		if resp.StatusCode != http.StatusOK {
			return false
		}
		for _, m := range buttonLink.FindAllStringSubmatch(string(body), -1) {
			if m[1] == action {
				// The link is public_url's; a restarted harness listens
				// elsewhere.
				u, err := url.Parse(html.UnescapeString(m[2]))
				if err != nil {
					t.Fatal(err)
				}
				link = h.url + u.RequestURI()
				return true
			}
		}
		return false
	})
	return link
}

// confirmForm opens a button's confirmation page and returns its form's
// hidden fields.
func (h *harness) confirmForm(t *testing.T, link string) url.Values {
	t.Helper()
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("the confirmation page: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(body), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("t") == "" || form.Get("form_token") == "" {
		t.Fatalf("the confirmation page has no ticket or form token:\n%s", body)
	}
	return form
}

// postForm posts a confirmation form as the agent's browser does.
func (h *harness) postForm(t *testing.T, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/widgets/actions", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// agentNote has an agent write on a Gorgias ticket, as the Gorgias UI
// does: Gorgias then calls its HTTP integrations.
func (h *harness) agentNote(t *testing.T, ticketID int64, text string, public bool) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"body_text": text, "public": public})
	resp, err := http.Post(h.gorgTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(ticketID, 10)+"/agent-reply", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("agent note: %d", resp.StatusCode)
	}
}

// In Gorgias an agent ships an order by writing an internal note that
// starts with a command; the same words in a public reply do nothing.
func TestGorgiasAgentShipsWithANote(t *testing.T) {
	oa := loadOpenAPI(t)
	h := newHarness(t, harnessOptions{})
	h.putOrder(t, "CRF-73001-A", "SHIPPING")
	h.putOrder(t, "CRF-73002-A", "SHIPPING")
	h.syncOrders(t, 1)
	eventually(t, 20*time.Second, "the orders in the widget", func() bool {
		return h.widgetOrder("CRF-73001-A") != nil && h.widgetOrder("CRF-73002-A") != nil
	})
	if status, _ := h.send(event("evt-note-1", "order.action_required", actionRequired("CRF-73001-A", "acme-fr"))); status != http.StatusAccepted {
		t.Fatalf("alert: %d", status)
	}
	var ticket int64
	eventually(t, 20*time.Second, "a Gorgias ticket", func() bool {
		ts := h.gorgiasTickets()
		if len(ts) > 0 {
			ticket = ts[0].ID
		}
		return ticket != 0
	})

	h.agentNote(t, ticket, "Order: ship CRF-73002-A carrier=UPS tracking=1ZPUBLIC", true)
	h.agentNote(t, ticket, "Order: ship CRF-73001-A carrier=UPS tracking=1ZNOTE\nShipped today, the customer knows.", false)
	eventually(t, 20*time.Second, "the noted order shipped", func() bool {
		o := h.widgetOrder("CRF-73001-A")
		return o != nil && o["status"] == orders.StatusShipped
	})
	if o, _ := h.mkl.Order(miraklShop, "CRF-73001-A"); o.ShippingTracking != "1ZNOTE" {
		t.Errorf("tracking at the marketplace %q", o.ShippingTracking)
	}
	_, audit := h.actionCall(oa, "GET", "/v1/orders/acme-fr/CRF-73001-A/actions?result=requested", nil)
	entries, _ := audit["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("audit %v", audit)
	}
	if by := entries[0].(map[string]any)["by"].(map[string]any); by["source"] != "gorgias" || by["id"] != "acme-gorgias-desk" {
		t.Errorf("who asked: %v", by)
	}
	h.settle()
	if o, _ := h.mkl.Order(miraklShop, "CRF-73002-A"); o.OrderState != "SHIPPING" {
		t.Errorf("a public reply shipped an order: %s", o.OrderState)
	}
}
