package main

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// balanceShards is the queue shards the balance phase gives the bridge:
// twice the test cluster's three masters.
const balanceShards = 6

// balanceGoal: the busiest master's operations within 25% of the least
// busy one's.
const balanceGoal = 0.75

// balanceResult is the operations each Redis Cluster master served during
// a mixed workload.
type balanceResult struct {
	alerts, customers int
	ops               map[string]int64 // by master address
	elapsed           time.Duration
}

// spread is the least busy master's operations over the busiest's.
func (b *balanceResult) spread() float64 {
	var vals []int64
	for _, v := range b.ops {
		vals = append(vals, v)
	}
	if len(vals) == 0 || slices.Max(vals) == 0 {
		return 0
	}
	return float64(slices.Min(vals)) / float64(slices.Max(vals))
}

// balancePhase runs the bridge on the Redis Cluster at addrs with its
// queues sharded, posts alerts and order upserts, and counts the commands
// each master processed meanwhile.
func (r *rig) balancePhase(ctx context.Context, addrs []string, alerts, customers int) (*balanceResult, error) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Second})
	defer c.Close()
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return m.FlushAll(ctx).Err() }); err != nil {
		return nil, fmt.Errorf("flush the cluster: %w", err)
	}
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
		return nil, fmt.Errorf("balance: the bench configuration has no redis url to replace")
	}
	yml = strings.Replace(yml, single, "  addrs: ["+strings.Join(addrs, ", ")+"]\n", 1) +
		fmt.Sprintf("worker:\n  queue_shards: %d\n", balanceShards)
	env := r.env()
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("balance configuration: %w", err)
	}
	b, err := r.launch(ctx, bridgeChild, "balance", addr, yml, cfg, env, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
	if err != nil {
		return nil, err
	}
	defer b.stop()

	before, err := masterOps(ctx, c)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	r.logf("balance: %d alerts and %d customers' orders on a %d-master cluster, %d queue shards", alerts, customers, len(before), balanceShards)
	var evs []signedEvent
	for _, cu := range spreadCustomers(customers) {
		orders, shipments, err := widgetEvents(time.Now(), r.secret, cu)
		if err != nil {
			return nil, err
		}
		evs = append(append(evs, orders...), shipments...)
	}
	evs = append(evs, newEvents("bal", alerts, r.secret)...)
	if _, err := postAll(ctx, b.url, evs, r.o.senders); err != nil {
		return nil, b.explain(err)
	}
	if _, _, err := fake.waitTickets(ctx, b, alerts, 2*time.Minute); err != nil {
		return nil, err
	}
	// Wait for the widget updates to drain too.
	insp := asynq.NewInspectorFromRedisClient(c)
	if _, ok := waitFor(ctx, 2*time.Minute, func() bool { return queuesIdle(insp) }); !ok {
		return nil, b.explain(fmt.Errorf("balance: the queues did not drain"))
	}
	elapsed := time.Since(start)
	after, err := masterOps(ctx, c)
	if err != nil {
		return nil, err
	}
	res := &balanceResult{alerts: alerts, customers: customers, ops: map[string]int64{}, elapsed: elapsed}
	for m, n := range after {
		res.ops[m] = n - before[m]
	}
	return res, nil
}

// masterOps reads each master's total_commands_processed.
func masterOps(ctx context.Context, c *redis.ClusterClient) (map[string]int64, error) {
	out := map[string]int64{}
	var mu sync.Mutex
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.Info(ctx, "stats").Result()
		if err != nil {
			return err
		}
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return err
				}
				mu.Lock()
				out[m.Options().Addr] = n
				mu.Unlock()
			}
		}
		return nil
	})
	return out, err
}

// queuesIdle tells whether no queue has a task pending, active or due
// for a retry (scheduled refreshes, due in months, do not count).
func queuesIdle(insp *asynq.Inspector) bool {
	qs, err := insp.Queues()
	if err != nil {
		return false
	}
	for _, q := range qs {
		info, err := insp.GetQueueInfo(q)
		if err != nil || info.Pending+info.Active+info.Retry > 0 {
			return false
		}
	}
	return true
}

func (b *balanceResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(h) balance: %d alerts and %d customers' orders and shipments on a Redis Cluster of %d masters, queue_shards %d, unthrottled fake Gorgias; in %s\n",
		b.alerts, b.customers, len(b.ops), balanceShards, b.elapsed.Round(time.Millisecond))
	masters := make([]string, 0, len(b.ops))
	for m := range b.ops {
		masters = append(masters, m)
	}
	slices.Sort(masters)
	for _, m := range masters {
		fmt.Fprintf(w, "  master %-21s %9d commands\n", m, b.ops[m])
	}
	verdict := "PASS"
	if b.spread() < balanceGoal {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "  least / most busy master  ratio %.3f  %s (goal >= %.2f: within 25%% of each other)   <- headline\n", b.spread(), verdict, balanceGoal)
}
