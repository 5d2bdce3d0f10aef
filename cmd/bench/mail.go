package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/client"

	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// The e-mail phases' marketplace: an Amazon account whose relayed mail
// lands in a folder of the throwaway Dovecot, one folder per phase.
const (
	mailAccount = "bench-mail"
	mailSeller  = "orders@bench.example"
	// mailLatencyGoal is the issue's: p95 within 5 s of the mail's
	// arrival, where BeezUP syncs every 5 minutes.
	mailLatencyGoal = 5 * time.Second
	// mailMessagesPerOrder: a backfilled mailbox holds five buyer mails
	// per order, interleaved, as a busy shop's would.
	mailMessagesPerOrder = 5
)

// mailTemplate is the merchant's marketplaces block for the e-mail
// account: the IMAP server, its login and folder, then settings lines at
// the account's indentation. No agent replies in these phases, so the
// SMTP relay is never dialled.
const mailTemplate = `    marketplaces:
      - id: ` + mailAccount + `
        kind: email
        name: amazon
        store: ` + benchStore + `
        helpdesk: bench-gorgias
        email:
          profile: amazon
          from: ` + mailSeller + `
          imap:
            addr: "%s"
            tls: starttls
            username: "%s"
            password: ${BENCH_IMAP_PASSWORD}
            mailbox: "%s"
          smtp:
            addr: "127.0.0.1:25"
        %s
`

// errNoIMAPServer says why the e-mail phases did not run.
var errNoIMAPServer = errors.New("no IMAP server: BRIDGE_TEST_IMAP_ADDR is unset (make bench starts a throwaway Dovecot)")

// mailServer is the IMAP server of the e-mail phases, as .ci/with-dovecot
// describes it in the environment.
type mailServer struct {
	addr, tlsAddr  string // IMAP with STARTTLS, IMAPS
	user, password string
	caFile         string // the PEM certificate the server presents
	roots          *x509.CertPool
}

func mailServerFromEnv() (*mailServer, error) {
	m := &mailServer{
		addr: os.Getenv("BRIDGE_TEST_IMAP_ADDR"), tlsAddr: os.Getenv("BRIDGE_TEST_IMAPS_ADDR"),
		user: os.Getenv("BRIDGE_TEST_IMAP_USER"), password: os.Getenv("BRIDGE_TEST_IMAP_PASSWORD"),
		caFile: os.Getenv("BRIDGE_TEST_IMAP_CA"), roots: x509.NewCertPool(),
	}
	if m.addr == "" {
		return nil, errNoIMAPServer
	}
	if m.tlsAddr == "" || m.user == "" || m.caFile == "" {
		return nil, errors.New("BRIDGE_TEST_IMAP_ADDR is set without BRIDGE_TEST_IMAPS_ADDR, BRIDGE_TEST_IMAP_USER or BRIDGE_TEST_IMAP_CA")
	}
	pem, err := os.ReadFile(m.caFile)
	if err != nil {
		return nil, fmt.Errorf("the IMAP server's certificate: %w", err)
	}
	if !m.roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the IMAP server's certificate: no PEM certificate in %s", m.caFile)
	}
	return m, nil
}

func (m *mailServer) tls() *tls.Config { return &tls.Config{RootCAs: m.roots} }

// mailFolder is a folder of a phase's own, and the bench's session on
// it, which plays the marketplace's relay delivering mail.
type mailFolder struct {
	m    *mailServer
	name string
	c    *client.Client
	used time.Time // the session's last command
}

// sessionTimeout bounds each command of the bench's session. go-imap
// leaves the deadline set after the command, so a session idle for
// longer is dead: fresh opens another first.
const sessionTimeout = 30 * time.Second

func (m *mailServer) session() (*client.Client, error) {
	c, err := client.DialTLS(m.tlsAddr, m.tls())
	if err != nil {
		return nil, fmt.Errorf("IMAP %s: %w", m.tlsAddr, err)
	}
	c.ErrorLog = log.New(io.Discard, "", 0) // a session left to expire says so
	c.Timeout = sessionTimeout
	if err := c.Login(m.user, m.password); err != nil {
		_ = c.Logout()
		return nil, fmt.Errorf("IMAP login: %w", err)
	}
	return c, nil
}

