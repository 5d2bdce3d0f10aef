package syncstate

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

func newStore(t *testing.T) (*Store, *redis.Client) {
	srv := rdbtest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return New(c), c
}

// One holder at a time; a held lease outlives its ttl while its holder
// lives, and is free again once released.
func TestLockIsExclusiveRenewedAndReleased(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	unlock, ok, err := s.Lock(ctx, "lock:a", 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("first Lock = %v, %v", ok, err)
	}
	if _, ok, _ := s.Lock(ctx, "lock:a", time.Second); ok {
		t.Fatal("a second holder took a held lease")
	}
	time.Sleep(600 * time.Millisecond) // twice the ttl: renewed meanwhile
	if c.Exists(ctx, "lock:a").Val() != 1 {
		t.Fatal("the lease ran out while its holder lived")
	}
	unlock()
	if c.Exists(ctx, "lock:a").Val() != 0 {
		t.Fatal("unlock left the lease")
	}
	if _, ok, _ := s.Lock(ctx, "lock:a", time.Second); !ok {
		t.Fatal("the released lease could not be taken again")
	}
}

// A cursor only moves forward; a listing is resumed until it ends, and an
// unreadable one is not resumed.
func TestCursorAndListing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, c := newStore(t)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 500, time.UTC)
	if cur, err := s.Cursor(ctx, "cur"); err != nil || !cur.IsZero() {
		t.Fatalf("cursor before any sync = %v, %v", cur, err)
	}
	for _, at := range []time.Time{t0, t0.Add(-time.Hour)} {
		if err := s.SetCursor(ctx, "cur", at); err != nil {
			t.Fatal(err)
		}
	}
	if cur, _ := s.Cursor(ctx, "cur"); !cur.Equal(t0) {
		t.Fatalf("cursor = %v, want %v: it moved back", cur, t0)
	}

	l := Listing{Since: t0, PageToken: "p2", Newest: t0, Queue: "bulk"}
	if err := s.SaveListing(ctx, "listing", l); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, "listing").Val(); ttl <= 0 || ttl > ListingTTL {
		t.Fatalf("listing TTL %v, want up to %v", ttl, ListingTTL)
	}
	got, ok, err := s.ResumeListing(ctx, "listing")
	if err != nil || !ok || got.PageToken != "p2" || got.Queue != "bulk" || !got.Since.Equal(t0) {
		t.Fatalf("ResumeListing = %+v, %v, %v", got, ok, err)
	}
	if err := s.EndListing(ctx, "listing"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.ResumeListing(ctx, "listing"); ok {
		t.Fatal("an ended listing was resumed")
	}
	c.Set(ctx, "listing", "not json", 0)
	if _, ok, err := s.ResumeListing(ctx, "listing"); ok || err != nil {
		t.Fatalf("an unreadable listing: resumed %v, %v; want a fresh start", ok, err)
	}
}
