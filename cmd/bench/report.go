package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
)

// report is everything one run measured; a phase that did not complete is
// nil.
type report struct {
	opts      options
	cpus      int
	goVersion string
	goos      string
	goarch    string
	build     time.Duration
	pipeline  *pipelineReport
	throttled *throttledResult
	widget    *widgetResult
	mirror    *mirrorLatencyResult
	backfill  *backfillResult
	isolation *isolationResult
	balance   *balanceResult
	failover  *failoverResult
	// failoverNote says why the failover phase could not run.
	failoverNote string
	ingest       *ingestResult
	export       *exportResult
	invoices     *invoicesResult
	mailLatency  *mailLatencyResult
	mailBackfill *mailBackfillResult
	// mailNote says why the e-mail phases could not run.
	mailNote string
	// The API marketplaces' phases, in apiMarkets' order.
	marketLatency  []*marketLatencyResult
	marketBackfill []*marketBackfillResult
}

// pipelineResult is phase (a) on the bridge's side.
type pipelineResult struct {
	n, workers, senders int
	elapsed             time.Duration // first POST to the n-th ticket stored
	wake                time.Duration // first POST to the first ticket stored
	posting             time.Duration // first POST to the last answer
	latencies           []time.Duration
	refused             map[int]int // the fake's answers of 400 and above, by status
	warnings, errors    int         // log lines the bridge wrote at those levels
}

// rate counts from the first POST; steadyRate from the first ticket, which
// leaves out asynq's idle poll, as noopResult.steadyRate does.
func (p pipelineResult) rate() float64       { return perSecond(p.n, p.elapsed) }
func (p pipelineResult) steadyRate() float64 { return perSecond(p.n-1, p.elapsed-p.wake) }

type pipelineReport struct {
	pipe                  pipelineResult
	noopBefore, noopAfter noopResult
}

// noopRate and noopSteadyRate are the means of the baselines taken around
// the pipeline.
func (p *pipelineReport) noopRate() float64 {
	return (p.noopBefore.rate() + p.noopAfter.rate()) / 2
}

func (p *pipelineReport) noopSteadyRate() float64 {
	return (p.noopBefore.steadyRate() + p.noopAfter.steadyRate()) / 2
}

// throttledResult is phase (b): when the fake let each call through.
type throttledResult struct {
	m                int
	capacity         int           // the fake's bucket
	window           time.Duration // in which capacity calls drain
	limiter          config.RateLimit
	workers          int
	start            time.Time   // first POST
	calls            []time.Time // calls answered (429s excepted), by arrival
	tickets          []ticketTime
	limited          []int       // for each 429 the recorder saw, the calls let through before it
	refused          map[int]int // the fake's other answers of 400 and above, by status
	fakeRateLimited  int         // 429s the fake counted
	fakeRequests     int         // calls the fake's handlers counted
	warnings, errors int
}

// allowed is the fake's sustained rate, calls per second.
func (t *throttledResult) allowed() float64 { return perSecond(t.capacity, t.window) }

// printNotes reports what the fake refused, when its 429s came, and any
// disagreement between the recorder and the fake's own counts.
func (t *throttledResult) printNotes(w io.Writer, f throttledFigures) {
	if len(t.refused) > 0 {
		fmt.Fprintf(w, "  note: the fake refused requests, by status: %v\n", t.refused)
	}
	if len(t.limited) > 0 {
		fmt.Fprintf(w, "  the 429s came when %s requests had been let through (the burst is %d)\n", joinInts(t.limited, 10), t.capacity)
	}
	if t.fakeRequests != f.callsTotal || len(t.limited) != t.fakeRateLimited {
		fmt.Fprintf(w, "  note: the recorder saw %d requests and %d 429s; the fake counted %d and %d\n", f.callsTotal, len(t.limited), t.fakeRequests, t.fakeRateLimited)
	}
}

// throttledFigures are the rates derived from the records.
type throttledFigures struct {
	// Steady state: from the capacity-th call (the end of the initial
	// burst) to the last one, so the burst the bucket allows does not
	// inflate the rate.
	steady                 bool // false when too few calls came after the burst
	steadyCalls            int
	steadyTickets          int
	steadySpan             time.Duration
	callRate, ticketRate   float64
	allowedCalls           float64
	allowedTickets         float64
	wholeSpan              time.Duration // first POST to the last call
	wholeCallRate          float64
	wholeTicketRate        float64
	wholeAllowedCalls      float64 // the burst plus the sustained rate, over wholeSpan
	wholeAllowedTickets    float64
	callsTotal, ticketsAll int
}

