package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// The mirroring phases' marketplace: one shop on a fake Mirakl instance,
// mounted under a prefix as a proxied instance would be.
const (
	benchAccount     = "bench-mirakl"
	benchMarketplace = "benchmarket"
	benchShopID      = "2001"
	miraklPrefix     = "/mirakl"
	// latencySyncEvery is the shortest sync period the configuration
	// allows (Mirakl advises against polling faster).
	latencySyncEvery = 10 * time.Second
	// latencySlack is what the issue allows beyond the sync period.
	latencySlack = 2 * time.Second
	// backfillTarget is the share of Gorgias's sustained rate the backfill
	// should reach, with no 429.
	backfillTarget = 0.95
)

// marketplaceTemplate is the merchant's marketplaces block: the fake
// Mirakl's base URL, then settings lines at the account's indentation.
const marketplaceTemplate = `    marketplaces:
      - id: ` + benchAccount + `
        kind: mirakl
        name: ` + benchMarketplace + `
        base_url: "%s"
        api_key: ${BENCH_MIRAKL_KEY}
        store: ` + benchStore + `
        helpdesk: bench-gorgias
        %s
`

// startMirrorBridge runs the bridge with the marketplace account on
// miraklURL, whose settings (sync_every, rate_limit...) are YAML lines;
// the Gorgias account keeps its default rate limit.
func (r *rig) startMirrorBridge(ctx context.Context, name, gorgiasURL, miraklURL string, settings ...string) (*bridgeProc, error) {
	kind := bridgeChild
	kind.marketplaces = fmt.Sprintf(marketplaceTemplate, miraklURL, strings.Join(settings, "\n        "))
	return r.startChild(ctx, kind, name, gorgiasURL, "", func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
}

// fakeMirakl is the Mirakl fake served on loopback behind a recorder of
// when each thread listing (the bridge's sync) arrived.
type fakeMirakl struct {
	*miraklfake.Server
	url string // the instance's base URL, prefix included
	srv *http.Server

	mu       sync.Mutex
	listings []time.Time
	requests int
	replied  map[string]int // shop replies (M12) by thread
}

// serveMirakl serves a fake instance with the bench's shop, never
// throttled, on a free loopback port.
func serveMirakl(apiKey string) (*fakeMirakl, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeMirakl{
		Server: miraklfake.New(miraklfake.Options{
			Shops:      []miraklfake.Shop{{ID: benchShopID, Name: "Bench Shop", APIKeys: []string{apiKey}}},
			PathPrefix: miraklPrefix,
		}),
		url: "http://" + l.Addr().String() + miraklPrefix,
	}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

func (f *fakeMirakl) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

func (f *fakeMirakl) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	f.mu.Lock()
	f.requests++
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/api/inbox/threads") {
		f.listings = append(f.listings, arrived)
	}
	f.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	f.Server.ServeHTTP(sw, r)
	if m := replyPath.FindStringSubmatch(r.URL.Path); m != nil && r.Method == http.MethodPost && sw.status < 300 {
		f.mu.Lock()
		if f.replied == nil {
			f.replied = map[string]int{}
		}
		f.replied[m[1]]++
		f.mu.Unlock()
	}
}

// replyPath is M12's: a reply to a thread.
var replyPath = regexp.MustCompile(`/api/inbox/threads/([^/]+)/message$`)

// replies counts the shop's replies to a thread the fake took.
func (f *fakeMirakl) replies(thread string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.replied[thread]
}

// recorded returns the thread listings' arrivals and every request's count.
func (f *fakeMirakl) recorded() (listings []time.Time, requests int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.listings), f.requests
}

// seedThread opens a thread about an order, with one customer message.
// The names and words are made up.
func (f *fakeMirakl) seedThread(i int, body string) (mapi.Thread, error) {
	order := fmt.Sprintf("BENCH-%04d-A", i)
	return f.AddThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: order, Topic: "Where is my parcel?",
		CustomerID: fmt.Sprintf("bench-customer-%04d", i), CustomerName: "Camille Durand",
		Message: miraklfake.MessageSeed{Body: body},
	})
}

// messageHook receives the fake Gorgias's ticket-message-created calls,
// the callback Gorgias's HTTP integrations are, and notes when each bench
// message first arrived in a ticket.
type messageHook struct {
	url string
	srv *http.Server

	mu      sync.Mutex
	arrived map[string]time.Time // by token
	repeats int                  // calls for a token already arrived
}

