package orders

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
)

// testDB is this package's database on the test Redis.
const testDB = 9

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func newTestStore(t *testing.T, retention time.Duration, maxOrders int) (*Store, *clock) {
	t.Helper()
	c := &clock{t: t0}
	return NewStore(rdbtest.Client(t, testDB), "test:", retention, maxOrders, c.Now), c
}

func orderChange(id, email string, created time.Time, updated time.Time, status string) Change {
	return Change{Merchant: "acme", Store: "acme-fr", OrderID: id, Email: email, UpdatedAt: updated, Order: &Order{
		ID: id, Store: "acme-fr", Status: status, CreatedAt: created, Total: "10.00", Currency: "EUR",
		Buyer: Buyer{Name: "Jeanne Martin"}, Lines: []Line{{SKU: "SKU-" + id, Name: "Tent", Quantity: 1}},
	}}
}

func shipmentChange(order, id string, updated time.Time, status string) Change {
	return Change{Merchant: "acme", Store: "acme-fr", OrderID: order, ShipmentID: id, UpdatedAt: updated,
		Shipment: &Shipment{Status: status, Carrier: "colissimo", TrackingNumber: "TN-" + id}}
}

func mustApply(t *testing.T, s *Store, c Change) Applied {
	t.Helper()
	res, err := s.Apply(context.Background(), c)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}

