package orders

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// With auto_accept, the sync enqueues one acceptance per new order, on
// every sync and replica that sees it; the orders its rules hold, and
// every order without it, wait for an agent. The acceptance reaches the
// marketplace and the read model shows the order in progress.
func TestNewOrdersAreAcceptedOnceUnlessHeld(t *testing.T) {
	rdb := rdbtest.Client(t, ordersTestDB)
	ctx := context.Background()
	shop := newMiraklShop(t, miraklfake.Options{})
	waiting := func(id, sku, total string) {
		o := miraklOrder(id, "WAITING_ACCEPTANCE", -time.Hour, -time.Minute)
		o.OrderLines[0].OfferSKU, o.OrderLines[0].OrderLineState, o.TotalPrice = sku, "WAITING_ACCEPTANCE", json.Number(total)
		shop.put(t, o)
	}
	waiting("ORD-OK", "MUG-01", "24.70")
	waiting("ORD-BIG", "MUG-01", "1500.00")
	waiting("ORD-SKU", "GOLD-1", "24.70")
	shop.put(t, miraklOrder("ORD-SHIPPED", "SHIPPED", -time.Hour, -time.Minute))

	cfg := ordersConfig()
	cfg.Merchants[0].Marketplaces[0].AutoAccept = config.AutoAccept{Enabled: true, MaxTotal: "1000", HoldSKUs: []string{"GOLD-1"}}
	store := NewStore(rdb, "t:", 365*24*time.Hour, 0, time.Now)
	queue := asynq.NewClientFromRedisClient(rdb)
	updater := NewUpdater(store, queue, 1)
	sync := NewOrderSync(SyncOptions{
		Config: cfg, Redis: rdb, KeyPrefix: "t:", Listers: map[string]connectors.OrderLister{ordAccount: shop.client},
		Sink: updater, Queue: queue, Shards: 1,
	})
	for range 3 { // three syncs, as replicas and periods would run them
		if err := sync.Sync(ctx, ordMerchant, ordAccount); err != nil {
			t.Fatal(err)
		}
		_ = rdb.Del(ctx, sync.key(ordMerchant, "ocur", ordAccount)) // list them all again
	}

	insp := asynq.NewInspectorFromRedisClient(rdb)
	tasks, err := insp.ListPendingTasks(SyncQueue)
	if err != nil {
		t.Fatal(err)
	}
	var accepts []string
	for _, tk := range tasks {
		if tk.Type == TypeAutoAccept {
			accepts = append(accepts, tk.ID)
		}
	}
	if len(accepts) != 1 || accepts[0] != "orders-accept-"+ordAccount+"-ORD-OK" {
		t.Fatalf("acceptances enqueued %v, want ORD-OK's alone, once", accepts)
	}

	acceptor := NewAcceptor(cfg, map[string]connectors.OrderActor{ordAccount: shop.client}, updater, store, time.Now)
	for range 2 { // the task again, after a crash before it was recorded done
		if err := acceptor.Accept(ctx, AcceptPayload{Merchant: ordMerchant, Account: ordAccount, OrderID: "ORD-OK"}); err != nil {
			t.Fatal(err)
		}
	}
	if o, _ := shop.fake.Order("", "ORD-OK"); o.OrderState != "WAITING_DEBIT" {
		t.Errorf("ORD-OK is %s at the marketplace, want WAITING_DEBIT", o.OrderState)
	}
	for _, id := range []string{"ORD-BIG", "ORD-SKU"} {
		if o, _ := shop.fake.Order("", id); o.OrderState != "WAITING_ACCEPTANCE" {
			t.Errorf("%s is %s, want it held, WAITING_ACCEPTANCE", id, o.OrderState)
		}
	}
	raw, err := rdb.Get(ctx, store.DocKey(ordMerchant, "buyer-7f3a@relay.carrefour.example")).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, doc, err := DecodeDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range doc.Orders {
		if o.ID == "ORD-OK" && (o.Status != StatusInProgress || o.MarketplaceStatus != "WAITING_DEBIT") {
			t.Errorf("the widget shows ORD-OK %s (%s), want InProgress (WAITING_DEBIT)", o.Status, o.MarketplaceStatus)
		}
	}

	page, err := store.Audit(ctx, ordMerchant, AuditQuery{OrderID: "ORD-OK"})
	if err != nil || len(page.Entries) != 2 || page.Entries[0].Result != Confirmed || page.Entries[0].By.Source != "auto_accept" || page.Entries[0].By.ID != ordAccount {
		t.Errorf("audit of the acceptance (run twice): %+v, %v", page.Entries, err)
	}

	// An order the customer cancelled before the task ran is left alone.
	waiting("ORD-GONE", "MUG-01", "10.00")
	if _, err := shop.fake.MoveOrder("", "ORD-GONE", "CANCELED"); err != nil {
		t.Fatal(err)
	}
	if err := acceptor.Accept(ctx, AcceptPayload{Merchant: ordMerchant, Account: ordAccount, OrderID: "ORD-GONE"}); err != nil {
		t.Fatalf("accepting an order cancelled meanwhile: %v, want it left alone", err)
	}
}

func TestHoldReason(t *testing.T) {
	t.Parallel()
	o := connectors.Order{Total: "100.00", Lines: []connectors.OrderLine{{SKU: "A"}, {SKU: "B"}}}
	for _, c := range []struct {
		rules config.AutoAccept
		held  bool
	}{
		{config.AutoAccept{}, false},
		{config.AutoAccept{MaxTotal: "100"}, false},
		{config.AutoAccept{MaxTotal: "99.99"}, true},
		{config.AutoAccept{HoldSKUs: []string{"B"}}, true},
		{config.AutoAccept{HoldSKUs: []string{"C"}}, false},
	} {
		if got := holdReason(c.rules, o) != ""; got != c.held {
			t.Errorf("%+v: held %v, want %v", c.rules, got, c.held)
		}
	}
	if holdReason(config.AutoAccept{MaxTotal: "10"}, connectors.Order{}) == "" {
		t.Error("an order without a total passed a max_total rule")
	}
}
