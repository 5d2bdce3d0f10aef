package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// benchDB is this command's database on the throwaway Redis (see rdbtest).
const benchDB = 7

// unpaced is the Gorgias limit the pipeline phase gives the bridge: far
// above anything it reaches, so that the limiter stays in the path (one
// Redis round trip per call, as in production) without ever making it wait.
const unpaced = "rate_limit: {requests: 1000000, per: 1s}"

type options struct {
	redisAddr     string
	n, m          int
	quick         bool
	skipPipeline  bool
	skipThrottled bool
	skipWidget    bool
	senders       int       // concurrent POSTs, and concurrent enqueuers in the baseline
	progress      io.Writer // one line per phase; nil for none
	bridgeLogs    io.Writer // gets the bridge's log lines; nil for none
	// The widget phase's load: concurrent readers, rounds per target, each
	// round's length, and the unmeasured warm-up of each target.
	widgetWorkers int
	widgetRounds  int
	widgetRound   time.Duration
	widgetWarmup  time.Duration
	// The mirroring phases: whether they run, the messages posted in the
	// latency phase and the threads of the backfill phase.
	skipMirrorLatency bool
	skipBackfill      bool
	mirrorMessages    int
	backfillThreads   int
	// The isolation phase: A's alert backlog, A's backfill, and how long
	// each part measures.
	skipIsolation    bool
	isolationAlerts  int
	isolationThreads int
	isolationWindow  time.Duration
	// The balance phase: the Redis Cluster's nodes (none: the phase is
	// left out) and its workload.
	clusterAddrs     string
	skipBalance      bool
	balanceAlerts    int
	balanceCustomers int
	// The failover phase: whether it runs, and the first port its cluster
	// may use (0: picked by the process id).
	skipFailover bool
	failoverPort int
	// The export phase: whether it runs, and the orders it exports.
	skipExport   bool
	exportOrders int
	// The bulk invoice phase: whether it runs, and its job's orders.
	skipInvoices  bool
	invoiceOrders int
	// The ingest phase: whether it runs, its events and their customers.
	skipIngest      bool
	ingestEvents    int
	ingestCustomers int
	// The e-mail phases: whether they run, the mails of the latency
	// phase, and the backfilled folder's mails and the Gorgias requests
	// its account allows per 20 s.
	skipMailLatency      bool
	skipMailBackfill     bool
	mailMessages         int
	mailBackfillMessages int
	mailBackfillCapacity int
	mailBackfillWindow   time.Duration // in which capacity requests drain
	// The API marketplaces' phases (see apiMarkets), one field each.
	fnac    marketOptions
	rakuten marketOptions
}

