package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hibiken/asynq"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// The Fnac account of the fault tests, and the ids the bridge gives what
// it mirrors from it.
const (
	fnacFaultAccount  = "acme-fnac"
	fnacTicketPrefix  = "bridge-disc-fnac-" + fnacShop + "-"
	fnacMessagePrefix = "mp-" + fnacFaultAccount + "-"
)

// A token that expires between two pages of a backfill is renewed and
// the page read again: the sync goes on, and each of the 160 orders'
// threads (more than two pages of messages) becomes exactly one ticket.
func TestFnacTokenExpiredMidBackfillLosesNoPage(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	r := newFnacRig(t, fnacRigOptions{mode: ModeServe, timeout: 5 * time.Second})
	r.seed(t, 160, time.Now().Add(-2*time.Hour))
	if rows := len(r.fake.Messages(fnacShop)); rows <= 2*fnac.ListPageSize {
		t.Fatalf("%d messages: the backfill must span more than two pages", rows)
	}
	// Every token is expired as the second page is asked for: the page's
	// first request carries one that Fnac no longer takes.
	var mu sync.Mutex
	var listings []string
	r.fake.Faults().Push(fault.Fault{Match: func(req *http.Request) bool {
		if q, ok := fnacListing(req); ok {
			mu.Lock()
			listings = append(listings, fmt.Sprintf("%+v/%d", q.Date, q.Paging))
			second := len(listings) == 2
			mu.Unlock()
			if second {
				r.fake.ExpireTokens()
			}
		}
		return false // only watches
	}})
	r.syncUntilMirrored(t, 90*time.Second)
	r.settleDiscussions(t, 20*time.Second)
	// The second page was asked with the expired token, then again with
	// a new one. (A listing resumed by a later task of the same sync asks
	// again for the page it stopped at: no more is said of the others.)
	mu.Lock()
	second, again := "", 0
	if len(listings) > 1 {
		second = listings[1]
	}
	for _, l := range listings {
		if l == second {
			again++
		}
	}
	mu.Unlock()
	if auths := r.fake.Auths(); again < 2 || auths < 2 {
		t.Errorf("the second page asked for %d times with %d tokens issued; want the expired one and a renewal", again, auths)
	}
	// Listing it all again changes nothing.
	r.enqueueSyncsOf(t, fnacFaultAccount, 1)
	r.settleDiscussions(t, 30*time.Second)
	r.checkMirrored(t)
}

// fnacRig runs the bridge, in this process or as child processes,
// against a Fnac fake of the test's own, on a redis-server of its own.
type fnacRig struct {
	*harness
	fake *fnacfake.Server
	ts   *httptest.Server
	// orders is how many orders seed wrote about.
	orders int
	// replies are the agents' replies asked for, by body.
	replies []string
}

type fnacRigOptions struct {
	mode Mode
	// timeout is the account's bound on one call to Fnac.
	timeout time.Duration
	// wrap, when set, wraps the fake's handler.
	wrap func(http.Handler) http.Handler
}