// newFolder logs in over IMAPS and creates a folder named for the phase.
func (m *mailServer) newFolder(phase string) (*mailFolder, error) {
	c, err := m.session()
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("bench-%s-%d", phase, time.Now().UnixNano())
	if err := c.Create(name); err != nil {
		_ = c.Logout()
		return nil, fmt.Errorf("IMAP create %s: %w", name, err)
	}
	return &mailFolder{m: m, name: name, c: c, used: time.Now()}, nil
}

// fresh opens a new session when the last may have expired; called
// before a delivery is timed, so that a login never counts in it.
func (f *mailFolder) fresh() error {
	if time.Since(f.used) < sessionTimeout*2/3 {
		return nil
	}
	c, err := f.m.session()
	if err != nil {
		return err
	}
	_ = f.c.Close()
	f.c, f.used = c, time.Now()
	return nil
}

// deliver appends one mail, as the relay's delivery would.
func (f *mailFolder) deliver(raw []byte) error {
	if err := f.fresh(); err != nil {
		return err
	}
	err := f.c.Append(f.name, nil, time.Now(), bytes.NewReader(raw))
	f.used = time.Now()
	if err != nil {
		return fmt.Errorf("IMAP append to %s: %w", f.name, err)
	}
	return nil
}

// close deletes the folder and logs out.
func (f *mailFolder) close() {
	if f.fresh() == nil {
		_ = f.c.Delete(f.name)
	}
	_ = f.c.Logout()
}

// buyerMail is an Amazon buyer's message about an order, relayed from
// the buyer's alias, its text ending with token. The names are made up.
func buyerMail(order int, seq string, token string) []byte {
	return fmt.Appendf(nil, "From: \"Buyer %d\" <benchbuyer%05d@marketplace.amazon.fr>\r\nTo: %s\r\n"+
		"Subject: Demande de renseignements de la part du client Amazon (Commande : 171-0000000-%07d)\r\n"+
		"Message-ID: <bench-%s@email.amazonses.com>\r\nDate: %s\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=utf-8\r\n\r\nBonjour, où en est ma commande ? Ref %s\r\n",
		order, order, mailSeller, order, seq, time.Now().Format(time.RFC1123Z), token)
}

