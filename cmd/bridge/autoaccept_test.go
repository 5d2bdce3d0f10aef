package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/orders"
)

// With auto_accept on and two bridges syncing the account's orders, a new
// order waiting for acceptance is accepted once (one OR21 call), and the
// sidebar shows it in progress.
func TestNewOrderAcceptedOnceByTwoReplicas(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.restartWith(func(mk *config.Marketplace) { mk.AutoAccept.Enabled = true })
	second := h.workerReplica()

	relay := "z9q2@carrefour-relay.example"
	if _, err := h.mkl.PutOrder(miraklShop, mapi.Order{
		OrderID: "CRF-88001-A", OrderState: "WAITING_ACCEPTANCE", CustomerNotificationEmail: relay, TotalPrice: "19.90",
		OrderLines: []mapi.OrderLine{{OrderLineID: "CRF-88001-A-1", OfferSKU: "MUG-01", Quantity: 1, OrderLineState: "WAITING_ACCEPTANCE"}},
	}); err != nil {
		t.Fatal(err)
	}
	c := asynq.NewClientFromRedisClient(h.rdb)
	for range 4 { // syncs of both replicas' schedulers, several times over
		if _, err := c.EnqueueContext(context.Background(), orders.NewSyncTask(orders.SyncPayload{Merchant: "acme", Account: "acme-carrefour"}, 1)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	eventually(t, 20*time.Second, "the order accepted at the marketplace", func() bool {
		o, _ := h.mkl.Order(miraklShop, "CRF-88001-A")
		return o.OrderState == "WAITING_DEBIT"
	})
	eventually(t, 20*time.Second, "the widget to show it in progress", func() bool {
		w := h.waitWidget(sidebarToken, relay, 1)
		o := w["orders"].([]any)[0].(map[string]any)
		return o["status"] == "InProgress" && o["marketplace_status"] == "WAITING_DEBIT"
	})
	h.settle()
	second.stop()
	accepts := 0
	for route, n := range h.mkl.Requests() {
		if route == "PUT /api/orders/{order_id}/accept" {
			accepts += n
		}
	}
	if accepts != 1 {
		t.Errorf("%d acceptance calls (OR21), want 1 (requests: %v)", accepts, h.mkl.Requests())
	}
}

// runningApp is a bridge built and run in the test's process.
type runningApp struct{ stop func() }

// workerReplica runs a second bridge's workers and scheduler on the
// harness's configuration, until the test ends or stop.
func (h *harness) workerReplica() runningApp {
	h.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	app, err := Build(ctx, h.cfg, ModeWorker, zerolog.Nop(), Overrides{Listener: l, DelayedCheck: 200 * time.Millisecond})
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Run(ctx) }()
	stop := func() { cancel(); <-done }
	h.t.Cleanup(stop)
	return runningApp{stop: func() { cancel(); <-done }}
}
