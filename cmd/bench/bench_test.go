package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// TestQuickRun runs every phase on small numbers, so that the benchmark
// keeps working as the bridge changes. It checks that the figures exist,
// not what they are: this machine's speed is no one's business here.
func TestQuickRun(t *testing.T) {
	rep, printed := quickBench(t, withoutMarkets(options{skipIsolation: true, skipBalance: true, skipIngest: true, skipFailover: true, skipMailLatency: true, skipMailBackfill: true}))
	if rep.pipeline == nil || rep.throttled == nil || rep.widget == nil {
		t.Fatalf("phases missing: pipeline %v, throttled %v, widget %v", rep.pipeline != nil, rep.throttled != nil, rep.widget != nil)
	}
	p := rep.pipeline
	for name, v := range map[string]float64{
		"alerts/s": p.pipe.steadyRate(), "no-op/s": p.noopSteadyRate(),
		"end-to-end alerts/s": p.pipe.rate(), "end-to-end no-op/s": p.noopRate(),
	} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a positive rate", name, v)
		}
	}
	if got, want := len(p.pipe.latencies), rep.opts.n; got != want {
		t.Errorf("%d intake latencies, want %d", got, want)
	}

	th := rep.throttled
	f := th.figures()
	if f.ticketsAll != rep.opts.m {
		t.Errorf("%d tickets in the throttled phase, want %d", f.ticketsAll, rep.opts.m)
	}
	if f.callsTotal < callsPerTicket*rep.opts.m {
		t.Errorf("%d Gorgias calls for %d tickets, want at least %d each", f.callsTotal, rep.opts.m, callsPerTicket)
	}
	if !f.steady || !(f.callRate > 0) {
		t.Errorf("steady state not measured: %+v", f)
	}
	w := rep.widget
	for _, tr := range []targetResult{w.widget, w.constant, w.get2k, w.spread} {
		if len(tr.rounds) != rep.opts.widgetRounds || !(tr.rate() > 0) || tr.p(99) <= 0 {
			t.Errorf("widget phase, %s: %d rounds, %v req/s, p99 %v", tr.name, len(tr.rounds), tr.rate(), tr.p(99))
		}
		if tr.failed() != 0 {
			t.Errorf("widget phase, %s: failed requests %v, first: %s", tr.name, tr.failures(), tr.firstFail())
		}
	}
	for _, tr := range []targetResult{w.widget, w.spread} {
		if b := tr.bodyBytes(); b < 4<<10 {
			t.Errorf("%s: the widget of %d orders is %d bytes: not the full widget", tr.name, widgetOrders, b)
		}
	}
	if w.customers != rep.opts.widgetWorkers {
		t.Errorf("widget-spread read %d customers, want one per worker, %d", w.customers, rep.opts.widgetWorkers)
	}
	if got := w.spread.countedPerRequest(); got < 0.9 {
		t.Errorf("widget-spread ran %.2f Redis GETs per request, want one: its reads must not be coalesced", got)
	}
	for _, want := range []string{"pipeline alerts/s", "asynq no-op/s", "throttled requests/s", "429s", "intake latency p50", "widget/get2k throughput ratio", "widget/const throughput ratio", "widget-spread/get2k throughput ratio", "widget-spread/const throughput ratio"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

func TestThrottledFigures(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	// A bucket of 40 per 20 s met exactly: 40 calls at once after a 1 s
	// wake-up, then one every 0.5 s; every second call creates a ticket.
	var calls []time.Time
	var tickets []ticketTime
	for i := range 120 {
		c := at(time.Second)
		if i >= 40 {
			c = at(time.Second + time.Duration(i-39)*500*time.Millisecond)
		}
		calls = append(calls, c)
		if i%2 == 1 {
			tickets = append(tickets, ticketTime{arrived: c, stored: c.Add(time.Millisecond)})
		}
	}
	tr := &throttledResult{m: 60, capacity: 40, window: 20 * time.Second, start: t0, calls: calls, tickets: tickets}
	f := tr.figures()

	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if !f.steady || f.steadyCalls != 80 || f.steadyTickets != 40 || f.steadySpan != 40*time.Second {
		t.Fatalf("steady state = %d calls, %d tickets in %s (measured %v), want 80, 40 in 40s", f.steadyCalls, f.steadyTickets, f.steadySpan, f.steady)
	}
	near("requests/s", f.callRate, 2)
	near("allowed requests/s", f.allowedCalls, 2)
	near("tickets/s", f.ticketRate, 1)
	near("allowed tickets/s", f.allowedTickets, 1)
	// The whole run, 41 s, could have held the burst and 41 s at 2/s.
	near("whole-run requests/s", f.wholeCallRate, 120.0/41)
	near("whole-run allowed", f.wholeAllowedCalls, (40+2*41.0)/41)

	tr.calls = calls[:40]
	if f := tr.figures(); f.steady {
		t.Errorf("steady state measured from the burst alone: %+v", f)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of unsorted", ms(5, 1, 3, 2, 4), 50, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"max", ms(3, 9, 1), 100, 9 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.in, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// TestQuickIsolation runs the isolation phase alone on small backlogs:
// every figure it prints must be there.
func TestQuickIsolation(t *testing.T) {
	rep, printed := quickBench(t, withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true, skipBalance: true, skipIngest: true,
		skipFailover: true, skipMailLatency: true, skipMailBackfill: true,
	}))
	iso := rep.isolation
	if iso == nil {
		t.Fatal("no isolation figures")
	}
	if len(iso.alertsB) == 0 || len(iso.replies) == 0 || len(iso.alertsA) == 0 {
		t.Errorf("delays measured: %d of B's alerts, %d replies, %d of A's alerts; want some of each", len(iso.alertsB), len(iso.replies), len(iso.alertsA))
	}
	if iso.lostB+iso.lostReplies+iso.lostAlertsA > 0 {
		t.Errorf("lost: %d of B's alerts, %d replies, %d of A's alerts", iso.lostB, iso.lostReplies, iso.lostAlertsA)
	}
	if iso.ratioAlerts.calls == 0 || iso.ratioBackfill.calls == 0 {
		t.Errorf("A's calls during its backlogs not counted: %+v %+v", iso.ratioAlerts, iso.ratioBackfill)
	}
	if iso.limited != 0 {
		t.Errorf("%d 429s: the bridge went over a Gorgias budget", iso.limited)
	}
	for _, want := range []string{"B's alert delay", "agent-reply delay", "new-alert delay", "delivered requests/s during its backfill", "longest a worker waited"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestQuickBalance runs the balance phase alone, on a Redis Cluster of its
// own: the shared test cluster belongs to cmd/bridge's tests.
func TestQuickBalance(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster and the bridge binary")
	}
	addrs := rdbtest.StartCluster(t, 5*time.Second).Addrs
	rep, printed := quickBench(t, withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true, skipIsolation: true,
		skipIngest: true, skipFailover: true, skipMailLatency: true, skipMailBackfill: true, clusterAddrs: strings.Join(addrs, ","),
	}))
	if rep.balance == nil || len(rep.balance.ops) != 3 {
		t.Fatalf("balance figures: %+v", rep.balance)
	}
	for m, n := range rep.balance.ops {
		if n <= 0 {
			t.Errorf("master %s processed %d commands", m, n)
		}
	}
	for m, k := range rep.balance.keys {
		if k.total == 0 || len(k.families) == 0 || k.err != nil {
			t.Errorf("master %s: %d commands seen by MONITOR, by family %v (%v)", m, k.total, k.families, k.err)
		}
	}
	readModels, limiters := 0, 0
	for m := range rep.balance.ops {
		readModels += rep.balance.readModels[m]
		limiters += rep.balance.limiters[m]
	}
	if readModels != balanceMerchants || limiters != balanceMerchants {
		t.Errorf("%d read models and %d limiters placed, want %d of each", readModels, limiters, balanceMerchants)
	}
	for _, want := range []string{"least / most busy master", "key families:", "commands by key family and master", "asynq:{…}", "w:{…}"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestQuickFailover runs the failover phase alone: it starts its own
// cluster and kills one of its masters.
func TestQuickFailover(t *testing.T) {
	rep, printed := quickBench(t, withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true, skipIsolation: true,
		skipBalance: true, skipIngest: true, skipMailLatency: true, skipMailBackfill: true,
	}))
	if rep.failoverNote != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(rep.failoverNote)
		}
		t.Skip(rep.failoverNote)
	}
	f := rep.failover
	if f == nil {
		t.Fatal("no failover figures")
	}
	if f.promotion <= 0 || f.refused503+f.refusedOther == 0 || f.accepted == 0 {
		t.Errorf("failover: promotion after %s, %d events refused, %d accepted", f.promotion, f.refused503+f.refusedOther, f.accepted)
	}
	if f.missing+f.duplicated > 0 {
		t.Errorf("of %d events, %d have no ticket and %d several", f.posted, f.missing, f.duplicated)
	}
	for _, want := range []string{"replica promoted", "first event accepted (202)", "answered 503", "recovery (accepting and processing)", "exactly once"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestQuickIngest runs the ingest phase alone on a few thousand events:
// every event must reach the read model, and every figure must be there.
func TestQuickIngest(t *testing.T) {
	rep, printed := quickBench(t, withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true, skipIsolation: true,
		skipBalance: true, skipFailover: true, skipMailLatency: true, skipMailBackfill: true,
	}))
	g := rep.ingest
	if g == nil {
		t.Fatal("no ingest figures")
	}
	if g.events != rep.opts.ingestEvents || len(g.latencies) != g.events {
		t.Errorf("%d events, %d intake latencies; want %d of each", g.events, len(g.latencies), rep.opts.ingestEvents)
	}
	for name, v := range map[string]float64{"events/s": g.rate(), "no-op/s": g.noopRate(), "widget reads/s": g.reads.rate(), "GETs/s": g.getDoc.rate(), "widget-sized GETs/s": g.getServed.rate()} {
		if !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a positive rate", name, v)
		}
	}
	if g.peakRSS <= 0 && runtime.GOOS == "linux" {
		t.Errorf("the bridge's peak RSS was not read")
	}
	m := g.mem
	if m.steadyErr != nil {
		t.Errorf("the read model alone was not measured: %v", m.steadyErr)
	}
	if !(m.perOrder() > 0) || !(m.steadyPerOrder() > 0) || m.steadyPerOrder() > m.perOrder() {
		t.Errorf("bytes per order: %v all in, %v once the bookkeeping is gone", m.perOrder(), m.steadyPerOrder())
	}
	counts := map[string]int64{}
	for _, c := range m.classes {
		counts[c.name] = c.count
		if c.count > 0 && (c.sampled == 0 || !(c.mean > 0)) {
			t.Errorf("%s: %d keys, none measured", c.name, c.count)
		}
	}
	want := map[string]int64{
		"order": int64(g.events), "customer index": int64(g.customers), "customer document, with its sidebars' renders": int64(g.customers),
		"event id": int64(g.events), "completed apply task": int64(g.events),
	}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%d keys of kind %s, want %d", counts[name], name, n)
		}
	}
	if m.docMeanBytes <= 0 {
		t.Error("the documents' size was not measured")
	}
	if g.servedBytes <= 0 || g.servedBytes >= int(m.docMeanBytes) {
		t.Errorf("the widget-sized baseline is %d bytes, for documents of %.0f stored that hold it", g.servedBytes, m.docMeanBytes)
	}
	for _, tr := range []targetResult{g.reads, g.getDoc, g.getServed} {
		if tr.failed() != 0 {
			t.Errorf("%s: failed requests %v, first: %s", tr.name, tr.failures(), tr.firstFail())
		}
	}
	if got := g.reads.countedPerRequest(); got < 0.9 {
		t.Errorf("the spread widget reads ran %.2f Redis commands per request, want one read each", got)
	}
	for _, want := range []string{"ingested events/s", "asynq no-op/s", "bridge peak RSS", "bytes per order, all in", "once the intake's bookkeeping has expired", "customer document", "widget-ingested/get-doc throughput ratio", "widget-ingested/get-served throughput ratio", "get-served/get-doc throughput ratio"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// quickBench runs the phases o does not skip on small numbers against the
// test Redis, logs the report and returns it with its printed form.
func quickBench(t *testing.T, o options) (*report, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the bridge binary")
	}
	rdbtest.Client(t, benchDB) // skips, or fails in CI, without a Redis
	// Room for a cold build of the bridge and Rakuten's latency phase,
	// which waits a whole minute for its next sync.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	o.redisAddr, o.quick = rdbtest.Addr(), true
	rep, err := runBench(ctx, o)
	var out bytes.Buffer
	if rep != nil {
		rep.print(&out)
	}
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	return rep, out.String()
}

// ms turns milliseconds into durations.
func ms(n ...int) []time.Duration {
	var out []time.Duration
	for _, v := range n {
		out = append(out, time.Duration(v)*time.Millisecond)
	}
	return out
}
