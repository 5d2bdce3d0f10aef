package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// failoverGoal is the issue's: the bridge accepts events again, and
// processes them, within 5 s of the cluster's recovery.
const failoverGoal = 5 * time.Second

// failoverNodeTimeout is the throwaway cluster's cluster-node-timeout: a
// second, so that the replica takes over within seconds (production's
// default, 15 s, delays the promotion, not the bridge's part).
const failoverNodeTimeout = time.Second

// failoverSenders post events back to back, failoverGap apart each.
const (
	failoverSenders = 2
	failoverGap     = 20 * time.Millisecond
)

// failoverResult is the failover phase's timeline and counts.
type failoverResult struct {
	victim    string        // the master killed, which held the alerts queue
	queue     string        // the bench merchant's alerts queue
	detected  time.Duration // kill to a surviving node reporting cluster_state:fail (0: never seen)
	promotion time.Duration // kill to cluster_state:ok everywhere, the queue's slot on a new master
	// From the cluster's recovery (negative: before it): the bridge's
	// first 202 after the outage's first refusal, its /readyz's first
	// 200, and the first alert ticket of an event accepted after the kill.
	accepting, ready, processed time.Duration
	readySeen                   bool
	outage                      time.Duration // the kill to the first 202 after the first refusal
	slowest                     time.Duration // the longest a refused post waited for its answer
	// Events: posted (distinct), answered 202 the first time, refused with
	// 503 and otherwise (other statuses, transport errors) before being
	// posted again after the recovery, when every one was accepted.
	posted, accepted, refused503, refusedOther int
	// Tickets in the fake: events with none, and with more than one.
	missing, duplicated int
	warnings, errors    int
}

// recovery is how long after the cluster's recovery the bridge was back:
// accepting events and processing them, whichever came last.
func (f *failoverResult) recovery() time.Duration { return max(f.accepting, f.processed, 0) }

