package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// balanceShards is the queue shards the balance phase gives the bridge:
// twice the test cluster's three masters.
const balanceShards = 6

// balanceGoal: the busiest master's operations within 25% of the least
// busy one's.
const balanceGoal = 0.75

// balanceMerchants is how many merchants the balance phase's bridge
// serves, each with its own store and Gorgias account, as an agency
// running the bridge for its clients would: one merchant's keys sit under
// a few hash tags, so a single one cannot spread over the masters.
const balanceMerchants = 12

// balanceMerchant is the i-th merchant's id, its store's and its Gorgias
// account's.
func balanceMerchant(i int) (merchant, store, helpdesk string) {
	m := fmt.Sprintf("merchant-%02d", i+1)
	return m, m + "-fr", m + "-gorgias"
}

// balanceConfig is balanceMerchants merchants on the cluster at addrs,
// every Gorgias account on the one unthrottled fake at fakeURL, and the
// queues sharded.
func balanceConfig(listen string, addrs []string, fakeURL string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `
server:
  listen: "%s"
  shutdown_timeout: 3s
  admin:
    password: ${BENCH_ADMIN_PASSWORD}
redis:
  addrs: [%s]
worker:
  queue_shards: %d
merchants:
`, listen, strings.Join(addrs, ", "), balanceShards)
	for i := range balanceMerchants {
		m, store, helpdesk := balanceMerchant(i)
		fmt.Fprintf(&b, `  - id: %s
    event_secrets: ["${BENCH_EVENT_SECRET}"]
    stores:
      - id: %s
        order_url: "https://backoffice.example/orders/{order_id}"
    helpdesks:
      - id: %s
        kind: gorgias
        base_url: "%s"
        email: %s
        api_key: ${BENCH_GORGIAS_KEY}
        stores: [%s]
        %s
`, m, store, helpdesk, fakeURL, benchAgent, store, unpaced)
	}
	return b.String()
}

// forMerchant is ev, an event of the bench's merchant, made one of
// merchant's: its data's store replaced with store, signed again.
func forMerchant(ev signedEvent, merchant, store, secret string) (signedEvent, error) {
	var env events.Event
	if err := json.Unmarshal(ev.body, &env); err != nil {
		return signedEvent{}, err
	}
	var data map[string]any
	if err := json.Unmarshal(env.Data, &data); err != nil {
		return signedEvent{}, err
	}
	data["store"] = store
	out, err := signEvent(env.ID, env.Kind, env.OccurredAt, data, secret)
	out.merchant = merchant
	return out, err
}

// balanceEvents are the phase's workload: alerts, and customers with their
// orders and shipments, dealt out to the merchants in turn, and woven
// together so that every kind of work goes on throughout: each customer's
// events stay in their order.
func balanceEvents(alerts, customers int, secret string) ([]signedEvent, error) {
	var streams [][]signedEvent
	for i, cu := range spreadCustomers(customers) {
		orders, shipments, err := widgetEvents(time.Now(), secret, cu)
		if err != nil {
			return nil, err
		}
		m, store, _ := balanceMerchant(i % balanceMerchants)
		var stream []signedEvent
		for _, ev := range append(orders, shipments...) {
			ev, err := forMerchant(ev, m, store, secret)
			if err != nil {
				return nil, err
			}
			stream = append(stream, ev)
		}
		streams = append(streams, stream)
	}
	alertStreams := make([][]signedEvent, balanceMerchants)
	for i, ev := range newEvents("bal", alerts, secret) {
		m, store, _ := balanceMerchant(i % balanceMerchants)
		ev, err := forMerchant(ev, m, store, secret)
		if err != nil {
			return nil, err
		}
		alertStreams[i%balanceMerchants] = append(alertStreams[i%balanceMerchants], ev)
	}
	return weave(append(streams, alertStreams...)), nil
}