// newFnacRig adds a Fnac shop to acme, answered from Gorgias, marked read
// once mirrored, and paced far above the tests' needs.
func newFnacRig(t *testing.T, o fnacRigOptions) *fnacRig {
	t.Helper()
	r := &fnacRig{fake: fnacfake.New(fnacfake.Options{Shops: []fnacfake.Shop{{PartnerID: fnacPartner, ShopID: fnacShop, Key: fnacKey, Name: "fnac"}}})}
	var handler http.Handler = r.fake
	if o.wrap != nil {
		handler = o.wrap(r.fake)
	}
	r.ts = httptest.NewServer(handler)
	t.Cleanup(r.ts.Close)
	srv := rdbtest.Start(t)
	r.harness = newHarness(t, harnessOptions{mode: o.mode, redisURL: srv.URL(), clientTimeout: 30 * time.Second, maxRetry: 25, before: func(h *harness) {
		mk := fnacAccount(fnacFaultAccount, "fnac", fnacShop, fnacKey, "acme-gorgias", r.ts.URL+"/api.php")
		mk.Timeout, mk.SettleDelay = o.timeout, 2*time.Second
		// The scheduler syncs as it starts and then once a period, on the
		// period's boundary: a year keeps its syncs out of the tests'.
		mk.SyncEvery = fnacSyncEvery
		mk.RateLimit = config.RateLimit{Requests: 100, Per: time.Second}
		mk.Fnac.ArchiveWhenClosed = false
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces, mk)
		// Gorgias's own limit would pace the mirroring over minutes.
		h.cfg.Merchants[0].Helpdesks[0].RateLimit = config.RateLimit{Requests: 1000, Per: 20 * time.Second}
		h.env["FNAC_KEY"] = fnacKey
		account := fmt.Sprintf(`      - id: %s
        kind: fnac
        base_url: "%s/api.php"
        api_key: ${FNAC_KEY}
        shop_id: %q
        store: acme-fr
        helpdesk: acme-gorgias
        sync_every: %s
        overlap: 2m
        backfill: 720h
        settle_delay: 2s
        timeout: %s
        rate_limit: {requests: 100, per: 1s}
        fnac: {platform: fnac, partner_id: %q, mark_read: true}
`, fnacFaultAccount, r.ts.URL, fnacShop, fnacSyncEvery, o.timeout, fnacPartner)
		h.tuneChildConfig(gorgiasPaceAt, gorgiasPaceBurst(1000, 20*time.Second), "  - id: globex\n", account+"  - id: globex\n")
	}})
	t.Cleanup(func() {
		if t.Failed() {
			lines := strings.Split(r.logs.String(), "\n")
			var keep []string
			for _, l := range lines {
				if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) || strings.Contains(l, "synced") || strings.Contains(l, "acme-fnac") {
					keep = append(keep, l)
				}
			}
			t.Logf("the bridge's warnings and errors (%d):\n%s", len(keep), strings.Join(keep[max(0, len(keep)-60):], "\n"))
		}
	})
	if o.mode == ModeServe {
		// The scheduler syncs the account as it starts, and retries a
		// sync of its own little: it must be done before the test seeds
		// the shop and pushes faults, or it would race the test's syncs.
		eventually(t, 20*time.Second, "the scheduler's first sync", func() bool { return fnacSynced.MatchString(r.logs.String()) })
		// It logs before it lets go of the account's sync lease: a sync
		// the test asks for meanwhile would find it taken and do nothing.
		lease := "dsc:{acme}:lock:sync:" + fnacFaultAccount
		eventually(t, 20*time.Second, "the first sync's lease let go", func() bool {
			n, err := r.rdb.Exists(context.Background(), lease).Result()
			return err == nil && n == 0
		})
	}
	return r
}

const fnacSyncEvery = 365 * 24 * time.Hour

// syncUntilMirrored asks for a sync of the account every few seconds
// until every thread has its ticket: a sync that finds the account's
// lease taken (a sync that just finished, or a killed one's, until it
// runs out) does nothing, and nothing else would sync again for a year.
func (r *fnacRig) syncUntilMirrored(t *testing.T, within time.Duration) {
	t.Helper()
	last := time.Time{}
	r.eventuallyMirrored(t, within, "a ticket per thread", func() bool {
		if r.mirrorComplete() {
			return true
		}
		if time.Since(last) > 5*time.Second {
			r.enqueueSyncsOf(t, fnacFaultAccount, 1)
			last = time.Now()
		}
		return false
	})
}

// dropDeadSyncLease ends the sync lease a killed bridge held on the
// account, as its expiry would a minute later.
func (r *fnacRig) dropDeadSyncLease(t *testing.T) {
	t.Helper()
	if err := r.rdb.Del(context.Background(), "dsc:{acme}:lock:sync:"+fnacFaultAccount).Err(); err != nil {
		t.Fatal(err)
	}
}

var fnacSynced = regexp.MustCompile(`"account":"` + fnacFaultAccount + `"[^\n]*"message":"discussions synced"`)

// fnacOrder is the id of the i-th order seed writes about.
func fnacOrder(i int) string { return fmt.Sprintf("FNAC%09d", i) }