func (t *throttledResult) figures() throttledFigures {
	calls := slices.Clone(t.calls)
	slices.SortFunc(calls, func(a, b time.Time) int { return a.Compare(b) })
	f := throttledFigures{callsTotal: len(calls), ticketsAll: len(t.tickets), allowedCalls: t.allowed(), allowedTickets: t.allowed() / callsPerTicket}
	if len(calls) == 0 {
		return f
	}
	last := calls[len(calls)-1]
	f.wholeSpan = last.Sub(t.start)
	f.wholeCallRate = perSecond(len(calls), f.wholeSpan)
	f.wholeTicketRate = perSecond(len(t.tickets), f.wholeSpan)
	if s := f.wholeSpan.Seconds(); s > 0 {
		f.wholeAllowedCalls = (float64(t.capacity) + t.allowed()*s) / s
		f.wholeAllowedTickets = f.wholeAllowedCalls / callsPerTicket
	}
	if len(calls) <= t.capacity {
		return f
	}
	burstEnd := calls[t.capacity-1]
	f.steady = true
	f.steadyCalls = len(calls) - t.capacity
	f.steadySpan = last.Sub(burstEnd)
	for _, tk := range t.tickets {
		if tk.arrived.After(burstEnd) && !tk.arrived.After(last) {
			f.steadyTickets++
		}
	}
	f.callRate = perSecond(f.steadyCalls, f.steadySpan)
	f.ticketRate = perSecond(f.steadyTickets, f.steadySpan)
	return f
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "bridge benchmark: %d CPUs, %s %s/%s; bridge built in %s\n", r.cpus, r.goVersion, r.goos, r.goarch, r.build.Round(100*time.Millisecond))
	fmt.Fprintln(w, "ratios compare with a baseline measured in this run; absolute figures are context only")
	if p := r.pipeline; p != nil {
		a := p.pipe
		fmt.Fprintf(w, "\n(a) alert pipeline: %d order.action_required events, %d senders, %d workers, unthrottled fake Gorgias\n", a.n, a.senders, a.workers)
		// The headline leaves out asynq's idle poll: a worker finding its
		// queues empty sleeps 0.5 to 1.5 s, so the first task of each side
		// waits a random part of a second, as long as the whole baseline.
		fmt.Fprintf(w, "  pipeline alerts/s %9.1f   asynq no-op/s %9.1f   ratio %.3f   <- headline: first to last ticket / task\n",
			a.steadyRate(), p.noopSteadyRate(), ratio(a.steadyRate(), p.noopSteadyRate()))
		fmt.Fprintf(w, "  from the first POST / enqueue, so including asynq's idle poll on both sides:\n")
		fmt.Fprintf(w, "           alerts/s %9.1f   asynq no-op/s %9.1f   ratio %.3f\n", a.rate(), p.noopRate(), ratio(a.rate(), p.noopRate()))
		fmt.Fprintf(w, "  %d alerts in %s, first after %s (posted in %s); no-op %s before, %s after\n",
			a.n, a.elapsed.Round(time.Millisecond), a.wake.Round(time.Millisecond), a.posting.Round(time.Millisecond),
			noopTimes(p.noopBefore), noopTimes(p.noopAfter))
		fmt.Fprintf(w, "  intake latency p50 %s  p99 %s  max %s\n",
			fmtDur(percentile(a.latencies, 50)), fmtDur(percentile(a.latencies, 99)), fmtDur(percentile(a.latencies, 100)))
		fmt.Fprintf(w, "  bridge log: %d warnings, %d errors\n", a.warnings, a.errors)
		if len(a.refused) > 0 {
			fmt.Fprintf(w, "  note: the fake refused requests, by status: %v\n", a.refused)
		}
	}
	if t := r.throttled; t != nil {
		f := t.figures()
		fmt.Fprintf(w, "\n(b) throttled delivery: %d events, fake Gorgias at %d requests/%s, bridge limiter %d/%s, %d workers; %d Gorgias calls per ticket\n",
			t.m, t.capacity, t.window, t.limiter.Requests, t.limiter.Per, t.workers, callsPerTicket)
		if f.steady {
			fmt.Fprintf(w, "  steady state, after the first %d requests: %d requests, %d tickets in %s\n", t.capacity, f.steadyCalls, f.steadyTickets, f.steadySpan.Round(time.Millisecond))
			fmt.Fprintf(w, "  throttled requests/s %5.2f   allowed %5.2f   ratio %.3f   429s %d   <- headline\n", f.callRate, f.allowedCalls, f.callRate/f.allowedCalls, t.fakeRateLimited)
			fmt.Fprintf(w, "  throttled tickets/s  %5.2f   allowed %5.2f   ratio %.3f\n", f.ticketRate, f.allowedTickets, f.ticketRate/f.allowedTickets)
		} else {
			fmt.Fprintf(w, "  steady state: not measured, only %d requests (the burst is %d); raise -m\n", f.callsTotal, t.capacity)
		}
		fmt.Fprintf(w, "  whole run, first POST to last request: %d requests, %d tickets in %s; allowed counts the %d-request burst\n",
			f.callsTotal, f.ticketsAll, f.wholeSpan.Round(time.Millisecond), t.capacity)
		fmt.Fprintf(w, "  whole-run requests/s %5.2f   allowed %5.2f   ratio %.3f\n", f.wholeCallRate, f.wholeAllowedCalls, ratio(f.wholeCallRate, f.wholeAllowedCalls))
		fmt.Fprintf(w, "  whole-run tickets/s  %5.2f   allowed %5.2f   ratio %.3f\n", f.wholeTicketRate, f.wholeAllowedTickets, ratio(f.wholeTicketRate, f.wholeAllowedTickets))
		fmt.Fprintf(w, "  429s answered by the fake %d; requests its handlers counted %d, %d beyond %d per ticket (a retried task looks its ticket up again); bridge log: %d warnings, %d errors\n",
			t.fakeRateLimited, t.fakeRequests, f.callsTotal-callsPerTicket*f.ticketsAll, callsPerTicket, t.warnings, t.errors)
		t.printNotes(w, f)
	}
	if r.widget != nil {
		r.widget.print(w)
	}
	if r.mirror != nil {
		r.mirror.print(w)
	}
	if r.backfill != nil {
		r.backfill.print(w)
	}
	if r.mailLatency != nil {
		r.mailLatency.print(w)
	}
	if r.mailBackfill != nil {
		r.mailBackfill.print(w)
	}
	if r.mailNote != "" {
		fmt.Fprintln(w, "\n(k, l) e-mail phases: not run:", r.mailNote)
	}
	// Each marketplace's pair together, in the phases' letters' order.
	for _, m := range apiMarkets {
		for _, l := range r.marketLatency {
			if l.market == m {
				l.print(w)
			}
		}
		for _, b := range r.marketBackfill {
			if b.market == m {
				b.print(w)
			}
		}
	}
	if r.isolation != nil {
		r.isolation.print(w)
	}
	if r.ingest != nil {
		r.ingest.print(w)
	}
	if r.balance != nil {
		r.balance.print(w)
	} else if r.opts.clusterAddrs == "" && !r.opts.skipBalance {
		fmt.Fprintln(w, "\n(h) balance: no Redis Cluster (set BRIDGE_TEST_REDIS_CLUSTER or -cluster; make bench starts one)")
	}
	if r.failover != nil {
		r.failover.print(w)
	} else if r.failoverNote != "" {
		fmt.Fprintln(w, "\n(i) failover: not run:", r.failoverNote)
	}
	if r.export != nil {
		r.export.print(w)
	}
	if r.invoices != nil {
		r.invoices.print(w)
	}
}

