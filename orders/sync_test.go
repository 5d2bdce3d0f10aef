package orders

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// ordersTestDB is the order sync tests' database on the test Redis (see
// rdbtest). Each test flushes it, so they do not run in parallel.
const ordersTestDB = 11

var _ Sink = (*Updater)(nil)

const (
	ordMerchant = "acme"
	ordAccount  = "acme-carrefour"
	ordStore    = "acme-fr"
	ordShopKey  = "shop-key"
	ordOverlap  = 2 * time.Minute
	ordBackfill = 30 * 24 * time.Hour
)

func ordersConfig() *config.Config {
	return &config.Config{Merchants: []config.Merchant{{
		ID: ordMerchant,
		Stores: []config.Store{{
			ID: ordStore, OrderURL: "https://backoffice.example/orders/{order_id}",
			SupportURL: "https://carrefour.example/orders/{order_id}/help",
		}},
		Helpdesks: []config.Helpdesk{{ID: "acme-gorgias", Kind: config.KindGorgias}},
		Marketplaces: []config.Marketplace{
			{
				ID: ordAccount, Kind: config.KindMirakl, Name: "carrefour", Store: ordStore, Helpdesk: "acme-gorgias",
				Overlap: ordOverlap, Backfill: ordBackfill, SyncOrders: true,
			},
			{ID: "acme-darty", Kind: config.KindMirakl, Name: "darty", Store: ordStore, Helpdesk: "acme-gorgias", Overlap: ordOverlap, Backfill: ordBackfill},
		},
	}}}
}

// miraklShop is a fake Mirakl instance behind the real connector, with a
// record of the start_update_date of every OR11 call.
type miraklShop struct {
	fake   *miraklfake.Server
	client *mirakl.Client

	mu    sync.Mutex
	since []string
}

func newMiraklShop(t *testing.T, opts miraklfake.Options) *miraklShop {
	t.Helper()
	opts.Shops = []miraklfake.Shop{{ID: "2001", Name: "Acme", APIKeys: []string{ordShopKey}}}
	opts.PathPrefix = "/carrefour"
	s := &miraklShop{fake: miraklfake.New(opts)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("offset") == "0" {
			s.mu.Lock()
			s.since = append(s.since, r.URL.Query().Get("start_update_date"))
			s.mu.Unlock()
		}
		s.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := mirakl.New(mirakl.Options{BaseURL: srv.URL + "/carrefour", APIKey: ordShopKey})
	if err != nil {
		t.Fatal(err)
	}
	s.client = c
	return s
}

// listings returns the start_update_date of each listing so far.
func (s *miraklShop) listings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.since...)
}

func (s *miraklShop) put(t *testing.T, o api.Order) {
	t.Helper()
	if _, err := s.fake.PutOrder("", o); err != nil {
		t.Fatal(err)
	}
}

// recordingSink keeps every change it is given.
type recordingSink struct {
	mu      sync.Mutex
	changes []Change
	fail    error
}

func (r *recordingSink) Apply(_ context.Context, c Change) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.changes = append(r.changes, c)
	return nil
}

func (r *recordingSink) take() []Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.changes
	r.changes = nil
	return out
}

func newTestOrderSync(rdb redis.UniversalClient, lister connectors.OrderLister, sink Sink) *OrderSync {
	return NewOrderSync(SyncOptions{
		Config: ordersConfig(), Redis: rdb, KeyPrefix: "t:",
		Listers: map[string]connectors.OrderLister{ordAccount: lister}, Sink: sink,
	})
}

// order is a Mirakl order of the customer's, dated relative to now.
func miraklOrder(id, state string, created, updated time.Duration) api.Order {
	now := time.Now()
	return api.Order{
		OrderID: id, OrderState: state,
		CreatedDate: api.NewTime(now.Add(created)), LastUpdatedDate: api.NewTime(now.Add(updated)),
		CustomerNotificationEmail: "Buyer-7f3a@relay.carrefour.example",
		Customer:                  api.Customer{CustomerID: "cust-7f3a", Firstname: "Jeanne", Lastname: "Martin"},
		OrderLines:                []api.OrderLine{{OfferSKU: "MUG-01", ProductTitle: "Blue mug", Quantity: 2, Price: "19.80"}},
		TotalPrice:                "24.70", CurrencyISOCode: "eur",
	}
}

