package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// The isolation phase's second merchant, whose Gorgias account is idle
// while the first one's is backlogged.
const (
	isoMerchantB = "bench-b"
	isoStoreB    = "bench-b-fr"
	isoHelpdeskA = "bench-gorgias"
	isoHelpdeskB = "bench-b-gorgias"
	// isoGoal* are the goals.
	isoGoalAlertP95 = 3 * time.Second
	isoGoalReplyP95 = 5 * time.Second
	isoGoalRatio    = 0.95
	isoGoalBlocked  = 100 * time.Millisecond
)

// isolationConfig: merchant A with a Gorgias account and a Mirakl shop,
// merchant B with its own Gorgias account, both at Gorgias's default limit
// (40 requests per 20 s), and the bridge's workers at their default.
const isolationConfig = `
server:
  listen: "%s"
  shutdown_timeout: 3s
  public_url: "http://%s"
redis:
  url: "redis://%s/%d"
merchants:
  - id: ` + benchMerchant + `
    event_secrets: ["${BENCH_EVENT_SECRET}"]
    api_tokens: ["${BENCH_SIDEBAR_TOKEN}"]
    stores:
      - id: ` + benchStore + `
    helpdesks:
      - id: ` + isoHelpdeskA + `
        kind: gorgias
        base_url: "%s"
        email: ` + benchAgent + `
        api_key: ${BENCH_GORGIAS_KEY}
        webhook_secret: ${BENCH_ADMIN_PASSWORD}
        stores: [` + benchStore + `]
    marketplaces:
      - id: ` + benchAccount + `
        kind: mirakl
        name: ` + benchMarketplace + `
        base_url: "%s"
        api_key: ${BENCH_MIRAKL_KEY}
        store: ` + benchStore + `
        helpdesk: ` + isoHelpdeskA + `
        sync_every: 1h
        rate_limit: {requests: 100000, per: 1s}
  - id: ` + isoMerchantB + `
    event_secrets: ["${BENCH_EVENT_SECRET_B}"]
    stores:
      - id: ` + isoStoreB + `
    helpdesks:
      - id: ` + isoHelpdeskB + `
        kind: gorgias
        base_url: "%s"
        email: ` + benchAgent + `
        api_key: ${BENCH_GORGIAS_KEY}
        stores: [` + isoStoreB + `]
`

// isolationResult is the isolation phase's figures.
type isolationResult struct {
	backlog, threads int
	window           time.Duration
	// Part 1: B's alerts while A drains its alert backlog.
	alertsB     []time.Duration
	lostB       int
	ratioAlerts callRatio
	// Part 2: A's replies and new alerts while A backfills.
	replies, alertsA []time.Duration
	lostReplies      int
	lostAlertsA      int
	ratioBackfill    callRatio
	backfilled       int // tickets the backfill made during the window
	limited          int // 429s both fakes answered
	blocked          time.Duration
	warnings, errors int
}

// callRatio is A's delivered Gorgias requests per second against those
// allowed, over a window in which A always had work waiting.
type callRatio struct {
	calls   int     // answered in the window
	drained float64 // of which the fake's bucket drained (see steadyRatio)
	span    time.Duration
}

func (c callRatio) delivered() float64 {
	if c.span <= 0 {
		return 0
	}
	return c.drained / c.span.Seconds()
}
func (c callRatio) allowed() float64 {
	return perSecond(gorgiasfake.DefaultCapacity, gorgiasfake.DefaultWindow)
}