// failoverPhase starts a throwaway Redis Cluster of 3 masters and 3
// replicas, runs the bridge on it, and posts alerts continuously while it
// kills -9 the master holding the bench merchant's alerts queue.
func (r *rig) failoverPhase(ctx context.Context) (*failoverResult, error) {
	cl, err := startCluster(ctx, r.dir, r.o.failoverPort, failoverNodeTimeout)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	fake, err := serveFake(gorgiasfake.Options{Unthrottled: true}, r.apiKey)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	yml, _, err := r.renderConfig(addr, fake.url, unpaced, "")
	if err != nil {
		return nil, err
	}
	single := fmt.Sprintf("  url: \"redis://%s/%d\"\n", r.o.redisAddr, benchDB)
	if !strings.Contains(yml, single) {
		return nil, fmt.Errorf("failover: the bench configuration has no redis url to replace")
	}
	yml = strings.Replace(yml, single, "  addrs: ["+strings.Join(cl.addrs, ", ")+"]\n", 1) +
		fmt.Sprintf("worker:\n  queue_shards: %d\n", balanceShards)
	env := r.env()
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("failover configuration: %w", err)
	}
	b, err := r.launch(ctx, bridgeChild, "failover", addr, yml, cfg, env, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
	if err != nil {
		return nil, err
	}
	defer b.stop()
	helpdesk := cfg.Merchants[0].Helpdesks[0].ID
	queue := jobs.Shards(balanceShards).Queue(alerts.Queue, helpdesk)
	ext := func(id string) string {
		return alerts.RaisePayload{Merchant: benchMerchant, EventID: id, Account: helpdesk}.ExternalID()
	}

	// Events posted continuously from here on, as senders would.
	p := newFailoverPoster(b.url, r.secret)
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopPosting := func() { stopOnce.Do(func() { close(stop) }) }
	var posting sync.WaitGroup
	defer posting.Wait()
	defer stopPosting()
	for range failoverSenders {
		posting.Go(func() { p.run(ctx, stop) })
	}
	r.logf("failover: posting alerts on a 3+3 cluster (cluster-node-timeout %s) until the bridge raises tickets", failoverNodeTimeout)
	if _, _, err := fake.waitTickets(ctx, b, 20, 30*time.Second); err != nil {
		return nil, err
	}

	res := &failoverResult{queue: queue}
	probe := redis.NewClient(&redis.Options{Addr: cl.addrs[0], MaxRetries: -1})
	defer probe.Close()
	res.victim, err = clusterMasterOf(ctx, probe, "asynq:{"+queue+"}:pending")
	if err != nil {
		return nil, err
	}
	survivors := slices.DeleteFunc(slices.Clone(cl.addrs), func(a string) bool { return a == res.victim })
	r.logf("failover: kill -9 of master %s, which holds the alerts queue %s", res.victim, queue)
	killed := time.Now()
	if err := cl.kill(res.victim); err != nil {
		return nil, err
	}

	// Until the cluster is whole again: every survivor says ok and the
	// queue's slot has a master other than the dead one.
	var recovered time.Time
	for deadline := killed.Add(time.Minute); recovered.IsZero(); {
		ok, failed := clusterRecovered(ctx, survivors, "asynq:{"+queue+"}:pending", res.victim)
		if failed && res.detected == 0 {
			res.detected = time.Since(killed)
		}
		if ok {
			recovered = time.Now()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, errors.Join(ctx.Err(), fmt.Errorf("failover: the cluster did not recover within a minute of the kill"))
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	res.promotion = recovered.Sub(killed)
	r.logf("failover: the cluster was ok again %s after the kill", res.promotion.Round(10*time.Millisecond))

	// The bridge's side: /readyz and the posts, for up to 20 s.
	readyClient := &http.Client{Timeout: time.Second}
	for deadline := recovered.Add(20 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if !res.readySeen {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/readyz", nil)
			if resp, err := readyClient.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					res.readySeen, res.ready = true, time.Since(recovered)
				}
			}
		}
		if _, back := p.resumedAfter(killed); back && res.readySeen && time.Since(recovered) > 2*time.Second {
			break
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	stopPosting()
	posting.Wait()
	if _, refused := p.firstRefusalAfter(killed); !refused {
		return nil, b.explain(fmt.Errorf("failover: no event was refused after the kill of the alerts queue's master"))
	}
	resumed, ok := p.resumedAfter(killed)
	if !ok {
		return nil, b.explain(fmt.Errorf("failover: the bridge accepted no event within 20 s of the cluster's recovery"))
	}
	res.accepting = resumed.Sub(recovered)
	res.outage = resumed.Sub(killed)

	// A refused event is posted again, as its sender would; then every
	// event must have exactly one ticket.
	if err := p.retryRefused(ctx, 30*time.Second); err != nil {
		return nil, b.explain(err)
	}
	evs := p.all()
	res.posted = len(evs)
	for _, e := range evs {
		switch {
		case e.first == http.StatusAccepted:
			res.accepted++
		case e.first == http.StatusServiceUnavailable:
			res.refused503++
		default:
			res.refusedOther++
		}
		if e.first != http.StatusAccepted {
			res.slowest = max(res.slowest, e.answered.Sub(e.sent))
		}
	}
	// A task a worker had taken from the dead master when it died is in
	// the promoted replica's active list, and Asynq gives it to another
	// worker only once its lease (30 s) ran out and its recoverer (every
	// minute) saw it: such a last ticket may come 90 s after the kill.
	if _, _, err := fake.waitTickets(ctx, b, len(evs), 2*time.Minute); err != nil {
		return nil, err
	}
	sleepCtx(ctx, time.Second) // a duplicate would come late
	var firstAfter time.Time
	for _, e := range evs {
		if !e.acceptedAt.After(killed) {
			continue
		}
		if at, ok := fake.createdAt(ext(e.id)); ok && (firstAfter.IsZero() || at.Before(firstAfter)) {
			firstAfter = at
		}
	}
	if firstAfter.IsZero() {
		return nil, fmt.Errorf("failover: no ticket for the events accepted after the kill")
	}
	res.processed = firstAfter.Sub(recovered)
	tickets := map[string]int{}
	for _, t := range fake.Tickets() {
		tickets[t.ExternalID]++
	}
	for _, e := range evs {
		switch n := tickets[ext(e.id)]; {
		case n == 0:
			res.missing++
		case n > 1:
			res.duplicated++
		}
	}
	res.warnings, res.errors = b.logs.warnings(), b.logs.errors()
	return res, nil
}

// failoverEvent is one event of the stream: its first answer, and when it
// was finally accepted.
type failoverEvent struct {
	id         string
	ev         signedEvent
	first      int       // the first answer's status; 0 for a transport error
	sent       time.Time // the first post
	answered   time.Time // the first answer
	acceptedAt time.Time // zero until an answer accepted it
}

// failoverPoster posts fresh alerts until stopped, and keeps every answer.
type failoverPoster struct {
	url, secret string
	client      *http.Client
	next        atomic.Int64
	mu          sync.Mutex
	evs         []*failoverEvent
}

func newFailoverPoster(url, secret string) *failoverPoster {
	return &failoverPoster{url: url, secret: secret, client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: failoverSenders},
	}}
}