// startMailBridge runs the bridge with the e-mail account on folder,
// trusting the test server's certificate as a system root: the bridge
// reads the mailbox over STARTTLS as in production. rateLimit is the
// Gorgias account's line, settings the marketplace account's.
func (r *rig) startMailBridge(ctx context.Context, name, gorgiasURL, rateLimit, folder string, settings ...string) (*bridgeProc, error) {
	kind := bridgeChild
	kind.marketplaces = fmt.Sprintf(mailTemplate, r.mail.addr, r.mail.user, folder, strings.Join(settings, "\n        "))
	kind.env = map[string]string{"SSL_CERT_FILE": r.mail.caFile}
	return r.startChild(ctx, kind, name, gorgiasURL, rateLimit, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
}

// mailLatencyResult is phase (k): each mail's delay from its APPEND to
// the message in the Gorgias ticket, and, for the same mails, from the
// APPEND to an IDLE session of the bench's own seeing it: what the IMAP
// server itself takes to announce mail, the baseline.
type mailLatencyResult struct {
	messages  int
	span      time.Duration
	syncEvery time.Duration
	// latencies: APPEND sent to the message held in the ticket.
	// notified: APPEND sent to the bench's IDLE session seeing the mail
	// (imapbox's Wait and Head, the bridge's own watch loop).
	// appends: the APPEND's own round trip.
	latencies, notified, appends []time.Duration
	gorgiasRequests              int
	rateLimited                  int
	refused                      map[int]int
	repeated                     int
	warnings, errors             int
}

func (m *mailLatencyResult) ratio() float64 {
	return durRatio(percentile(m.latencies, 95), mailLatencyGoal)
}

func (m *mailLatencyResult) pass() bool { return m.ratio() <= 1 }

// mailLatencyPhase delivers a first mail, waits for its ticket, then
// delivers n more about the same order at random moments over a sync
// period (a tenth of one in the quick run) and times each until the fake
// Gorgias holds it, and until the bench's IDLE session sees it.
func (r *rig) mailLatencyPhase(ctx context.Context, n int) (*mailLatencyResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	hook, gorgias, stop, err := r.hookedGorgias()
	if err != nil {
		return nil, err
	}
	defer stop()
	folder, err := r.mail.newFolder("latency")
	if err != nil {
		return nil, err
	}
	defer folder.close()
	const order = 1
	if err := folder.deliver(buyerMail(order, "seed-"+randomHex(), newToken())); err != nil {
		return nil, err
	}

	b, err := r.startMailBridge(ctx, "mail-latency", gorgias.url, "", folder.name)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	mk := b.cfg.Merchants[0].Marketplaces[0]
	ticket, err := waitFirstTicket(ctx, b, gorgias, 30*time.Second)
	if err != nil {
		return nil, err
	}

	// The baseline: an IDLE session on the same folder, run by the same
	// code as the bridge's watch, which records when each new UID shows.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watch := &idleWatch{}
	var watchErr error
	watchDone := make(chan struct{})
	go func() { watchErr = watch.run(watchCtx, r.mail, folder.name); close(watchDone) }()
	defer func() { stopWatch(); <-watchDone }()
	if err := watch.ready(ctx, 30*time.Second); err != nil {
		return nil, err
	}

	span := mk.SyncEvery
	if r.o.quick {
		span = mk.SyncEvery / 10
	}
	r.logf("mail latency: ticket opened; delivering %d buyer mails at random moments over %s (periodic sync every %s, IDLE between)", n, span, mk.SyncEvery)
	offsets := make([]time.Duration, n)
	for i := range offsets {
		offsets[i] = time.Duration(rand.Int64N(int64(span)))
	}
	slices.Sort(offsets)
	posted := make([]postedMessage, n)
	appends := make([]time.Duration, n)
	start := time.Now()
	for i, off := range offsets {
		if err := sleepUntil(ctx, b, start.Add(off)); err != nil {
			return nil, err
		}
		if err := folder.fresh(); err != nil {
			return nil, err
		}
		token := newToken()
		posted[i] = postedMessage{token: token, posted: time.Now()}
		if err := folder.deliver(buyerMail(order, token, token)); err != nil {
			return nil, err
		}
		appends[i] = time.Since(posted[i].posted)
	}
	// A mail whose wake was missed waits for the next periodic sync.
	within := mk.SyncEvery + 30*time.Second
	if err := waitArrivals(ctx, b, hook, posted, within); err != nil {
		return nil, err
	}
	if err := checkTicketMessages(gorgias, ticket, posted); err != nil {
		return nil, err
	}
	// Each session notices mail on its own schedule: the bench's may
	// see the last mail after the bridge has mirrored it.
	if err := watch.waitFor(ctx, uint32(n+1), 30*time.Second); err != nil {
		return nil, err
	}
	b.stop()
	stopWatch()
	<-watchDone
	if watchErr != nil && !errors.Is(watchErr, context.Canceled) {
		return nil, fmt.Errorf("the baseline's IDLE session: %w", watchErr)
	}

	res := &mailLatencyResult{
		messages: n, span: span, syncEvery: mk.SyncEvery, appends: appends,
		refused: gorgias.refused(), rateLimited: gorgias.RateLimited(), repeated: hook.repeated(),
		warnings: b.logs.warnings(), errors: b.logs.errors(),
	}
	for _, c := range gorgias.Requests() {
		res.gorgiasRequests += c
	}
	// The folder is the bench's alone: the seed is UID 1, the i-th mail
	// delivered after it UID i+2.
	for i, p := range posted {
		arrived, _ := hook.arrival(p.token)
		res.latencies = append(res.latencies, arrived.Sub(p.posted))
		at, ok := watch.seen(uint32(i + 2))
		if !ok {
			return nil, fmt.Errorf("the baseline's IDLE session never saw mail %d of %d (UID %d); last UID it saw %d", i+1, n, i+2, watch.last())
		}
		res.notified = append(res.notified, at.Sub(p.posted))
	}
	if last := watch.last(); last != uint32(n+1) {
		return nil, fmt.Errorf("the folder's last UID is %d after %d mails: UIDs were not given in turn, the baseline cannot be matched", last, n+1)
	}
	return res, nil
}

// idleWatch waits on a folder as the bridge's watch does (imapbox's
// Wait, then Head) and records when each new highest UID was seen.
type idleWatch struct {
	mu      sync.Mutex
	started bool
	heads   []uidSeen
}

type uidSeen struct {
	uid uint32
	at  time.Time
}

func (w *idleWatch) run(ctx context.Context, m *mailServer, folder string) error {
	box, err := imapbox.New(imapbox.Options{
		Addr: m.addr, Username: m.user, Password: m.password, Mailbox: folder,
		Security: imapbox.StartTLS, TLSConfig: m.tls(),
	})
	if err != nil {
		return err
	}
	defer box.Close()
	cur, err := box.Head(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.started = true
	w.mu.Unlock()
	for {
		if err := box.Wait(ctx, cur); err != nil {
			return err
		}
		head, err := box.Head(ctx)
		if err != nil {
			return err
		}
		// Taken once Head has answered: every UID up to head was in the
		// folder by then, so none is timed before it was delivered.
		at := time.Now()
		if head.LastUID > cur.LastUID {
			w.mu.Lock()
			w.heads = append(w.heads, uidSeen{uid: head.LastUID, at: at})
			w.mu.Unlock()
		}
		cur = head
	}
}

// ready waits until the session has read the folder's head, so that the
// mail delivered after is what it waits for.
func (w *idleWatch) ready(ctx context.Context, within time.Duration) error {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		ok := w.started
		w.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("the baseline's IDLE session did not open within %s", within)
}

// waitFor waits until the session has seen uid.
func (w *idleWatch) waitFor(ctx context.Context, uid uint32, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		if _, ok := w.seen(uid); ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the baseline's IDLE session did not see UID %d within %s; the last it saw was %d", uid, within, w.last())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// seen is when the session first saw a head at or past uid.
func (w *idleWatch) seen(uid uint32) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.heads {
		if h.uid >= uid {
			return h.at, true
		}
	}
	return time.Time{}, false
}

func (w *idleWatch) last() uint32 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.heads) == 0 {
		return 0
	}
	return w.heads[len(w.heads)-1].uid
}