// isolationPhase runs the bridge with two merchants and measures what one
// account's backlog does to the other's work, and to its own interactive
// work: B's alerts while A drains backlog alerts, then A's agents' replies
// and new alerts while A backfills threads. Each part has fresh fakes and
// a flushed Redis, so that the bridge's limiter and the fakes' buckets
// start full together.
func (r *rig) isolationPhase(ctx context.Context, backlog, threads int, window time.Duration) (*isolationResult, error) {
	res := &isolationResult{backlog: backlog, threads: threads, window: window}
	secretB := randomHex()

	// Part 1: A's backlog of alerts, B's alerts one every two seconds.
	err := r.isolationRig(ctx, secretB, 0, func(b *bridgeProc, fakeA, fakeB *fakeGorgias, _ *fakeMirakl, _ map[string]int64) error {
		r.logf("isolation: %d alerts for A, then B's alerts every 2 s for %s", backlog, window)
		if _, err := postAll(ctx, b.url, newEvents("iso-a", backlog, r.secret), r.o.senders); err != nil {
			return b.explain(err)
		}
		start := time.Now()
		res.alertsB, res.lostB = timeEach(ctx, window, 2*time.Second, func(i int) (func() bool, error) {
			id := "iso-b-" + strconv.Itoa(i)
			if err := postEvent(ctx, b.url, isoMerchantB, secretB, id, isoStoreB); err != nil {
				return nil, err
			}
			ext := alerts.RaisePayload{Merchant: isoMerchantB, EventID: id, Account: isoHelpdeskB}.ExternalID()
			return func() bool { _, ok := fakeB.createdAt(ext); return ok }, nil
		})
		res.ratioAlerts = steadyRatio(fakeA, start)
		res.blocked = longestBlocked(ctx, b.url)
		res.limited += fakeA.RateLimited() + fakeB.RateLimited()
		res.warnings, res.errors = b.logs.warnings(), b.logs.errors()
		return nil
	})
	if err != nil {
		return nil, err
	}

	// Part 2: a whole-account resync of threads threads (bulk work), and
	// meanwhile A's agents reply and A's alerts keep coming.
	err = r.isolationRig(ctx, secretB, 10, func(b *bridgeProc, fakeA, fakeB *fakeGorgias, mkl *fakeMirakl, tickets map[string]int64) error {
		var replyThreads []string
		for id := range tickets {
			replyThreads = append(replyThreads, id)
		}
		for i := range threads {
			if _, err := mkl.seedThread(1000+i, "An old question about my order."); err != nil {
				return err
			}
		}
		r.logf("isolation: a full resync of %d threads for A, with a reply and an alert every 3 s for %s", threads+len(tickets), window)
		before := fakeA.created()
		if err := resyncFull(ctx, b.url, r.sidebarToken); err != nil {
			return b.explain(err)
		}
		if _, _, err := fakeA.waitTickets(ctx, b, before+5, time.Minute); err != nil {
			return err
		}
		start := time.Now()
		var alertsA sync.WaitGroup
		var mu sync.Mutex
		res.replies, res.lostReplies = timeEach(ctx, window, 3*time.Second, func(i int) (func() bool, error) {
			alertsA.Go(func() { // the same moment, an alert for A, timed on its own
				id := "iso-a-live-" + strconv.Itoa(i)
				if err := postEvent(ctx, b.url, benchMerchant, r.secret, id, benchStore); err != nil {
					mu.Lock()
					res.lostAlertsA++
					mu.Unlock()
					return
				}
				ext := alerts.RaisePayload{Merchant: benchMerchant, EventID: id, Account: isoHelpdeskA}.ExternalID()
				d, ok := waitFor(ctx, 2*window, func() bool { _, ok := fakeA.createdAt(ext); return ok })
				mu.Lock()
				defer mu.Unlock()
				if ok {
					res.alertsA = append(res.alertsA, d)
				} else {
					res.lostAlertsA++
				}
			})
			thread := replyThreads[i%len(replyThreads)]
			n := mkl.replies(thread)
			if err := agentReply(ctx, fakeA.url, tickets[thread], fmt.Sprintf("Reply %d: your parcel left today.", i)); err != nil {
				return nil, err
			}
			return func() bool { return mkl.replies(thread) > n }, nil
		})
		res.ratioBackfill = steadyRatio(fakeA, start)
		alertsA.Wait()
		res.backfilled = fakeA.created() - before
		res.blocked = max(res.blocked, longestBlocked(ctx, b.url))
		res.limited += fakeA.RateLimited() + fakeB.RateLimited()
		res.warnings, res.errors = res.warnings+b.logs.warnings(), res.errors+b.logs.errors()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// steadyRatio measures how much of A's sustained rate A's backlog used,
// from a few seconds after start until now. What the fake drained is what
// it took less what its bucket gained: it drains at the sustained rate
// exactly as long as it never runs empty, that is, as long as the bridge
// never leaves the budget unused. (Calls taken from the bucket's burst
// show as the bucket's gain, not as more than the rate.)
func steadyRatio(fakeA *fakeGorgias, start time.Time) callRatio {
	c := callRatio{}
	from, to := start.Add(3*time.Second), time.Now()
	if !to.After(from) {
		return c
	}
	gained := fakeA.levelAt(to, c.allowed()) - fakeA.levelAt(from, c.allowed())
	c.calls, c.span = fakeA.callsBetween(from, to), to.Sub(from)
	c.drained = float64(c.calls) - gained
	return c
}

// isolationRig starts fresh fakes, with mirrored threads in the Mirakl
// shop, and a bridge on a flushed Redis; it waits for the threads'
// tickets and runs part with them, by thread id.
func (r *rig) isolationRig(ctx context.Context, secretB string, mirrored int, part func(b *bridgeProc, fakeA, fakeB *fakeGorgias, mkl *fakeMirakl, tickets map[string]int64) error) error {
	if err := r.flush(ctx); err != nil {
		return err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return err
	}
	hookURL := "http://" + addr + "/v1/webhooks/helpdesks/" + isoHelpdeskA
	fakeA, err := serveFake(gorgiasfake.Options{Integrations: []gapi.Integration{gorgias.Integration(hookURL, r.adminPW)}}, r.apiKey)
	if err != nil {
		return err
	}
	defer fakeA.close()
	fakeB, err := serveFake(gorgiasfake.Options{}, r.apiKey)
	if err != nil {
		return err
	}
	defer fakeB.close()
	mkl, err := serveMirakl(r.miraklKey)
	if err != nil {
		return err
	}
	defer mkl.close()
	var ids []string
	for i := range mirrored {
		th, err := mkl.seedThread(i+1, "Hello, where is my parcel?")
		if err != nil {
			return err
		}
		ids = append(ids, th.ID)
	}
	b, err := r.startIsolationBridge(ctx, addr, fakeA.url, fakeB.url, mkl.url, secretB)
	if err != nil {
		return err
	}
	defer b.stop()
	tickets := map[string]int64{}
	if mirrored > 0 {
		if _, _, err := fakeA.waitTickets(ctx, b, mirrored, time.Minute); err != nil {
			return err
		}
		for _, t := range fakeA.Tickets() {
			for _, id := range ids {
				if strings.HasSuffix(t.ExternalID, "-"+id) {
					tickets[id] = t.ID
				}
			}
		}
	}
	return part(b, fakeA, fakeB, mkl, tickets)
}

func (r *rig) startIsolationBridge(ctx context.Context, addr, urlA, urlB, urlMirakl, secretB string) (*bridgeProc, error) {
	yml := fmt.Sprintf(isolationConfig, addr, addr, r.o.redisAddr, benchDB, urlA, urlMirakl, urlB)
	env := r.env()
	env["BENCH_EVENT_SECRET_B"] = secretB
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return nil, fmt.Errorf("isolation configuration: %w", err)
	}
	return r.launch(ctx, bridgeChild, "isolation", addr, yml, cfg, env, func(config string) *exec.Cmd {
		return exec.Command(r.bin, "serve", "-config", config)
	})
}

// timeEach starts one timed action every every for window: start begins
// it and returns its completion test; it returns how long each took, and
// how many never completed within twice the window.
func timeEach(ctx context.Context, window, every time.Duration, start func(i int) (func() bool, error)) ([]time.Duration, int) {
	var (
		mu    sync.Mutex
		took  []time.Duration
		lost  int
		wg    sync.WaitGroup
		begin = time.Now()
	)
	for i := 0; time.Since(begin) < window && ctx.Err() == nil; i++ {
		at := time.Now()
		done, err := start(i)
		if err != nil {
			mu.Lock()
			lost++
			mu.Unlock()
		} else {
			wg.Go(func() {
				_, ok := waitFor(ctx, 2*window, done)
				d := time.Since(at)
				mu.Lock()
				defer mu.Unlock()
				if ok {
					took = append(took, d)
				} else {
					lost++
				}
			})
		}
		sleepCtx(ctx, time.Until(at.Add(every)))
	}
	wg.Wait()
	return took, lost
}

// waitFor polls cond every 20 ms for at most within.
func waitFor(ctx context.Context, within time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < within && ctx.Err() == nil {
		if cond() {
			return time.Since(start), true
		}
		sleepCtx(ctx, 20*time.Millisecond)
	}
	return time.Since(start), false
}

func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// postEvent posts one order.action_required event for merchant.
func postEvent(ctx context.Context, baseURL, merchant, secret, id, store string) error {
	data, _ := json.Marshal(alerts.ActionRequired{
		OrderID: "ORD-" + id, Store: store, Buyer: alerts.Buyer{Name: "Bench Buyer", Email: "buyer@bench.example"},
		Reason: alerts.ReasonInvalidAddress,
	})
	body, _ := json.Marshal(events.Event{ID: id, Kind: alerts.KindActionRequired, OccurredAt: time.Now().UTC(), Data: data})
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(events.HeaderMerchant, merchant)
	req.Header.Set(events.HeaderTimestamp, stamp)
	req.Header.Set(events.HeaderSignature, events.SignatureHeader(secret, stamp, body))
	return expect(http.DefaultClient.Do(req))(http.StatusAccepted, "POST /v1/events")
}

// resyncFull asks the Discussion API for a full resync of the account.
func resyncFull(ctx context.Context, baseURL, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/discussions/"+benchAccount+"/resync?full=true", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return expect(http.DefaultClient.Do(req))(http.StatusAccepted, "full resync")
}

// agentReply stands for an agent answering in Gorgias: the fake stores
// the reply and calls the bridge's webhook.
func agentReply(ctx context.Context, fakeURL string, ticket int64, text string) error {
	body, _ := json.Marshal(gorgiasfake.AgentReply{BodyText: text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fakeURL+"/_fake/tickets/"+strconv.FormatInt(ticket, 10)+"/agent-reply", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return expect(http.DefaultClient.Do(req))(http.StatusOK, "agent reply")
}

func expect(resp *http.Response, err error) func(status int, what string) error {
	return func(status int, what string) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode != status {
			return fmt.Errorf("%s: %d %s", what, resp.StatusCode, raw)
		}
		return nil
	}
}

var longestWait = regexp.MustCompile(`(?m)^bridge_rate_limiter_longest_wait_seconds\{[^}]*\} ([0-9.e+-]+)$`)

// longestBlocked reads the longest in-place limiter wait from /metrics.
func longestBlocked(ctx context.Context, baseURL string) time.Duration {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	var most time.Duration
	for _, m := range longestWait.FindAllStringSubmatch(string(page), -1) {
		if secs, err := strconv.ParseFloat(m[1], 64); err == nil {
			most = max(most, time.Duration(secs*float64(time.Second)))
		}
	}
	return most
}

func (res *isolationResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(f) isolation: two merchants, each with a Gorgias account at %d requests/%s; bridge limiter and workers at their defaults\n",
		gorgiasfake.DefaultCapacity, gorgiasfake.DefaultWindow)
	verdict := func(ok bool) string {
		if ok {
			return "PASS"
		}
		return "FAIL"
	}
	p95 := percentile(res.alertsB, 95)
	fmt.Fprintf(w, "  B's alert delay while A drains %d alerts: p50 %s  p95 %s  max %s  (%d alerts, %d lost)   p95/goal %.2f %s   <- headline\n",
		res.backlog, fmtDur(percentile(res.alertsB, 50)), fmtDur(p95), fmtDur(percentile(res.alertsB, 100)), len(res.alertsB), res.lostB,
		ratio(p95.Seconds(), isoGoalAlertP95.Seconds()), verdict(res.lostB == 0 && len(res.alertsB) > 0 && p95 <= isoGoalAlertP95))
	fmt.Fprintf(w, "  A's delivered requests/s during its alert backlog %5.2f   allowed %5.2f   ratio %.3f %s (%d calls in %s)\n",
		res.ratioAlerts.delivered(), res.ratioAlerts.allowed(), ratio(res.ratioAlerts.delivered(), res.ratioAlerts.allowed()),
		verdict(ratio(res.ratioAlerts.delivered(), res.ratioAlerts.allowed()) >= isoGoalRatio), res.ratioAlerts.calls, res.ratioAlerts.span.Round(time.Second))
	rp95, ap95 := percentile(res.replies, 95), percentile(res.alertsA, 95)
	fmt.Fprintf(w, "  A's agent-reply delay while A backfills %d threads: p50 %s  p95 %s  max %s  (%d replies, %d lost)   p95/goal %.2f %s\n",
		res.threads, fmtDur(percentile(res.replies, 50)), fmtDur(rp95), fmtDur(percentile(res.replies, 100)), len(res.replies), res.lostReplies,
		ratio(rp95.Seconds(), isoGoalReplyP95.Seconds()), verdict(res.lostReplies == 0 && len(res.replies) > 0 && rp95 <= isoGoalReplyP95))
	fmt.Fprintf(w, "  A's new-alert delay while A backfills: p50 %s  p95 %s  max %s  (%d alerts, %d lost)   p95/goal %.2f %s\n",
		fmtDur(percentile(res.alertsA, 50)), fmtDur(ap95), fmtDur(percentile(res.alertsA, 100)), len(res.alertsA), res.lostAlertsA,
		ratio(ap95.Seconds(), isoGoalReplyP95.Seconds()), verdict(res.lostAlertsA == 0 && len(res.alertsA) > 0 && ap95 <= isoGoalReplyP95))
	fmt.Fprintf(w, "  A's delivered requests/s during its backfill %5.2f   allowed %5.2f   ratio %.3f %s; the backfill made %d tickets meanwhile (not starved)\n",
		res.ratioBackfill.delivered(), res.ratioBackfill.allowed(), ratio(res.ratioBackfill.delivered(), res.ratioBackfill.allowed()),
		verdict(ratio(res.ratioBackfill.delivered(), res.ratioBackfill.allowed()) >= isoGoalRatio), res.backfilled)
	fmt.Fprintf(w, "  429s %d %s   longest a worker waited in place on a limiter %s (goal <= %s) %s   bridge log: %d warnings, %d errors\n",
		res.limited, verdict(res.limited == 0), fmtDur(res.blocked), isoGoalBlocked, verdict(res.blocked >= 0 && res.blocked <= isoGoalBlocked), res.warnings, res.errors)
}
