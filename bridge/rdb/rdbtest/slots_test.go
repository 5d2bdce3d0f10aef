package rdbtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSlotMatchesRedis: the test helper's slot is the one a real Redis
// Cluster computes, hash tags included.
func TestSlotMatchesRedis(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16 check value = %#x, want 0x31c3", got)
	}
	// CLUSTER KEYSLOT of any node; the shared cluster is not flushed, as
	// cmd/bridge's tests may be using it.
	addrs := ClusterAddrs()
	if len(addrs) == 0 {
		Cluster(t) // fails in CI, skips elsewhere
	}
	c := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer c.Close()
	ctx := context.Background()
	keys := []string{"", "a", "foo", "123456789", "{user1000}.following", "{user1000}.followers",
		"foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "asynq:{alerts}:pending", "w:{acme}:o:acme-fr:1", "{", "}{x}", "é{ü}"}
	for i := range 200 {
		keys = append(keys, fmt.Sprintf("key:%d", i))
	}
	for _, k := range keys {
		want, err := c.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := Slot(k); int64(got) != want {
			t.Errorf("Slot(%q) = %d, Redis says %d", k, got, want)
		}
	}
}

// TestSlotCheckFindsCrossSlotWork: the hook reports a transaction and a
// script whose keys span slots, and passes those that keep to one.
func TestSlotCheckFindsCrossSlotWork(t *testing.T) {
	srv := Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	ctx := context.Background()
	rec := &recorder{TB: t}
	check := NewSlotCheck(rec, c)
	hooked := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
	defer hooked.Close()
	hooked.AddHook(check)

	script := redis.NewScript(`return redis.call("SET", KEYS[1], ARGV[1])`)
	if err := script.Run(ctx, hooked, []string{"a:{t}:1", "b:{t}:2"}, "v").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := hooked.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "x:{t}", 1, time.Minute)
		p.MSet(ctx, "y:{t}", 1, "z:{t}", 2)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(rec.errors) != 0 || check.violationCount() != 0 {
		t.Fatalf("one-slot work reported: %v", check.violations)
	}
	if err := script.Run(ctx, hooked, []string{"a:{t}:1", "b:{u}:2"}, "v").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := hooked.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "x:{t}", 1, time.Minute)
		p.MSet(ctx, "y:{t}", 1, "z:{u}", 2)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n := check.violationCount(); n != 2 {
		t.Errorf("%d violations, want 2 (the script and the transaction): %v", n, check.violations)
	}
	check.mu.Lock()
	check.violations = map[string]bool{} // expected ones: do not fail this test
	check.mu.Unlock()
}

func (s *SlotCheck) violationCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.violations)
}

type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// TestSlotCheckCountsCrossSlotErrors: a CROSSSLOT answer from a real
// cluster is recorded too, whatever the hook computed.
func TestSlotCheckCountsCrossSlotErrors(t *testing.T) {
	addrs := ClusterAddrs()
	if len(addrs) == 0 {
		Cluster(t) // fails in CI, skips elsewhere
	}
	// One node, without the cluster client's routing: the node itself
	// refuses a command whose keys span slots.
	node := redis.NewClient(&redis.Options{Addr: addrs[0]})
	defer node.Close()
	check := NewSlotCheck(&recorder{TB: t}, node)
	node.AddHook(check)
	err := node.MGet(context.Background(), "crossslot:a", "crossslot:b").Err()
	if err == nil || check.violationCount() != 1 {
		t.Errorf("MGET across slots: %v, %d violations recorded, want a CROSSSLOT error recorded", err, check.violationCount())
	}
	check.mu.Lock()
	check.violations = map[string]bool{}
	check.mu.Unlock()
}