// weave spreads each stream's events evenly over the whole, each stream's
// in its order.
func weave(streams [][]signedEvent) []signedEvent {
	type placed struct {
		at float64 // where in the whole, from 0 to 1
		ev signedEvent
	}
	var all []placed
	for _, s := range streams {
		for i, ev := range s {
			all = append(all, placed{(float64(i) + 0.5) / float64(len(s)), ev})
		}
	}
	slices.SortStableFunc(all, func(a, b placed) int { return cmp.Compare(a.at, b.at) })
	out := make([]signedEvent, len(all))
	for i, p := range all {
		out[i] = p.ev
	}
	return out
}

// balanceResult is the operations each Redis Cluster master served during
// a mixed workload, and what they were about.
type balanceResult struct {
	alerts, customers int
	ops               map[string]int64 // commands processed, by master address
	usec              map[string]int64 // their CPU time (INFO commandstats)
	keys              map[string]keyCounts
	own               int64 // the bench's own commands, left out of ops
	// The masters holding each merchant's read model and each account's
	// limiter keys: the hash tags that keep one tenant on one master.
	readModels, limiters map[string]int
	elapsed              time.Duration
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

// balancePhase runs the bridge for several merchants on the Redis Cluster
// at addrs with its queues sharded, posts alerts and order upserts spread
// over the merchants, and counts the commands each master processed
// meanwhile, by key family.
func (r *rig) balancePhase(ctx context.Context, addrs []string, alerts, customers int) (*balanceResult, error) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ClusterStateReloadInterval: time.Second})
	defer c.Close()
	// The bench's own commands (its checks that the queues drained) are
	// left out of the masters' counts.
	own := &commandCounter{n: map[string]int64{}}
	c.OnNewNode(func(n *redis.Client) { n.AddHook(own.hook(n.Options().Addr)) })
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
	yml := balanceConfig(addr, addrs, fake.url)
	env := r.env()
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("balance configuration: %w", err)
	}
	evs, err := balanceEvents(alerts, customers, r.secret)
	if err != nil {
		return nil, err
	}
	b, err := r.launch(ctx, bridgeChild, "balance", addr, yml, cfg, env, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
	if err != nil {
		return nil, err
	}
	defer b.stop()

	var (
		taps   []*monitorTap
		tapsMu sync.Mutex
	)
	defer func() {
		for _, t := range taps {
			t.stop()
		}
	}()
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		t, err := startMonitor(ctx, m.Options().Addr)
		if err == nil {
			tapsMu.Lock()
			taps = append(taps, t)
			tapsMu.Unlock()
		}
		return err
	}); err != nil {
		return nil, err
	}
	before, err := masterStats(ctx, c)
	if err != nil {
		return nil, err
	}
	ownBefore := own.counts()
	start := time.Now()
	r.logf("balance: %d alerts and %d customers' orders of %d merchants on a %d-master cluster, %d queue shards", alerts, customers, balanceMerchants, len(before), balanceShards)
	if _, err := postAll(ctx, b.url, evs, r.o.senders); err != nil {
		return nil, b.explain(err)
	}
	if _, _, err := fake.waitTickets(ctx, b, alerts, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := fake.checkTickets(alerts); err != nil {
		return nil, err
	}
	// Wait for the widget updates to drain too.
	if err := waitDrained(ctx, c, 2*time.Minute); err != nil {
		return nil, b.explain(err)
	}
	elapsed := time.Since(start)
	after, err := masterStats(ctx, c)
	if err != nil {
		return nil, err
	}
	ownAfter := own.counts()
	res := &balanceResult{alerts: alerts, customers: customers, ops: map[string]int64{}, usec: map[string]int64{}, keys: map[string]keyCounts{}, elapsed: elapsed}
	for m, st := range after {
		mine := ownAfter[m] - ownBefore[m]
		res.own += mine
		res.ops[m] = st.commands - before[m].commands - mine
		res.usec[m] = st.usec - before[m].usec
	}
	for _, t := range taps {
		res.keys[t.addr] = t.stop()
	}
	taps = nil
	if res.readModels, res.limiters, err = tenantsPerMaster(ctx, c); err != nil {
		return nil, err
	}
	return res, nil
}

