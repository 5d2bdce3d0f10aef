package rdb

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
)

// TestEmbeddedRedisIsPrivateToTheProcess: the embedded Redis holds every
// customer's orders, so no other local user may reach it: a client without
// the password the bridge made is refused. Big pipelines go through too.
func TestEmbeddedRedisIsPrivateToTheProcess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := Open(ctx, config.Redis{}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Client.Set(ctx, "k", "customer data", 0).Err(); err != nil {
		t.Fatalf("the bridge's own client: %v", err)
	}
	if got := conn.Client.Get(ctx, "k").Val(); got != "customer data" {
		t.Fatalf("GET = %q", got)
	}
	// A transaction larger than a socket read, as a widget rebuild is.
	big := strings.Repeat("x", 64<<10)
	if _, err := conn.Client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 8 {
			p.Set(ctx, fmt.Sprintf("big%d", i), big, 0)
		}
		return nil
	}); err != nil {
		t.Fatalf("a 512 KiB transaction: %v", err)
	}
	// Pub/sub, which asynq uses to cancel tasks, goes through too.
	sub := conn.Client.Subscribe(ctx, "ch")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	if addr := conn.Embedded.Addr(); addr == "" {
		t.Log("the embedded Redis listens on no address")
	} else {
		outsider := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer outsider.Close()
		if v, err := outsider.Get(ctx, "k").Result(); err == nil {
			t.Fatalf("a client with no password read %q from the embedded Redis at %s", v, addr)
		}
	}
}

// TestEveryClientKindHonoursDeadlines: single node, Cluster and Sentinel
// clients are all built with ContextTimeoutEnabled, without which go-redis
// ignores a context's deadline until its own socket timeouts.
func TestEveryClientKindHonoursDeadlines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  config.Redis
	}{
		{"single node", config.Redis{URL: "redis://127.0.0.1:1/0"}},
		{"cluster", config.Redis{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}}},
		{"sentinel", config.Redis{Addrs: []string{"127.0.0.1:1"}, MasterName: "main"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := newClient(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var enabled bool
			switch c := c.(type) {
			case *redis.Client:
				enabled = c.Options().ContextTimeoutEnabled
			case *redis.ClusterClient:
				enabled = c.Options().ContextTimeoutEnabled
				// go-redis's default is a minute: after a failover the
				// bridge kept writing to the dead master that long.
				if got := c.Options().ClusterStateReloadInterval; got > 2*time.Second {
					t.Errorf("ClusterStateReloadInterval = %s, want at most 2s", got)
				}
			default:
				t.Fatalf("unexpected client %T", c)
			}
			if !enabled {
				t.Error("ContextTimeoutEnabled is off")
			}
		})
	}
}

// TestFrozenRedis freezes a redis-server of the test's own (SIGSTOP: it
// still accepts connections but never answers, as a hung server does).
// /readyz, which gives Redis a second, answers 503 within 1.5 s, and a
// call without any deadline of its caller fails after CallTimeout, not
// after the socket timeouts and their retries.
func TestFrozenRedis(t *testing.T) {
	srv := rdbtest.Start(t)
	ctx := context.Background()
	conn, err := Open(ctx, config.Redis{URL: srv.URL()}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	e := httpapi.NewEngine(zerolog.Nop(), nil)
	httpapi.Health(e, conn)

	readyz := func() (int, time.Duration) {
		start := time.Now()
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code, time.Since(start)
	}
	if code, _ := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d", code)
	}
	srv.Signal(t, syscall.SIGSTOP)
	defer srv.Signal(t, syscall.SIGCONT)
	for i := range 2 { // the second finds the first's connection still stuck
		code, took := readyz()
		if code != http.StatusServiceUnavailable || took > 1500*time.Millisecond {
			t.Errorf("/readyz %d with Redis frozen: %d after %s, want 503 within 1.5s", i+1, code, took)
		}
	}
	start := time.Now()
	err = conn.Client.Set(ctx, "k", "v", 0).Err()
	took := time.Since(start)
	if err == nil || took > CallTimeout+time.Second {
		t.Errorf("SET with Redis frozen: %v after %s, want an error within %s", err, took, CallTimeout)
	}
}
