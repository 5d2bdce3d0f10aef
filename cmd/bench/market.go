package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// apiMarket is a marketplace whose API the bridge polls for messages,
// as the bench plays it. Each gets two phases: its message-to-helpdesk
// delay at its sync period, and a backfill at the helpdesk's allowed
// rate. A marketplace is a row of apiMarkets, a marketOptions field in
// options and a marketFake over its fake; the flags, defaults, phases
// and report come from the row.
type apiMarket struct {
	kind              string // the configuration's kind, and the flags' word: -skip-<kind>-latency
	title             string // in the report: "Fnac"
	latency, backfill string // the phases' letters in the report
	opts              func(*options) *marketOptions
	// minSync is the least sync_every the configuration takes for the
	// kind, when above the 10 s every kind has.
	minSync time.Duration
	// serve starts the fake with the bench's shop, whose key is key.
	serve func(key string) (marketFake, error)
}

// apiMarkets are the marketplaces polled by API, each with its pair of
// phases, in the report's order.
var apiMarkets = []*apiMarket{
	{kind: config.KindFnac, title: "Fnac", latency: "m", backfill: "n", opts: func(o *options) *marketOptions { return &o.fnac }, serve: serveFnac},
	// Rakuten's hourly quota makes the configuration refuse a sync more
	// often than every minute: the quick run waits a minute too.
	{kind: config.KindRakuten, title: "Rakuten", latency: "o", backfill: "p", opts: func(o *options) *marketOptions { return &o.rakuten }, minSync: time.Minute, serve: serveRakuten},
}

// leastSync is the least sync period the configuration takes for the
// kind, which the quick run uses.
func (m *apiMarket) leastSync() time.Duration { return max(latencySyncEvery, m.minSync) }

// marketFake is a marketplace's fake served on loopback, with the
// bench's shop on it.
type marketFake interface {
	// account is the merchant's marketplaces block for the bridge's
	// account on the fake, its key ${BENCH_MARKET_KEY}; settings are
	// YAML lines at the account's indentation.
	account(settings ...string) string
	// addMessage writes a customer's message about order, one thread per
	// order, its body carrying token, created at (zero: now).
	addMessage(order int, token string, at time.Time) error
	// recorded tells when the bridge's syncs listed the shop's updated
	// messages (not the reads of one thread), in order, and how many
	// requests the fake answered in all.
	recorded() (listings []time.Time, requests int)
	close()
}

// marketOptions are one marketplace's phases' settings.
type marketOptions struct {
	skipLatency, skipBackfill bool
	messages                  int           // posted in the latency phase
	syncEvery                 time.Duration // the latency phase's sync period; 0: the configuration's default
	threads                   int           // backfilled, one message each
	capacity                  int           // Gorgias requests per window the backfill's account allows
	window                    time.Duration
}

// addMarketFlags registers each marketplace's flags.
func addMarketFlags(fs *flag.FlagSet, o *options) {
	for _, m := range apiMarkets {
		mo := m.opts(o)
		fs.BoolVar(&mo.skipLatency, "skip-"+m.kind+"-latency", false, fmt.Sprintf("skip the %s latency phase, which waits on the bridge's sync at the default period (1m): about 4 minutes", m.title))
		fs.BoolVar(&mo.skipBackfill, "skip-"+m.kind+"-backfill", false, fmt.Sprintf("skip the %s backfill phase, which mirrors 1,000 threads at the Gorgias account's limit: about 2 minutes", m.title))
		fs.IntVar(&mo.messages, m.kind+"-messages", 0, fmt.Sprintf("customer messages added in the %s latency phase (default 20 over two sync periods, quick 3 over half of one)", m.title))
		fs.DurationVar(&mo.syncEvery, m.kind+"-sync-every", 0, fmt.Sprintf("the %s account's sync period in the latency phase, at least %s (default: the configuration's, 1m; quick %s)", m.title, m.leastSync(), m.leastSync()))
		fs.IntVar(&mo.threads, m.kind+"-backfill-threads", 0, fmt.Sprintf("%s threads of one message each mirrored in the backfill phase (default 1000, quick 24)", m.title))
		fs.IntVar(&mo.capacity, m.kind+"-backfill-capacity", 0, fmt.Sprintf("Gorgias requests per 20 s the %s backfill's account allows, the fake and the bridge's limiter alike (default 400, ten times Gorgias's default; quick 40)", m.title))
	}
}

