package rdbtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterAddrs are the nodes of the shared test cluster, from
// $BRIDGE_TEST_REDIS_CLUSTER (host:port,host:port,...; .ci/with-cluster
// sets it), or nil.
func ClusterAddrs() []string {
	v := os.Getenv("BRIDGE_TEST_REDIS_CLUSTER")
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// Cluster returns a client of the shared test cluster with every master
// flushed: a cluster has no database numbers, so the tests that use it run
// one after the other, all in one package (cmd/bridge). Without a cluster
// the test fails in CI and is skipped elsewhere.
func Cluster(tb testing.TB) *redis.ClusterClient {
	tb.Helper()
	addrs := ClusterAddrs()
	if len(addrs) == 0 {
		if os.Getenv("CI") != "" {
			tb.Fatal("BRIDGE_TEST_REDIS_CLUSTER is not set (run make test, which starts .ci/with-cluster)")
		}
		tb.Skip("no test cluster (set BRIDGE_TEST_REDIS_CLUSTER, or run make test)")
	}
	return FlushedCluster(tb, addrs)
}

// FlushedCluster returns a client of the cluster at addrs, every master
// flushed.
func FlushedCluster(tb testing.TB, addrs []string) *redis.ClusterClient {
	tb.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Second})
	tb.Cleanup(func() { _ = c.Close() })
	FlushCluster(tb, c)
	return c
}

// FlushCluster empties every master of c.
func FlushCluster(tb testing.TB, c *redis.ClusterClient) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		return m.FlushAll(ctx).Err()
	})
	if err != nil {
		tb.Fatalf("flush the test cluster: %v", err)
	}
}

// ClusterServer is a Redis Cluster of one test's own, 3 masters and 3
// replicas on free loopback ports, for tests that kill nodes, which the
// shared cluster must not suffer.
type ClusterServer struct {
	Addrs  []string
	server string
	procs  map[string]*exec.Cmd
	args   map[string][]string
	mu     sync.Mutex
}

// StartCluster starts a cluster whose nodes consider a silent peer failed
// after nodeTimeout, and waits until it is healthy; it is stopped when the
// test ends. Without redis-server and redis-cli the test fails in CI and
// is skipped elsewhere.
func StartCluster(tb testing.TB, nodeTimeout time.Duration) *ClusterServer {
	tb.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			tb.Fatal("redis-server and redis-cli must be on PATH")
		}
		tb.Skip("redis-server or redis-cli is not on PATH")
	}
	s := &ClusterServer{server: server, procs: map[string]*exec.Cmd{}, args: map[string][]string{}}
	tb.Cleanup(s.killAll)
	// A node whose cluster bus port (its port + 10,000) another process
	// took in the meantime, often as a connection's local port, exits at
	// start: the cluster is then made again on other ports.
	for attempt := 1; ; attempt++ {
		out, err := s.create(tb, cli, nodeTimeout)
		if err == nil {
			break
		}
		if attempt == 3 {
			tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
		}
		tb.Logf("redis-cli --cluster create: %v; again on other ports", err)
		s.killAll()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.WaitHealthy(ctx, s.Addrs); err != nil {
		tb.Fatal(err)
	}
	return s
}

