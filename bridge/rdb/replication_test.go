package rdb

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// TestReplicationWaitsForAReplica: with a replica, a write counts as done
// only once the replica has it, and writes done before on other
// connections are covered too; a frozen replica makes the wait fail on
// time with ErrNotReplicated; a master without replicas does not wait.
func TestReplicationWaitsForAReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, replica, mc, rc := rdbtest.StartPair(t)
	r := NewReplication(mc, "t:", 0, 500*time.Millisecond, nil, zerolog.Nop())
	if err := r.Check(ctx); err != nil {
		t.Fatal(err)
	}

	// An earlier write on another connection of the pool, then a write
	// through Replication: once it returns, the replica has both.
	if err := mc.Set(ctx, "earlier", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Write(ctx, "k", func(p redis.Pipeliner) { p.Set(ctx, "k", "v", 0) }); err != nil {
		t.Fatalf("Write with a live replica: %v", err)
	}
	for _, k := range []string{"earlier", "k"} {
		if n := rc.Exists(ctx, k).Val(); n != 1 {
			t.Errorf("replica lacks %q right after Write returned", k)
		}
	}

	// A frozen replica stays connected, as far as the master knows, for
	// repl-timeout: the wait times out.
	replica.Signal(t, syscall.SIGSTOP)
	start := time.Now()
	err := r.Write(ctx, "k2", func(p redis.Pipeliner) { p.Set(ctx, "k2", "v", 0) })
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Write with a frozen replica = %v, want ErrNotReplicated", err)
	}
	if took := time.Since(start); took < 450*time.Millisecond || took > 2*time.Second {
		t.Errorf("the wait took %s, want about the 500ms timeout", took)
	}
	if err := r.Do(ctx, "k2"); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Do with a frozen replica = %v, want ErrNotReplicated", err)
	}
	replica.Signal(t, syscall.SIGCONT)
	if err := r.Do(ctx, "k2"); err != nil {
		t.Fatalf("Do once the replica is back: %v", err)
	}
	if n := rc.Exists(ctx, "k2").Val(); n != 1 {
		t.Error("replica lacks k2 after Do returned")
	}

	// A master that lost its replicas: nothing to wait for (auto mode),
	// while a fixed minimum keeps refusing.
	replica.Kill()
	fixed := NewReplication(mc, "t:", 1, 200*time.Millisecond, nil, zerolog.Nop())
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := r.Do(ctx, "k3")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("auto mode still waits after the replica left: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := fixed.Do(ctx, "k3"); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("min_replica_acks 1 without replicas = %v, want ErrNotReplicated", err)
	}
	never := NewReplication(mc, "t:", -1, time.Second, nil, zerolog.Nop())
	if err := never.Write(ctx, "k4", func(p redis.Pipeliner) { p.Set(ctx, "k4", "v", 0) }); err != nil {
		t.Fatal(err)
	}
	if mc.Get(ctx, "k4").Val() != "v" {
		t.Error("min_replica_acks -1 did not write")
	}
}

// TestMarkerSharesTheKeysSlot: the write that gives WAIT something to
// wait for lands in the key's Cluster slot, on the master WAIT goes to.
func TestMarkerSharesTheKeysSlot(t *testing.T) {
	t.Parallel()
	r := &Replication{prefix: "p:"}
	for _, key := range []string{"bridge:dsc:{acme}:in:a:t", "bridge:event:acme:e1", "asynq:{alerts}:pending", "x{}y", "ev:id}", "a{b}c{d}"} {
		// Redis's own CLUSTER KEYSLOT needs cluster mode; the known
		// answers of its documentation check Slot itself.
		if a, b := Slot(key), Slot(r.marker(key)); a != b {
			t.Errorf("marker(%q) = %q: slot %d, want %d", key, r.marker(key), b, a)
		}
	}
	for key, want := range map[string]int{"foo": 12182, "bar": 5061, "hello": 866, "foo{bar}{zap}": 5061, "{hello}.x": 866} {
		if got := Slot(key); got != want {
			t.Errorf("Slot(%q) = %d, want %d", key, got, want)
		}
	}
	// An empty tag hashes the whole key; a tag ends at the first "}".
	if Slot("foo{}{bar}") == Slot("bar") || Slot("foo{{bar}}zap") != Slot("{bar") {
		t.Error("Slot does not follow Redis's hash tag rules")
	}
}