// marketDefaults fills in each marketplace's settings left at zero.
func (o *options) marketDefaults() {
	for _, m := range apiMarkets {
		mo := m.opts(o)
		pick := func(v *int, normal, quick int) {
			if *v == 0 {
				*v = cond(o.quick, quick, normal)
			}
		}
		// A few messages in each part of the period, over two periods.
		pick(&mo.messages, 20, 3)
		// 1,000 threads are 2,000 Gorgias requests: at Gorgias's default
		// 40 per 20 s, 16 minutes; an account allowing ten times that
		// takes under 2, with the same pacing. The quick run keeps 8
		// requests past the default burst, as phase (b)'s does.
		pick(&mo.threads, 1000, 24)
		pick(&mo.capacity, 10*gorgiasfake.DefaultCapacity, gorgiasfake.DefaultCapacity)
		if mo.syncEvery == 0 && o.quick {
			mo.syncEvery = m.leastSync()
		}
		if mo.window == 0 {
			mo.window = cond(o.quick, 5*time.Second, gorgiasfake.DefaultWindow)
		}
	}
}

func cond[T any](c bool, yes, no T) T {
	if c {
		return yes
	}
	return no
}

// marketPhases runs a marketplace's phases that are not skipped.
func (r *rig) marketPhases(ctx context.Context, rep *report, m *apiMarket) error {
	mo := m.opts(&r.o)
	if !mo.skipLatency {
		res, err := r.marketLatencyPhase(ctx, m, mo.messages, mo.syncEvery)
		if err != nil {
			return fmt.Errorf("%s latency: %w", m.title, err)
		}
		rep.marketLatency = append(rep.marketLatency, res)
	}
	if !mo.skipBackfill {
		res, err := r.marketBackfillPhase(ctx, m, mo.threads, mo.capacity, mo.window)
		if err != nil {
			return fmt.Errorf("%s backfill: %w", m.title, err)
		}
		rep.marketBackfill = append(rep.marketBackfill, res)
	}
	return nil
}