// seed has the clients of n more orders write, a minute apart from
// start: on every fourth order the client writes twice, on every tenth
// Fnac's call centre writes too (a thread of its own), on every seventh
// the shop answered from the back office (in every thread of the order),
// and every ninth first message has a file.
func (r *fnacRig) seed(t *testing.T, n int, start time.Time) {
	t.Helper()
	add := func(m fnacfake.MessageSeed) {
		if _, err := r.fake.AddMessage(fnacShop, r.ts.URL, m); err != nil {
			t.Fatal(err)
		}
	}
	for i := r.orders; i < r.orders+n; i++ {
		at := start.Add(time.Duration(i-r.orders) * time.Second).Truncate(time.Second)
		first := fnacfake.MessageSeed{RefererID: fnacOrder(i), FromName: fmt.Sprintf("Client %d", i), Subject: "Question", Body: fmt.Sprintf("Bonjour, où en est ma commande %d ?", i), At: at}
		if i%9 == 0 {
			first.Files = []fnacfake.FileSeed{{Name: fmt.Sprintf("photo-%d.jpg", i), Type: "image/jpeg", Content: []byte(fmt.Sprintf("photo %d", i))}}
		}
		add(first)
		if i%10 == 3 {
			add(fnacfake.MessageSeed{RefererID: fnacOrder(i), From: api.FromCallCenter, FromName: "Service client Fnac", Subject: "Incident", Body: fmt.Sprintf("Le client de la commande %d signale un retard.", i), At: at.Add(time.Minute)})
		}
		if i%7 == 2 {
			add(fnacfake.MessageSeed{RefererID: fnacOrder(i), From: api.FromSeller, FromName: "fnac", Subject: "Réponse", Body: fmt.Sprintf("Votre commande %d part demain.", i), At: at.Add(2 * time.Minute)})
		}
		if i%4 == 1 {
			add(fnacfake.MessageSeed{RefererID: fnacOrder(i), FromName: fmt.Sprintf("Client %d", i), Subject: "Question", Body: fmt.Sprintf("Des nouvelles de %d ?", i), At: at.Add(3 * time.Minute)})
		}
	}
	r.orders += n
}

// writeAgain has the clients of every step-th order write once more, now.
func (r *fnacRig) writeAgain(t *testing.T, step int) {
	t.Helper()
	for i := 0; i < r.orders; i += step {
		if _, err := r.fake.AddMessage(fnacShop, r.ts.URL, fnacfake.MessageSeed{RefererID: fnacOrder(i), FromName: fmt.Sprintf("Client %d", i), Subject: "Question", Body: fmt.Sprintf("Toujours rien pour %d ? (%d)", i, time.Now().UnixNano())}); err != nil {
			t.Fatal(err)
		}
	}
}

// reply has an agent answer the client of order i in Gorgias; wait
// waits for the bridge to be done with it (in-process workers only).
func (r *fnacRig) reply(t *testing.T, i int, wait bool) string {
	t.Helper()
	thread := "ORDER/" + fnacOrder(i) + "/CLIENT"
	tks := r.ticketsWith(fnacTicketPrefix + thread)
	if len(tks) != 1 {
		t.Fatalf("thread %s has %d tickets", thread, len(tks))
	}
	body := fmt.Sprintf("Bonjour, votre commande %d part aujourd'hui (réponse %d).", i, len(r.replies))
	r.replies = append(r.replies, body)
	if wait {
		r.agentReply(tks[0].ID, gorgiasfake.AgentReply{BodyText: body})
	} else if !r.postAgentReply(tks[0].ID, gorgiasfake.AgentReply{BodyText: body}) {
		t.Fatalf("the bridge did not take the reply's webhook")
	}
	return body
}

// fnacThread is what a thread of the fake should have become.
type fnacThread struct {
	id string
	// inbound are the ids of the messages the ticket must hold, in order:
	// the correspondent's and the shop's own from the back office, not
	// the bridge's replies.
	inbound []string
	files   map[string]int
}