// tokenPattern finds a bench message's token in its body.
var tokenPattern = regexp.MustCompile(`bm-[0-9a-f]{12}`)

func newToken() string { return "bm-" + randomHex()[:12] }

// hookedGorgias serves an unthrottled fake Gorgias whose integration
// calls a message hook, for the latency phases, which time each message
// by the hook; stop waits for its webhooks and closes both.
func (r *rig) hookedGorgias() (*messageHook, *fakeGorgias, func(), error) {
	hook, err := serveHook()
	if err != nil {
		return nil, nil, nil, err
	}
	gorgias, err := serveFake(gorgiasfake.Options{Unthrottled: true, Integrations: []api.Integration{hook.integration()}}, r.apiKey)
	if err != nil {
		hook.close()
		return nil, nil, nil, err
	}
	stop := func() {
		gorgias.WaitWebhooks()
		gorgias.close()
		hook.close()
	}
	return hook, gorgias, stop, nil
}

func serveHook() (*messageHook, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &messageHook{url: "http://" + l.Addr().String() + "/message-created", arrived: map[string]time.Time{}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(l) }()
	return h, nil
}

func (h *messageHook) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}

// integration subscribes the hook to every message created in the fake.
func (h *messageHook) integration() api.Integration {
	return api.Integration{Name: "bench-latency", Type: api.IntegrationTypeHTTP, HTTP: &api.HTTPIntegration{
		URL: h.url, Method: http.MethodPost, Form: map[string]string{"body_text": "{{message.body_text}}"},
		Triggers: map[string]bool{api.TriggerTicketMessageCreated: true},
	}}
}

func (h *messageHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	var form struct {
		BodyText string `json:"body_text"`
	}
	err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&form)
	w.WriteHeader(http.StatusNoContent)
	if err != nil {
		return
	}
	token := tokenPattern.FindString(form.BodyText)
	if token == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.arrived[token]; ok {
		h.repeats++
		return
	}
	h.arrived[token] = at
}

// arrival tells when token's message arrived, if it has.
func (h *messageHook) arrival(token string) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.arrived[token]
	return t, ok
}

func (h *messageHook) repeated() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.repeats
}

// mirrorLatencyResult is phase (d): for each message posted into the fake
// Mirakl, how long until the fake Gorgias held it, and where the time went.
type mirrorLatencyResult struct {
	messages  int
	span      time.Duration // over which the messages were posted
	syncEvery time.Duration
	overlap   time.Duration
	// latencies: post to the message held in the ticket. syncWaits: post
	// to the bridge's next thread listing, the wait polling imposes;
	// afterSync: that listing to the message held, the bridge's own part.
	latencies []time.Duration
	syncWaits []time.Duration
	afterSync []time.Duration
	listings  int // thread listings the fake Mirakl answered in the phase
	// The fake Gorgias's side.
	gorgiasRequests  int
	rateLimited      int
	refused          map[int]int
	repeated         int // callbacks for a message already held
	warnings, errors int
	memory           discussionMemory
}

// target is the most the p95 may be: the sync period plus 2 s.
func (m *mirrorLatencyResult) target() time.Duration { return m.syncEvery + latencySlack }

func (m *mirrorLatencyResult) ratio() float64 {
	return durRatio(percentile(m.latencies, 95), m.target())
}

func (m *mirrorLatencyResult) pass() bool { return m.ratio() <= 1 }

// postedMessage is one message of phase (d).
type postedMessage struct {
	token  string
	posted time.Time
}

