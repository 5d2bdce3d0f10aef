package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/orders"
)

// syncNow runs the account's sync at once instead of waiting for its
// period, as a forced resync does.
func (h *harness) syncNow() {
	h.t.Helper()
	// A sync already running (the periodic one, started with the bridge)
	// may have listed before the test seeded its threads, and the one
	// asked for here would return at once while it holds the account:
	// wait for it to end first.
	lock := h.cfg.Redis.KeyPrefix + "dsc:{acme}:lock:sync:acme-carrefour"
	eventually(h.t, 30*time.Second, "the running sync to end", func() bool {
		n, err := h.rdb.Exists(context.Background(), lock).Result()
		return err == nil && n == 0
	})
	c := asynq.NewClientFromRedisClient(h.rdb)
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: "acme-carrefour"}, 1)); err != nil {
		h.t.Fatal(err)
	}
	h.settle()
}

// discussionTickets are the fake Gorgias's mirrored tickets, by external id.
// mirrorThread seeds a thread in the fake Mirakl, syncs, and returns the
// thread and its ticket in the fake Gorgias.
func (h *harness) mirrorThread(seed miraklfake.ThreadSeed) (mapi.Thread, gapi.Ticket) {
	h.t.Helper()
	th, err := h.mkl.AddThread(seed)
	if err != nil {
		h.t.Fatal(err)
	}
	h.syncNow()
	tk, ok := h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID]
	if !ok {
		h.t.Fatal("no ticket for the thread")
	}
	return th, tk
}

func (h *harness) discussionTickets() map[string]gapi.Ticket {
	out := map[string]gapi.Ticket{}
	for _, t := range h.gorg.Tickets() {
		if strings.HasPrefix(t.ExternalID, "bridge-disc-") {
			full, _ := h.gorg.Ticket(t.ID)
			out[t.ExternalID] = full
		}
	}
	return out
}

func tagNames(t gapi.Ticket) []string {
	var out []string
	for _, tag := range t.Tags {
		out = append(out, tag.Name)
	}
	return out
}

func TestDiscussionsBackfillAndAppendOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	// The widget read model knows order FR-1001's customer.
	h.sendAll(widgetEvents(time.Now().UTC())[:1])
	h.waitWidget(sidebarToken, buyerEmail, 1)

	const n = 12
	ids := make([]string, n)
	for i := range n {
		seed := miraklfake.ThreadSeed{
			EntityType: mapi.EntityOrder, EntityID: fmt.Sprintf("ORDER-%02d", i), Topic: fmt.Sprintf("Where is my parcel %d?", i),
			CustomerID: fmt.Sprintf("cust-%d", i), CustomerName: buyerName,
			Message: miraklfake.MessageSeed{Body: fmt.Sprintf("<p>Hello, parcel %d has not arrived.</p>", i)},
		}
		switch i {
		case 0:
			seed.EntityID = "FR-1001"
		case 1:
			seed.EntityType, seed.EntityID, seed.Topic = mapi.EntityOffer, "OFFER-9", "Is it waterproof?"
		case 2:
			seed.Message.Attachments = []miraklfake.FileSeed{{Name: "photo.jpg", ContentType: "image/jpeg", Content: []byte("a photo of a broken mug")}}
		}
		th, err := h.mkl.AddThread(seed)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = th.ID
	}

	h.syncNow()
	tickets := h.discussionTickets()
	if len(tickets) != n {
		t.Fatalf("%d tickets for %d threads", len(tickets), n)
	}
	first := tickets["bridge-disc-carrefour-"+miraklShop+"-"+ids[0]]
	if first.Subject != "Where is my parcel 0?" || first.Customer == nil || first.Customer.Email != buyerEmail {
		t.Errorf("the order's thread: subject %q, customer %+v; want the buyer the widget knows", first.Subject, first.Customer)
	}
	if got := tagNames(first); !contains(got, "bigblue-marketplace-carrefour") || !contains(got, "bigblue-discussion-order") {
		t.Errorf("tags %v", got)
	}
	if got := tagNames(tickets["bridge-disc-carrefour-"+miraklShop+"-"+ids[1]]); !contains(got, "bigblue-discussion-product") {
		t.Errorf("product thread tags %v", got)
	}
	if msgs := first.Messages; len(msgs) != 1 || msgs[0].BodyText != "Hello, parcel 0 has not arrived." {
		t.Errorf("first ticket's messages: %+v", msgs)
	}
	if msgs := tickets["bridge-disc-carrefour-"+miraklShop+"-"+ids[2]].Messages; len(msgs) != 1 || len(msgs[0].Attachments) != 1 || msgs[0].Attachments[0].Name != "photo.jpg" {
		t.Errorf("the attachment was not copied: %+v", msgs)
	}

	// A new message lands once, even though the next syncs overlap it.
	if _, err := h.mkl.AddMessage(ids[0], miraklfake.MessageSeed{Body: "Any news?"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.mkl.AddMessage(ids[0], miraklfake.MessageSeed{From: mapi.SenderOperator, Body: "Operator here: the carrier lost it."}); err != nil {
		t.Fatal(err)
	}
	h.syncNow()
	h.syncNow()
	tickets = h.discussionTickets()
	if len(tickets) != n {
		t.Fatalf("%d tickets after more syncs, want %d", len(tickets), n)
	}
	msgs := tickets["bridge-disc-carrefour-"+miraklShop+"-"+ids[0]].Messages
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, m.BodyText)
	}
	if len(msgs) != 3 || bodies[1] != "Any news?" || !strings.Contains(bodies[2], "the carrier lost it") {
		t.Errorf("messages after a new one: %q", bodies)
	}
	if msgs[2].Public == nil || *msgs[2].Public {
		t.Errorf("the operator's message must be an internal note: %+v", msgs[2])
	}
	if code, _ := h.do(mustRequest(t, http.MethodGet, h.url+"/healthz")); code != http.StatusOK {
		t.Fatal(code)
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Mirakl's orders (OR11) reach the sidebar widget, with the anonymised
// notification email as the customer's.
func TestDiscussionsMiraklOrdersInTheWidget(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	relay := "x7f3k2@carrefour-relay.example"
	if _, err := h.mkl.PutOrder(miraklShop, mapi.Order{
		OrderID: "CRF-77001-A", CommercialID: "CRF-77001", OrderState: "SHIPPED",
		Customer:                  mapi.Customer{CustomerID: "c-77", Firstname: "Jeanne", Lastname: "Martin"},
		CustomerNotificationEmail: relay, CurrencyISOCode: "EUR", TotalPrice: "24.90",
		ShippingTracking: "6A55", ShippingTrackingURL: "https://track.example/6A55", ShippingCompany: "Colissimo",
		OrderLines: []mapi.OrderLine{{OrderLineID: "CRF-77001-A-1", OfferSKU: "MUG-01", ProductTitle: "Blue mug", Quantity: 2}},
	}); err != nil {
		t.Fatal(err)
	}
	c := asynq.NewClientFromRedisClient(h.rdb)
	if _, err := c.EnqueueContext(context.Background(), orders.NewSyncTask(orders.SyncPayload{Merchant: "acme", Account: "acme-carrefour"}, 1)); err != nil {
		t.Fatal(err)
	}
	w := h.waitWidget(sidebarToken, relay, 1)
	o := w["orders"].([]any)[0].(map[string]any)
	if o["id"] != "CRF-77001-A" || o["status"] != "Shipped" || o["marketplace_status"] != "SHIPPED" || o["marketplace"] != "carrefour" || o["store"] != "acme-fr" {
		t.Errorf("the Mirakl order in the widget: %v", o)
	}
	if lines := o["lines"].([]any); len(lines) != 1 || lines[0].(map[string]any)["sku"] != "MUG-01" {
		t.Errorf("lines %v", o["lines"])
	}
	h.settle()
	w = h.waitWidget(sidebarToken, relay, 1)
	if ships := w["orders"].([]any)[0].(map[string]any)["shipments"].([]any); len(ships) != 1 || ships[0].(map[string]any)["tracking_number"] != "6A55" {
		t.Errorf("shipments %v", ships)
	}
}
