package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/orders"
)

// chaosRuns and chaosDuration are the chaos test's form: CI's short one by
// default, `make chaos`'s long one through BRIDGE_CHAOS_RUNS and
// BRIDGE_CHAOS_DURATION.
func chaosForm(t *testing.T) (runs int, workload time.Duration) {
	runs, workload = 1, 40*time.Second
	if v := os.Getenv("BRIDGE_CHAOS_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("BRIDGE_CHAOS_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	if v := os.Getenv("BRIDGE_CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 20*time.Second {
			t.Fatalf("BRIDGE_CHAOS_DURATION=%q: want a duration of at least 20s", v)
		}
		workload = d
	}
	return runs, workload
}

// Three `bridge serve` processes on a Redis Cluster of three masters with
// a replica each (or on a master, a replica and three Sentinels), with
// their queues sharded, under a mixed workload: alerts, order upserts, a
// Mirakl backfill, customers writing, agents replying. Every 10-20 s a
// random bridge is killed (kill -9) and started again; once per run a
// Redis master is killed and its replica takes over. At the end,
// every fake holds exactly what was sent: nothing lost, nothing twice.
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("kills bridges and Redis for a minute or more")
	}
	t.Parallel()
	runs, workload := chaosForm(t)
	for i := range runs {
		t.Run(fmt.Sprintf("run%d", i+1), func(t *testing.T) { chaosRun(t, i+1, workload) })
	}
}

// chaosFigures are one kind of work's totals.
type chaosFigures struct {
	kind                              string
	sent, delivered, duplicated, lost int
}

// chaosRedis is the Redis a chaos run uses: a Cluster of its own by
// default, as the bridge runs beyond one machine, or a master with a
// replica and three Sentinels (BRIDGE_CHAOS_REDIS=sentinel).
type chaosRedis struct {
	opts harnessOptions
	// killMaster kills -9 a master, waits until its replica took over
	// and starts the dead node again, empty, as a replica.
	killMaster func(t *testing.T, run int)
}

func newChaosRedis(t *testing.T) chaosRedis {
	switch kind := os.Getenv("BRIDGE_CHAOS_REDIS"); kind {
	case "sentinel":
		set := startSentinelSet(t)
		return chaosRedis{
			opts: harnessOptions{sentinels: set.addrs(), masterName: set.name},
			killMaster: func(t *testing.T, run int) {
				old := set.master
				old.Kill()
				killedAt := time.Now()
				eventually(t, 30*time.Second, "a Sentinel failover", func() bool { m := set.currentMaster(); return m != "" && m != old.Addr })
				t.Logf("run %d: Redis master killed; replica promoted %s later", run, time.Since(killedAt).Round(100*time.Millisecond))
				// Back, empty, as a replica of the new master: Sentinel makes it one.
				old.Restart(t)
			},
		}
	case "", "cluster":
		cluster := rdbtest.StartCluster(t, time.Second)
		return chaosRedis{
			opts: harnessOptions{cluster: cluster.Addrs, queueShards: 3},
			killMaster: func(t *testing.T, run int) {
				ctx := context.Background()
				masters, err := cluster.Masters(ctx, cluster.Addrs)
				if err != nil {
					t.Fatal(err)
				}
				victim := masters[rand.IntN(len(masters))]
				survivors := slices.DeleteFunc(slices.Clone(cluster.Addrs), func(a string) bool { return a == victim })
				cluster.Kill(t, victim)
				killedAt := time.Now()
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				// Right after the kill the others still think it alive:
				// recovered is when they serve its slots elsewhere.
				eventually(t, 30*time.Second, "the cluster to recover", func() bool {
					now, err := cluster.Masters(wctx, survivors)
					return err == nil && !slices.Contains(now, victim) && cluster.Healthy(wctx, survivors) == nil
				})
				t.Logf("run %d: Redis master %s killed; cluster_state ok again %s later", run, victim, time.Since(killedAt).Round(100*time.Millisecond))
				cluster.Restart(t, victim)
			},
		}
	default:
		t.Fatalf("BRIDGE_CHAOS_REDIS=%q: want cluster or sentinel", kind)
		return chaosRedis{}
	}
}