// stored reads a customer's document straight from Redis.
func stored(t *testing.T, s *Store, email string) *Document {
	t.Helper()
	raw, err := s.rdb.Get(context.Background(), s.DocKey("acme", email)).Bytes()
	if err != nil {
		return nil
	}
	_, d, err := DecodeDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func orderIDs(d *Document) []string {
	if d == nil {
		return nil
	}
	var ids []string
	for _, o := range d.Orders {
		ids = append(ids, o.ID)
	}
	return ids
}

func TestStoreOrdersMostRecentFirstWithChildren(t *testing.T) {
	s, _ := newTestStore(t, 0, 0)
	mustApply(t, s, orderChange("A", "jeanne@example.com", t0.Add(-48*time.Hour), t0, StatusShipped))
	mustApply(t, s, orderChange("B", "jeanne@example.com", t0.Add(-24*time.Hour), t0, StatusNew))
	mustApply(t, s, shipmentChange("A", "s2", t0, "delivered"))
	mustApply(t, s, shipmentChange("A", "s1", t0, "in_transit"))
	// A shipment that arrives before its order is kept for it.
	mustApply(t, s, shipmentChange("C", "s3", t0, "in_transit"))
	mustApply(t, s, orderChange("C", "Jeanne@Example.com ", t0.Add(-time.Hour), t0, StatusInProgress))

	d := stored(t, s, "JEANNE@example.com")
	if diff := cmp.Diff([]string{"C", "B", "A"}, orderIDs(d)); diff != "" {
		t.Fatalf("orders (-want +got):\n%s", diff)
	}
	if got := d.Orders[2].Shipments; len(got) != 2 || got[0].TrackingNumber != "TN-s1" || got[1].TrackingNumber != "TN-s2" {
		t.Errorf("A's shipments = %+v, want s1 then s2", got)
	}
	if got := d.Orders[0].Shipments; len(got) != 1 || got[0].TrackingNumber != "TN-s3" {
		t.Errorf("C's shipments = %+v, want the early s3", got)
	}
	if d.Customer.Email != "jeanne@example.com" {
		t.Errorf("email = %q, want it normalised", d.Customer.Email)
	}
}

func TestStoreOlderUpdateNeverOverwritesNewer(t *testing.T) {
	s, _ := newTestStore(t, 0, 0)
	mustApply(t, s, orderChange("A", "jeanne@example.com", t0, t0.Add(time.Hour), StatusShipped))
	if res := mustApply(t, s, orderChange("A", "jeanne@example.com", t0, t0, StatusNew)); res.Changed {
		t.Error("an older order update was applied")
	}
	if res := mustApply(t, s, orderChange("A", "jeanne@example.com", t0, t0.Add(time.Hour), StatusShipped)); res.Changed {
		t.Error("the same update applied twice")
	}
	mustApply(t, s, shipmentChange("A", "s1", t0.Add(2*time.Hour), "delivered"))
	if res := mustApply(t, s, shipmentChange("A", "s1", t0.Add(time.Hour), "in_transit")); res.Changed {
		t.Error("an older shipment update was applied")
	}
	d := stored(t, s, "jeanne@example.com")
	if got := d.Orders[0].Status; got != StatusShipped {
		t.Errorf("status = %s, want Shipped", got)
	}
	if got := d.Orders[0].Shipments[0].Status; got != "delivered" {
		t.Errorf("shipment status = %s, want delivered", got)
	}

	// Two different versions with the same updated_at settle the same way
	// in either order.
	a := orderChange("T", "tie@example.com", t0, t0, StatusNew)
	b := orderChange("T", "tie@example.com", t0, t0, StatusCanceled)
	mustApply(t, s, a)
	mustApply(t, s, b)
	first := stored(t, s, "tie@example.com").Orders[0].Status
	s2, _ := newTestStore(t, 0, 0)
	mustApply(t, s2, b)
	mustApply(t, s2, a)
	if second := stored(t, s2, "tie@example.com").Orders[0].Status; first != second {
		t.Errorf("a tie settled on %s one way and %s the other", first, second)
	}
}

func TestStoreOrderMovesToAnotherEmail(t *testing.T) {
	s, _ := newTestStore(t, 0, 0)
	mustApply(t, s, orderChange("A", "old@example.com", t0, t0, StatusNew))
	mustApply(t, s, orderChange("B", "old@example.com", t0, t0, StatusNew))
	mustApply(t, s, orderChange("A", "new@example.com", t0, t0.Add(time.Minute), StatusNew))
	if diff := cmp.Diff([]string{"B"}, orderIDs(stored(t, s, "old@example.com"))); diff != "" {
		t.Errorf("old customer's orders (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"A"}, orderIDs(stored(t, s, "new@example.com"))); diff != "" {
		t.Errorf("new customer's orders (-want +got):\n%s", diff)
	}
	mustApply(t, s, orderChange("B", "new@example.com", t0, t0.Add(time.Minute), StatusNew))
	if d := stored(t, s, "old@example.com"); d != nil {
		t.Errorf("old customer still has a document: %v", orderIDs(d))
	}
}

func TestStoreRetentionAndMaxOrders(t *testing.T) {
	s, clk := newTestStore(t, 30*24*time.Hour, 3)
	mustApply(t, s, orderChange("old", "jeanne@example.com", t0.Add(-40*24*time.Hour), t0.Add(-20*24*time.Hour), StatusClosed))
	for i := range 4 {
		mustApply(t, s, orderChange(fmt.Sprintf("n%d", i), "jeanne@example.com", t0.Add(time.Duration(i)*time.Hour), t0, StatusNew))
	}
	if diff := cmp.Diff([]string{"n3", "n2", "n1"}, orderIDs(stored(t, s, "jeanne@example.com"))); diff != "" {
		t.Errorf("capped orders (-want +got):\n%s", diff)
	}

	s2, clk2 := newTestStore(t, 30*24*time.Hour, 0)
	mustApply(t, s2, orderChange("old", "jeanne@example.com", t0.Add(-40*24*time.Hour), t0.Add(-20*24*time.Hour), StatusClosed))
	res := mustApply(t, s2, orderChange("new", "jeanne@example.com", t0, t0, StatusNew))
	if len(res.Expiries) != 1 || !res.Expiries[0].At.Equal(t0.Add(10*24*time.Hour)) {
		t.Fatalf("expiries = %+v, want the old order's, in 10 days", res.Expiries)
	}
	// A too-old event is stored but never shown.
	mustApply(t, s2, orderChange("ancient", "jeanne@example.com", t0.Add(-90*24*time.Hour), t0.Add(-60*24*time.Hour), StatusClosed))
	if diff := cmp.Diff([]string{"new", "old"}, orderIDs(stored(t, s2, "jeanne@example.com"))); diff != "" {
		t.Errorf("orders (-want +got):\n%s", diff)
	}
	clk2.Add(11 * 24 * time.Hour)
	if _, err := s2.Refresh(context.Background(), "acme", res.Expiries[0].EmailHash); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"new"}, orderIDs(stored(t, s2, "jeanne@example.com"))); diff != "" {
		t.Errorf("after the old order's retention (-want +got):\n%s", diff)
	}
	clk2.Add(30 * 24 * time.Hour)
	if _, err := s2.Refresh(context.Background(), "acme", res.Expiries[0].EmailHash); err != nil {
		t.Fatal(err)
	}
	if d := stored(t, s2, "jeanne@example.com"); d != nil {
		t.Errorf("document outlived every order: %v", orderIDs(d))
	}
	_ = clk
}