// mirrorLatencyPhase seeds a thread, waits for its ticket, then posts n
// customer messages at random moments over three sync periods (half of
// one in the quick run) and times each until the fake Gorgias holds it.
func (r *rig) mirrorLatencyPhase(ctx context.Context, n int) (*mirrorLatencyResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	hook, gorgias, stop, err := r.hookedGorgias()
	if err != nil {
		return nil, err
	}
	defer stop()
	mirakl, err := serveMirakl(r.miraklKey)
	if err != nil {
		return nil, err
	}
	defer mirakl.close()

	thread, err := mirakl.seedThread(1, "Hello, my parcel has not arrived yet.")
	if err != nil {
		return nil, err
	}
	b, err := r.startMirrorBridge(ctx, "mirror-latency", gorgias.url, mirakl.url, "sync_every: "+latencySyncEvery.String())
	if err != nil {
		return nil, err
	}
	defer b.stop()
	mk := b.cfg.Merchants[0].Marketplaces[0]
	span := 3 * mk.SyncEvery
	if r.o.quick {
		span = mk.SyncEvery / 2
	}
	// The bridge's first sync, at start, opens the thread's ticket.
	ticket, err := waitFirstTicket(ctx, b, gorgias, 30*time.Second)
	if err != nil {
		return nil, err
	}
	r.logf("mirror latency: ticket opened; posting %d customer messages at random moments over %s (sync every %s)", n, span, mk.SyncEvery)

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
		if _, err := mirakl.AddMessage(thread.ID, miraklfake.MessageSeed{Body: "Any news of my parcel? Ref " + token}); err != nil {
			return nil, err
		}
	}
	// A message waits at most a period for the next sync, then for the
	// scheduler's tick and two of asynq's idle polls: two periods and 30 s
	// leave room to report a slow bridge rather than give up on it.
	within := 2*mk.SyncEvery + 30*time.Second
	if err := waitArrivals(ctx, b, hook, posted, within); err != nil {
		return nil, err
	}
	if err := checkTicketMessages(gorgias, ticket, posted); err != nil {
		return nil, err
	}
	b.stop()
	gorgias.WaitWebhooks()
	mem, err := r.measureDiscussions(ctx, b.cfg.Redis.KeyPrefix, 1)
	if err != nil {
		return nil, err
	}

	listings, _ := mirakl.recorded()
	res := &mirrorLatencyResult{memory: mem,
		messages: n, span: span, syncEvery: mk.SyncEvery, overlap: mk.Overlap,
		refused: gorgias.refused(), rateLimited: gorgias.RateLimited(), repeated: hook.repeated(),
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

// splitBySync times each posted message from its post to its arrival in
// the ticket, and splits that at the first marketplace listing after the
// post, the sync that carried it: the wait polling imposes, then the
// bridge's own part. listings are in order.
func splitBySync(posted []postedMessage, hook *messageHook, listings []time.Time) (latencies, syncWaits, afterSync []time.Duration) {
	for _, p := range posted {
		arrived, _ := hook.arrival(p.token)
		latencies = append(latencies, arrived.Sub(p.posted))
		if i, _ := slices.BinarySearchFunc(listings, p.posted, func(l, t time.Time) int { return l.Compare(t) }); i < len(listings) {
			syncWaits = append(syncWaits, listings[i].Sub(p.posted))
			afterSync = append(afterSync, arrived.Sub(listings[i]))
		}
	}
	return latencies, syncWaits, afterSync
}

// sleepUntil waits until t, or returns why it could not.
func sleepUntil(ctx context.Context, b *bridgeProc, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-b.done:
		return b.explain(fmt.Errorf("the bridge exited: %v", b.err))
	case <-timer.C:
		return nil
	}
}

// waitFirstTicket waits until the fake holds a ticket and returns its id.
func waitFirstTicket(ctx context.Context, b *bridgeProc, f *fakeGorgias, within time.Duration) (int64, error) {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if ts := f.Tickets(); len(ts) > 0 {
			return ts[0].ID, nil
		}
		if time.Now().After(deadline) {
			return 0, b.explain(fmt.Errorf("no ticket for the seeded thread after %s (fake Gorgias: %s)", within, f.summary()))
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-b.done:
			return 0, b.explain(fmt.Errorf("the bridge exited before the thread's ticket was opened: %v", b.err))
		case <-tick.C:
		}
	}
}

// waitArrivals waits until the hook has heard of every posted message.
func waitArrivals(ctx context.Context, b *bridgeProc, h *messageHook, posted []postedMessage, within time.Duration) error {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		missing := 0
		for _, p := range posted {
			if _, ok := h.arrival(p.token); !ok {
				missing++
			}
		}
		if missing == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return b.explain(fmt.Errorf("%d of %d messages not in the ticket %s after the last was posted", missing, len(posted), within))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return b.explain(fmt.Errorf("the bridge exited with %d of %d messages not in the ticket: %v", missing, len(posted), b.err))
		case <-tick.C:
		}
	}
}

// checkTicketMessages confirms that the fake holds one ticket, with each
// posted message once.
func checkTicketMessages(f *fakeGorgias, id int64, posted []postedMessage) error {
	if n := len(f.Tickets()); n != 1 {
		return fmt.Errorf("the fake holds %d tickets for one thread", n)
	}
	t, ok := f.Ticket(id)
	if !ok {
		return fmt.Errorf("the fake lost ticket %d", id)
	}
	count := map[string]int{}
	for _, m := range t.Messages {
		if token := tokenPattern.FindString(m.BodyText); token != "" {
			count[token]++
		}
	}
	for i, p := range posted {
		if c := count[p.token]; c != 1 {
			return fmt.Errorf("message %d of %d is %d times in the ticket", i+1, len(posted), c)
		}
	}
	return nil
}