// expected derives the threads from the fake's messages, as Fnac's
// discussions are: one per order and correspondent, the shop's messages
// in each of its order's. A reply the bridge sent is in the bridge's
// ticket already, but Fnac shows it in the order's other thread too,
// where it is mirrored as the shop's.
func (r *fnacRig) expected() []fnacThread {
	bridgeSent := map[string]string{} // message id: the thread it answered
	for _, s := range r.fake.Sent(fnacShop) {
		parent, _ := r.fake.Message(fnacShop, s.ParentID)
		bridgeSent[s.MessageID] = parent.From.Type
	}
	byOrder := map[string][]api.Message{}
	var orders []string
	for _, m := range r.fake.Messages(fnacShop) {
		if _, ok := byOrder[m.Referer.ID]; !ok {
			orders = append(orders, m.Referer.ID)
		}
		byOrder[m.Referer.ID] = append(byOrder[m.Referer.ID], m)
	}
	var out []fnacThread
	for _, o := range orders {
		for _, corr := range []string{api.FromClient, api.FromCallCenter} {
			var msgs []api.Message
			own := false
			for _, m := range byOrder[o] {
				switch {
				case m.From.Type == corr:
					own = true
					msgs = append(msgs, m)
				case m.From.Type == api.FromSeller && bridgeSent[m.ID] != corr:
					msgs = append(msgs, m)
				}
			}
			if !own {
				continue
			}
			slices.SortStableFunc(msgs, func(a, b api.Message) int {
				return cmp.Or(parsedFnacTime(a.CreatedAt).Compare(parsedFnacTime(b.CreatedAt)), strings.Compare(a.ID, b.ID))
			})
			th := fnacThread{id: "ORDER/" + o + "/" + corr, files: map[string]int{}}
			for _, m := range msgs {
				th.inbound = append(th.inbound, fnacMessagePrefix+m.ID)
				th.files[fnacMessagePrefix+m.ID] = len(m.Files)
			}
			out = append(out, th)
		}
	}
	return out
}

func parsedFnacTime(s string) time.Time {
	t, _ := api.ParseTime(s)
	return t
}

// mirrorComplete tells whether every message to mirror is in a ticket
// and every reply asked for reached Fnac.
func (r *fnacRig) mirrorComplete() bool {
	have := map[string]bool{}
	for _, tk := range r.gorg.Tickets() {
		for _, m := range tk.Messages {
			have[m.ExternalID] = true
		}
	}
	for _, th := range r.expected() {
		for _, id := range th.inbound {
			if !have[id] {
				return false
			}
		}
	}
	return len(r.fake.Sent(fnacShop)) >= len(r.replies)
}

// checkMirrored checks the outcome against Fnac: each thread has one
// ticket, recorded by the bridge, which holds each of the thread's
// messages once, in order, with its files, and none of the bridge's own
// replies mirrored back; each agent's reply reached Fnac once, to the
// client, and is in the bridge's ledger of its own; nothing else was
// sent anywhere.
func (r *fnacRig) checkMirrored(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	store := r.discussionStore()
	threads := r.expected()
	ids := make([]string, len(threads))
	for i, th := range threads {
		ids[i] = th.id
	}
	ticketOf := ticketPerThread(t, r.gorg.Tickets(), fnacTicketPrefix, fnacTicketPrefix, ids)
	for _, th := range threads {
		tk, ok := ticketOf[th.id]
		if !ok {
			continue
		}
		var got []string
		for _, m := range tk.Messages {
			if strings.HasPrefix(m.ExternalID, fnacMessagePrefix) {
				got = append(got, m.ExternalID)
				if n := th.files[m.ExternalID]; len(m.Attachments) != n {
					t.Errorf("ticket %d, message %s: %d files, want %d", tk.ID, m.ExternalID, len(m.Attachments), n)
				}
			}
		}
		if diff := gocmp.Diff(th.inbound, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("ticket %d of thread %s: Fnac's messages by external id (-want +got):\n%s", tk.ID, th.id, diff)
		}
		d, err := store.Get(ctx, "acme", fnacFaultAccount, th.id)
		if err != nil || d.TicketID != strconv.FormatInt(tk.ID, 10) {
			t.Errorf("thread %s: the bridge recorded ticket %q (%v), want %d", th.id, d.TicketID, err, tk.ID)
		}
	}
	sent := map[string]int{}
	for _, s := range r.fake.Sent(fnacShop) {
		sent[s.Body]++
		if s.To != api.ToClient {
			t.Errorf("a reply went to %s, want the client", s.To)
		}
		m, _ := r.fake.Message(fnacShop, s.MessageID)
		own, err := r.rdb.SIsMember(ctx, r.cfg.Redis.KeyPrefix+"dsc:{acme}:own:"+fnacFaultAccount+":ORDER/"+m.Referer.ID+"/CLIENT", s.MessageID).Result()
		if err != nil || !own {
			t.Errorf("reply %s on order %s is not in the bridge's ledger of its own (%v)", s.MessageID, m.Referer.ID, err)
		}
	}
	for _, body := range r.replies {
		if sent[body] != 1 {
			t.Errorf("the reply %q reached Fnac %d times, want once", body, sent[body])
		}
		delete(sent, body)
	}
	for body, n := range sent {
		t.Errorf("Fnac got %d replies nobody wrote: %q", n, body)
	}
	if n := r.gorg.Sent(); n != 0 {
		t.Errorf("Gorgias would have sent %d messages to clients", n)
	}
	r.checkNoMirrorGaveUp(t)
	if !t.Failed() {
		t.Logf("%d threads of %d orders, each in one ticket; %d replies, each sent once", len(threads), r.orders, len(r.replies))
	}
}