// storeBackends are the two kinds of Redis the store must be correct on:
// the real server, and the embedded miniredis the bridge runs on when no
// Redis is configured (its WATCH differs from Redis's in ways that once
// lost concurrent updates).
func storeBackends(t *testing.T) []struct {
	name  string
	store *Store
} {
	t.Helper()
	conn, err := rdb.Open(context.Background(), config.Redis{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &clock{t: t0}
	return []struct {
		name  string
		store *Store
	}{
		{"redis-server", NewStore(rdbtest.Client(t, testDB), "test:", 0, 0, c.Now)},
		{"embedded", NewStore(conn.Client, "test:", 0, 0, c.Now)},
	}
}

// Concurrent changes of one customer all land: the transaction retries
// on conflict rather than losing one.
func TestStoreConcurrentChangesOfOneCustomer(t *testing.T) {
	for _, b := range storeBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.store
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := range 20 {
				wg.Add(2)
				id := fmt.Sprintf("o%02d", i)
				go func() {
					defer wg.Done()
					_, err := s.Apply(context.Background(), orderChange(id, "busy@example.com", t0.Add(time.Duration(i)*time.Minute), t0, StatusNew))
					errs <- err
				}()
				go func() {
					defer wg.Done()
					_, err := s.Apply(context.Background(), shipmentChange(id, "s", t0, "in_transit"))
					errs <- err
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			d := stored(t, s, "busy@example.com")
			if len(d.Orders) != 20 {
				t.Fatalf("%d orders, want 20", len(d.Orders))
			}
			for _, o := range d.Orders {
				if len(o.Shipments) != 1 {
					t.Errorf("order %s has %d shipments, want 1", o.ID, len(o.Shipments))
				}
			}
		})
	}
}

// Concurrent upserts of one order's shipments, return and support
// request, once the order is known, all land, on either backend: each
// order's document ends with every entity. Each upsert reads the order
// and then rebuilds the customer's document, so the order's key is among
// the keys watched again there.
func TestStoreConcurrentUpsertsOfOneOrder(t *testing.T) {
	for _, b := range storeBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.store
			const orders = 8
			for i := range orders {
				mustApply(t, s, orderChange(fmt.Sprintf("p%02d", i), fmt.Sprintf("buyer%d@example.com", i), t0, t0, StatusNew))
			}
			var wg sync.WaitGroup
			errs := make(chan error, 4*orders)
			apply := func(c Change) {
				defer wg.Done()
				_, err := s.Apply(context.Background(), c)
				errs <- err
			}
			for i := range orders {
				id := fmt.Sprintf("p%02d", i)
				ret := Change{Merchant: "acme", Store: "acme-fr", OrderID: id, ReturnID: "r", UpdatedAt: t0,
					Return: &Return{TrackingNumber: "RT-" + id, Products: []ReturnProduct{{SKU: "SKU-" + id, Quantity: 1}}}}
				req := Change{Merchant: "acme", Store: "acme-fr", OrderID: id, RequestID: "q", UpdatedAt: t0,
					SupportRequest: &SupportRequest{Subject: "Where is my parcel?", UpdatedAt: t0}}
				wg.Add(4)
				go apply(shipmentChange(id, "s1", t0, "in_transit"))
				go apply(shipmentChange(id, "s2", t0, "in_transit"))
				go apply(ret)
				go apply(req)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			for i := range orders {
				d := stored(t, s, fmt.Sprintf("buyer%d@example.com", i))
				if d == nil || len(d.Orders) != 1 {
					t.Errorf("buyer%d: document %v, want one order", i, orderIDs(d))
					continue
				}
				o := d.Orders[0]
				if len(o.Shipments) != 2 || len(o.Returns) != 1 || len(o.SupportRequests) != 1 {
					t.Errorf("order %s has %d shipments, %d returns, %d support requests; want 2, 1 and 1",
						o.ID, len(o.Shipments), len(o.Returns), len(o.SupportRequests))
				}
			}
		})
	}
}

// DocKey, built at once for the reads, is the key the store writes.
func TestDocKeyIsTheWrittenKey(t *testing.T) {
	t.Parallel()
	s := NewStore(nil, "p:", 0, 0, time.Now)
	for _, email := range []string{"jeanne@example.com", " Jeanne@Example.COM ", "", "ünïcode@exämple.fr"} {
		if got, want := s.DocKey("acme", email), s.docKey("acme", EmailHash(email)); got != want {
			t.Errorf("DocKey(%q) = %s, want %s", email, got, want)
		}
	}
}
