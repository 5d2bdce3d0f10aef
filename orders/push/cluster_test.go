package push_test

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

// keyFamilies are push's key layouts as README documents them (P being
// "test:" here): cmd/bridge's cluster test lists them too, unprefixed.
var keyFamilies = []*regexp.Regexp{
	regexp.MustCompile(`^test:push:\{[a-z0-9-]+\}:subs$`),
	regexp.MustCompile(`^test:push:\{[a-z0-9-]+:[a-z0-9_-]+\}(:ev|:pending|:orders|:own|:ids|:log|:logev|:dl)?$`),
	regexp.MustCompile(`^asynq:(\{[^{}]+\}:.+|queues|servers|workers|servers:\{[^{}]+\}|workers:\{[^{}]+\})$`),
}

// TestKeysOnACluster runs the whole life of a subscription on a Redis
// Cluster of its own (the shared one is cmd/bridge's), with a hook that
// fails the test when a script's or a transaction's keys span hash slots,
// then checks that every key fits a documented layout.
func TestKeysOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cs := rdbtest.StartCluster(t, 2*time.Second)
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cs.Addrs, ClusterStateReloadInterval: time.Second})
	t.Cleanup(func() { _ = c.Close() })
	check := rdbtest.NewSlotCheck(t, c)
	c.AddHook(check)

	h := newHarness(t, harnessOptions{limits: fastLimits, redis: c})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	t0 := h.clock.Now()
	for _, o := range []string{"FR-1", "FR-2", "FR-3"} {
		h.publish(o+"-a", "acme-fr", o)
		h.publish(o+"-b", "acme-fr", o)
	}
	waitFor(t, "six events", func() bool { return h.get(s.ID).Counts.Delivered == 6 })
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions/"+s.ID+"/replay", acmeToken, map[string]string{"since": t0.Format(time.RFC3339)}, nil); status != http.StatusAccepted {
		t.Fatalf("replay: %d %s", status, raw)
	}
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions/"+s.ID+"/resume", acmeToken, nil, nil); status != http.StatusAccepted {
		t.Fatalf("resume: %d %s", status, raw)
	}
	waitFor(t, "the replay", func() bool {
		g := h.get(s.ID)
		return g.State == push.StateActive && g.Counts.Delivered == 12
	})
	r.set(func(r *receiver) { r.fail = http.StatusBadGateway })
	h.publish("FR-1-c", "acme-fr", "FR-1")
	waitFor(t, "a failure", func() bool { return h.get(s.ID).Counts.Failed >= 1 })
	if check.Checked() == 0 {
		t.Error("the slot check saw no script")
	}

	var mu sync.Mutex
	var odd []string
	ctx := context.Background()
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		iter := m.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			known := false
			for _, f := range keyFamilies {
				known = known || f.MatchString(iter.Val())
			}
			if !known {
				mu.Lock()
				odd = append(odd, iter.Val())
				mu.Unlock()
			}
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string(nil), odd); diff != "" {
		t.Errorf("keys that fit no documented layout (-want +got):\n%s", diff)
	}
	if status, _ := h.call(http.MethodDelete, "/v1/orders/subscriptions/"+s.ID, acmeToken, nil, nil); status != http.StatusNoContent {
		t.Errorf("delete: %d", status)
	}
}
