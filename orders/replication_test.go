package orders

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// TestChangeCountsAsAppliedOnAReplica: with a replica, a change is applied
// (and its task may be recorded as done) only once the replica has the
// customer's document; with the replica frozen the change fails, and so
// does applying it again while the first write may still be the master's
// alone.
func TestChangeCountsAsAppliedOnAReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, replica, mc, rc := rdbtest.StartPair(t)
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	s := NewStore(mc, "b:", 0, 0, func() time.Time { return now })
	s.WaitForReplicas(rdb.NewReplication(mc, "b:", 0, replicaWait, nil, zerolog.Nop()))
	change := func(order string) Change {
		return Change{Merchant: "acme", Store: "fr", OrderID: order, Email: "jeanne@example.com",
			Order: &Order{ID: order, Status: "New", CreatedAt: now}, UpdatedAt: now}
	}
	doc := s.DocKey("acme", "jeanne@example.com")

	if _, err := s.Apply(ctx, change("A1")); err != nil {
		t.Fatalf("Apply with a live replica: %v", err)
	}
	if rc.Exists(ctx, doc).Val() != 1 {
		t.Fatal("Apply returned before the replica had the customer's document")
	}

	replica.Signal(t, syscall.SIGSTOP)
	if _, err := s.Apply(ctx, change("A2")); !errors.Is(err, rdb.ErrNotReplicated) {
		t.Fatalf("Apply with a frozen replica = %v, want ErrNotReplicated", err)
	}
	res, err := s.Apply(ctx, change("A2"))
	if !errors.Is(err, rdb.ErrNotReplicated) {
		t.Fatalf("Apply again, unchanged, with the replica frozen = %+v, %v; want ErrNotReplicated", res, err)
	}
	replica.Signal(t, syscall.SIGCONT)
	if res, err := s.Apply(ctx, change("A2")); err != nil || res.Changed {
		t.Fatalf("Apply again with the replica back = %+v, %v; want unchanged and no error", res, err)
	}
}

// replicaWait bounds each WAIT: long enough that a live replica on a busy
// machine acknowledges, short enough that a frozen one fails the test fast.
const replicaWait = 1500 * time.Millisecond