// create starts six nodes on free ports and makes them a cluster of
// three masters with a replica each.
func (s *ClusterServer) create(tb testing.TB, cli string, nodeTimeout time.Duration) ([]byte, error) {
	tb.Helper()
	s.Addrs = nil
	for _, port := range freeClusterPorts(tb, 6) {
		dir := tb.TempDir()
		args := []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", dir + "/nodes.conf",
			"--cluster-node-timeout", fmt.Sprint(nodeTimeout.Milliseconds()),
			// A replica's first sync at once, not after the 5 s that
			// diskless sync waits for more replicas by default: a replica
			// that never synced refuses to take over.
			"--repl-diskless-sync-delay", "0",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", dir + "/redis.log"}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		s.Addrs = append(s.Addrs, addr)
		s.args[addr] = args
		s.startNode(tb, addr)
	}
	for _, addr := range s.Addrs {
		if err := listening(addr); err != nil {
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, s.Addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	return exec.Command(cli, args...).CombinedOutput()
}

// killAll stops every node.
func (s *ClusterServer) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for addr, cmd := range s.procs {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		delete(s.procs, addr)
	}
}

func (s *ClusterServer) startNode(tb testing.TB, addr string) {
	tb.Helper()
	cmd := exec.Command(s.server, s.args[addr]...)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s.mu.Lock()
	s.procs[addr] = cmd
	s.mu.Unlock()
}

// Kill kills the node at addr with SIGKILL, as a crash does.
func (s *ClusterServer) Kill(tb testing.TB, addr string) {
	tb.Helper()
	s.mu.Lock()
	cmd, ok := s.procs[addr]
	delete(s.procs, addr)
	s.mu.Unlock()
	if !ok {
		tb.Fatalf("no node %s", addr)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Restart starts a killed node again, empty (it keeps no data files) but
// with its cluster configuration: it rejoins as a replica of whichever
// node took its slots over, and syncs from it.
func (s *ClusterServer) Restart(tb testing.TB, addr string) {
	tb.Helper()
	s.startNode(tb, addr)
	waitListening(tb, addr)
}

// Masters are the addresses of the nodes that serve slots, as the first
// node in addrs that answers sees them.
func (s *ClusterServer) Masters(ctx context.Context, addrs []string) ([]string, error) {
	var last error
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		ranges, err := c.ClusterSlots(ctx).Result()
		_ = c.Close()
		if err != nil {
			last = err
			continue
		}
		var out []string
		for _, r := range ranges {
			if len(r.Nodes) > 0 && !slices.Contains(out, r.Nodes[0].Addr) {
				out = append(out, r.Nodes[0].Addr)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("no node answered CLUSTER SLOTS: %w", last)
}

// WaitHealthy waits until every node in addrs answers cluster_state:ok and
// every replica among them is in sync with its master.
func (s *ClusterServer) WaitHealthy(ctx context.Context, addrs []string) error {
	var last error
	for {
		if last = healthy(ctx, addrs); last == nil {
			if last = synced(ctx, addrs); last == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the test cluster is not healthy: %w", last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Healthy checks once that every node in addrs answers cluster_state:ok.
func (s *ClusterServer) Healthy(ctx context.Context, addrs []string) error {
	return healthy(ctx, addrs)
}

func healthy(ctx context.Context, addrs []string) error {
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		info, err := c.ClusterInfo(ctx).Result()
		_ = c.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%s: cluster_state is not ok", addr)
		}
	}
	return nil
}

func synced(ctx context.Context, addrs []string) error {
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		info, err := c.Info(ctx, "replication").Result()
		_ = c.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", addr, err)
		}
		if strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("%s: the replica is not in sync with its master", addr)
		}
	}
	return nil
}

// MasterOf is the address of the master that serves key's slot, as the
// node at via sees it.
func MasterOf(ctx context.Context, via, key string) (string, error) {
	c := redis.NewClient(&redis.Options{Addr: via, MaxRetries: -1})
	defer c.Close()
	slot, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, r := range ranges {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("no master serves slot %d", slot)
}

// portMu and nextPort hand out ports within this process: two clusters
// started by one test binary would otherwise both find the same ports
// free before either bound them. Each process starts in its own block of
// 200 ports, so that test binaries running side by side rarely probe the
// same ones.
// Test clusters' ports: from 20,000 to 22,767, so that their bus ports
// (10,000 higher) stay below Linux's ephemeral ports (32,768 and up),
// which any connection may take as its local port. Each test process
// starts in its own part of the range.
const (
	firstClusterPort = 20000
	lastClusterPort  = 22767
)

var (
	portMu   sync.Mutex
	nextPort = firstClusterPort + os.Getpid()%13*200
)

// freeClusterPorts finds n ports that are free, as are their cluster bus
// ports (10000 higher), and that no other cluster of this process took.
func freeClusterPorts(tb testing.TB, n int) []int {
	tb.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	var out []int
	for tries := 0; tries < 10000 && len(out) < n; tries++ {
		if nextPort > lastClusterPort {
			nextPort = firstClusterPort
		}
		if free(nextPort) && free(nextPort+10000) {
			out = append(out, nextPort)
		}
		nextPort++
	}
	if len(out) < n {
		tb.Fatal("no free ports for a test cluster")
	}
	return out
}

func free(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func waitListening(tb testing.TB, addr string) {
	tb.Helper()
	if err := listening(addr); err != nil {
		tb.Fatal(err)
	}
}

// listening waits up to 10 s for a server to listen at addr.
func listening(addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s did not start: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