// tenantsPerMaster counts the merchants whose read model (w:{merchant}:…)
// and the Gorgias accounts whose limiter keys (ratelimit:{account}…) each
// master holds: each tenant's keys share one hash tag, so how the tags'
// slots fall bounds the balance, whatever the queues do.
func tenantsPerMaster(ctx context.Context, c *redis.ClusterClient) (readModels, limiters map[string]int, err error) {
	readModels, limiters = map[string]int{}, map[string]int{}
	for i := range balanceMerchants {
		m, _, helpdesk := balanceMerchant(i)
		for key, count := range map[string]map[string]int{"w:{" + m + "}:": readModels, "ratelimit:{" + helpdesk + "}": limiters} {
			master, err := c.MasterForKey(ctx, key)
			if err != nil {
				return nil, nil, err
			}
			count[master.Options().Addr]++
		}
	}
	return readModels, limiters, nil
}

// masterStat is one master's INFO counters: the commands it processed
// and the CPU time they took.
type masterStat struct{ commands, usec int64 }

// masterStats reads each master's total_commands_processed and the sum of
// its commandstats' usec.
func masterStats(ctx context.Context, c *redis.ClusterClient) (map[string]masterStat, error) {
	out := map[string]masterStat{}
	var mu sync.Mutex
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		info, err := m.Info(ctx, "stats", "commandstats").Result()
		if err != nil {
			return err
		}
		var st masterStat
		for _, line := range strings.Split(info, "\n") {
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
				if st.commands, err = strconv.ParseInt(v, 10, 64); err != nil {
					return err
				}
			}
			if _, fields, ok := strings.Cut(line, ":"); ok && strings.HasPrefix(line, "cmdstat_") {
				for _, f := range strings.Split(fields, ",") {
					if v, ok := strings.CutPrefix(f, "usec="); ok {
						n, err := strconv.ParseInt(v, 10, 64)
						if err != nil {
							return err
						}
						st.usec += n
					}
				}
			}
		}
		mu.Lock()
		out[m.Options().Addr] = st
		mu.Unlock()
		return nil
	})
	return out, err
}

// waitDrained waits until no queue asynq knows has a task pending, active
// or due for a retry (scheduled refreshes, due in months, do not count).
// It reads asynq's lists and sets directly, a few commands a queue: the
// inspector's queue statistics cost dozens, scripts included, which would
// weigh on the counts of the masters holding the queues it reads first.
func waitDrained(ctx context.Context, c *redis.ClusterClient, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		queues, err := c.SMembers(ctx, "asynq:queues").Result()
		if err == nil {
			pipe := c.Pipeline()
			var cmds []*redis.IntCmd
			for _, q := range queues {
				tag := "asynq:{" + q + "}:"
				cmds = append(cmds, pipe.LLen(ctx, tag+"pending"), pipe.LLen(ctx, tag+"active"), pipe.ZCard(ctx, tag+"retry"))
			}
			if _, err = pipe.Exec(ctx); err == nil && !slices.ContainsFunc(cmds, func(c *redis.IntCmd) bool { return c.Val() > 0 }) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("balance: the queues did not drain within %s (%v)", within, err)
		}
		sleepCtx(ctx, 250*time.Millisecond)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// commandCounter counts the commands a cluster client sends to each node.
type commandCounter struct {
	mu sync.Mutex
	n  map[string]int64
}

func (o *commandCounter) add(addr string, n int) {
	o.mu.Lock()
	o.n[addr] += int64(n)
	o.mu.Unlock()
}

func (o *commandCounter) counts() map[string]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

func (o *commandCounter) hook(addr string) redis.Hook { return counterHook{o, addr} }

type counterHook struct {
	o    *commandCounter
	addr string
}

func (h counterHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h counterHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.o.add(h.addr, 1)
		return next(ctx, cmd)
	}
}

