// Package rdbtest gives tests a real Redis, the way asynq's own tests do:
// the server at $BRIDGE_TEST_REDIS_ADDR (127.0.0.1:6379 by default), one
// database number per test package, flushed in setup. Packages run in
// parallel, so each takes its own database:
//
//	1 cmd/bridge   2 alerts   3 bridge/events   4 bridge/deadletter
//	5 bridge/ratelimit   6 bridge/jobs   7 cmd/bench   8 cmd/bridge crash test
//	9 widgets   10-15 free
package rdbtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the test server's address.
func Addr() string {
	if a := os.Getenv("BRIDGE_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// URL is the redis:// URL of database db on the test server.
func URL(db int) string { return fmt.Sprintf("redis://%s/%d", Addr(), db) }

// Client returns a client on database db, flushed. Without a reachable
// server the test fails in CI and is skipped elsewhere.
func Client(tb testing.TB, db int) *redis.Client {
	tb.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(), DB: db})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if os.Getenv("CI") != "" || os.Getenv("BRIDGE_TEST_REDIS_ADDR") != "" {
			tb.Fatalf("test Redis at %s: %v", Addr(), err)
		}
		tb.Skipf("no Redis at %s (set BRIDGE_TEST_REDIS_ADDR, or run make test): %v", Addr(), err)
	}
	if err := c.FlushDB(ctx).Err(); err != nil {
		tb.Fatalf("flush test Redis db %d: %v", db, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}