// The first sync reads the backfill window and the sidebar then shows the
// customer's marketplace orders, with their status, lines and tracking.
func TestOrderSyncFillsTheWidget(t *testing.T) {
	rdb := rdbtest.Client(t, ordersTestDB)
	ctx := context.Background()
	shop := newMiraklShop(t, miraklfake.Options{})
	shipped := miraklOrder("ORD-1-A", "SHIPPED", -72*time.Hour, -2*time.Hour)
	shipped.ShippingTracking, shipped.ShippingTrackingURL, shipped.ShippingCompany = "6A123", "https://track.example/6A123", "Colissimo"
	shop.put(t, shipped)
	shop.put(t, miraklOrder("ORD-2-A", "WAITING_ACCEPTANCE", -3*time.Hour, -time.Hour))
	anonymous := miraklOrder("ORD-3-A", "SHIPPING", -3*time.Hour, -time.Hour)
	anonymous.CustomerNotificationEmail = ""
	shop.put(t, anonymous)
	shop.put(t, miraklOrder("ORD-OLD", "CLOSED", -50*24*time.Hour, -40*24*time.Hour))

	store := NewStore(rdb, "t:", 365*24*time.Hour, 0, time.Now)
	sync := newTestOrderSync(rdb, shop.client, NewUpdater(store, asynq.NewClientFromRedisClient(rdb), 1))
	if err := sync.Sync(ctx, ordMerchant, ordAccount); err != nil {
		t.Fatal(err)
	}

	raw, err := rdb.Get(ctx, store.DocKey(ordMerchant, "buyer-7f3a@relay.carrefour.example")).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, doc, err := DecodeDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	type shown struct {
		ID, Status, MarketplaceStatus, Marketplace, Store, URL, SupportURL, Total, Currency string
		Buyer                                                                               Buyer
		Lines                                                                               []Line
		Shipments                                                                           []Shipment
	}
	var got []shown
	for _, o := range doc.Orders {
		got = append(got, shown{o.ID, o.Status, o.MarketplaceStatus, o.Marketplace, o.Store, o.URL, o.SupportURL, o.Total, o.Currency, o.Buyer, o.Lines, o.Shipments})
	}
	lines := []Line{{Name: "Blue mug", SKU: "MUG-01", Quantity: 2}}
	buyer := Buyer{Name: "Jeanne Martin", ExternalID: "cust-7f3a"}
	want := []shown{
		// Most recently created first.
		{
			"ORD-2-A", StatusNew, "WAITING_ACCEPTANCE", "carrefour", ordStore,
			"https://backoffice.example/orders/ORD-2-A", "https://carrefour.example/orders/ORD-2-A/help", "24.70", "EUR", buyer, lines, []Shipment{},
		},
		{
			"ORD-1-A", StatusShipped, "SHIPPED", "carrefour", ordStore,
			"https://backoffice.example/orders/ORD-1-A", "https://carrefour.example/orders/ORD-1-A/help", "24.70", "EUR", buyer, lines,
			[]Shipment{{Carrier: "Colissimo", TrackingNumber: "6A123", TrackingURL: "https://track.example/6A123"}},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the widget's orders (-want +got):\n%s", diff)
	}
	if doc.Customer.Email != "buyer-7f3a@relay.carrefour.example" {
		t.Errorf("customer email %q: not the normalised relay address", doc.Customer.Email)
	}

	// The cursor is the newest update listed, on Mirakl's clock; the
	// threads' cursor is another.
	cur, err := sync.state.Cursor(ctx, sync.key(ordMerchant, "ocur", ordAccount))
	if err != nil {
		t.Fatal(err)
	}
	if newest := miraklOrder("", "", 0, -time.Hour).LastUpdatedDate.Time; cur.Sub(newest).Abs() > time.Second {
		t.Errorf("order cursor %v, want the newest update, about %v", cur, newest)
	}
	if threads, err := sync.state.Cursor(ctx, sync.key(ordMerchant, "cur", ordAccount)); err != nil || !threads.IsZero() {
		t.Errorf("thread cursor %v, %v: the order sync moved it", threads, err)
	}
	if email, err := store.CustomerEmail(ctx, ordMerchant, ordStore, "ORD-3-A"); err != nil || email != "" {
		t.Errorf("the order without an email is in the read model (%q, %v)", email, err)
	}
}

// Each sync reads from its cursor less the overlap, and an order updated
// since shows its new state.
func TestOrderSyncFollowsItsCursor(t *testing.T) {
	rdb := rdbtest.Client(t, ordersTestDB)
	ctx := context.Background()
	// No margin: the fake lists exactly from start_update_date.
	shop := newMiraklShop(t, miraklfake.Options{OrderUpdateMargin: -1})
	sink := &recordingSink{}
	now := time.Now()
	sync := newTestOrderSync(rdb, shop.client, sink)
	sync.o.Now = func() time.Time { return now }

	o := miraklOrder("ORD-9-A", "SHIPPING", -time.Hour, -10*time.Minute)
	shop.put(t, o)
	if err := sync.Sync(ctx, ordMerchant, ordAccount); err != nil {
		t.Fatal(err)
	}
	first := o.LastUpdatedDate.Time
	o.OrderState, o.ShippingTracking = "SHIPPED", "6A999"
	o.LastUpdatedDate = api.NewTime(time.Now().Add(-time.Minute))
	shop.put(t, o)
	if err := sync.Sync(ctx, ordMerchant, ordAccount); err != nil {
		t.Fatal(err)
	}
	second := o.LastUpdatedDate.Time
	if err := sync.Sync(ctx, ordMerchant, ordAccount); err != nil {
		t.Fatal(err)
	}

	want := []string{
		api.FormatTime(now.Add(-ordBackfill)),
		api.FormatTime(first.Add(-ordOverlap)),
		api.FormatTime(second.Add(-ordOverlap)),
	}
	if diff := cmp.Diff(want, shop.listings()); diff != "" {
		t.Errorf("start_update_date of each listing (-want +got):\n%s", diff)
	}
	type applied struct {
		Status   string
		Tracking string
		At       time.Time
	}
	var got []applied
	for _, c := range sink.take() {
		switch {
		case c.Order != nil:
			got = append(got, applied{Status: c.Order.Status, At: c.UpdatedAt})
		case c.Shipment != nil:
			got = append(got, applied{Tracking: c.Shipment.TrackingNumber, At: c.UpdatedAt})
		}
	}
	wantApplied := []applied{
		{Status: StatusInProgress, At: first},
		{Status: StatusShipped, At: second}, {Tracking: "6A999", At: second},
		// Within the overlap, listed again: the read model keeps one.
		{Status: StatusShipped, At: second}, {Tracking: "6A999", At: second},
	}
	if diff := cmp.Diff(wantApplied, got); diff != "" {
		t.Errorf("changes applied (-want +got):\n%s", diff)
	}
}

// The cursor moves only once the whole listing is applied: a page that
// fails leaves it, and the next sync lists everything again.
func TestOrderSyncKeepsItsCursorOnFailure(t *testing.T) {
	rdb := rdbtest.Client(t, ordersTestDB)
	ctx := context.Background()
	shop := newMiraklShop(t, miraklfake.Options{})
	for i := range 150 {
		shop.put(t, miraklOrder("ORD-"+string(rune('A'+i/26))+string(rune('A'+i%26)), "SHIPPING", -time.Duration(200-i)*time.Minute, -time.Duration(200-i)*time.Minute))
	}
	shop.fake.Faults().Push(fault.Fault{Status: http.StatusServiceUnavailable, Match: func(r *http.Request) bool {
		return r.URL.Query().Get("offset") == "100"
	}})
	sink := &recordingSink{}
	sync := newTestOrderSync(rdb, shop.client, sink)

	task := NewSyncTask(SyncPayload{Merchant: ordMerchant, Account: ordAccount}, 1)
	err := sync.ProcessTask(ctx, task)
	if err == nil || errors.Is(err, asynq.SkipRetry) || !connectors.IsRetryable(err) {
		t.Fatalf("a page answered 503: %v, want a retryable error", err)
	}
	if cur, err := sync.state.Cursor(ctx, sync.key(ordMerchant, "ocur", ordAccount)); err != nil || !cur.IsZero() {
		t.Errorf("order cursor %v, %v after a failed listing: want none", cur, err)
	}
	if n := len(sink.take()); n != 100 {
		t.Errorf("%d changes applied before the failing page, want its first 100 orders'", n)
	}

	// The retry goes on from the page the listing reached.
	if err := sync.ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.take()); n != 50 {
		t.Errorf("%d changes applied by the retry, want the last page's 50", n)
	}
	if got := shop.listings(); len(got) != 1 {
		t.Errorf("%d listings from the first page, want the first attempt's only: %q", len(got), got)
	}
	cur, err := sync.state.Cursor(ctx, sync.key(ordMerchant, "ocur", ordAccount))
	if newest := time.Now().Add(-51 * time.Minute); err != nil || cur.Sub(newest).Abs() > 5*time.Second {
		t.Errorf("order cursor %v, %v: want the newest update, about %v", cur, err, newest)
	}
}