// run posts until stop is closed; a post under way is seen to its answer.
func (p *failoverPoster) run(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		n := p.next.Add(1)
		ev := newEvents(fmt.Sprintf("fo%d", n), 1, p.secret)[0]
		e := &failoverEvent{id: fmt.Sprintf("evt-fo%d-0", n), ev: ev}
		e.sent = time.Now()
		code, accepted := p.post(ctx, ev)
		e.first, e.answered = code, time.Now()
		if accepted {
			e.acceptedAt = e.answered
		}
		p.mu.Lock()
		p.evs = append(p.evs, e)
		p.mu.Unlock()
		sleepCtx(ctx, failoverGap)
	}
}

// post sends one event: its status (0 for a transport error), and whether
// the bridge accepted it, now or in an earlier delivery.
func (p *failoverPoster) post(ctx context.Context, ev signedEvent) (int, bool) {
	req, err := eventRequest(ctx, p.url, ev)
	if err != nil {
		return 0, false
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, false
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	var res events.Result
	ok := resp.StatusCode/100 == 2 && json.Unmarshal(bytes.TrimSpace(raw), &res) == nil && (res.Status == "accepted" || res.Status == "duplicate")
	return resp.StatusCode, ok
}

// firstRefusalAfter is the first answer after t that did not accept its
// event.
func (p *failoverPoster) firstRefusalAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, e := range p.evs {
		if e.answered.After(t) && e.acceptedAt.IsZero() && (first.IsZero() || e.answered.Before(first)) {
			first = e.answered
		}
	}
	return first, !first.IsZero()
}

