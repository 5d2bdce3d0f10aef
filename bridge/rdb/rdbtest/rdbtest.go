// Package rdbtest gives tests a real Redis, the way asynq's own tests do:
// the server at $BRIDGE_TEST_REDIS_ADDR (127.0.0.1:6379 by default), one
// database number per test package, flushed in setup. Packages run in
// parallel, so each takes its own database:
//
//	1 cmd/bridge   2 alerts   3 bridge/events   4 bridge/deadletter
//	5 bridge/ratelimit   6 bridge/jobs   7 cmd/bench   8 cmd/bridge crash test
//	9 widgets   10 bridge/discussions   11 bridge/discussions order sync
//	12 cmd/bridge discussions crash test
//	13 cmd/bridge discussions two-replica test   14 bridge/settle
//	15 cmd/bridge pacing tests
//
// A Redis Cluster has no database numbers: the shared test cluster at
// $BRIDGE_TEST_REDIS_CLUSTER (see Cluster) serves cmd/bridge's cluster
// tests alone, one after the other, each flushing every master; tests that
// kill nodes start a cluster of their own (StartCluster). SlotCheck fails
// a test whose scripts or transactions span hash slots.
package rdbtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"syscall"
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

// Server is a redis-server process of one test's own, for tests that
// freeze, kill or pause Redis, which the shared server must not suffer.
type Server struct {
	cmd  *exec.Cmd
	Addr string
}

// Start runs a redis-server on a free loopback port until the test ends.
// Without redis-server on PATH the test fails in CI and is skipped
// elsewhere.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("BRIDGE_TEST_REDIS_ADDR") != "" {
			tb.Fatal("redis-server is not on PATH")
		}
		tb.Skip("redis-server is not on PATH")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_ = l.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tb.TempDir())
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	s := &Server{cmd: cmd, Addr: "127.0.0.1:" + port}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return s
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s did not start: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the server's redis:// URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Signal sends sig to the server: SIGSTOP freezes it, SIGCONT thaws it,
// SIGKILL kills it.
func (s *Server) Signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}