// countingLister counts its calls and lists nothing.
type countingLister struct {
	mu    sync.Mutex
	calls int
}

func (c *countingLister) ListOrders(context.Context, connectors.OrderQuery) (connectors.OrderPage, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls++
	return connectors.OrderPage{Total: 0}, nil
}

func TestOrderSyncTask(t *testing.T) {
	rdb := rdbtest.Client(t, ordersTestDB)
	ctx := context.Background()
	payload := func(merchant, account string) *asynq.Task {
		return NewSyncTask(SyncPayload{Merchant: merchant, Account: account}, 1)
	}
	held := func(t *testing.T, s *OrderSync) {
		t.Helper()
		if _, ok, err := s.state.Lock(ctx, s.key(ordMerchant, "lock", "orders:"+ordAccount), time.Minute); err != nil || !ok {
			t.Fatalf("take the lease: %v, %v", ok, err)
		}
	}
	for _, c := range []struct {
		name      string
		task      *asynq.Task
		setup     func(*testing.T, *OrderSync)
		permanent bool  // the error skips retries
		is        error // the error wraps it
		listed    int
	}{
		{name: "lists the account's orders", task: payload(ordMerchant, ordAccount), listed: 1},
		{name: "undecodable payload", task: asynq.NewTask(TypeSync, []byte("{"), asynq.Queue(SyncQueue)), permanent: true},
		{name: "unknown merchant", task: payload("globex", ordAccount), permanent: true, is: ErrUnknownAccount},
		{name: "unknown account", task: payload(ordMerchant, "acme-fnac"), permanent: true, is: ErrUnknownAccount},
		{name: "account without sync_orders", task: payload(ordMerchant, "acme-darty")},
		{name: "account without an order lister", task: payload(ordMerchant, ordAccount), permanent: true, is: ErrUnknownAccount,
			setup: func(_ *testing.T, s *OrderSync) { delete(s.o.Listers, ordAccount) }},
		{name: "another replica holds the lease", task: payload(ordMerchant, ordAccount), setup: held},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := rdb.FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			lister := &countingLister{}
			s := newTestOrderSync(rdb, lister, &recordingSink{})
			if c.setup != nil {
				c.setup(t, s)
			}
			err := s.ProcessTask(ctx, c.task)
			if got := errors.Is(err, asynq.SkipRetry); got != c.permanent || (!c.permanent && err != nil) {
				t.Errorf("error %v: permanent %v, want %v", err, got, c.permanent)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v, want %v", err, c.is)
			}
			if lister.calls != c.listed {
				t.Errorf("%d listings, want %d", lister.calls, c.listed)
			}
		})
	}
	var p SyncPayload
	task := payload(ordMerchant, ordAccount)
	if err := json.Unmarshal(task.Payload(), &p); err != nil || task.Type() != TypeSync || p != (SyncPayload{ordMerchant, ordAccount}) {
		t.Errorf("task %s %s: payload %+v, %v", task.Type(), task.Payload(), p, err)
	}
}