// resumedAfter is the first acceptance after the first refusal after t.
func (p *failoverPoster) resumedAfter(t time.Time) (time.Time, bool) {
	refused, ok := p.firstRefusalAfter(t)
	if !ok {
		return time.Time{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, e := range p.evs {
		if e.acceptedAt.After(refused) && (first.IsZero() || e.acceptedAt.Before(first)) {
			first = e.acceptedAt
		}
	}
	return first, !first.IsZero()
}

// retryRefused posts every refused event again until it is accepted.
func (p *failoverPoster) retryRefused(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, e := range p.all() {
		for e.acceptedAt.IsZero() {
			if time.Now().After(deadline) {
				return fmt.Errorf("failover: event %s still refused %s after the posting stopped", e.id, within)
			}
			if _, ok := p.post(ctx, e.ev); ok {
				p.mu.Lock()
				e.acceptedAt = time.Now()
				p.mu.Unlock()
				break
			}
			sleepCtx(ctx, 100*time.Millisecond)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

func (p *failoverPoster) all() []failoverEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]failoverEvent, len(p.evs))
	for i, e := range p.evs {
		out[i] = *e
	}
	return out
}

// clusterMasterOf is the address of the master serving key's slot, as the
// node c talks to sees it.
func clusterMasterOf(ctx context.Context, c *redis.Client, key string) (string, error) {
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

// clusterRecovered tells whether every node in addrs reports
// cluster_state:ok and sees key's slot served by a master other than dead,
// and whether any reported cluster_state:fail.
func clusterRecovered(ctx context.Context, addrs []string, key, dead string) (ok, failed bool) {
	ok = true
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			ok = false
			failed = failed || strings.Contains(info, "cluster_state:fail")
		} else if m, err := clusterMasterOf(ctx, c, key); err != nil || m == dead {
			ok = false
		}
		_ = c.Close()
	}
	return ok, failed
}

// errNoRedisServer: the failover phase needs redis-server and redis-cli.
var errNoRedisServer = errors.New("redis-server or redis-cli is not on PATH (Debian: apt-get install redis-server redis-tools)")

// benchCluster is a Redis Cluster of the bench's own: 3 masters and 3
// replicas, for the failover phase, whose nodes it kills.
type benchCluster struct {
	addrs []string
	procs map[string]*exec.Cmd
}

// startCluster starts 6 nodes on free loopback ports, from port on (0: a
// range picked by the process id), makes them a cluster of 3 masters with
// a replica each, and waits until it is healthy.
func startCluster(ctx context.Context, dir string, port int, nodeTimeout time.Duration) (*benchCluster, error) {
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 != nil || err2 != nil {
		return nil, errNoRedisServer
	}
	if port == 0 {
		port = 30000 + os.Getpid()%5000
	}
	cl := &benchCluster{procs: map[string]*exec.Cmd{}}
	ok := false
	defer func() {
		if !ok {
			cl.stop()
		}
	}()
	for ; len(cl.addrs) < 6 && port < 40000; port++ {
		if !portFree(port) || !portFree(port+10000) {
			continue
		}
		nodeDir := filepath.Join(dir, fmt.Sprintf("cluster-%d", port))
		if err := os.MkdirAll(nodeDir, 0o700); err != nil {
			return nil, err
		}
		cmd := exec.Command(server, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(nodeDir, "nodes.conf"),
			"--cluster-node-timeout", fmt.Sprint(nodeTimeout.Milliseconds()),
			// A replica syncs at once: one that never synced would not
			// take over.
			"--repl-diskless-sync-delay", "0",
			"--save", "", "--appendonly", "no", "--dir", nodeDir, "--logfile", filepath.Join(nodeDir, "redis.log"))
		cmd.SysProcAttr = childProcAttr()
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("failover: start redis-server: %w", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		cl.addrs = append(cl.addrs, addr)
		cl.procs[addr] = cmd
	}
	if len(cl.addrs) < 6 {
		return nil, fmt.Errorf("failover: no free ports for a cluster")
	}
	for _, addr := range cl.addrs {
		if err := waitListening(ctx, addr, 10*time.Second); err != nil {
			return nil, err
		}
	}
	args := append([]string{"--cluster", "create"}, cl.addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("failover: redis-cli --cluster create: %w\n%s", err, out)
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if clusterHealthy(hctx, cl.addrs) {
			break
		}
		if hctx.Err() != nil {
			return nil, fmt.Errorf("failover: the cluster did not become healthy within 30 s")
		}
		sleepCtx(hctx, 50*time.Millisecond)
	}
	ok = true
	return cl, nil
}

// clusterHealthy tells whether every node reports cluster_state:ok and
// every replica is in sync with its master.
func clusterHealthy(ctx context.Context, addrs []string) bool {
	masters := 0
	for _, addr := range addrs {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		info, err1 := c.ClusterInfo(ctx).Result()
		repl, err2 := c.Info(ctx, "replication").Result()
		_ = c.Close()
		if err1 != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return false
		}
		if strings.Contains(repl, "role:master") {
			masters++
		}
	}
	return masters == 3
}

// kill kills the node at addr with SIGKILL, as a crash does.
func (c *benchCluster) kill(addr string) error {
	cmd, ok := c.procs[addr]
	if !ok {
		return fmt.Errorf("failover: no node %s", addr)
	}
	delete(c.procs, addr)
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	_ = cmd.Wait()
	return nil
}

func (c *benchCluster) stop() {
	for addr := range c.procs {
		_ = c.kill(addr)
	}
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

func waitListening(ctx context.Context, addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("failover: redis-server on %s did not start: %w", addr, err)
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
}

func (f *failoverResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(i) failover: the bridge on a Redis Cluster of its own, 3 masters and 3 replicas (cluster-node-timeout %s), queue_shards %d; %d senders post alerts every %s each; kill -9 of master %s, which held the alerts queue %s\n",
		failoverNodeTimeout, balanceShards, failoverSenders, failoverGap, f.victim, f.queue)
	detected := "not seen"
	if f.detected > 0 {
		detected = fmt.Sprintf("after %s", fmtDur(f.detected))
	}
	fmt.Fprintf(w, "  replica promoted, cluster_state:ok on every node: %s after the kill (cluster_state:fail seen %s)\n", fmtDur(f.promotion), detected)
	ready := "never within 20 s"
	if f.readySeen {
		ready = signedDur(f.ready)
	}
	fmt.Fprintf(w, "  after the cluster's recovery: first event accepted (202) %s, first alert of an event accepted after the kill processed %s, /readyz 200 %s\n",
		signedDur(f.accepting), signedDur(f.processed), ready)
	fmt.Fprintf(w, "  no event accepted for %s after the kill: %d answered 503, %d otherwise, each within %s\n", fmtDur(f.outage), f.refused503, f.refusedOther, fmtDur(f.slowest))
	verdict := "PASS"
	if f.recovery() > failoverGoal {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "  recovery (accepting and processing) %s / goal %s  ratio %.3f  %s (goal <= 1)   <- headline\n",
		fmtDur(f.recovery()), failoverGoal, float64(f.recovery())/float64(failoverGoal), verdict)
	delivery := "PASS"
	if f.missing+f.duplicated > 0 {
		delivery = "FAIL"
	}
	fmt.Fprintf(w, "  delivery: %d events posted, %d accepted at once, the %d refused posted again after the recovery and accepted; tickets: %d missing, %d duplicated  %s (exactly once)\n",
		f.posted, f.accepted, f.refused503+f.refusedOther, f.missing, f.duplicated, delivery)
	fmt.Fprintf(w, "  bridge log: %d warnings, %d errors\n", f.warnings, f.errors)
}

// signedDur prints d, or how much earlier for a negative d.
func signedDur(d time.Duration) string {
	if d < 0 {
		return fmtDur(-d) + " before"
	}
	return "after " + fmtDur(d)
}
