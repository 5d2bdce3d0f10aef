package discussions

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// pagedMarketplace lists threads a page at a time, with page tokens it
// remembers; its stop-th ListThreads call is put off by the rate limiter.
type pagedMarketplace struct {
	apiMarketplace
	mu     sync.Mutex
	pages  [][]connectors.Thread
	calls  []string // the page token of each call, "" for a first page
	stopAt int      // 1-based call put off; 0 for none
}

func (f *pagedMarketplace) ListThreads(_ context.Context, q connectors.ThreadQuery) (connectors.ThreadPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, q.PageToken)
	if len(f.calls) == f.stopAt {
		return connectors.ThreadPage{}, &connectors.DeferredError{System: "fake", Class: "bulk", Until: time.Now().Add(time.Minute)}
	}
	i := 0
	if q.PageToken != "" {
		n, err := strconv.Atoi(q.PageToken[1:])
		if err != nil || q.PageToken[0] != 'p' || n >= len(f.pages) {
			return connectors.ThreadPage{}, fmt.Errorf("fake: page token %q: %w", q.PageToken, connectors.ErrInvalid)
		}
		i = n
	}
	page := connectors.ThreadPage{Threads: f.pages[i]}
	if i+1 < len(f.pages) {
		page.NextPageToken = "p" + strconv.Itoa(i+1)
	}
	return page, nil
}

func (f *pagedMarketplace) asked() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// A listing put off part-way goes on from the page it reached: a backfill
// that needs more calls than one attempt is granted still finishes.
func TestSyncResumesAListingPutOff(t *testing.T) {
	f := newAPIFixture(t)
	mp := &pagedMarketplace{stopAt: 3}
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for p := range 4 {
		var page []connectors.Thread
		for i := range 2 {
			page = append(page, connectors.Thread{ID: fmt.Sprintf("t%d-%d", p, i), UpdatedAt: t0.Add(time.Duration(p*2+i) * time.Hour)})
		}
		mp.pages = append(mp.pages, page)
	}
	f.svc.o.Marketplaces["acme-carrefour"] = mp
	ctx := context.Background()
	p := SyncPayload{Merchant: "acme", Account: "acme-carrefour"}

	err := f.svc.Sync(ctx, p)
	if _, ok := connectors.Deferred(err); !ok {
		t.Fatalf("first attempt: %v, want it put off at its third page", err)
	}
	if err := f.svc.Sync(ctx, p); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if got, want := mp.asked(), []string{"", "p1", "p2", "p2", "p3"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("pages asked %q, want %q: the second attempt goes on from the page the first reached", got, want)
	}
	threads := map[string]bool{}
	for _, q := range f.queue.all() {
		if q.typ != TypeMirror {
			continue
		}
		var mp MirrorPayload
		if err := json.Unmarshal(q.payload, &mp); err != nil {
			t.Fatal(err)
		}
		threads[mp.Thread.ID] = true
	}
	if len(threads) != 8 {
		t.Errorf("%d threads enqueued, want all 8", len(threads))
	}
	cur, err := f.store.Cursor(ctx, "acme", "acme-carrefour")
	if err != nil || !cur.Equal(t0.Add(7*time.Hour)) {
		t.Errorf("cursor %s, %v; want the newest update listed, %s", cur, err, t0.Add(7*time.Hour))
	}
	if _, ok, _ := f.store.resumeListing(ctx, "acme", "threads:acme-carrefour"); ok {
		t.Error("the finished listing is still there to resume")
	}
}

// A saved page the marketplace no longer takes is dropped, and the
// listing starts again.
func TestSyncRestartsWhenTheSavedPageIsRefused(t *testing.T) {
	f := newAPIFixture(t)
	mp := &pagedMarketplace{pages: [][]connectors.Thread{{{ID: "a", UpdatedAt: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)}}}}
	f.svc.o.Marketplaces["acme-carrefour"] = mp
	ctx := context.Background()
	if err := f.store.saveListing(ctx, "acme", "threads:acme-carrefour", syncstate.Listing{Since: f.now.Add(-time.Hour), PageToken: "expired"}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Sync(ctx, SyncPayload{Merchant: "acme", Account: "acme-carrefour"}); err != nil {
		t.Fatal(err)
	}
	if got := mp.asked(); fmt.Sprint(got) != fmt.Sprint([]string{"expired", ""}) {
		t.Errorf("pages asked %q, want the saved one, then the first", got)
	}
}

// A page of a marketplace that reads each listed thread costs a call per
// thread: it must fit in a quarter of the account's burst, so that a sync
// paced in the middle of a page gets past it on its next turn.
func TestPageLimitFitsTheBudget(t *testing.T) {
	reads := connectors.MarketplaceCapabilities{CallsPerListedThread: 1}
	for _, c := range []struct {
		rl   config.RateLimit
		caps connectors.MarketplaceCapabilities
		want int
	}{
		{config.RateLimit{Requests: 60, Per: time.Minute}, connectors.MarketplaceCapabilities{}, 100},
		{config.RateLimit{Requests: 60, Per: time.Minute}, reads, 15},
		{config.RateLimit{Requests: 20, Per: time.Minute}, reads, 5},
		{config.RateLimit{Requests: 2, Per: time.Minute}, reads, 1},
		{config.RateLimit{Requests: 1000, Per: time.Second}, reads, 100},
		{config.RateLimit{}, reads, 100},
	} {
		if got := pageLimit(c.rl, c.caps); got != c.want {
			t.Errorf("pageLimit(%+v, %d calls per thread) = %d, want %d", c.rl, c.caps.CallsPerListedThread, got, c.want)
		}
	}
}
