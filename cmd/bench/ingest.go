package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/orders"
)

// ingestResult is phase (g): order.upserted events posted to the bridge's
// intake until every one is in the read model, what the read model then
// costs in Redis, and widget reads spread over every ingested customer.
type ingestResult struct {
	events, customers, workers, senders int
	elapsed                             time.Duration // first POST to the last event applied
	posting                             time.Duration // first POST to the last answer
	latencies                           []time.Duration
	noopBefore, noopAfter               noopResult
	// peakRSS is the bridge's peak resident set (VmHWM) in bytes; 0 when
	// the system does not tell.
	peakRSS int64
	mem     memoryReport
	// reads: the widget of every ingested customer in turn, and the gin
	// handler doing one Redis GET of a document of their mean stored
	// size, and of a value the size of the widget answered (context: the
	// bytes the widget sends, not the work it does, set that one apart).
	reads, getDoc    targetResult
	getServed        targetResult
	servedBytes      int
	readers, rounds  int
	round, warmup    time.Duration
	warnings, errors int
	baselineWarnings int
	baselineErrors   int
}

// ingestCustomer is the i-th customer of the ingest phase. Names and
// emails are made up; the phone numbers are in the range France keeps for
// fiction.
func ingestCustomer(i int) customer {
	b := spreadBuyers[i%len(spreadBuyers)]
	return customer{
		tag: "ingest-" + strconv.Itoa(i), email: fmt.Sprintf("%s.%d@ingest.example", b.local, i), name: b.name,
		phone: fmt.Sprintf("+33 6 39 98 %02d %02d", i/100%100, i%100), n: i,
	}
}

// ingestEvent is the i-th of n order.upserted events for customers
// customers: event i is order i/customers of customer i%customers, so
// that neighbouring events are different customers' (as a shop's orders
// come in) and each customer's orders arrive oldest first, spread over
// the 11 months before now, inside the default retention.
func ingestEvent(now time.Time, secret string, i, n, customers int) (signedEvent, error) {
	c := ingestCustomer(i % customers)
	k, perCustomer := i/customers, (n+customers-1)/customers
	step := min(30*24*time.Hour, 330*24*time.Hour/time.Duration(perCustomer))
	created := now.UTC().Truncate(time.Second).Add(-time.Duration(perCustomer-k)*step - 27*time.Hour)
	var lines []orders.EventLine
	cents := 0
	for l := range 1 + i%3 {
		p := catalogue[(i*5+l*7)%len(catalogue)]
		q := 1 + (i+l)%3
		lines = append(lines, orders.EventLine{SKU: p.sku, Name: p.name, Quantity: q})
		cents += q * p.cents
	}
	mp := marketplaces[i%len(marketplaces)]
	status := orders.StatusClosed
	if k == perCustomer-1 {
		status = orders.StatusShipped
	}
	order := orders.OrderUpserted{
		Store: benchStore, OrderID: fmt.Sprintf("FR-2026-%07d", i+1), UpdatedAt: created.Add(2 * time.Hour),
		Customer:    orders.OrderCustomer{Email: c.email, Name: c.name, Phone: c.phone},
		Marketplace: mp.name, Status: status, MarketplaceStatus: mp.status, CreatedAt: created,
		Total: fmt.Sprintf("%d.%02d", cents/100, cents%100), Currency: "EUR", Lines: lines,
	}
	return signEvent("evt-ingest-"+strconv.Itoa(i), orders.KindOrderUpserted, order.UpdatedAt, order, secret)
}

// noopSample is how many no-op tasks the ingest phase's baseline runs at
// most: a rate, reached in a few seconds, without a million tasks.
const noopSample = 20000