func (m *mailLatencyResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(k) mail latency: %d Amazon buyer mails delivered by IMAP APPEND into a real Dovecot folder at random moments over %s; bridge watches it with IDLE (periodic sync every %s), unthrottled fake Gorgias\n",
		m.messages, m.span, m.syncEvery)
	p50, p95 := percentile(m.latencies, 50), percentile(m.latencies, 95)
	fmt.Fprintf(w, "  APPEND to the message in the Gorgias ticket: p50 %s  p95 %s  max %s\n", fmtDur(p50), fmtDur(p95), fmtDur(percentile(m.latencies, 100)))
	verdict := "PASS"
	if !m.pass() {
		verdict = "above goal"
	}
	fmt.Fprintf(w, "  p95 / goal = %s / %s   ratio %.3f  %s (goal <= 1; BeezUP syncs every 5m)   <- headline\n", fmtDur(p95), mailLatencyGoal, m.ratio(), verdict)
	n50, n95 := percentile(m.notified, 50), percentile(m.notified, 95)
	fmt.Fprintf(w, "  baseline, APPEND to an IDLE session of the bench's seeing the same mail (the bridge's watch code): p50 %s  p95 %s  max %s\n",
		fmtDur(n50), fmtDur(n95), fmtDur(percentile(m.notified, 100)))
	fmt.Fprintf(w, "  mail latency / IDLE notice: p50 ratio %.2f   p95 ratio %.2f   (the rest is the bridge: wake, sync task, fetch, parse, mirror, Gorgias)\n",
		durRatio(p50, n50), durRatio(p95, n95))
	fmt.Fprintf(w, "  APPEND round trip p50 %s; %d mails, each once in the ticket; %d Gorgias requests, %d 429s; bridge log: %d warnings, %d errors\n",
		fmtDur(percentile(m.appends, 50)), m.messages, m.gorgiasRequests, m.rateLimited, m.warnings, m.errors)
	if m.repeated > 0 {
		fmt.Fprintf(w, "  note: the fake reported %d messages created again for a message already in the ticket\n", m.repeated)
	}
	if len(m.refused) > 0 {
		fmt.Fprintf(w, "  note: the fake refused requests, by status: %v\n", m.refused)
	}
}