// fnacListing reads the messages_query of a listing page (not one
// order's or one message's), which the bridge's sync pages through.
func fnacListing(r *http.Request) (api.MessagesQuery, bool) {
	q, ok := fnacQuery(r)
	return q, ok && q.OrderID == "" && q.OfferID == "" && q.MessageID == ""
}

func isFnacListing(r *http.Request) bool {
	_, ok := fnacListing(r)
	return ok
}

// isFnacOrderRead is the read of one order's messages, which the
// listing makes for every order on its page and a reply for its thread.
func isFnacOrderRead(r *http.Request) bool {
	q, ok := fnacQuery(r)
	return ok && q.OrderID != ""
}

func fnacQuery(r *http.Request) (api.MessagesQuery, bool) {
	var q api.MessagesQuery
	if !strings.HasSuffix(r.URL.Path, "/"+api.ServiceMessagesQuery) || api.Decode(peekBody(r), &q) != nil {
		return q, false
	}
	return q, true
}

// fnacUpdate reads a messages_update whose messages all have action.
func fnacUpdate(r *http.Request, action string) (api.MessagesUpdate, bool) {
	var u api.MessagesUpdate
	if !strings.HasSuffix(r.URL.Path, "/"+api.ServiceMessagesUpdate) || api.Decode(peekBody(r), &u) != nil || len(u.Messages) == 0 {
		return u, false
	}
	for _, m := range u.Messages {
		if m.Action != action {
			return u, false
		}
	}
	return u, true
}

func isFnacReply(r *http.Request) bool {
	_, ok := fnacUpdate(r, api.ActionReply)
	return ok
}

func isFnacMarkRead(r *http.Request) bool {
	_, ok := fnacUpdate(r, api.ActionMarkAsRead)
	return ok
}

func isFnacAuth(r *http.Request) bool {
	return strings.HasSuffix(r.URL.Path, "/"+api.ServiceAuth)
}