// ingestPhase measures asynq alone, posts the events to a fresh bridge,
// waits until the read model has applied all of them, measures Redis and
// the bridge's peak memory, reads the widgets spread over every customer
// against the GET baseline, then measures asynq alone again.
func (r *rig) ingestPhase(ctx context.Context, n, customers int) (*ingestResult, error) {
	o := r.o
	customers = max(1, min(customers, n)) // every customer has an order
	res := &ingestResult{events: n, customers: customers, senders: o.senders, readers: o.widgetWorkers, rounds: o.widgetRounds, round: o.widgetRound, warmup: o.widgetWarmup}
	var err error
	if res.noopBefore, err = r.noopPhase(ctx, min(n, noopSample)); err != nil {
		return nil, err
	}
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	// The ingest phase calls no helpdesk: the alerts' URL is never used.
	b, err := r.startBridge(ctx, "ingest", "http://127.0.0.1:1", "")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	res.workers = b.cfg.Worker.Concurrency
	before, err := r.usedMemory(ctx)
	if err != nil {
		return nil, err
	}

	r.logf("ingest: posting %d order.upserted events for %d customers with %d senders to the bridge (%d workers)", n, customers, o.senders, res.workers)
	inspector := asynq.NewInspector(asynq.RedisClientOpt{Addr: o.redisAddr, DB: benchDB})
	defer inspector.Close()
	start := time.Now()
	posted, err := r.postIngest(ctx, b, inspector, n, customers)
	if err != nil {
		return nil, b.explain(err)
	}
	res.posting, res.latencies = posted.end.Sub(start), posted.latencies
	done, err := waitApplied(ctx, b, inspector, n, r.logf)
	if err != nil {
		return nil, b.explain(err)
	}
	res.elapsed = done.Sub(start)
	r.logf("ingest: %d events applied in %s", n, res.elapsed.Round(time.Millisecond))
	res.peakRSS = peakRSS(b.cmd.Process.Pid)

	r.logf("ingest: measuring Redis memory")
	if res.mem, err = r.measureMemory(ctx, b, before, n, customers); err != nil {
		return nil, err
	}
	if err := r.ingestReads(ctx, b, res); err != nil {
		return nil, err
	}
	if b.exited() {
		return nil, b.explain(fmt.Errorf("the bridge exited during the ingest phase: %v", b.err))
	}
	b.stop()
	res.warnings, res.errors = b.logs.warnings(), b.logs.errors()
	r.logf("ingest: deleting the completed tasks and event ids, as their retention would, to measure the read model alone")
	if res.mem.usedSteady, err = r.dropBookkeeping(ctx, b.cfg.Redis.KeyPrefix); err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		// What was measured so far still stands: say what is missing.
		res.mem.steadyErr = err
	}
	// No flush: the read model stays, as it would in production, and the
	// no-op tasks use a queue of their own.
	r.logf("baseline: %d asynq no-op tasks, %d enqueuers, %d workers", min(n, noopSample), o.senders, res.workers)
	if res.noopAfter, err = runNoop(ctx, o.redisAddr, benchDB, min(n, noopSample), res.workers, o.senders); err != nil {
		return nil, err
	}
	return res, nil
}

// postIngest posts events 0 to n-1 with the rig's senders. Each is built
// and signed as it is sent: a million bodies would not fit the bench's
// memory, and their signed timestamps would leave the replay window
// before the last was sent.
func (r *rig) postIngest(ctx context.Context, b *bridgeProc, inspector *asynq.Inspector, n, customers int) (postResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	senders := r.o.senders
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders},
	}
	defer client.CloseIdleConnections()
	now := time.Now()
	latencies := make([]time.Duration, n)
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	res := postResult{start: time.Now()}
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				ev, err := ingestEvent(now, r.secret, i, n, customers)
				if err != nil {
					fail(err)
					return
				}
				d, err := post(ctx, client, b.url, ev)
				if err != nil {
					fail(fmt.Errorf("event %d: %w", i, err))
					return
				}
				latencies[i] = d
			}
		})
	}
	// Progress, for runs that take minutes.
	stopProgress := make(chan struct{})
	var progress sync.WaitGroup
	progress.Go(func() {
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-t.C:
				applied := "?"
				if qi, err := inspector.GetQueueInfo(orders.Queue); err == nil {
					applied = strconv.Itoa(qi.Completed)
				}
				r.logf("ingest: %d posted, %s applied, %s", min(int(next.Load()), n), applied, time.Since(res.start).Round(time.Second))
			}
		}
	})
	wg.Wait()
	close(stopProgress)
	progress.Wait()
	res.end = time.Now()
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.latencies = latencies
	return res, nil
}