func chaosRun(t *testing.T, run int, workload time.Duration) {
	rds := newChaosRedis(t)
	// The in-process bridge only serves HTTP: the fake helpdesks' webhooks
	// (agents' replies) go to it. The three killed and restarted children
	// take the events and run every task.
	o := rds.opts
	o.mode, o.clientTimeout, o.maxRetry = ModeAPI, 5*time.Second, 25
	h := newHarness(t, o)
	// The fakes do not throttle: the bridge's own pacing is raised so that
	// the workload, not the vendors' budgets, sets the pace.
	h.tuneChildConfig("        overlap: 1m\n", "        overlap: 1m\n        sync_every: 10s\n",
		gorgiasPaceAt, gorgiasPace(100),
		"        language: fr\n", "        language: fr\n        rate_limit: {requests: 100, per: 1s}\n")
	if o.queueShards > 0 {
		h.tuneChildConfig("worker:\n", fmt.Sprintf("worker:\n  queue_shards: %d\n", o.queueShards))
	}
	seeded := seedThreads(t, h.mkl, 12, time.Now().Add(-2*time.Hour), time.Minute)

	var (
		mu       sync.Mutex
		children = make([]*bridgeChild, 3)
		addrs    = make([]string, 3)
		starts   int
	)
	// startAt starts bridge i. One started while the Redis master is down
	// gives up at start-up, as it should: it is started again.
	startAt := func(i int) {
		for try := 1; ; try++ {
			mu.Lock()
			starts++
			name := fmt.Sprintf("%c%d", 'a'+i, starts)
			mu.Unlock()
			c := h.startBridge(name, "serve")
			var addr string
			deadline := time.Now().Add(20 * time.Second)
			for addr == "" && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				addr = startedAddr(c.logs.String())
			}
			if addr != "" {
				mu.Lock()
				children[i], addrs[i] = c, "http://"+addr
				mu.Unlock()
				return
			}
			_ = c.cmd.Process.Kill() // it may have exited already
			_ = c.cmd.Wait()
			if try == 4 {
				t.Fatalf("bridge %s did not start, 4 times", name)
			}
		}
	}
	for i := range children {
		startAt(i)
	}
	target := func() string {
		mu.Lock()
		defer mu.Unlock()
		return addrs[rand.IntN(len(addrs))]
	}
	alerts := newEventSender(target)
	upserts := newEventSender(target)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	every := func(d time.Duration, fn func(i int)) {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(d):
				}
				fn(i)
			}
		})
	}
	var (
		alertIDs  []string
		orderOf   = map[string][]string{} // customer email → order ids
		unstored  []string
		replies   []string // bodies of the replies the bridge took
		refused   int      // replies whose webhook the bridge did not take
		customers = 10
	)
	// Alerts: two senders, one event each every 400 ms.
	for s := range 2 {
		every(400*time.Millisecond, func(i int) {
			id := fmt.Sprintf("evt-chaos%d-a%d-%d", run, s, i)
			order := fmt.Sprintf("ORD-C%d-%d-%d", run, s, i)
			ok := alerts.deliver(ctx, event(id, "order.action_required", actionRequired(order, "acme-fr")))
			mu.Lock()
			if ok {
				alertIDs = append(alertIDs, id)
			} else {
				unstored = append(unstored, id)
			}
			mu.Unlock()
		})
	}
	// Order upserts, spread over a few customers.
	every(500*time.Millisecond, func(i int) {
		email := fmt.Sprintf("chaos-%d@example.com", i%customers)
		order := fmt.Sprintf("FR-C%d-%d", run, i)
		body := event(fmt.Sprintf("evt-chaos%d-o%d", run, i), orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": order, "updated_at": time.Now().UTC().Format(time.RFC3339),
			"customer": map[string]any{"email": email}, "created_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
			"status": "New", "lines": []map[string]any{{"sku": "MUG-01", "quantity": 1}},
		})
		ok := upserts.deliver(ctx, body)
		mu.Lock()
		if ok {
			orderOf[email] = append(orderOf[email], order)
		} else {
			unstored = append(unstored, order)
		}
		mu.Unlock()
	})
	// Customers write again on some threads.
	every(3*time.Second, func(i int) { addMessages(t, h.mkl, seeded.ids[i%3:], 4) })
	// Agents answer on mirrored tickets.
	every(2*time.Second, func(i int) {
		tickets := h.discussionTickets()
		if len(tickets) == 0 {
			return
		}
		var ids []int64
		for _, tk := range tickets {
			ids = append(ids, tk.ID)
		}
		body := fmt.Sprintf("Reply %d of run %d: we are looking into it for you.", i, run)
		if h.postAgentReply(ids[rand.IntN(len(ids))], gorgiasfake.AgentReply{BodyText: body}) {
			mu.Lock()
			replies = append(replies, body)
			mu.Unlock()
		} else {
			mu.Lock()
			refused++
			mu.Unlock()
		}
	})

	// The chaos: a bridge every 10-20 s, and the Redis master once,
	// half-way through.
	begin := time.Now()
	var chaos sync.WaitGroup
	chaos.Go(func() {
		time.Sleep(workload / 2)
		rds.killMaster(t, run)
	})
	var lastKill time.Time
	kills := 0
	for {
		pause := time.Duration(10+rand.IntN(11)) * time.Second
		if time.Since(begin)+pause >= workload {
			time.Sleep(workload - time.Since(begin))
			break
		}
		time.Sleep(pause)
		i := rand.IntN(len(children))
		mu.Lock()
		victim := children[i]
		mu.Unlock()
		victim.kill(t)
		lastKill = time.Now()
		kills++
		startAt(i)
	}
	chaos.Wait()
	close(stop)
	wg.Wait()
	if len(unstored) > 0 {
		t.Fatalf("%d events never stored: %v", len(unstored), unstored)
	}
	t.Logf("run %d: %d bridges killed; alerts: %s; upserts: %s", run, kills, alerts.summary(), upserts.summary())

	// The tasks a killed bridge held come back once their lease is over
	// (30 s) and 30 s more passed, when a recoverer looks: every process
	// looks at start-up, so start one more once that time has come.
	if !lastKill.IsZero() {
		time.Sleep(max(0, 61*time.Second-time.Since(lastKill)))
		h.startBridge("recoverer", "worker")
	}

	var figures []chaosFigures
	delivered, duplicated, lost := h.checkAlertsDelivered(t, alertIDs, 120*time.Second)
	figures = append(figures, chaosFigures{"alert tickets", 2 * len(alertIDs), delivered, duplicated, lost})
	figures = append(figures, h.checkOrdersInWidgets(t, orderOf))
	h.eventuallyMirrored(t, 120*time.Second, "every message to be mirrored", h.chaosMirrorComplete)
	figures = append(figures, h.checkChaosMirror(t))
	figures = append(figures, h.checkReplies(t, replies))
	for _, f := range figures {
		t.Logf("run %d: %-17s sent %5d  delivered %5d  duplicated %d  lost %d", run, f.kind, f.sent, f.delivered, f.duplicated, f.lost)
	}
	if refused > 0 {
		t.Logf("run %d: %d agent replies were refused by the bridge's webhook (Redis down), as the helpdesk was told", run, refused)
	}
}