// Fnac answering 5xx or hanging past the account's timeout, on the
// listing, on the reads of each order's messages, on marking them read
// and on replies, costs retries and nothing else: every message is
// mirrored once, every reply sent once. A reply is a write without an
// idempotency key, so one that got no answer is looked for before it is
// sent again:
//
//   - refused with a 503 before Fnac handled it: looked for, not found,
//     sent again;
//   - handled, its answer hanging past the timeout: found, not sent
//     again;
//   - handled late, after the bridge gave up waiting: found once it
//     landed, not sent again;
//   - handled and answered, but the read of the new message's id fails:
//     the bridge still learns which message is its own, and does not
//     mirror it back into the ticket.
func TestFnacFaultsAreRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	t.Parallel()
	const timeout = time.Second
	hang := func(match func(*http.Request) bool) fault.Fault {
		return fault.Fault{Hang: timeout + 500*time.Millisecond, Match: match}
	}
	status := func(code int, match func(*http.Request) bool) fault.Fault {
		return fault.Fault{Status: code, Match: match}
	}
	r := newFnacRig(t, fnacRigOptions{mode: ModeServe, timeout: timeout})
	r.seed(t, 30, time.Now().Add(-time.Hour))
	inj := r.fake.Faults()
	// The token the scheduler's sync got expires, and the new one is
	// refused once.
	r.fake.ExpireTokens()
	inj.Push(
		status(http.StatusServiceUnavailable, isFnacAuth),
		status(http.StatusInternalServerError, isFnacListing), status(http.StatusBadGateway, isFnacListing), hang(isFnacListing),
		status(http.StatusBadGateway, isFnacOrderRead), hang(isFnacOrderRead), status(http.StatusServiceUnavailable, isFnacOrderRead),
		status(http.StatusInternalServerError, isFnacMarkRead), hang(isFnacMarkRead),
		// Taken, but its answer is lost: marking read again is harmless.
		fault.Fault{After: true, Status: http.StatusBadGateway, Match: isFnacMarkRead},
	)
	r.enqueueSyncsOf(t, fnacFaultAccount, 1)
	r.eventuallyMirrored(t, 30*time.Second, "a ticket per thread", r.mirrorComplete)
	r.settleDiscussions(t, 20*time.Second)
	if n := inj.Pending(); n != 0 {
		t.Fatalf("%d faults were not met", n)
	}
	r.checkMirrored(t)
	if t.Failed() {
		return
	}

	// Replies, each meeting its fault.
	var sends atomic.Int32
	var replied atomic.Bool // since the reply's fault was pushed
	countSends := fault.Fault{Match: func(req *http.Request) bool {
		if isFnacReply(req) {
			sends.Add(1)
			replied.Store(true)
		}
		return false // only counts
	}}
	replyWith := func(order int, faults ...fault.Fault) {
		t.Helper()
		inj.Clear()
		replied.Store(false)
		inj.Push(countSends)
		inj.Push(faults...)
		before := sends.Load()
		r.reply(t, order, true)
		if n := inj.Pending(); n != 1 {
			t.Errorf("reply to order %d: %d of its faults were not met", order, n-1)
		}
		t.Logf("reply to order %d: sent %d times", order, sends.Load()-before)
	}
	// The read of the thread before sending fails, then the send's.
	replyWith(0, status(http.StatusBadGateway, isFnacOrderRead), status(http.StatusServiceUnavailable, isFnacReply))
	// Handled, the answer hangs.
	replyWith(1, fault.Fault{After: true, Hang: timeout + 500*time.Millisecond, Match: isFnacReply})
	// Handled after the bridge gave up.
	replyWith(2, fault.Fault{Late: true, Hang: timeout + 500*time.Millisecond, Match: isFnacReply})
	// Handled and answered; the read that finds the new message's id
	// fails.
	replyWith(3, fault.Fault{Status: http.StatusInternalServerError, Match: func(req *http.Request) bool { return replied.Load() && isFnacOrderRead(req) }})
	inj.Clear()

	// The clients write again: the next sync brings their messages, and
	// none of the replies back.
	r.writeAgain(t, 1)
	r.enqueueSyncsOf(t, fnacFaultAccount, 1)
	r.eventuallyMirrored(t, 30*time.Second, "the new messages", r.mirrorComplete)
	r.settleDiscussions(t, 20*time.Second)
	r.checkMirrored(t)
}

// A bridge killed mid-sync, then started again on the same Redis, loses
// and duplicates nothing:
//
//  1. killed while Fnac holds the second page of a backfill's listing:
//     the first page's threads are queued, the rest are not;
//  2. killed once Fnac has taken an agent's reply (messages_update) and
//     before its answer came back: the reply is on Fnac, the bridge has
//     not recorded it, and must find it rather than send it again.
func TestFnacKilledMidSyncLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bridge processes")
	}
	t.Parallel()
	r := newFnacRig(t, fnacRigOptions{mode: ModeAPI, timeout: 30 * time.Second})
	r.seed(t, 150, time.Now().Add(-2*time.Hour))

	// 1. The listing's second page is held before Fnac reads it.
	held := holdNth(r.fake.Faults(), 2, false, isFnacListing)
	child := r.startBridge("first", "worker")
	waitHeld(t, held, "the listing's second page")
	child.kill(t)
	threads := len(r.expected())
	if n := len(r.fnacTickets()); n >= threads {
		t.Fatalf("every thread had its ticket before the kill (%d): nothing was left mid-way", n)
	}
	t.Logf("killed during the listing's second page, with %d of %d tickets", len(r.fnacTickets()), threads)
	r.fake.Faults().Clear()
	r.expireDeadLeases(t, true)

	r.dropDeadSyncLease(t)
	child = r.startBridge("second", "worker")
	r.syncUntilMirrored(t, 60*time.Second)
	r.settleDiscussions(t, 20*time.Second)

	// 2. A reply is taken by Fnac, and its answer held.
	held = holdNth(r.fake.Faults(), 1, true, isFnacReply)
	body := r.reply(t, 5, false)
	if got := string(waitHeld(t, held, "the reply's messages_update")); !strings.Contains(got, "commande 5 part") {
		t.Fatalf("held %s, want the reply", got)
	}
	eventually(t, 10*time.Second, "the reply on Fnac", func() bool { return len(r.fake.Sent(fnacShop)) == 1 })
	child.kill(t)
	if s := r.fake.Sent(fnacShop); s[0].Body != body {
		t.Fatalf("Fnac took %q, want the reply", s[0].Body)
	}
	r.fake.Faults().Clear()
	r.expireDeadLeases(t, true)

	// Clients write meanwhile; the last bridge mirrors them, and
	// finishes the reply.
	r.writeAgain(t, 10)
	r.dropDeadSyncLease(t)
	r.startBridge("last", "worker")
	r.syncUntilMirrored(t, 60*time.Second)
	r.settleDiscussions(t, 30*time.Second)
	// Mirroring everything once more writes nothing twice.
	r.enqueueSyncsOf(t, fnacFaultAccount, 1)
	r.settleDiscussions(t, 30*time.Second)
	r.checkMirrored(t)
}