// waitApplied waits until the widgets queue has completed n tasks, and
// returns when it saw them done. Completed tasks are kept (the bridge's
// task retention), so the queue's completed count is the events applied.
// It gives up when the count stops moving for a minute, and at once when
// a task fails: a retried or archived apply is an error of the bridge.
func waitApplied(ctx context.Context, b *bridgeProc, inspector *asynq.Inspector, n int, logf func(string, ...any)) (time.Time, error) {
	last, lastMove := -1, time.Now()
	lastLog := time.Now()
	for {
		qi, err := inspector.GetQueueInfo(orders.Queue)
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			return time.Time{}, fmt.Errorf("widgets queue: %w", err)
		}
		now := time.Now()
		if qi != nil {
			if qi.Retry+qi.Archived > 0 {
				return time.Time{}, fmt.Errorf("widgets queue: %d tasks to retry and %d archived: applying failed", qi.Retry, qi.Archived)
			}
			if qi.Completed >= n {
				return now, nil
			}
			if qi.Completed != last {
				last, lastMove = qi.Completed, now
			}
			if now.Sub(lastLog) > 15*time.Second {
				logf("ingest: %d of %d applied", qi.Completed, n)
				lastLog = now
			}
		}
		if now.Sub(lastMove) > time.Minute {
			return time.Time{}, fmt.Errorf("the read model applied %d of %d events and none more for a minute", max(last, 0), n)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-b.done:
			return time.Time{}, fmt.Errorf("the bridge exited: %v", b.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ingestReads reads the widget of every ingested customer in turn, and
// the baselines server's GET of a document of their mean stored size and
// of a value the size of a widget, in interleaved rounds as the widget
// phase does.
func (r *rig) ingestReads(ctx context.Context, b *bridgeProc, res *ingestResult) error {
	o := r.o
	widgetBase := b.url + widgetPath
	urls := make([]string, res.customers)
	for i := range urls {
		urls[i] = widgetBase + emailQuery(ingestCustomer(i))
	}
	// The readers take gzip, as helpdesks' clients do: the bridge then
	// sends the render it keeps as it is.
	auth := http.Header{"Authorization": {"Bearer " + r.sidebarToken}, "Accept-Encoding": {"gzip"}}
	widget := target{name: "widget-ingested", urls: urls, rotate: true, header: auth, checkHeader: servedFresh}
	gen := newLoadGen(o.widgetWorkers)
	defer gen.close()
	// One widget tells the size served: the ingested customers' differ by
	// a few lines at most.
	var body bytes.Buffer
	if _, fail, detail := gen.get(ctx, widget, urls[len(urls)/2], &body); fail != "" {
		return b.explain(fmt.Errorf("read a widget to size the baseline: %s", detail))
	}
	res.servedBytes = body.Len()
	setCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := r.rdb.Pipelined(setCtx, func(p redis.Pipeliner) error {
		p.Set(setCtx, getDocKey, docValue(int(res.mem.docMeanBytes)), 0)
		p.Set(setCtx, getServedKey, docValue(res.servedBytes), 0)
		return nil
	})
	cancel()
	if err != nil {
		return fmt.Errorf("set the baselines' values: %w", err)
	}
	base, err := r.startBaselines(ctx)
	if err != nil {
		return err
	}
	defer base.stop()
	targets := []target{
		widget,
		widget.like("get-doc", widgetBase, base.url+getDocRoute),
		widget.like("get-served", widgetBase, base.url+getServedRoute),
	}
	r.logf("ingest: widget reads over %d customers against one GET of %d bytes and one of %d: %d workers, %d rounds of %s, interleaved",
		res.customers, int(res.mem.docMeanBytes), res.servedBytes, o.widgetWorkers, o.widgetRounds, o.widgetRound)
	gen.counter = r.redisGets
	out, err := gen.interleave(ctx, targets, o.widgetWarmup, o.widgetRound, o.widgetRounds, func(i int, t target, rr roundResult) {
		r.logf("ingest: round %d/%d %-15s %8.1f req/s", i, o.widgetRounds, t.name, rr.rate())
	})
	if err != nil {
		return b.explain(base.explain(err))
	}
	if base.exited() {
		return base.explain(fmt.Errorf("the baselines server exited during the ingest phase: %v", base.err))
	}
	base.stop()
	res.reads, res.getDoc, res.getServed = out[0], out[1], out[2]
	res.baselineWarnings, res.baselineErrors = base.logs.warnings(), base.logs.errors()
	return nil
}

// docValue is a JSON object of exactly size bytes (at least a minimal
// one), the baseline's stand-in for a stored document.
func docValue(size int) []byte {
	head, tail := `{"baseline":"doc","padding":"`, `"}`
	return []byte(head + strings.Repeat("x", max(0, size-len(head)-len(tail))) + tail)
}

// dropBookkeeping deletes what the intake keeps of each event for a while
// (the completed tasks, the event ids) and returns used_memory after.
// Completed tasks go a thousand at a time, by asynq's key names: asynq's
// own delete-all is one script, which for a million tasks outlasts
// Redis's script time limit. DEL rather than UNLINK: used_memory must not
// count memory a background thread has yet to free.
func (r *rig) dropBookkeeping(ctx context.Context, prefix string) (int64, error) {
	completed := "asynq:{" + orders.Queue + "}:completed"
	taskKey := "asynq:{" + orders.Queue + "}:t:"
	for {
		ids, err := r.rdb.ZRange(ctx, completed, 0, 999).Result()
		if err != nil {
			return 0, fmt.Errorf("list the completed tasks: %w", err)
		}
		if len(ids) == 0 {
			break
		}
		_, err = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, id := range ids {
				p.Del(ctx, taskKey+id)
			}
			p.ZRem(ctx, completed, toAny(ids)...)
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("delete the completed tasks: %w", err)
		}
	}
	var batch []string
	del := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := r.rdb.Del(ctx, batch...).Err()
		batch = batch[:0]
		return err
	}
	iter := r.rdb.Scan(ctx, 0, prefix+"event:*", 1000).Iterator()
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := del(); err != nil {
				return 0, fmt.Errorf("delete the event ids: %w", err)
			}
		}
	}
	if err := iter.Err(); err != nil {
		return 0, fmt.Errorf("SCAN the event ids: %w", err)
	}
	if err := del(); err != nil {
		return 0, fmt.Errorf("delete the event ids: %w", err)
	}
	return r.usedMemory(ctx)
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// usedMemory is INFO memory's used_memory.
func (r *rig) usedMemory(ctx context.Context) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := r.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO memory: no used_memory")
}

