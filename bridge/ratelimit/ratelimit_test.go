package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/ratelimit"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// Two limiters on one Redis stand for two replicas: together they must not
// exceed the account's budget.
func TestReplicasShareOneBudget(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	a, b := ratelimit.New(rdb, "t:"), ratelimit.New(rdb, "t:")
	lim := ratelimit.Limit{Requests: 5, Per: time.Second}
	a.Set("acct", lim)
	b.Set("acct", lim)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 10; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		if err := l.Wait(ctx, "acct"); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 5, then 5 more at 5/s: at least 0.8 s.
	if el := time.Since(start); el < 800*time.Millisecond {
		t.Errorf("10 calls with a budget of 5/s took %s across two replicas, want >= 800ms", el)
	}
}

func TestPenaltyStopsEveryReplica(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	a, b := ratelimit.New(rdb, "t:"), ratelimit.New(rdb, "t:")
	ctx := context.Background()
	if err := a.Penalize(ctx, "acct", 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A shorter penalty must not shorten the longer one.
	if err := b.Penalize(ctx, "acct", 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Wait(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Errorf("Wait returned after %s during a 600ms penalty", el)
	}
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_ = a.Penalize(context.Background(), "acct", time.Second)
	if err := a.Wait(ctx, "acct"); err == nil {
		t.Error("Wait ignored its context's deadline")
	}
}