var startedLine = regexp.MustCompile(`"addr":"([^"]+)"[^\n]*"message":"bridge started"`)

// startedAddr is the address a child logged when it started, or "".
func startedAddr(logs string) string {
	if m := startedLine.FindStringSubmatch(logs); m != nil {
		return m[1]
	}
	return ""
}

// postAgentReply has an agent reply on a Gorgias ticket and reports
// whether the bridge's webhook took it (2xx).
func (h *harness) postAgentReply(ticketID int64, r gorgiasfake.AgentReply) bool {
	body, _ := json.Marshal(r)
	req, _ := http.NewRequest(http.MethodPost, h.gorgTS.URL+"/acme/_fake/tickets/"+strconv.FormatInt(ticketID, 10)+"/agent-reply", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var res gorgiasfake.AgentReplyResult
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &res) != nil {
		return false
	}
	for _, d := range res.Deliveries {
		if d.Status < 200 || d.Status > 299 {
			return false
		}
	}
	return len(res.Deliveries) > 0
}

// checkOrdersInWidgets reads each customer's widget and compares its
// orders with those upserted.
func (h *harness) checkOrdersInWidgets(t *testing.T, orderOf map[string][]string) chaosFigures {
	t.Helper()
	f := chaosFigures{kind: "widget orders"}
	for email, want := range orderOf {
		f.sent += len(want)
		var got map[string]int
		read := func() bool {
			resp, body := h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery(email), nil)
			var w struct {
				Orders []struct {
					ID string `json:"id"`
				} `json:"orders"`
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &w) != nil {
				return false
			}
			got = map[string]int{}
			for _, o := range w.Orders {
				got[o.ID]++
			}
			for _, id := range want {
				if got[id] == 0 {
					return false
				}
			}
			return true
		}
		// Counted rather than awaited to the end: a missing order is a
		// figure, with the queues' state to explain it.
		deadline := time.Now().Add(60 * time.Second)
		for !read() && time.Now().Before(deadline) {
			time.Sleep(250 * time.Millisecond)
		}
		for _, id := range want {
			switch n := got[id]; {
			case n == 0:
				f.lost++
				t.Errorf("order %s of %s is not in the widget after 60 s: %s\n%s", id, email, h.orderDiagnosis(id), h.queueStates())
			case n > 1:
				f.duplicated += n - 1
				t.Errorf("order %s of %s is %d times in the widget", id, email, n)
			}
			if got[id] > 0 {
				f.delivered++
			}
		}
	}
	return f
}

// ownReplies are the Mirakl message ids of the replies the bridge sent,
// which are not mirrored back.
func (h *harness) ownReplies() map[string]bool {
	own := map[string]bool{}
	for _, r := range h.mkl.Replies() {
		own[r.MessageID] = true
	}
	return own
}