// otherClass gathers the keys of no per-order or per-customer class: the
// queues' indexes (one sorted set member per task) and the like.
const otherClass = "other (queues' indexes...)"

// keyClass is a kind of key the ingest leaves in Redis.
type keyClass struct {
	name string
	// perOrder: one key of this class per order (true) or per customer.
	perOrder bool
	// lasts says how long it stays.
	lasts string
	// bookkeeping: the intake's record of an event, which expires long
	// before the read model does.
	bookkeeping bool
}

// memoryReport is what the ingested read model costs in Redis.
type memoryReport struct {
	orders, customers int
	usedBefore        int64
	usedAfter         int64
	// usedSteady is used_memory once the completed tasks and event ids
	// are deleted, as their retention would: the read model alone.
	usedSteady int64
	steadyErr  error // why usedSteady was not measured
	keys       int64 // DBSIZE after
	classes    []classUsage
	// docMeanBytes is the mean stored size (STRLEN) of a customer's
	// document.
	docMeanBytes float64
}

// classUsage is one class of keys: how many there are, and the mean
// MEMORY USAGE of those sampled.
type classUsage struct {
	keyClass
	count   int64
	sampled int
	mean    float64
}

func (c classUsage) total() float64 { return float64(c.count) * c.mean }

// perOrder is used_memory's growth per order.
func (m memoryReport) perOrder() float64 {
	return float64(m.usedAfter-m.usedBefore) / float64(m.orders)
}

// steadyPerOrder is used_memory's growth per order once the intake's
// bookkeeping is gone.
func (m memoryReport) steadyPerOrder() float64 {
	return float64(m.usedSteady-m.usedBefore) / float64(m.orders)
}