// widgetTarget is the throughput the widget should reach, as a fraction
// of one gin handler doing one Redis GET.
const widgetTarget = 0.9

func (w *widgetResult) print(out io.Writer) {
	fmt.Fprintf(out, "\n(c) widget read: GET %s, customers with %d orders each (lines and a shipment each); %d workers, closed loop, %d rounds of %s per target, interleaved, after %s of warm-up each\n",
		widgetPath, w.orders, w.workers, w.rounds, w.round, w.warmup)
	fmt.Fprintf(out, "  widget: every worker reads one customer; widget-spread: worker i reads customer i %% %d\n", w.customers)
	fmt.Fprintf(out, "  %-22s %9s %9s %9s %9s %9s   %s\n", "", "req/s", "p50", "p99", "body", "trips/req", "req/s of each round")
	rows := []struct {
		label string
		t     targetResult
	}{
		{"widget", w.widget},
		{"gin constant JSON", w.constant},
		{"gin one Redis GET 2KB", w.get2k},
		{"widget-spread", w.spread},
	}
	for _, r := range rows {
		fmt.Fprintf(out, "  %-22s %9.1f %9s %9s %9s %9.2f   %s\n", r.label, r.t.rate(), fmtDur(r.t.p(50)), fmtDur(r.t.p(99)), fmtBytes(r.t.bodyBytes()), r.t.countedPerRequest(), joinRates(r.t.rates()))
	}
	get := ratio(w.widget.rate(), w.get2k.rate())
	verdict := "PASS"
	if !(get >= widgetTarget) {
		verdict = "below target"
	}
	failed := 0
	for _, r := range rows {
		failed += r.t.failed()
	}
	if failed > 0 {
		verdict += ", suspect: requests failed"
	}
	fmt.Fprintf(out, "  widget/get2k throughput ratio %.3f  %s (target >= %.1f)   p50 ratio %.2f   p99 ratio %.2f   <- headline\n",
		get, verdict, widgetTarget, durRatio(w.widget.p(50), w.get2k.p(50)), durRatio(w.widget.p(99), w.get2k.p(99)))
	fmt.Fprintf(out, "  widget/const throughput ratio %.3f   p50 ratio %.2f   p99 ratio %.2f\n",
		ratio(w.widget.rate(), w.constant.rate()), durRatio(w.widget.p(50), w.constant.p(50)), durRatio(w.widget.p(99), w.constant.p(99)))
	// The spread figure is the widget without coalescing: one GET per
	// read, as many customers' sidebars open at once would cost. It is
	// set against the same target, but the verdict stays the headline's.
	spread := ratio(w.spread.rate(), w.get2k.rate())
	spreadVerdict := "meets"
	if !(spread >= widgetTarget) {
		spreadVerdict = "below"
	}
	fmt.Fprintf(out, "  widget-spread/get2k throughput ratio %.3f  %s the %.1f target   p50 ratio %.2f   p99 ratio %.2f   <- without coalescing\n",
		spread, spreadVerdict, widgetTarget, durRatio(w.spread.p(50), w.get2k.p(50)), durRatio(w.spread.p(99), w.get2k.p(99)))
	fmt.Fprintf(out, "  widget-spread/const throughput ratio %.3f   p50 ratio %.2f   p99 ratio %.2f\n",
		ratio(w.spread.rate(), w.constant.rate()), durRatio(w.spread.p(50), w.constant.p(50)), durRatio(w.spread.p(99), w.constant.p(99)))
	// The ratios above divide medians over rounds; these divide each round
	// by its neighbour of the same turn first, which cancels most of the
	// machine's drift. When the two disagree, the machine was noisy.
	fmt.Fprintf(out, "  round by round, median of the ratios: widget/get2k %.3f, widget/const %.3f, widget-spread/get2k %.3f, widget-spread/const %.3f\n",
		pairedRatio(w.widget, w.get2k), pairedRatio(w.widget, w.constant), pairedRatio(w.spread, w.get2k), pairedRatio(w.spread, w.constant))
	fmt.Fprintf(out, "  get2k/const  throughput ratio %.3f   (the cost of one Redis round trip)\n", ratio(w.get2k.rate(), w.constant.rate()))
	// Every reader of the widget target asks for the same customer, as
	// the agents on one ticket would: the bridge's identical concurrent
	// reads share one GET, which the baseline does not do. The spread
	// target's readers each ask for their own, so each read has its GET.
	fmt.Fprintf(out, "  Redis round trips per request (GET or the widget's conditional GET script): widget %.2f, widget-spread %.2f, get2k %.2f (identical concurrent widget reads share one)\n",
		w.widget.countedPerRequest(), w.spread.countedPerRequest(), w.get2k.countedPerRequest())
	fmt.Fprintf(out, "  a widget's GET reads its customer's stored document, %s; get2k's reads %s\n", fmtBytes(w.docBytes), fmtBytes(get2kSize))
	if failed == 0 {
		fmt.Fprintln(out, "  failed requests: none")
	}
	for _, r := range rows {
		if n := r.t.failed(); n > 0 {
			fmt.Fprintf(out, "  failed requests, %s: %d %v; first: %s\n", r.label, n, r.t.failures(), r.t.firstFail())
		}
	}
	fmt.Fprintf(out, "  bridge log: %d warnings, %d errors; baselines server log: %d warnings, %d errors\n",
		w.bridgeWarnings, w.bridgeErrors, w.baselineWarnings, w.baselineErrors)
}

func joinRates(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.1f", r)
	}
	return strings.Join(parts, ", ")
}

// durRatio is a/b; above 1 means a is slower.
func durRatio(a, b time.Duration) float64 { return ratio(float64(a), float64(b)) }

func fmtBytes(n int) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1024)
}

// joinInts lists up to most numbers, then says how many more there are.
func joinInts(ns []int, most int) string {
	var parts []string
	for _, n := range ns[:min(len(ns), most)] {
		parts = append(parts, strconv.Itoa(n))
	}
	s := strings.Join(parts, ", ")
	if len(ns) > most {
		s += fmt.Sprintf(" and %d more", len(ns)-most)
	}
	return s
}

func noopTimes(r noopResult) string {
	return fmt.Sprintf("%s, first after %s", r.elapsed.Round(time.Millisecond), r.wake.Round(time.Millisecond))
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return math.NaN()
	}
	return float64(n) / d.Seconds()
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// percentile is the nearest-rank percentile p (0-100] of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	default:
		return d.Round(time.Microsecond).String()
	}
}