func (m *mirrorLatencyResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(d) mirror latency: %d customer messages posted into a fake Mirakl thread at random moments over %s; bridge syncs every %s (overlap %s), unthrottled fake Gorgias\n",
		m.messages, m.span, m.syncEvery, m.overlap)
	fmt.Fprintf(w, "  post to the message in the Gorgias ticket: p50 %s  p95 %s  max %s\n",
		fmtDur(percentile(m.latencies, 50)), fmtDur(percentile(m.latencies, 95)), fmtDur(percentile(m.latencies, 100)))
	verdict := "PASS"
	if !m.pass() {
		verdict = "above target"
	}
	fmt.Fprintf(w, "  p95 / (sync period + %s) = %s / %s   ratio %.3f  %s (target <= 1)   <- headline\n",
		latencySlack, fmtDur(percentile(m.latencies, 95)), m.target(), m.ratio(), verdict)
	if len(m.syncWaits) > 0 {
		fmt.Fprintf(w, "  of which post to the next Mirakl listing (polling): p50 %s  p95 %s  max %s\n",
			fmtDur(percentile(m.syncWaits, 50)), fmtDur(percentile(m.syncWaits, 95)), fmtDur(percentile(m.syncWaits, 100)))
		fmt.Fprintf(w, "  and that listing to the message in the ticket (the bridge): p50 %s  p95 %s  max %s\n",
			fmtDur(percentile(m.afterSync, 50)), fmtDur(percentile(m.afterSync, 95)), fmtDur(percentile(m.afterSync, 100)))
	}
	fmt.Fprintf(w, "  %d messages, each once in the ticket; %d Mirakl thread listings while posting and waiting; %d Gorgias requests, %d 429s; bridge log: %d warnings, %d errors\n",
		m.messages, m.listings, m.gorgiasRequests, m.rateLimited, m.warnings, m.errors)
	m.memory.print(w)
	if m.repeated > 0 {
		fmt.Fprintf(w, "  note: the fake reported %d messages created again for a message already in the ticket\n", m.repeated)
	}
	if len(m.refused) > 0 {
		fmt.Fprintf(w, "  note: the fake refused requests, by status: %v\n", m.refused)
	}
}

// backfillResult is phase (e): the Gorgias side is recorded and reduced
// as phase (b)'s, from the bridge's first Mirakl listing.
type backfillResult struct {
	threads     int
	gorgias     *throttledResult
	tickets     int // in the fake at the end: threads, each once
	mirakl      int // requests the fake Mirakl answered
	miraklLimit config.RateLimit
	memory      discussionMemory
}

// requestsPerTicket is every Gorgias call answered, 429s excepted, per
// ticket.
func (b *backfillResult) requestsPerTicket() float64 {
	return ratio(float64(len(b.gorgias.calls)), float64(b.tickets))
}

func (b *backfillResult) pass(f throttledFigures) bool { return meetsBackfillTarget(b.gorgias, f) }

// meetsBackfillTarget: a backfill's steady state reached the share of the
// allowed rate it should, with no 429.
func meetsBackfillTarget(t *throttledResult, f throttledFigures) bool {
	return f.steady && f.callRate/f.allowedCalls >= backfillTarget && t.fakeRateLimited == 0
}