// startMarketBridge runs the bridge with the account on the fake;
// rateLimit is the Gorgias account's line.
func (r *rig) startMarketBridge(ctx context.Context, name, gorgiasURL, rateLimit string, fake marketFake, settings ...string) (*bridgeProc, error) {
	kind := bridgeChild
	kind.marketplaces = fake.account(settings...)
	return r.startChild(ctx, kind, name, gorgiasURL, rateLimit, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
}

// marketLatencyResult is a marketplace's latency phase ((m) for Fnac):
// each message's delay from its creation on the marketplace to the fake
// Gorgias holding it, split at the sync that carried it, as phase (d)'s.
type marketLatencyResult struct {
	market                          *apiMarket
	messages                        int
	span, syncEvery, overlap        time.Duration
	defaultPeriod                   bool // syncEvery is the configuration's default
	latencies, syncWaits, afterSync []time.Duration
	listings, marketRequests        int
	gorgiasRequests, rateLimited    int
	refused                         map[int]int
	repeated, warnings, errors      int
}

// target is the goal for p95: within one sync period and a little.
func (m *marketLatencyResult) target() time.Duration { return m.syncEvery + latencySlack }

func (m *marketLatencyResult) ratio() float64 {
	return durRatio(percentile(m.latencies, 95), m.target())
}

func (m *marketLatencyResult) pass() bool { return m.ratio() <= 1 }

// marketLatencyPhase seeds a thread, waits for its ticket, then adds n
// customer messages to it at random moments over two sync periods (half
// of one in the quick run) and times each until the fake Gorgias holds
// it. syncEvery 0 leaves the account's period at its default.
func (r *rig) marketLatencyPhase(ctx context.Context, m *apiMarket, n int, syncEvery time.Duration) (*marketLatencyResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	hook, gorgias, stop, err := r.hookedGorgias()
	if err != nil {
		return nil, err
	}
	defer stop()
	fake, err := m.serve(r.marketKey)
	if err != nil {
		return nil, err
	}
	defer fake.close()

	const order = 1
	if err := fake.addMessage(order, newToken(), time.Time{}); err != nil {
		return nil, err
	}
	var settings []string
	if syncEvery > 0 {
		settings = append(settings, "sync_every: "+syncEvery.String())
	}
	b, err := r.startMarketBridge(ctx, m.kind+"-latency", gorgias.url, "", fake, settings...)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	mk := b.cfg.Merchants[0].Marketplaces[0]
	span := 2 * mk.SyncEvery
	if r.o.quick {
		span = mk.SyncEvery / 2
	}
	// The bridge's first sync, at start, opens the thread's ticket.
	ticket, err := waitFirstTicket(ctx, b, gorgias, 30*time.Second)
	if err != nil {
		return nil, err
	}
	r.logf("%s latency: ticket opened; adding %d customer messages at random moments over %s (sync every %s)", m.kind, n, span, mk.SyncEvery)

	offsets := make([]time.Duration, n)
	for i := range offsets {
		offsets[i] = time.Duration(rand.Int64N(int64(span)))
	}
	slices.Sort(offsets)
	posted := make([]postedMessage, n)
	start := time.Now()
	for i, off := range offsets {
		if err := sleepUntil(ctx, b, start.Add(off)); err != nil {
			return nil, err
		}
		token := newToken()
		posted[i] = postedMessage{token: token, posted: time.Now()}
		if err := fake.addMessage(order, token, posted[i].posted); err != nil {
			return nil, err
		}
	}
	// At most a period for the next sync, then the scheduler's tick and
	// asynq's idle polls: room to report a slow bridge rather than give
	// up on it.
	if err := waitArrivals(ctx, b, hook, posted, 2*mk.SyncEvery+30*time.Second); err != nil {
		return nil, err
	}
	if err := checkTicketMessages(gorgias, ticket, posted); err != nil {
		return nil, err
	}
	b.stop()
	gorgias.WaitWebhooks()

	listings, requests := fake.recorded()
	res := &marketLatencyResult{
		market: m, messages: n, span: span, syncEvery: mk.SyncEvery, overlap: mk.Overlap, defaultPeriod: syncEvery == 0,
		marketRequests: requests, refused: gorgias.refused(), rateLimited: gorgias.RateLimited(), repeated: hook.repeated(),
		warnings: b.logs.warnings(), errors: b.logs.errors(),
	}
	for _, c := range gorgias.Requests() {
		res.gorgiasRequests += c
	}
	for _, l := range listings {
		if !l.Before(start) {
			res.listings++
		}
	}
	res.latencies, res.syncWaits, res.afterSync = splitBySync(posted, hook, listings)
	return res, nil
}

func (m *marketLatencyResult) print(w io.Writer) {
	period := "set by -" + m.market.kind + "-sync-every"
	if m.defaultPeriod {
		period = "the default"
	}
	fmt.Fprintf(w, "\n(%s) %s latency: %d customer messages added to a fake %s thread at random moments over %s; bridge syncs every %s (%s; overlap %s), unthrottled fake Gorgias\n",
		m.market.latency, m.market.title, m.messages, m.market.title, m.span, m.syncEvery, period, m.overlap)
	p95 := percentile(m.latencies, 95)
	fmt.Fprintf(w, "  message created to the message in the Gorgias ticket: p50 %s  p95 %s  max %s\n",
		fmtDur(percentile(m.latencies, 50)), fmtDur(p95), fmtDur(percentile(m.latencies, 100)))
	fmt.Fprintf(w, "  p95 / sync period = %s / %s   ratio %.3f   (goal: within one sync period plus %s, ratio <= %.3f)\n",
		fmtDur(p95), m.syncEvery, durRatio(p95, m.syncEvery), latencySlack, durRatio(m.target(), m.syncEvery))
	verdict := "PASS"
	if !m.pass() {
		verdict = "above target"
	}
	fmt.Fprintf(w, "  p95 / (sync period + %s) = %s / %s   ratio %.3f  %s (target <= 1)   <- headline\n",
		latencySlack, fmtDur(p95), m.target(), m.ratio(), verdict)
	if len(m.syncWaits) > 0 {
		fmt.Fprintf(w, "  of which created to the next %s listing (polling): p50 %s  p95 %s  max %s\n", m.market.title,
			fmtDur(percentile(m.syncWaits, 50)), fmtDur(percentile(m.syncWaits, 95)), fmtDur(percentile(m.syncWaits, 100)))
		fmt.Fprintf(w, "  and that listing to the message in the ticket (the bridge): p50 %s  p95 %s  max %s\n",
			fmtDur(percentile(m.afterSync, 50)), fmtDur(percentile(m.afterSync, 95)), fmtDur(percentile(m.afterSync, 100)))
	}
	fmt.Fprintf(w, "  %d messages, each once in the ticket; %d %s listings while adding and waiting, %d %s requests in all; %d Gorgias requests, %d 429s; bridge log: %d warnings, %d errors\n",
		m.messages, m.listings, m.market.title, m.marketRequests, m.market.title, m.gorgiasRequests, m.rateLimited, m.warnings, m.errors)
	if m.repeated > 0 {
		fmt.Fprintf(w, "  note: the fake reported %d messages created again for a message already in the ticket\n", m.repeated)
	}
	if len(m.refused) > 0 {
		fmt.Fprintf(w, "  note: the fake refused requests, by status: %v\n", m.refused)
	}
}

// marketBackfillResult is a marketplace's backfill phase ((n) for
// Fnac): the Gorgias side is recorded and reduced as phase (b)'s, from
// the bridge's first listing.
type marketBackfillResult struct {
	market         *apiMarket
	threads        int
	gorgias        *throttledResult
	tickets, held  int // in the fake at the end: one per thread, each message once
	marketRequests int
	marketLimit    config.RateLimit
	seeding        time.Duration
}

func (b *marketBackfillResult) requestsPerTicket() float64 {
	return ratio(float64(len(b.gorgias.calls)), float64(b.tickets))
}

func (b *marketBackfillResult) pass(f throttledFigures) bool {
	return meetsBackfillTarget(b.gorgias, f)
}

// marketBackfillPhase seeds threads threads of one customer message
// each, then starts a bridge whose first sync lists them all and
// mirrors each into a fake Gorgias allowing capacity requests per
// window, the bridge's limiter set to the same and the marketplace's
// out of the way: the helpdesk is what is measured.
func (r *rig) marketBackfillPhase(ctx context.Context, m *apiMarket, threads, capacity int, window time.Duration) (*marketBackfillResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	gorgias, err := serveFake(gorgiasfake.Options{Capacity: capacity, Window: window}, r.apiKey)
	if err != nil {
		return nil, err
	}
	defer gorgias.close()
	fake, err := m.serve(r.marketKey)
	if err != nil {
		return nil, err
	}
	defer fake.close()
	// A second apart, oldest first, all within the first sync's reach.
	base := time.Now().Add(-time.Duration(threads+60) * time.Second).Truncate(time.Second)
	seedStart := time.Now()
	for i := range threads {
		if err := fake.addMessage(i+1, backfillToken(i), base.Add(time.Duration(i)*time.Second)); err != nil {
			return nil, err
		}
	}
	seeding := time.Since(seedStart)
	// One ticket costs two calls (lookup, create); the first capacity go
	// at once, the rest at capacity per window.
	expected := time.Duration(max(0, callsPerTicket*threads-capacity)) * window / time.Duration(capacity)
	r.logf("%s backfill: %d threads in the fake; about %s of paced delivery at %d requests/%s after the initial burst", m.kind, threads, expected.Round(time.Second), capacity, window)
	b, err := r.startMarketBridge(ctx, m.kind+"-backfill", gorgias.url, fmt.Sprintf("rate_limit: {requests: %d, per: %s}", capacity, window), fake, unpaced)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	mk := b.cfg.Merchants[0].Marketplaces[0]
	if err := gorgias.waitMessages(ctx, b, threads, 2*expected+60*time.Second+mk.SyncEvery); err != nil {
		return nil, err
	}
	b.stop()
	tickets, held, err := checkBackfilledMessages(gorgias, threads, threads)
	if err != nil {
		return nil, err
	}
	listings, requests := fake.recorded()
	if len(listings) == 0 {
		return nil, fmt.Errorf("tickets without any %s listing", m.title)
	}
	calls, created, limited := gorgias.records()
	served := 0
	for _, c := range gorgias.Requests() {
		served += c
	}
	return &marketBackfillResult{
		market: m, threads: threads, tickets: tickets, held: held, marketRequests: requests, marketLimit: mk.RateLimit, seeding: seeding,
		gorgias: &throttledResult{
			m: threads, capacity: capacity, window: window, limiter: b.cfg.Merchants[0].Helpdesks[0].RateLimit,
			workers: b.cfg.Worker.Concurrency, start: listings[0], calls: calls, tickets: created,
			limited: limited, refused: gorgias.refused(), fakeRateLimited: gorgias.RateLimited(), fakeRequests: served,
			warnings: b.logs.warnings(), errors: b.logs.errors(),
		},
	}, nil
}

func (b *marketBackfillResult) print(w io.Writer) {
	t := b.gorgias
	f := t.figures()
	title := b.market.title
	fmt.Fprintf(w, "\n(%s) %s backfill: %d %s threads of one customer message each, mirrored from the bridge's first sync into a fake Gorgias at %d requests/%s, bridge limiter %d/%s, %s limiter %d/%s (out of the way), %d workers\n",
		b.market.backfill, title, b.threads, title, t.capacity, t.window, t.limiter.Requests, t.limiter.Per, title, b.marketLimit.Requests, b.marketLimit.Per, t.workers)
	printScaledCapacity(w, t, "the backfill", "-"+b.market.kind+"-backfill-capacity")
	printBackfillRate(w, strings.ToLower(title)+" backfill", t, f, "-"+b.market.kind+"-backfill-threads")
	fmt.Fprintf(w, "  whole run, first %s listing to last Gorgias request: %d requests, %d tickets in %s; requests/s %6.2f, allowed with the %d-request burst %6.2f, ratio %.3f\n",
		title, f.callsTotal, f.ticketsAll, f.wholeSpan.Round(time.Millisecond), f.wholeCallRate, t.capacity, f.wholeAllowedCalls, ratio(f.wholeCallRate, f.wholeAllowedCalls))
	fmt.Fprintf(w, "  Gorgias requests per ticket %.2f; %d threads gave %d tickets holding each message once; %d %s requests (seeded in %s); 429s answered %d; bridge log: %d warnings, %d errors\n",
		b.requestsPerTicket(), b.threads, b.tickets, b.marketRequests, title, b.seeding.Round(time.Millisecond), t.fakeRateLimited, t.warnings, t.errors)
	t.printNotes(w, f)
}