// mailBackfillResult is phase (l): the Gorgias side is recorded and
// reduced as phase (b)'s, from the bridge's start.
type mailBackfillResult struct {
	messages, orders int
	syncEvery        time.Duration
	seeding          time.Duration // the APPENDs that filled the folder
	gorgias          *throttledResult
	tickets          int // in the fake at the end: one per order
	held             int // the mails' messages in those tickets, each once
}

// requestsPerMessage is every Gorgias call answered, 429s excepted, per
// mail mirrored.
func (b *mailBackfillResult) requestsPerMessage() float64 {
	return ratio(float64(len(b.gorgias.calls)), float64(b.held))
}

func (b *mailBackfillResult) pass(f throttledFigures) bool { return meetsBackfillTarget(b.gorgias, f) }

// mailBackfillPhase fills a folder with n buyer mails, five per order,
// interleaved, then starts a bridge whose syncs read it and mirror every
// mail into a fake Gorgias allowing capacity requests per window, the
// bridge's limiter set to the same.
func (r *rig) mailBackfillPhase(ctx context.Context, n, capacity int, window time.Duration) (*mailBackfillResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	gorgias, err := serveFake(gorgiasfake.Options{Capacity: capacity, Window: window}, r.apiKey)
	if err != nil {
		return nil, err
	}
	defer gorgias.close()
	folder, err := r.mail.newFolder("backfill")
	if err != nil {
		return nil, err
	}
	defer folder.close()
	orders := (n + mailMessagesPerOrder - 1) / mailMessagesPerOrder
	r.logf("mail backfill: delivering %d buyer mails about %d orders into the folder", n, orders)
	seedStart := time.Now()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := folder.deliver(buyerMail(i%orders, fmt.Sprintf("bf-%d-%s", i, r.apiKey[:8]), backfillToken(i))); err != nil {
			return nil, err
		}
	}
	seeding := time.Since(seedStart)

	// Each mail costs two calls: a ticket's lookup and creation, or a
	// ticket's messages read and the message appended. The first
	// capacity go at once, the rest at capacity per window.
	expected := time.Duration(max(0, callsPerTicket*n-capacity)) * window / time.Duration(capacity)
	r.logf("mail backfill: %d mails in %s; about %s of paced delivery at %d requests/%s after the initial burst", n, seeding.Round(time.Millisecond), expected.Round(time.Second), capacity, window)
	start := time.Now()
	b, err := r.startMailBridge(ctx, "mail-backfill", gorgias.url, fmt.Sprintf("rate_limit: {requests: %d, per: %s}", capacity, window), folder.name)
	if err != nil {
		return nil, err
	}
	defer b.stop()
	mk := b.cfg.Merchants[0].Marketplaces[0]
	// A sync reads at most 1,000 mails; the next periodic one the rest.
	within := 2*expected + time.Duration(n/1000+2)*mk.SyncEvery
	if err := gorgias.waitMessages(ctx, b, n, within); err != nil {
		return nil, err
	}
	b.stop()
	tickets, held, err := checkBackfilledMessages(gorgias, n, orders)
	if err != nil {
		return nil, err
	}
	calls, created, limited := gorgias.records()
	served := 0
	for _, c := range gorgias.Requests() {
		served += c
	}
	return &mailBackfillResult{
		messages: n, orders: orders, syncEvery: mk.SyncEvery, seeding: seeding, tickets: tickets, held: held,
		gorgias: &throttledResult{
			m: n, capacity: capacity, window: window, limiter: b.cfg.Merchants[0].Helpdesks[0].RateLimit,
			workers: b.cfg.Worker.Concurrency, start: start, calls: calls, tickets: created,
			limited: limited, refused: gorgias.refused(), fakeRateLimited: gorgias.RateLimited(), fakeRequests: served,
			warnings: b.logs.warnings(), errors: b.logs.errors(),
		},
	}, nil
}

// backfillToken marks the i-th mail of the backfilled folder.
func backfillToken(i int) string { return fmt.Sprintf("bm-%012x", i) }