func (h counterHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.o.add(h.addr, len(cmds))
		return next(ctx, cmds)
	}
}

func (b *balanceResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(h) balance: %d alerts and %d customers' orders and shipments of %d merchants, each with its own Gorgias account, on a Redis Cluster of %d masters, queue_shards %d, unthrottled fake Gorgias; in %s\n",
		b.alerts, b.customers, balanceMerchants, len(b.ops), balanceShards, b.elapsed.Round(time.Millisecond))
	masters := slices.Sorted(maps.Keys(b.ops))
	for _, m := range masters {
		fmt.Fprintf(w, "  master %-21s %9d commands  %7.0f ms of CPU\n", m, b.ops[m], float64(b.usec[m])/1000)
		k, ok := b.keys[m]
		if !ok || k.total == 0 {
			continue
		}
		fmt.Fprintf(w, "    key families: %s\n", joinShares(top(k.families, 6), k.total))
		fmt.Fprintf(w, "    hash tags:    %s\n", joinShares(top(k.tags, 4), k.total))
		if k.err != nil {
			fmt.Fprintf(w, "    note: MONITOR stopped early: %v\n", k.err)
		}
	}
	printGroups(w, masters, b.keys)
	var rm, lim []string
	for _, m := range masters {
		rm = append(rm, strconv.Itoa(b.readModels[m]))
		lim = append(lim, strconv.Itoa(b.limiters[m]))
	}
	fmt.Fprintf(w, "  per master, in the order above: the read models (w:{merchant}) of %s merchants, the limiters (ratelimit:{account}) of %s accounts\n",
		strings.Join(rm, ", "), strings.Join(lim, ", "))
	fmt.Fprintf(w, "  (the bench's own %d commands, its checks that the queues drained, are left out)\n", b.own)
	verdict := "PASS"
	if b.spread() < balanceGoal {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "  least / most busy master  ratio %.3f  %s (goal >= %.2f: within 25%% of each other)   <- headline\n", b.spread(), verdict, balanceGoal)
}

// joinShares lists shares as percentages of total.
func joinShares(ss []share, total int64) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = fmt.Sprintf("%s %.0f%%", s.name, 100*float64(s.n)/float64(total))
	}
	return strings.Join(parts, ", ")
}

// keyGroup is the coarse family of a key family: its name up to the hash
// tag or the first segment ("w:{…}:o" and "w:{…}:c" are "w:{…}").
func keyGroup(family string) string {
	if i := strings.Index(family, "{…}"); i >= 0 {
		return family[:i+len("{…}")]
	}
	return family
}

// printGroups shows the commands of each coarse key family on each master,
// the busiest families first, and how evenly each spreads: the family
// whose least / most is low while it weighs much is what unbalances the
// masters.
func printGroups(w io.Writer, masters []string, keys map[string]keyCounts) {
	groups := map[string]map[string]int64{}
	totals := map[string]int64{}
	for _, m := range masters {
		for f, n := range keys[m].families {
			g := keyGroup(f)
			if groups[g] == nil {
				groups[g] = map[string]int64{}
			}
			groups[g][m] += n
			totals[g] += n
		}
	}
	if len(totals) == 0 {
		return
	}
	fmt.Fprintf(w, "  commands by key family and master (MONITOR), the busiest families:\n    %-22s", "")
	for _, m := range masters {
		fmt.Fprintf(w, " %10s", m[strings.LastIndexByte(m, ':')+1:])
	}
	fmt.Fprintf(w, "  least/most\n")
	for _, g := range top(totals, 8) {
		fmt.Fprintf(w, "    %-22s", g.name)
		var vals []int64
		for _, m := range masters {
			fmt.Fprintf(w, " %10d", groups[g.name][m])
			vals = append(vals, groups[g.name][m])
		}
		fmt.Fprintf(w, "  %.2f\n", ratio(float64(slices.Min(vals)), float64(slices.Max(vals))))
	}
}