func TestChangesFromMarketplaceOrder(t *testing.T) {
	t.Parallel()
	m := &ordersConfig().Merchants[0]
	created := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	updated := created.Add(26 * time.Hour)
	base := connectors.Order{ID: "ORD-5-A", State: "SHIPPING", CreatedAt: created, UpdatedAt: updated, CustomerEmail: " Buyer@Relay.example ", Currency: "eur"}
	// The connector normalises its marketplace's states (mirakl's
	// OrderStatus is tested there); the read model names them.
	for _, c := range []struct {
		state  string
		given  connectors.OrderStatus
		status string
	}{
		{"WAITING_ACCEPTANCE", connectors.OrderNew, StatusNew},
		{"WAITING_DEBIT", connectors.OrderInProgress, StatusInProgress},
		{"SHIPPED", connectors.OrderShipped, StatusShipped},
		{"CLOSED", connectors.OrderClosed, StatusClosed},
		{"REFUSED", connectors.OrderCanceled, StatusCanceled},
		{"SOMETHING_NEW", connectors.OrderUndefined, StatusUndefined},
		{"", connectors.OrderNotProvided, StatusNotProvided},
		{"FROM_A_CONNECTOR_THAT_SAYS_NOTHING", "", StatusUndefined},
		{"", "", StatusNotProvided},
	} {
		t.Run("state "+c.state+" "+string(c.given), func(t *testing.T) {
			o := base
			o.State, o.Status = c.state, c.given
			changes, ok := ChangesFromMarketplaceOrder(m, ordStore, "carrefour", o)
			if !ok || len(changes) != 1 || changes[0].Order == nil {
				t.Fatalf("changes %+v, %v: want the order's", changes, ok)
			}
			if got := changes[0].Order; got.Status != c.status || got.MarketplaceStatus != c.state {
				t.Errorf("status %q, marketplace status %q; want %q, %q", got.Status, got.MarketplaceStatus, c.status, c.state)
			}
		})
	}

	t.Run("the order and its tracking", func(t *testing.T) {
		o := base
		o.TrackingURL, o.Carrier = "https://track.example/x", "DPD"
		changes, ok := ChangesFromMarketplaceOrder(m, ordStore, "carrefour", o)
		if !ok || len(changes) != 2 {
			t.Fatalf("changes %+v, %v: want the order's and the shipment's", changes, ok)
		}
		for _, c := range changes {
			if c.Merchant != ordMerchant || c.Store != ordStore || c.OrderID != "ORD-5-A" || !c.UpdatedAt.Equal(updated) {
				t.Errorf("change of %s/%s/%s at %v, want %s/%s/ORD-5-A at the order's update, %v", c.Merchant, c.Store, c.OrderID, c.UpdatedAt, ordMerchant, ordStore, updated)
			}
		}
		if c := changes[0]; c.Email != "buyer@relay.example" || c.Order.Currency != "EUR" || !c.Order.CreatedAt.Equal(created) {
			t.Errorf("order change: email %q, currency %q, created %v", c.Email, c.Order.Currency, c.Order.CreatedAt)
		}
		want := &Shipment{Carrier: "DPD", TrackingURL: "https://track.example/x"}
		if diff := cmp.Diff(want, changes[1].Shipment); diff != "" || changes[1].ShipmentID == "" {
			t.Errorf("shipment %q (-want +got):\n%s", changes[1].ShipmentID, diff)
		}
	})

	t.Run("no email, no change", func(t *testing.T) {
		o := base
		o.CustomerEmail = "  "
		if changes, ok := ChangesFromMarketplaceOrder(m, ordStore, "carrefour", o); ok || len(changes) != 0 {
			t.Errorf("changes %+v, %v: want none", changes, ok)
		}
	})
}

