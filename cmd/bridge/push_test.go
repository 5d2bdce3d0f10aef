package main

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

// pushReceiver is an integrator's endpoint: it answers the handshake and
// records each signed event, refusing any whose signature is wrong.
type pushReceiver struct {
	secret string
	mu     sync.Mutex
	got    []push.Wire
	forged int
}

func (r *pushReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	want := events.SignatureHeader(r.secret, req.Header.Get(events.HeaderTimestamp), body)
	if !hmac.Equal([]byte(want), []byte(req.Header.Get(events.HeaderSignature))) {
		r.forged++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var v push.VerificationBody
	if json.Unmarshal(body, &v) == nil && v.Challenge != "" {
		_ = json.NewEncoder(w).Encode(push.VerificationAnswer{Challenge: v.Challenge})
		return
	}
	var ev push.Wire
	if err := json.Unmarshal(body, &ev); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.got = append(r.got, ev)
}

func (r *pushReceiver) events() []push.Wire {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]push.Wire(nil), r.got...)
}

// An integrator subscribes through the API; every order event the bridge
// takes afterwards reaches it signed, in order per order: the order
// created, its shipment as a change, then its status change.
func TestOrderChangesArePushedToSubscribers(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	recv := &pushReceiver{}
	h.subscribe(t, recv)

	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).UTC().Format(time.RFC3339) }
	order := func(id, status string, updated time.Duration) []byte {
		return event(id+"-"+status, orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-PUSH-1", "updated_at": at(updated), "status": status,
			"customer": map[string]any{"email": "push.buyer@example.com"}, "created_at": at(-time.Hour),
			"lines": []map[string]any{{"sku": "MUG-01", "quantity": 1}},
		})
	}
	h.sendAll([][]byte{order("e1", "New", -3*time.Minute)})
	eventually(t, 20*time.Second, "the order's creation pushed", func() bool { return len(recv.events()) == 1 })
	// Events are pushed in the order the read model applied them: the
	// shipment is applied before the status change is sent.
	h.sendAll([][]byte{event("e2-ship", orders.KindShipmentUpserted, map[string]any{
		"store": "acme-fr", "order_id": "FR-PUSH-1", "shipment_id": "P1", "updated_at": at(-2 * time.Minute),
		"status": "in_transit", "carrier": "Colissimo", "tracking_number": "6A999",
	})})
	eventually(t, 20*time.Second, "the shipment pushed", func() bool { return len(recv.events()) == 2 })
	shipped := order("e3", "Shipped", -time.Minute)
	h.sendAll([][]byte{shipped, shipped}) // the same event again: a duplicate, pushed once
	eventually(t, 20*time.Second, "every change pushed", func() bool { return len(recv.events()) >= 3 })
	time.Sleep(1500 * time.Millisecond) // a duplicate push would have come by now

	var types []string
	ids := map[string]bool{}
	for _, ev := range recv.events() {
		types = append(types, ev.Type)
		if ev.Merchant != "acme" || ev.Store != "acme-fr" || ev.OrderID != "FR-PUSH-1" || ids[ev.ID] {
			t.Errorf("pushed %+v", ev)
		}
		ids[ev.ID] = true
	}
	want := []string{orders.EventCreated, orders.EventChanged, orders.EventStatusChanged}
	if len(types) != len(want) || types[0] != want[0] || types[1] != want[1] || types[2] != want[2] {
		t.Fatalf("pushed %v, want %v", types, want)
	}
	var last struct {
		Status    string `json:"status"`
		Shipments []struct {
			TrackingNumber string `json:"tracking_number"`
		} `json:"shipments"`
	}
	if err := json.Unmarshal(recv.events()[2].Data, &last); err != nil || last.Status != "Shipped" || len(last.Shipments) != 1 || last.Shipments[0].TrackingNumber != "6A999" {
		t.Errorf("the status change carries %s (%v), want the shipped order with its shipment", recv.events()[2].Data, err)
	}
	if recv.forged > 0 {
		t.Errorf("%d pushes failed the receiver's signature check", recv.forged)
	}
}