// checkBackfilledMessages confirms that the fake holds one ticket per
// thread (per order, for mail) and each of the n messages marked by
// backfillToken once, and returns how many of each.
func checkBackfilledMessages(f *fakeGorgias, n, threads int) (tickets, held int, err error) {
	count := make(map[string]int, n)
	ts := f.Tickets()
	for _, t := range ts {
		full, ok := f.Ticket(t.ID)
		if !ok {
			return 0, 0, fmt.Errorf("the fake lost ticket %d", t.ID)
		}
		for _, m := range full.Messages {
			if token := tokenPattern.FindString(m.BodyText); token != "" {
				count[token]++
			}
		}
	}
	for i := range n {
		if c := count[backfillToken(i)]; c != 1 {
			return 0, 0, fmt.Errorf("message %d of %d is %d times in the tickets", i+1, n, c)
		}
	}
	if len(ts) != threads {
		return 0, 0, fmt.Errorf("the fake holds %d tickets for %d threads", len(ts), threads)
	}
	return len(ts), len(count), nil
}

func (b *mailBackfillResult) print(w io.Writer) {
	t := b.gorgias
	f := t.figures()
	fmt.Fprintf(w, "\n(l) mail backfill: %d Amazon buyer mails (%d orders, %d each, interleaved) in a real Dovecot folder before the bridge starts, read by its syncs (every %s) and mirrored into a fake Gorgias at %d requests/%s, bridge limiter %d/%s, %d workers\n",
		b.messages, b.orders, mailMessagesPerOrder, b.syncEvery, t.capacity, t.window, t.limiter.Requests, t.limiter.Per, t.workers)
	printScaledCapacity(w, t, "the mailbox", "-mail-backfill-capacity")
	printBackfillRate(w, "mail backfill", t, f, "-mail-backfill-messages")
	fmt.Fprintf(w, "  whole run, from the bridge's start to the last Gorgias request: %d requests in %s; requests/s %6.2f, allowed with the %d-request burst %6.2f, ratio %.3f\n",
		f.callsTotal, f.wholeSpan.Round(time.Millisecond), f.wholeCallRate, t.capacity, f.wholeAllowedCalls, ratio(f.wholeCallRate, f.wholeAllowedCalls))
	fmt.Fprintf(w, "  Gorgias requests per mail %.2f; %d mails gave %d tickets holding each mail once; the folder filled by APPEND in %s; 429s answered %d; bridge log: %d warnings, %d errors\n",
		b.requestsPerMessage(), b.messages, b.tickets, b.seeding.Round(time.Millisecond), t.fakeRateLimited, t.warnings, t.errors)
	t.printNotes(w, f)
}

// printScaledCapacity says so when a backfill's Gorgias account allows
// more than Gorgias's default, and which flag gives the default.
func printScaledCapacity(w io.Writer, t *throttledResult, what, flag string) {
	if t.capacity == gorgiasfake.DefaultCapacity && t.window == gorgiasfake.DefaultWindow {
		return
	}
	fmt.Fprintf(w, "  the account allows %.1fx Gorgias's default %d/%s, so that %s takes minutes rather than hours (%s %d for the default)\n",
		t.allowed()/perSecond(gorgiasfake.DefaultCapacity, gorgiasfake.DefaultWindow), gorgiasfake.DefaultCapacity, gorgiasfake.DefaultWindow, what, flag, gorgiasfake.DefaultCapacity)
}

// printBackfillRate prints a backfill's steady-state requests per second
// against those allowed, with the verdict (meetsBackfillTarget), or why
// the steady state was not measured and which flag to raise.
func printBackfillRate(w io.Writer, label string, t *throttledResult, f throttledFigures, raise string) {
	if !f.steady {
		fmt.Fprintf(w, "  steady state: not measured, only %d requests (the burst is %d); raise %s\n", f.callsTotal, t.capacity, raise)
		return
	}
	verdict := "PASS"
	if !meetsBackfillTarget(t, f) {
		verdict = "below target"
	}
	fmt.Fprintf(w, "  steady state, after the first %d requests: %d requests in %s\n", t.capacity, f.steadyCalls, f.steadySpan.Round(time.Millisecond))
	fmt.Fprintf(w, "  %s requests/s %6.2f   allowed %6.2f   ratio %.3f   429s %d   %s (target >= %.2f and no 429)   <- headline\n",
		label, f.callRate, f.allowedCalls, f.callRate/f.allowedCalls, t.fakeRateLimited, verdict, backfillTarget)
}