// A marketplace order dated far ahead of the clock would freeze it in the
// read model, and the order cursor with it. It is taken as updated now:
// the sidebar shows it, the cursor stays at now, and a later update wins.
func TestOrderSyncClampsAnOrderDatedInTheFuture(t *testing.T) {
	rdb := rdbtest.Client(t, ordersTestDB)
	ctx := context.Background()
	shop := newMiraklShop(t, miraklfake.Options{})
	now := time.Now().UTC().Truncate(time.Millisecond)
	future := miraklOrder("ORD-F", "SHIPPING", -time.Hour, 0)
	future.LastUpdatedDate = api.NewTime(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
	shop.put(t, future)
	store := NewStore(rdb, "t:", 365*24*time.Hour, 0, time.Now)
	updater := NewUpdater(store, asynq.NewClientFromRedisClient(rdb), 1)
	sync := newTestOrderSync(rdb, shop.client, updater)
	sync.o.Config.Widgets.MaxFutureSkew = 5 * time.Minute
	sync.o.Now = func() time.Time { return now }
	if err := sync.Sync(ctx, ordMerchant, ordAccount); err != nil {
		t.Fatal(err)
	}
	cur, err := sync.state.Cursor(ctx, sync.key(ordMerchant, "ocur", ordAccount))
	if err != nil {
		t.Fatal(err)
	}
	if cur.After(now) {
		t.Errorf("order cursor %v, after the clock's %v", cur, now)
	}

	// The platform's own update, a minute later, replaces it.
	later := Change{Merchant: ordMerchant, Store: ordStore, OrderID: "ORD-F", Email: "buyer-7f3a@relay.carrefour.example",
		Order: &Order{ID: "ORD-F", Store: ordStore, Status: StatusShipped, CreatedAt: now.Add(-time.Hour)}, UpdatedAt: now.Add(time.Minute)}
	if err := updater.Apply(ctx, later); err != nil {
		t.Fatal(err)
	}
	raw, err := rdb.Get(ctx, store.DocKey(ordMerchant, "buyer-7f3a@relay.carrefour.example")).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	_, doc, err := DecodeDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Orders) != 1 || doc.Orders[0].Status != StatusShipped {
		t.Errorf("widget orders %+v, want ORD-F shipped by the later update", doc.Orders)
	}
}