func (o *options) applyDefaults() {
	pick := func(v *int, normal, quick int) {
		if *v == 0 {
			*v = normal
			if o.quick {
				*v = quick
			}
		}
	}
	// 4000 alerts keep the pipeline busy for several seconds and the no-op
	// baseline for about half a second, on 2 cores.
	pick(&o.n, 4000, 40)
	// 60 alerts are 120 Gorgias calls: 40 go in the initial burst and the
	// other 80 take 40 s at 2 calls/s, long enough to see the steady state.
	// The quick run keeps 8 calls past the burst, 4 s.
	pick(&o.m, 60, 24)
	// 20 messages over three sync periods put a few in each period, at
	// every phase of it; the quick run posts 4 within half a period.
	pick(&o.mirrorMessages, 20, 4)
	// 80 threads are 160 Gorgias calls: 40 in the initial burst, then 120
	// at 2 calls/s, a minute of steady state. The quick run keeps 8 calls
	// past the burst, as phase (b)'s does.
	pick(&o.backfillThreads, 80, 24)
	// 1,000 alerts and 2,000 threads are the backlogs: 2,000 and
	// more than 4,000 Gorgias calls, far more than a minute's budget, so
	// A has work waiting through each minute measured. The quick run
	// keeps the shape with backlogs that still outlast its 15 s windows.
	pick(&o.isolationAlerts, 1000, 60)
	pick(&o.isolationThreads, 2000, 60)
	// As for the Mirakl thread: a few mails in each part of a sync
	// period; the quick run delivers 4 within a tenth of one.
	pick(&o.mailMessages, 20, 4)
	// The 5,000 mails cost 10,000 Gorgias requests: at Gorgias's
	// default 40 per 20 s, 83 minutes. An account allowing ten times
	// that takes about 8, and the pacing is the same. The quick run
	// keeps 8 requests past the default burst, as phase (b)'s does.
	pick(&o.mailBackfillMessages, 5000, 24)
	pick(&o.mailBackfillCapacity, 10*gorgiasfake.DefaultCapacity, gorgiasfake.DefaultCapacity)
	pick(&o.balanceAlerts, 2000, 100)
	pick(&o.balanceCustomers, 200, 10)
	// A million orders of 100,000 customers, ten each, is the volume the
	// read model is sized for; the quick run keeps ten orders each, on
	// few enough customers to take seconds.
	pick(&o.ingestEvents, 1_000_000, 2000)
	pick(&o.exportOrders, 1_000_000, 2000)
	// The 10,000-invoice job; the quick run keeps a few chunks.
	pick(&o.invoiceOrders, 10_000, 250)
	pick(&o.ingestCustomers, 100_000, 200)
	if o.senders <= 0 {
		o.senders = 8
	}
	// 16 readers keep both cores busy on either server, each on its own
	// kept-alive connection. Thirty rounds of 1 s per target give a median
	// that a few disturbed rounds do not move (with five or ten rounds of
	// 2 s, runs of the same code on a shared machine differed by more than
	// the margin a target leaves), and neighbours close enough in time to
	// compare; the quick run keeps the same shape, shorter, as it only
	// checks that the phase works.
	pick(&o.widgetWorkers, 16, 16)
	pick(&o.widgetRounds, 30, 3)
	pickDur := func(v *time.Duration, normal, quick time.Duration) {
		if *v == 0 {
			*v = normal
			if o.quick {
				*v = quick
			}
		}
	}
	pickDur(&o.widgetRound, time.Second, 300*time.Millisecond)
	pickDur(&o.widgetWarmup, time.Second, 200*time.Millisecond)
	pickDur(&o.isolationWindow, time.Minute, 15*time.Second)
	// Gorgias's window; the quick run's is shorter, so that its test
	// takes seconds.
	pickDur(&o.mailBackfillWindow, gorgiasfake.DefaultWindow, 5*time.Second)
	o.marketDefaults()
}

// rig is what every phase shares: the Redis, the built binary, the secrets.
type rig struct {
	o        options
	rdb      *redis.Client
	dir      string
	bin      string
	secret   string // the merchant's event secret
	apiKey   string // the fake Gorgias account's key
	adminPW  string
	progress io.Writer
	// sidebarToken is the bearer token of the merchant's Gorgias sidebar.
	sidebarToken string
	// apiToken is the merchant's API token, for the order export.
	apiToken string
	// miraklKey is the fake Mirakl shop user's key.
	miraklKey string
	// mail is the e-mail phases' IMAP server; nil when they do not run.
	mail *mailServer
	// marketKey is the key of the bench's shop on an API marketplace's
	// fake (shaped as Fnac's keys are; Rakuten's token is any string).
	marketKey string
}

// imapPassword is the e-mail account's, for the bridge's environment.
func (r *rig) imapPassword() string {
	if r.mail == nil {
		return ""
	}
	return r.mail.password
}

func (r *rig) logf(format string, args ...any) {
	if r.progress != nil {
		fmt.Fprintf(r.progress, "bench: "+format+"\n", args...)
	}
}

// flush empties the bench database, so that each phase starts with no
// queue, no dedupe key and a full limiter bucket.
func (r *rig) flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := r.rdb.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush Redis %s db %d: %w", r.o.redisAddr, benchDB, err)
	}
	return nil
}

