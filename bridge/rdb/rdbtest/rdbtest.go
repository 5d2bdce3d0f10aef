// Package rdbtest gives tests a real Redis, the way asynq's own tests do:
// the server at $BRIDGE_TEST_REDIS_ADDR (127.0.0.1:6379 by default), one
// database number per test package, flushed in setup. Packages run in
// parallel, so each takes its own database:
//
//	1 cmd/bridge   2 alerts   3 bridge/events   4 bridge/deadletter
//	5 bridge/ratelimit   6 bridge/jobs   7 cmd/bench   8 cmd/bridge crash test
//	9 orders   10 discussions   11 orders (marketplace sync)
//	12 cmd/bridge discussions crash test
//	13 cmd/bridge discussions two-replica test   14 bridge/settle
//	15 cmd/bridge pacing tests   0 orders/push   16 invoices
//
// (.ci/with-redis starts its server with 32 databases.)
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
	"path/filepath"
	"strings"
	"sync"
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
	Addr string

	bin, dir string
	args     []string
	mu       sync.Mutex
	cmd      *exec.Cmd
}

// Start runs a redis-server on a free loopback port until the test ends,
// with args added to its command line (such as "--replicaof", host,
// port). Without redis-server on PATH the test fails in CI and is skipped
// elsewhere.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	port := FreePort(tb)
	s := &Server{Addr: "127.0.0.1:" + port, bin: bin, dir: tb.TempDir()}
	s.args = append([]string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir}, args...)
	s.start(tb)
	tb.Cleanup(s.stop)
	return s
}

// StartSentinel runs a redis-sentinel on a free loopback port watching
// the master named name at masterAddr, with a quorum of quorum, until the
// test ends. It declares a master down after 1 s without an answer.
func StartSentinel(tb testing.TB, name, masterAddr string, quorum int) *Server {
	tb.Helper()
	bin := lookPath(tb, "redis-server")
	port := FreePort(tb)
	dir := tb.TempDir()
	host, mport, _ := net.SplitHostPort(masterAddr)
	conf := filepath.Join(dir, "sentinel.conf")
	// Sentinel rewrites its file as it learns: it must be its own.
	body := fmt.Sprintf("port %s\nbind 127.0.0.1\ndir %s\nsentinel monitor %s %s %s %d\nsentinel down-after-milliseconds %s 1000\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
		port, dir, name, host, mport, quorum, name, name, name)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		tb.Fatal(err)
	}
	s := &Server{Addr: "127.0.0.1:" + port, bin: bin, dir: dir, args: []string{conf, "--sentinel"}}
	s.start(tb)
	tb.Cleanup(s.stop)
	return s
}

// FreePort returns a loopback port free at the time of the call.
func FreePort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_ = l.Close()
	return port
}

func lookPath(tb testing.TB, name string) string {
	tb.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("BRIDGE_TEST_REDIS_ADDR") != "" {
			tb.Fatalf("%s is not on PATH", name)
		}
		tb.Skipf("%s is not on PATH", name)
	}
	return bin
}

func (s *Server) start(tb testing.TB) {
	tb.Helper()
	cmd := exec.Command(s.bin, s.args...)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("redis-server on %s did not start: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Kill kills the server with SIGKILL and waits for it to exit.
func (s *Server) Kill() { s.stop() }

// Restart starts a killed server again, on the same port and directory.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.start(tb)
}

// Port is the server's port.
func (s *Server) Port() string {
	_, port, _ := net.SplitHostPort(s.Addr)
	return port
}

// Host is the server's host.
func (s *Server) Host() string {
	host, _, _ := net.SplitHostPort(s.Addr)
	return host
}

// URL is the server's redis:// URL for database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Signal sends sig to the server: SIGSTOP freezes it, SIGCONT thaws it,
// SIGKILL kills it.
func (s *Server) Signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if err := cmd.Process.Signal(sig); err != nil {
		tb.Fatal(err)
	}
}

// StartReplica runs a replica of master until the test ends, and returns
// once it is in sync.
func StartReplica(tb testing.TB, master *Server) *Server {
	tb.Helper()
	r := Start(tb, "--replicaof", master.Host(), master.Port())
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, _ := c.Info(context.Background(), "replication").Result()
		if strings.Contains(info, "master_link_status:up") {
			return r
		}
		if time.Now().After(deadline) {
			tb.Fatalf("replica %s of %s did not sync:\n%s", r.Addr, master.Addr, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StartPair runs a master and its replica of the test's own, in sync, and
// returns them with a client of each, closed when the test ends.
func StartPair(tb testing.TB) (master, replica *Server, mc, rc *redis.Client) {
	tb.Helper()
	master = Start(tb)
	replica = StartReplica(tb, master)
	mc = redis.NewClient(&redis.Options{Addr: master.Addr})
	rc = redis.NewClient(&redis.Options{Addr: replica.Addr})
	tb.Cleanup(func() { _ = mc.Close(); _ = rc.Close() })
	return master, replica, mc, rc
}