// readModelPerOrder is, per order, what stays for the retention: orders,
// customers' indexes, documents and scheduled refreshes.
func (m memoryReport) readModelPerOrder() float64 {
	var sum float64
	for _, c := range m.classes {
		if !c.bookkeeping && c.name != otherClass {
			sum += c.total()
		}
	}
	return sum / float64(m.orders)
}

// measureMemory reads used_memory, then walks every key once, counting
// them by class and sampling MEMORY USAGE of about 2,000 of each class.
func (r *rig) measureMemory(ctx context.Context, b *bridgeProc, before int64, orders, customers int) (memoryReport, error) {
	m := memoryReport{orders: orders, customers: customers, usedBefore: before}
	var err error
	if m.usedAfter, err = r.usedMemory(ctx); err != nil {
		return m, err
	}
	if m.keys, err = r.rdb.DBSize(ctx).Result(); err != nil {
		return m, fmt.Errorf("DBSIZE: %w", err)
	}
	prefix := b.cfg.Redis.KeyPrefix
	widgetBase := prefix + "w:{" + benchMerchant + "}:"
	classes := []struct {
		keyClass
		match func(string) bool
	}{
		{keyClass{"order", true, "widgets.retention after its last update", false}, func(k string) bool { return strings.HasPrefix(k, widgetBase+"o:") }},
		{keyClass{"customer index", false, "as long as the customer's newest order", false}, func(k string) bool { return strings.HasPrefix(k, widgetBase+"c:") }},
		{keyClass{"customer document, with its sidebars' renders", false, "as long as the customer's newest order", false}, func(k string) bool { return strings.HasPrefix(k, widgetBase+"d:") }},
		{keyClass{"scheduled refresh task", false, "until the customer's oldest order leaves retention", false}, func(k string) bool { return strings.Contains(k, "}:t:widget-refresh-") }},
		{keyClass{"event id", true, "events.dedupe_ttl", true}, func(k string) bool { return strings.HasPrefix(k, prefix+"event:") }},
		{keyClass{"completed apply task", true, "worker.task_retention", true}, func(k string) bool { return strings.Contains(k, "}:t:widget-apply-") }},
		{keyClass{otherClass, false, "", false}, func(string) bool { return true }},
	}
	usage := make([]classUsage, len(classes))
	for i, c := range classes {
		usage[i].keyClass = c.keyClass
	}
	// About 2,000 samples of each per-order class, fewer of the
	// per-customer ones; the first 1,000 of the rest, each counted whole.
	stride := max(1, int64(orders)/2000)
	var sample []string
	var sampleClass []int
	iter := r.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		for i, c := range classes {
			if !c.match(k) {
				continue
			}
			usage[i].count++
			if usage[i].count%stride == 0 || c.name == otherClass && usage[i].count <= 1000 {
				sample = append(sample, k)
				sampleClass = append(sampleClass, i)
			}
			break
		}
	}
	if err := iter.Err(); err != nil {
		return m, fmt.Errorf("SCAN: %w", err)
	}
	sums := make([]float64, len(classes))
	var docBytes float64
	docs := 0
	for start := 0; start < len(sample); start += 500 {
		part := sample[start:min(start+500, len(sample))]
		cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for j, k := range part {
				// SAMPLES 0 counts every element of a collection: the
				// queues' sets hold one member per task.
				p.MemoryUsage(ctx, k, 0)
				if sampleClass[start+j] == docClass {
					p.StrLen(ctx, k)
				}
			}
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			return m, fmt.Errorf("MEMORY USAGE: %w", err)
		}
		c := 0
		for j := range part {
			class := sampleClass[start+j]
			n, err := cmds[c].(*redis.IntCmd).Result()
			c++
			if err == nil {
				sums[class] += float64(n)
				usage[class].sampled++
			}
			if class == docClass {
				n, err := cmds[c].(*redis.IntCmd).Result()
				c++
				if err == nil {
					docBytes += float64(n)
					docs++
				}
			}
		}
	}
	for i := range usage {
		if usage[i].sampled > 0 {
			usage[i].mean = sums[i] / float64(usage[i].sampled)
		}
	}
	if docs > 0 {
		m.docMeanBytes = docBytes / float64(docs)
	}
	m.classes = usage
	return m, nil
}