// Two bridge processes on one Redis, each with its scheduler and
// workers, behave as one while clients keep writing and agents keep
// answering: one ticket per thread, each message once, each reply sent
// once, and an account's listings never overlap.
func TestFnacTwoReplicasBehaveAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two bridge processes")
	}
	t.Parallel()
	listings := &inflightMeter{match: isFnacListing}
	r := newFnacRig(t, fnacRigOptions{mode: ModeAPI, timeout: 10 * time.Second, wrap: listings.wrap})
	// Each listing lasts, so that two syncs running at once would overlap.
	r.fake.Faults().Repeat(1000, fault.Fault{Hang: 200 * time.Millisecond, Match: isFnacListing})
	r.env["BRIDGE_LOG_LEVEL"] = "debug" // "task done" lines tell who mirrored what
	r.seed(t, 40, time.Now().Add(-time.Hour))

	a, b := r.startBridge("a", "worker"), r.startBridge("b", "worker")
	r.enqueueSyncsOf(t, fnacFaultAccount, 4) // forced resyncs, all due at once
	threads := len(r.expected())
	eventually(t, 40*time.Second, "a ticket per thread", func() bool { return len(r.fnacTickets()) >= threads })
	for i := range 4 {
		r.writeAgain(t, 3+i)
		listed, _ := listings.stats()
		r.enqueueSyncsOf(t, fnacFaultAccount, 2)
		r.reply(t, 2*i+1, false)
		r.reply(t, 2*i+2, false)
		// Both syncs may find one running, already past its listing:
		// then another is asked for.
		eventually(t, 30*time.Second, "a sync to list the threads", func() bool {
			if listings.idleAfter(listed) {
				return true
			}
			if r.syncsQueued(t) == 0 {
				r.enqueueSyncsOf(t, fnacFaultAccount, 1)
			}
			return false
		})
	}
	// A sync lists what was written before it started: one still running
	// from before the last writes leaves them to the next.
	r.enqueueSyncsOf(t, fnacFaultAccount, 2)
	r.syncUntilMirrored(t, 60*time.Second)
	r.settleDiscussions(t, 30*time.Second)
	r.checkMirrored(t)
	if n, most := listings.stats(); n < 3 || most != 1 {
		t.Errorf("%d listings, at most %d at once; want several, never two at once", n, most)
	} else {
		t.Logf("%d listings, one at a time", n)
	}
	for _, c := range []*bridgeChild{a, b} {
		if n := c.mirrored(); n == 0 {
			t.Errorf("bridge %s mirrored no thread: the test did not run two replicas", c.name)
		} else {
			t.Logf("bridge %s ran %d mirror tasks", c.name, n)
		}
	}
}

// fnacTickets are the Gorgias tickets of the Fnac shop's threads.
func (r *fnacRig) fnacTickets() []gapi.Ticket {
	var out []gapi.Ticket
	for _, tk := range r.gorg.Tickets() {
		if strings.HasPrefix(tk.ExternalID, fnacTicketPrefix) {
			out = append(out, tk)
		}
	}
	return out
}

// syncsQueued counts the discussion syncs waiting or running.
func (r *fnacRig) syncsQueued(t *testing.T) int {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(r.rdb)
	n := 0
	for _, q := range discussionQueues {
		pending, _ := insp.ListPendingTasks(q, asynq.PageSize(100))
		active, _ := insp.ListActiveTasks(q, asynq.PageSize(100))
		for _, task := range slices.Concat(pending, active) {
			if task.Type == discussions.TypeSync {
				n++
			}
		}
	}
	return n
}