// backfillPhase seeds threads threads of one customer message each, then
// starts a bridge whose first sync lists them all and mirrors each into
// a ticket of a fake Gorgias at its real limit.
func (r *rig) backfillPhase(ctx context.Context, threads int) (*backfillResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	gorgias, err := serveFake(gorgiasfake.Options{}, r.apiKey)
	if err != nil {
		return nil, err
	}
	defer gorgias.close()
	mirakl, err := serveMirakl(r.miraklKey)
	if err != nil {
		return nil, err
	}
	defer mirakl.close()
	for i := range threads {
		if _, err := mirakl.seedThread(i+1, "Hello, my parcel has not arrived yet."); err != nil {
			return nil, err
		}
	}
	capacity, window := gorgiasfake.DefaultCapacity, gorgiasfake.DefaultWindow
	// One ticket costs two calls (lookup, create); the first capacity go
	// at once, the rest at capacity per window.
	expected := time.Duration(max(0, callsPerTicket*threads-capacity)) * window / time.Duration(capacity)
	r.logf("backfill: %d threads in the fake Mirakl; about %s of paced delivery after the initial burst", threads, expected.Round(time.Second))
	// Mirakl is paced far above need: the helpdesk is what is measured.
	b, err := r.startMirrorBridge(ctx, "backfill", gorgias.url, mirakl.url, "rate_limit: {requests: 1000000, per: 1s}")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	if _, _, err := gorgias.waitTickets(ctx, b, threads, 2*expected+60*time.Second); err != nil {
		return nil, err
	}
	if err := gorgias.checkTickets(threads); err != nil {
		return nil, err
	}
	b.stop()
	mem, err := r.measureDiscussions(ctx, b.cfg.Redis.KeyPrefix, threads)
	if err != nil {
		return nil, err
	}
	listings, miraklRequests := mirakl.recorded()
	if len(listings) == 0 {
		return nil, fmt.Errorf("tickets without any Mirakl listing")
	}
	calls, tickets, limited := gorgias.records()
	served := 0
	for _, c := range gorgias.Requests() {
		served += c
	}
	return &backfillResult{
		threads: threads, tickets: len(gorgias.Tickets()), mirakl: miraklRequests, memory: mem,
		miraklLimit: b.cfg.Merchants[0].Marketplaces[0].RateLimit,
		gorgias: &throttledResult{
			m: threads, capacity: capacity, window: window, limiter: b.cfg.Merchants[0].Helpdesks[0].RateLimit,
			workers: b.cfg.Worker.Concurrency, start: listings[0], calls: calls, tickets: tickets,
			limited: limited, refused: gorgias.refused(), fakeRateLimited: gorgias.RateLimited(), fakeRequests: served,
			warnings: b.logs.warnings(), errors: b.logs.errors(),
		},
	}, nil
}

func (b *backfillResult) print(w io.Writer) {
	t := b.gorgias
	f := t.figures()
	fmt.Fprintf(w, "\n(e) discussion backfill: %d Mirakl threads of one message each, mirrored from the bridge's first sync; fake Gorgias at %d requests/%s, bridge limiter %d/%s, Mirakl limiter %d/%s, %d workers\n",
		b.threads, t.capacity, t.window, t.limiter.Requests, t.limiter.Per, b.miraklLimit.Requests, b.miraklLimit.Per, t.workers)
	if f.steady {
		verdict := "PASS"
		if !b.pass(f) {
			verdict = "below target"
		}
		fmt.Fprintf(w, "  steady state, after the first %d requests: %d requests, %d tickets in %s\n", t.capacity, f.steadyCalls, f.steadyTickets, f.steadySpan.Round(time.Millisecond))
		fmt.Fprintf(w, "  backfill requests/s %5.2f   allowed %5.2f   ratio %.3f   429s %d   %s (target >= %.2f and no 429)   <- headline\n",
			f.callRate, f.allowedCalls, f.callRate/f.allowedCalls, t.fakeRateLimited, verdict, backfillTarget)
		fmt.Fprintf(w, "  backfill tickets/s  %5.2f   allowed %5.2f   ratio %.3f\n", f.ticketRate, f.allowedTickets, f.ticketRate/f.allowedTickets)
	} else {
		fmt.Fprintf(w, "  steady state: not measured, only %d requests (the burst is %d); raise -backfill-threads\n", f.callsTotal, t.capacity)
	}
	fmt.Fprintf(w, "  whole run, first Mirakl listing to last Gorgias request: %d requests, %d tickets in %s; requests/s %5.2f, allowed with the %d-request burst %5.2f, ratio %.3f\n",
		f.callsTotal, f.ticketsAll, f.wholeSpan.Round(time.Millisecond), f.wholeCallRate, t.capacity, f.wholeAllowedCalls, ratio(f.wholeCallRate, f.wholeAllowedCalls))
	fmt.Fprintf(w, "  Gorgias requests per ticket %.2f; %d threads gave %d tickets, none twice; %d Mirakl requests; 429s answered %d; bridge log: %d warnings, %d errors\n",
		b.requestsPerTicket(), b.threads, b.tickets, b.mirakl, t.fakeRateLimited, t.warnings, t.errors)
	b.memory.print(w)
	t.printNotes(w, f)
}