// runBench runs every phase and returns what it measured; on an error the
// report holds the phases that completed.
func runBench(ctx context.Context, o options) (*report, error) {
	o.applyDefaults()
	rep := &report{opts: o, cpus: runtime.NumCPU(), goVersion: runtime.Version(), goos: runtime.GOOS, goarch: runtime.GOARCH}
	r := &rig{o: o, progress: o.progress, secret: randomHex(), apiKey: randomHex(), adminPW: randomHex(), sidebarToken: randomHex(), apiToken: randomHex(), miraklKey: randomHex(), marketKey: randomUUID()}
	r.rdb = redis.NewClient(&redis.Options{Addr: o.redisAddr, DB: benchDB})
	defer r.rdb.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := r.rdb.Ping(pingCtx).Err()
	cancel()
	if err != nil {
		return nil, fmt.Errorf("Redis at %s: %w", o.redisAddr, err)
	}
	if err := r.flush(ctx); err != nil {
		return nil, err
	}

	r.dir, err = os.MkdirTemp("", "bridge-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	r.logf("building the bridge")
	start := time.Now()
	if r.bin, err = buildBridge(ctx, r.dir); err != nil {
		return nil, err
	}
	rep.build = time.Since(start)

	if !o.skipPipeline {
		// The baseline runs before and after the pipeline and the two are
		// averaged, so that a machine getting busier or quieter during the
		// run moves both sides of the ratio alike.
		before, err := r.noopPhase(ctx, o.n)
		if err != nil {
			return rep, err
		}
		pipe, err := r.pipelinePhase(ctx, o.n)
		if err != nil {
			return rep, err
		}
		after, err := r.noopPhase(ctx, o.n)
		if err != nil {
			return rep, err
		}
		rep.pipeline = &pipelineReport{pipe: pipe, noopBefore: before, noopAfter: after}
	}

	if !o.skipThrottled {
		thr, err := r.throttledPhase(ctx, o.m)
		if err != nil {
			return rep, err
		}
		rep.throttled = thr
	}

	if !o.skipWidget {
		w, err := r.widgetPhase(ctx)
		if err != nil {
			return rep, err
		}
		rep.widget = w
	}

	if !o.skipMirrorLatency {
		lat, err := r.mirrorLatencyPhase(ctx, o.mirrorMessages)
		if err != nil {
			return rep, err
		}
		rep.mirror = lat
	}

	if !o.skipBackfill {
		bf, err := r.backfillPhase(ctx, o.backfillThreads)
		if err != nil {
			return rep, err
		}
		rep.backfill = bf
	}

	if !o.skipMailLatency || !o.skipMailBackfill {
		if err := r.mailPhases(ctx, rep); err != nil {
			return rep, err
		}
	}

	for _, m := range apiMarkets {
		if err := r.marketPhases(ctx, rep, m); err != nil {
			return rep, err
		}
	}

	if !o.skipBalance && o.clusterAddrs != "" {
		bal, err := r.balancePhase(ctx, strings.Split(o.clusterAddrs, ","), o.balanceAlerts, o.balanceCustomers)
		if err != nil {
			return rep, err
		}
		rep.balance = bal
	}

	if !o.skipFailover {
		fo, err := r.failoverPhase(ctx)
		switch {
		case errors.Is(err, errNoRedisServer):
			rep.failoverNote = err.Error()
		case err != nil:
			return rep, err
		}
		rep.failover = fo
	}

	if !o.skipIsolation {
		iso, err := r.isolationPhase(ctx, o.isolationAlerts, o.isolationThreads, o.isolationWindow)
		if err != nil {
			return rep, err
		}
		rep.isolation = iso
	}

	if !o.skipIngest {
		ing, err := r.ingestPhase(ctx, o.ingestEvents, o.ingestCustomers)
		if err != nil {
			return rep, err
		}
		rep.ingest = ing
	}

	if !o.skipExport {
		exp, err := r.exportPhase(ctx, o.exportOrders)
		if err != nil {
			return rep, err
		}
		rep.export = exp
	}

	if !o.skipInvoices {
		inv, err := r.invoicesPhase(ctx, o.invoiceOrders)
		if err != nil {
			return rep, err
		}
		rep.invoices = inv
	}
	return rep, nil
}

// mailPhases runs the e-mail phases that are not skipped, on the IMAP
// server the environment names; without one, rep says why they did not
// run.
func (r *rig) mailPhases(ctx context.Context, rep *report) error {
	var err error
	r.mail, err = mailServerFromEnv()
	if errors.Is(err, errNoIMAPServer) {
		rep.mailNote = err.Error()
		return nil
	}
	if err != nil {
		return err
	}
	if !r.o.skipMailLatency {
		if rep.mailLatency, err = r.mailLatencyPhase(ctx, r.o.mailMessages); err != nil {
			return err
		}
	}
	if !r.o.skipMailBackfill {
		if rep.mailBackfill, err = r.mailBackfillPhase(ctx, r.o.mailBackfillMessages, r.o.mailBackfillCapacity, r.o.mailBackfillWindow); err != nil {
			return err
		}
	}
	return nil
}

// pipelinePhase posts n events to a bridge delivering to an unthrottled
// fake and times them from the first POST to the n-th ticket.
func (r *rig) pipelinePhase(ctx context.Context, n int) (pipelineResult, error) {
	if err := r.flush(ctx); err != nil {
		return pipelineResult{}, err
	}
	fake, err := serveFake(gorgiasfake.Options{Unthrottled: true}, r.apiKey)
	if err != nil {
		return pipelineResult{}, err
	}
	defer fake.close()
	b, err := r.startBridge(ctx, "pipeline", fake.url, unpaced)
	if err != nil {
		return pipelineResult{}, err
	}
	defer b.stop()
	r.logf("pipeline: posting %d events with %d senders to the bridge (%d workers)", n, r.o.senders, b.cfg.Worker.Concurrency)

	bodies := newEvents("pipe", n, r.secret)
	posted, err := postAll(ctx, b.url, bodies, r.o.senders)
	if err != nil {
		return pipelineResult{}, b.explain(err)
	}
	first, last, err := fake.waitTickets(ctx, b, n, 30*time.Second+time.Duration(n)*20*time.Millisecond)
	if err != nil {
		return pipelineResult{}, err
	}
	if err := fake.checkTickets(n); err != nil {
		return pipelineResult{}, err
	}
	b.stop()
	return pipelineResult{
		n: n, workers: b.cfg.Worker.Concurrency, senders: r.o.senders,
		elapsed: last.Sub(posted.start), wake: first.Sub(posted.start), posting: posted.end.Sub(posted.start),
		latencies: posted.latencies, refused: fake.refused(), warnings: b.logs.warnings(), errors: b.logs.errors(),
	}, nil
}

// noopPhase measures raw asynq on the same Redis with the bridge's worker
// concurrency.
func (r *rig) noopPhase(ctx context.Context, n int) (noopResult, error) {
	if err := r.flush(ctx); err != nil {
		return noopResult{}, err
	}
	workers, err := r.workerConcurrency()
	if err != nil {
		return noopResult{}, err
	}
	r.logf("baseline: %d asynq no-op tasks, %d enqueuers, %d workers", n, r.o.senders, workers)
	return runNoop(ctx, r.o.redisAddr, benchDB, n, workers, r.o.senders)
}

// throttledPhase posts m events to a bridge whose limiter and fake both sit
// at Gorgias's defaults, and records when each call was let through.
func (r *rig) throttledPhase(ctx context.Context, m int) (*throttledResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	fake, err := serveFake(gorgiasfake.Options{}, r.apiKey)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	b, err := r.startBridge(ctx, "throttled", fake.url, "")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	capacity, window := gorgiasfake.DefaultCapacity, gorgiasfake.DefaultWindow
	lim := b.cfg.Merchants[0].Helpdesks[0].RateLimit
	// Each alert costs two calls (lookup, create); the first capacity go at
	// once, the rest at capacity per window.
	expected := time.Duration(max(0, callsPerTicket*m-capacity)) * window / time.Duration(capacity)
	r.logf("throttled: posting %d events; about %s of paced delivery after the initial burst", m, expected.Round(time.Second))

	bodies := newEvents("thr", m, r.secret)
	posted, err := postAll(ctx, b.url, bodies, r.o.senders)
	if err != nil {
		return nil, b.explain(err)
	}
	if _, _, err := fake.waitTickets(ctx, b, m, 2*expected+60*time.Second); err != nil {
		return nil, err
	}
	if err := fake.checkTickets(m); err != nil {
		return nil, err
	}
	b.stop()
	calls, tickets, limited := fake.records()
	served := 0
	for _, c := range fake.Requests() {
		served += c
	}
	return &throttledResult{
		m: m, capacity: capacity, window: window, limiter: lim, workers: b.cfg.Worker.Concurrency,
		start: posted.start, calls: calls, tickets: tickets,
		limited: limited, refused: fake.refused(), fakeRateLimited: fake.RateLimited(), fakeRequests: served,
		warnings: b.logs.warnings(), errors: b.logs.errors(),
	}, nil
}

// callsPerTicket: the Gorgias connector looks a ticket up by its external
// id before creating it, so that a retried task finds the ticket it made.
const callsPerTicket = 2

func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// randomUUID is random hex in a uuid's shape.
func randomUUID() string {
	h := randomHex()
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