// chaosMirrorComplete reports whether every thread's messages, but the
// bridge's own replies, are in its ticket.
func (h *harness) chaosMirrorComplete() bool {
	own := h.ownReplies()
	byExt := map[string]int{}
	for _, tk := range h.gorg.Tickets() {
		for _, m := range tk.Messages {
			byExt[m.ExternalID]++
		}
	}
	for _, th := range h.mkl.Threads() {
		for _, m := range th.Messages {
			if !own[m.ID] && byExt[discMessagePrefix+m.ID] == 0 {
				return false
			}
		}
	}
	return true
}

// checkChaosMirror checks that each thread has one ticket holding each of
// its messages once, in order, the bridge's own replies excepted.
func (h *harness) checkChaosMirror(t *testing.T) chaosFigures {
	t.Helper()
	f := chaosFigures{kind: "mirrored messages"}
	own := h.ownReplies()
	byExt := map[string][]int64{}
	tickets := map[int64][]string{}
	for _, tk := range h.gorg.Tickets() {
		byExt[tk.ExternalID] = append(byExt[tk.ExternalID], tk.ID)
		for _, m := range tk.Messages {
			if strings.HasPrefix(m.ExternalID, discMessagePrefix) {
				tickets[tk.ID] = append(tickets[tk.ID], strings.TrimPrefix(m.ExternalID, discMessagePrefix))
			}
		}
	}
	for _, th := range h.mkl.Threads() {
		var want []string
		for _, m := range th.Messages {
			if !own[m.ID] {
				want = append(want, m.ID)
			}
		}
		f.sent += len(want)
		ids := byExt[discTicketPrefix+th.ID]
		if len(ids) != 1 {
			t.Errorf("thread %s has %d tickets, want 1", th.ID, len(ids))
			if len(ids) == 0 {
				f.lost += len(want)
				continue
			}
		}
		got := tickets[ids[0]]
		seen := map[string]int{}
		for _, id := range got {
			seen[id]++
		}
		for _, id := range want {
			switch n := seen[id]; {
			case n == 0:
				f.lost++
			case n > 1:
				f.duplicated += n - 1
			}
			if seen[id] > 0 {
				f.delivered++
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("thread %s: ticket messages %v, want %v", th.ID, got, want)
		}
	}
	return f
}

// checkReplies checks that each reply the bridge took reached Mirakl once.
func (h *harness) checkReplies(t *testing.T, sent []string) chaosFigures {
	t.Helper()
	f := chaosFigures{kind: "agent replies", sent: len(sent)}
	count := func() map[string]int {
		got := map[string]int{}
		for _, r := range h.mkl.Replies() {
			got[r.Body]++
		}
		return got
	}
	eventually(t, 60*time.Second, "every reply in Mirakl", func() bool {
		got := count()
		for _, b := range sent {
			if got[b] == 0 {
				return false
			}
		}
		return true
	})
	got := count()
	for _, b := range sent {
		switch n := got[b]; {
		case n == 0:
			f.lost++
		case n > 1:
			f.duplicated += n - 1
			t.Errorf("reply %q reached Mirakl %d times", b, n)
		}
		if got[b] > 0 {
			f.delivered++
		}
	}
	var other []string
	for b := range got {
		if !strings.HasPrefix(b, "Reply ") {
			other = append(other, b)
		}
	}
	if len(other) > 0 {
		t.Errorf("Mirakl got replies no agent wrote: %q", other)
	}
	return f
}

// orderDiagnosis says where a chaos order upsert stopped: whether the read
// model has the order, and what became of its apply task.
func (h *harness) orderDiagnosis(order string) string {
	var run, i int
	if _, err := fmt.Sscanf(order, "FR-C%d-%d", &run, &i); err != nil {
		return "not a chaos order"
	}
	ctx := context.Background()
	var b strings.Builder
	store := orders.NewStore(h.rdb, h.cfg.Redis.KeyPrefix, 0, 0, time.Now)
	switch email, err := store.CustomerEmail(ctx, "acme", "acme-fr", order); {
	case err != nil:
		fmt.Fprintf(&b, "order key: %v; ", err)
	case email == "":
		b.WriteString("order key: absent; ")
	default:
		b.WriteString("order key: present; ")
	}
	sum := sha256.Sum256([]byte("acme\x00" + fmt.Sprintf("evt-chaos%d-o%d", run, i)))
	id := "widget-apply-" + hex.EncodeToString(sum[:16])
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	for _, q := range jobs.Shards(h.cfg.Worker.QueueShards).Queues(orders.Queue) {
		if info, err := insp.GetTaskInfo(q, id); err == nil {
			fmt.Fprintf(&b, "apply task in %s: %s, retried %d, last error %q", q, info.State, info.Retried, info.LastErr)
			return b.String()
		}
	}
	b.WriteString("apply task: in no widget queue")
	return b.String()
}