// docClass is the customer documents' place in memoryReport.classes.
const docClass = 2

// memoryTarget is the read model's goal: at most 1 KB of Redis per order,
// everything counted.
const memoryTarget = 1024

func (g *ingestResult) noopRate() float64 {
	return (g.noopBefore.steadyRate() + g.noopAfter.steadyRate()) / 2
}

func (g *ingestResult) rate() float64 { return perSecond(g.events, g.elapsed) }

func (g *ingestResult) print(w io.Writer) {
	m := g.mem
	fmt.Fprintf(w, "\n(g) ingest: %d order.upserted events for %d customers (%.1f orders each), %d senders, %d workers\n",
		g.events, g.customers, float64(g.events)/float64(g.customers), g.senders, g.workers)
	fmt.Fprintf(w, "  ingested events/s %9.1f   asynq no-op/s %9.1f   ratio %.3f   <- headline: first POST to the last event in the read model\n",
		g.rate(), g.noopRate(), ratio(g.rate(), g.noopRate()))
	fmt.Fprintf(w, "  %d events in %s (posted in %s); no-op baseline of %d tasks: %s before, %s after\n",
		g.events, g.elapsed.Round(time.Millisecond), g.posting.Round(time.Millisecond), g.noopBefore.n, noopTimes(g.noopBefore), noopTimes(g.noopAfter))
	fmt.Fprintf(w, "  intake latency p50 %s  p99 %s  max %s\n",
		fmtDur(percentile(g.latencies, 50)), fmtDur(percentile(g.latencies, 99)), fmtDur(percentile(g.latencies, 100)))
	if g.peakRSS > 0 {
		fmt.Fprintf(w, "  bridge peak RSS %.1f MB\n", float64(g.peakRSS)/(1<<20))
	} else {
		fmt.Fprintln(w, "  bridge peak RSS: not measured (no /proc)")
	}
	verdict := "PASS"
	if !(m.perOrder() <= memoryTarget) {
		verdict = "above target"
	}
	fmt.Fprintf(w, "  Redis used_memory %s before, %s after, %d keys: %.0f bytes per order, all in  %s (target <= %d)\n",
		fmtMB(m.usedBefore), fmtMB(m.usedAfter), m.keys, m.perOrder(), verdict, memoryTarget)
	steadyVerdict := "PASS"
	if !(m.steadyPerOrder() <= memoryTarget) {
		steadyVerdict = "above target"
	}
	if m.steadyErr != nil {
		fmt.Fprintf(w, "  once the intake's bookkeeping has expired: not measured: %v\n", m.steadyErr)
	} else {
		fmt.Fprintf(w, "  once the intake's bookkeeping has expired (completed tasks and event ids deleted): used_memory %s, %.0f bytes per order, all in  %s   <- headline, the read model\n",
			fmtMB(m.usedSteady), m.steadyPerOrder(), steadyVerdict)
	}
	fmt.Fprintf(w, "  of which orders, customers' indexes, documents (with their sidebars' renders) and scheduled refreshes, by MEMORY USAGE: %.0f bytes per order\n", m.readModelPerOrder())
	fmt.Fprintf(w, "  MEMORY USAGE by kind of key, sampled:\n")
	fmt.Fprintf(w, "    %-52s %9s %8s %10s %10s %11s   %s\n", "", "keys", "sampled", "mean", "total", "per order", "kept")
	var sum float64
	for _, c := range m.classes {
		sum += c.total()
		fmt.Fprintf(w, "    %-52s %9d %8d %10s %10s %11.1f   %s\n", c.name, c.count, c.sampled, fmtBytes(int(c.mean)), fmtMB(int64(c.total())), c.total()/float64(m.orders), c.lasts)
	}
	fmt.Fprintf(w, "    sum %s against used_memory's growth %s: the rest is Redis's own per-key bookkeeping (its key and expiry tables)\n",
		fmtMB(int64(sum)), fmtMB(m.usedAfter-m.usedBefore))
	fmt.Fprintf(w, "  a customer's stored document, its sidebar's render included: %s on average (STRLEN), the GET baseline's value; %s in Redis (MEMORY USAGE)\n", fmtBytes(int(m.docMeanBytes)), fmtBytes(int(m.classes[docClass].mean)))

	fmt.Fprintf(w, "  widget reads over the %d customers, each worker reading every %dth in turn, against one GET of a %s value (a stored document) and one of %s (a widget answered), each sent the same requests but for their path: %d rounds of %s, interleaved\n",
		g.customers, g.readers, fmtBytes(int(m.docMeanBytes)), fmtBytes(g.servedBytes), g.rounds, g.round)
	fmt.Fprintf(w, "    %-26s %9s %9s %9s %9s %9s   %s\n", "", "req/s", "p50", "p99", "body", "cmds/req", "req/s of each round")
	for _, r := range []struct {
		label string
		t     targetResult
	}{{"widget-ingested", g.reads}, {"gin one Redis GET", g.getDoc}, {"gin one GET, widget-sized", g.getServed}} {
		fmt.Fprintf(w, "    %-26s %9.1f %9s %9s %9s %9.2f   %s\n", r.label, r.t.rate(), fmtDur(r.t.p(50)), fmtDur(r.t.p(99)), fmtBytes(r.t.bodyBytes()), r.t.countedPerRequest(), joinRates(r.t.rates()))
	}
	rr := ratio(g.reads.rate(), g.getDoc.rate())
	readVerdict := "PASS"
	if !(rr >= widgetTarget) {
		readVerdict = "below target"
	}
	failed := g.reads.failed() + g.getDoc.failed() + g.getServed.failed()
	if failed > 0 {
		readVerdict += ", suspect: requests failed"
	}
	fmt.Fprintf(w, "  widget-ingested/get-doc throughput ratio %.3f  %s (target >= %.1f)   round by round %.3f   p50 ratio %.2f   p99 ratio %.2f   <- headline\n",
		rr, readVerdict, widgetTarget, pairedRatio(g.reads, g.getDoc), durRatio(g.reads.p(50), g.getDoc.p(50)), durRatio(g.reads.p(99), g.getDoc.p(99)))
	// The widget answers its kept render, gzipped, a little more than the
	// stored document. Against a GET answering as many bytes, what is left
	// is the bridge's own work: authenticating the sidebar, checking the
	// email, reading the document beside the render.
	fmt.Fprintf(w, "  widget-ingested/get-served throughput ratio %.3f   round by round %.3f   p50 ratio %.2f   p99 ratio %.2f   <- context: the baseline answering as many bytes as the widget\n",
		ratio(g.reads.rate(), g.getServed.rate()), pairedRatio(g.reads, g.getServed), durRatio(g.reads.p(50), g.getServed.p(50)), durRatio(g.reads.p(99), g.getServed.p(99)))
	// The widget-sized GET is what the widget would cost if it did no
	// work of its own: against the headline's baseline, it is the most
	// any answer of the widget's bytes, sent as they are, can reach.
	fmt.Fprintf(w, "  get-served/get-doc throughput ratio %.3f   round by round %.3f   <- context: the ceiling of an answer of the widget's bytes\n",
		ratio(g.getServed.rate(), g.getDoc.rate()), pairedRatio(g.getServed, g.getDoc))
	fmt.Fprintln(w, "  cmds/req: GET, EVALSHA and EVAL that Redis ran per request; a widget read by a client taking gzip is one GET of the customer's document, whose value holds the sidebar's render")
	if failed == 0 {
		fmt.Fprintln(w, "  failed requests: none")
	}
	for _, t := range []targetResult{g.reads, g.getDoc, g.getServed} {
		if n := t.failed(); n > 0 {
			fmt.Fprintf(w, "  failed requests, %s: %d %v; first: %s\n", t.name, n, t.failures(), t.firstFail())
		}
	}
	fmt.Fprintf(w, "  bridge log: %d warnings, %d errors; baselines server log: %d warnings, %d errors\n",
		g.warnings, g.errors, g.baselineWarnings, g.baselineErrors)
}

func fmtMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/(1<<20)) }
