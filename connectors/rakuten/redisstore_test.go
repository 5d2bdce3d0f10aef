package rakuten_test

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/marketplacetest"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
)

func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	srv := rdbtest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// The contract suite again, each harness on a store of its own account
// on one real Redis.
func TestConformanceOnRedis(t *testing.T) {
	t.Parallel()
	rdb := startRedis(t)
	var n atomic.Int64
	marketplacetest.RunConformanceTests(t, func(t *testing.T) marketplacetest.Harness {
		account := "rk-" + strconv.FormatInt(n.Add(1), 10)
		return startFake(t, setup{client: func(o *rakuten.Options) {
			o.Store = rakuten.NewRedisStore(rdb, "t:", account, nil)
		}})
	})
}

// A new Client on the same Redis, as after a restart, still lists the
// messages the first one read, which getiteminfos marked read and the
// todo list no longer names; and it lists what came since.
func TestRedisStoreKeepsMessagesAcrossARestart(t *testing.T) {
	t.Parallel()
	rdb := startRedis(t)
	h := startFake(t, setup{})
	ctx := t.Context()
	since := time.Now().Add(-time.Hour)
	newClient := func() *rakuten.Client {
		return h.client(t, token, func(o *rakuten.Options) { o.Store = rakuten.NewRedisStore(rdb, "t:", "acct", nil) })
	}
	first := newClient()
	id := seedBuyer(t, h, "700")
	mail := h.AddThread(t, marketplacetest.SeedThread{Message: marketplacetest.SeedMessage{Body: "Rakuten vous écrit.", From: connectors.PartyOperator}})
	page, err := first.ListThreads(ctx, connectors.ThreadQuery{UpdatedSince: since})
	if err != nil || len(page.Threads) != 2 {
		t.Fatalf("first listing: %d threads (%v), want 2", len(page.Threads), err)
	}
	if n := h.fake.Calls(api.ActionGetItemInfos); n != 2 {
		t.Fatalf("%d getiteminfos calls, want 2", n)
	}

	second := newClient() // the restart
	page, err = second.ListThreads(ctx, connectors.ThreadQuery{UpdatedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	if got := threadIDs(page); got != id+" "+mail && got != mail+" "+id {
		t.Fatalf("after the restart: threads %q, want %s and %s", got, id, mail)
	}
	if n := h.fake.Calls(api.ActionGetItemInfos); n != 2 {
		t.Errorf("%d getiteminfos calls, want 2: the todo list no longer names the items", n)
	}

	item, _ := itemOf(t, id)
	if err := h.fake.AddBuyerMessage(login, item, "Toujours rien reçu.", time.Time{}); err != nil {
		t.Fatal(err)
	}
	page, err = newClient().ListThreads(ctx, connectors.ThreadQuery{UpdatedSince: since})
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range page.Threads {
		if th.ID == id && len(th.Messages) != 2 {
			t.Errorf("buyer thread has %d messages, want 2", len(th.Messages))
		}
	}
}

func threadIDs(p connectors.ThreadPage) string {
	var ids []string
	for _, th := range p.Threads {
		ids = append(ids, th.ID)
	}
	return strings.Join(ids, " ")
}

// A slower reader saving an older copy of an item last does not put back
// a copy without the message the faster one read.
func TestRedisStoreKeepsTheNewerItem(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := rakuten.NewRedisStore(startRedis(t), "", "acct", nil)
	t0 := time.Now().Truncate(time.Minute)
	older := rakuten.ItemRecord{ItemID: "1", UpdatedAt: t0, Info: api.ItemInfo{Messages: []api.Message{{Content: "a"}}}}
	newer := rakuten.ItemRecord{ItemID: "1", UpdatedAt: t0, Info: api.ItemInfo{Messages: []api.Message{{Content: "a"}, {Content: "b"}}}}
	latest := rakuten.ItemRecord{ItemID: "1", UpdatedAt: t0.Add(time.Minute), Info: api.ItemInfo{Messages: []api.Message{{Content: "c"}}}}
	for _, step := range []struct {
		save rakuten.ItemRecord
		want int
	}{{newer, 2}, {older, 2}, {latest, 1}, {newer, 1}} {
		if err := s.SaveItem(ctx, step.save); err != nil {
			t.Fatal(err)
		}
		got, err := s.ItemsSince(ctx, t0.Add(-time.Hour))
		if err != nil || len(got) != 1 || len(got[0].Info.Messages) != step.want {
			t.Fatalf("after saving %d messages: %+v (%v), want one item of %d", len(step.save.Info.Messages), got, err, step.want)
		}
	}
	if got, _ := s.ItemsSince(ctx, t0.Add(2*time.Minute)); len(got) != 0 {
		t.Errorf("items since after the latest: %d, want 0", len(got))
	}
}

// Replicas stamping the same order at once agree on one time; a change of
// fingerprint stamps anew.
func TestRedisStoreStampsOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := rakuten.NewRedisStore(startRedis(t), "", "acct", nil)
	base := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	got := make([]time.Time, 20)
	for i := range got {
		wg.Go(func() {
			at, err := s.StampOrder(ctx, "P1", "Accepted|", base.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Error(err)
			}
			got[i] = at
		})
	}
	wg.Wait()
	for _, at := range got {
		if !at.Equal(got[0]) {
			t.Fatalf("stamps differ: %v", got)
		}
	}
	later := base.Add(time.Hour)
	if at, _ := s.StampOrder(ctx, "P1", "Shipped|", later); !at.Equal(later) {
		t.Errorf("new fingerprint stamped %v, want %v", at, later)
	}
	if at, _ := s.StampOrder(ctx, "P1", "Shipped|", later.Add(time.Hour)); !at.Equal(later) {
		t.Errorf("same fingerprint stamped %v, want %v", at, later)
	}
	// A listing that began before the ship was read back, and stamps
	// after it: older news, which neither wins nor records anything.
	stale := later.Add(-time.Minute)
	if at, _ := s.StampOrder(ctx, "P1", "Accepted|", stale); !at.Equal(stale) {
		t.Errorf("stale read stamped %v, want its own time %v", at, stale)
	}
	if at, _ := s.StampOrder(ctx, "P1", "Shipped|", later.Add(2*time.Hour)); !at.Equal(later) {
		t.Errorf("after a stale read the ship's stamp is %v, want %v", at, later)
	}
}

// The same rules in memory.
func TestMemoryStoreIgnoresAStaleRead(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := rakuten.NewMemoryStore()
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	if _, err := s.StampOrder(ctx, "P1", "Shipped|", t0); err != nil {
		t.Fatal(err)
	}
	if at, _ := s.StampOrder(ctx, "P1", "Accepted|", t0.Add(-time.Second)); !at.Equal(t0.Add(-time.Second)) {
		t.Errorf("stale read stamped %v", at)
	}
	if at, _ := s.StampOrder(ctx, "P1", "Shipped|", t0.Add(time.Hour)); !at.Equal(t0) {
		t.Errorf("the ship's stamp is %v, want %v", at, t0)
	}
}

// Every key is under the account's hash tag and expires; the index drops
// items older than RedisKeep.
func TestRedisStoreKeysAreBounded(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb := startRedis(t)
	now := time.Now()
	s := rakuten.NewRedisStore(rdb, "p:", "acct", func() time.Time { return now })
	old := rakuten.ItemRecord{ItemID: "old", UpdatedAt: now.Add(-rakuten.RedisKeep - time.Hour), Info: api.ItemInfo{Messages: []api.Message{{Content: "x"}}}}
	fresh := rakuten.ItemRecord{ItemID: "new", UpdatedAt: now, Info: api.ItemInfo{Messages: []api.Message{{Content: "y"}}}}
	for _, r := range []rakuten.ItemRecord{old, fresh} {
		if err := s.SaveItem(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveSales(ctx, []rakuten.SaleRef{{ItemID: "new", PurchaseID: "P1", BuyerLogin: "b"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveTracking(ctx, "P1", connectors.Tracking{Number: "TN1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StampOrder(ctx, "P1", "f", now); err != nil {
		t.Fatal(err)
	}
	// An item noted as being read, and one noted then read.
	for _, id := range []string{"pending", "done"} {
		if err := s.Reading(ctx, id, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Read(ctx, "done"); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Unread(ctx, 10); err != nil || len(ids) != 1 || ids[0] != "pending" {
		t.Errorf("unread items %v (%v), want the pending one", ids, err)
	}
	if ref, ok, err := s.Sale(ctx, "new"); err != nil || !ok || ref.PurchaseID != "P1" {
		t.Errorf("sale %+v %v %v", ref, ok, err)
	}
	if tr, ok, err := s.Tracking(ctx, "P1"); err != nil || !ok || tr.Number != "TN1" {
		t.Errorf("tracking %+v %v %v", tr, ok, err)
	}
	if n, _ := rdb.ZCard(ctx, "p:rak:{acct}:idx").Result(); n != 1 {
		t.Errorf("index holds %d items, want 1: the old one is trimmed", n)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 7 {
		t.Fatalf("keys %v (%v)", keys, err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "p:rak:{acct}:") {
			t.Errorf("key %s is not under the account's hash tag", k)
		}
		if ttl, _ := rdb.PTTL(ctx, k).Result(); ttl <= 0 || ttl > rakuten.RedisKeep {
			t.Errorf("key %s expires in %v, want at most %v", k, ttl, rakuten.RedisKeep)
		}
	}
}
