package widgets

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/orders"
)

// ownRedis gives a test a redis-server of its own, which it may pause or
// freeze, and a store on it holding one customer with one order.
func ownRedis(t *testing.T) (*rdbtest.Server, *redis.Client, *orders.Store) {
	t.Helper()
	srv := rdbtest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s := orders.NewStore(c, "test:", 0, 0, time.Now)
	if _, err := s.Apply(context.Background(), orderChange("A", "jeanne@example.com", t0, t0, orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	return srv, c, s
}

// gets is how many GETs the server has run.
func gets(t *testing.T, c *redis.Client) int { return calls(t, c, "get") }

// calls is how many times the server has run a command.
func calls(t *testing.T, c *redis.Client, cmd string) int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			return n
		}
	}
	return 0
}

// A customer this replica holds no document of is read with a plain GET,
// which costs Redis less than the script; one it holds, with the
// conditional GET, which spares sending an unchanged document again.
func TestReaderUsesTheScriptOnlyForDocumentsItHolds(t *testing.T) {
	_, c, s := ownRedis(t)
	r := NewReader(c, s, 5*time.Second, 100, time.Now)
	getsBefore, scriptsBefore := gets(t, c), calls(t, c, "evalsha")+calls(t, c, "eval")
	first := r.Read(context.Background(), "acme", "jeanne@example.com")
	if got := calls(t, c, "evalsha") + calls(t, c, "eval") - scriptsBefore; got != 0 || gets(t, c)-getsBefore != 1 {
		t.Errorf("first read: %d scripts and %d GETs, want a plain GET", got, gets(t, c)-getsBefore)
	}
	again := r.Read(context.Background(), "acme", "jeanne@example.com")
	// EVALSHA, and EVAL after it the first time the script is run.
	if got := calls(t, c, "evalsha") + calls(t, c, "eval") - scriptsBefore; got == 0 {
		t.Error("second read ran no script, want the conditional GET")
	}
	if again.Doc != first.Doc || again.Freshness.State != StateOK {
		t.Error("an unchanged document was decoded again")
	}
}

func TestReaderCoalescesIdenticalReads(t *testing.T) {
	_, c, s := ownRedis(t)
	r := NewReader(c, s, 5*time.Second, 100, time.Now)
	before := gets(t, c)
	// Hold every client for a moment, so that the reads below overlap.
	if err := c.Do(context.Background(), "CLIENT", "PAUSE", "300", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	snaps := make([]Snapshot, 50)
	for i := range snaps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			snaps[i] = r.Read(context.Background(), "acme", "Jeanne@example.com")
		}()
	}
	wg.Wait()
	if n := gets(t, c) - before; n != 1 {
		t.Errorf("50 identical reads ran %d GETs, want 1", n)
	}
	for i, snap := range snaps {
		if snap.Freshness.State != StateOK || snap.Doc != snaps[0].Doc || len(snap.Doc.Orders) != 1 {
			t.Fatalf("read %d: %+v", i, snap)
		}
	}

	// An unchanged document is not decoded again.
	again := r.Read(context.Background(), "acme", "jeanne@example.com")
	if again.Doc != snaps[0].Doc || again.Rev != snaps[0].Rev {
		t.Error("an unchanged document was decoded again")
	}
	if _, err := s.Apply(context.Background(), orderChange("B", "jeanne@example.com", t0, t0, orders.StatusNew)); err != nil {
		t.Fatal(err)
	}
	changed := r.Read(context.Background(), "acme", "jeanne@example.com")
	if changed.Rev == again.Rev || len(changed.Doc.Orders) != 2 {
		t.Errorf("a changed document was not read: rev %s, %d orders", changed.Rev, len(changed.Doc.Orders))
	}
}

func TestReaderAnswersWithinBudget(t *testing.T) {
	srv, c, s := ownRedis(t)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := NewReader(c, s, 100*time.Millisecond, 100, clock)
	if snap := r.Read(context.Background(), "acme", "jeanne@example.com"); snap.Freshness.State != StateOK {
		t.Fatalf("first read: %+v", snap.Freshness)
	}
	mu.Lock()
	now = now.Add(90 * time.Second)
	mu.Unlock()

	srv.Signal(t, syscall.SIGSTOP)
	defer srv.Signal(t, syscall.SIGCONT)
	snap := r.Read(context.Background(), "acme", "jeanne@example.com")
	if snap.Freshness.State != StateStale || snap.Freshness.Age != 90*time.Second || !snap.Freshness.AsOf.Equal(t0) || len(snap.Doc.Orders) != 1 {
		t.Errorf("frozen redis: %+v with %d orders, want the last known data, 90s old", snap.Freshness, len(snap.Doc.Orders))
	}
	snap = r.Read(context.Background(), "acme", "never.read@example.com")
	if snap.Freshness.State != StateUnavailable || len(snap.Doc.Orders) != 0 || snap.Doc.Customer.Email != "never.read@example.com" {
		t.Errorf("frozen redis, unknown customer: %+v", snap)
	}

	// A caller that gives up does not fail the fetch it shares.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if snap := r.Read(ctx, "acme", "jeanne@example.com"); snap.Freshness.State != StateStale {
		t.Errorf("cancelled caller: %+v", snap.Freshness)
	}
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// orderChange is one order of a customer's, as an order event upserts it.
func orderChange(id, email string, created, updated time.Time, status string) orders.Change {
	return orders.Change{Merchant: "acme", Store: "acme-fr", OrderID: id, Email: email, UpdatedAt: updated, Order: &orders.Order{
		ID: id, Store: "acme-fr", Status: status, CreatedAt: created, Total: "10.00", Currency: "EUR",
		Buyer: orders.Buyer{Name: "Jeanne Martin"}, Lines: []orders.Line{{SKU: "SKU-" + id, Name: "Tent", Quantity: 1}},
	}}
}
