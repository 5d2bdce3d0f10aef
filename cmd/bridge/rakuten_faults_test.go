package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// The ids the bridge gives the first Rakuten account's tickets.
const rakTicketPrefix = "bridge-disc-rakuten-" + rakutenAccount + "-"

// rakutenClock is the Rakuten fake's clock, which a test moves on to
// lift the hourly quota.
type rakutenClock struct{ off atomic.Int64 }

func (c *rakutenClock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *rakutenClock) advance(d time.Duration) { c.off.Add(int64(d)) }

// rakutenFaultFake is the Rakuten fake of the fault tests, on its own
// clock, which starts a minute into an hour so that the quota's clock hour
// does not turn during the test; quota 0 means none.
func rakutenFaultFake(t *testing.T, quota int) (*rakutenfake.Server, string, *rakutenClock) {
	t.Helper()
	clock := &rakutenClock{}
	now := time.Now()
	clock.advance(now.Truncate(time.Hour).Add(time.Hour + time.Minute).Sub(now))
	fake := rakutenfake.New(rakutenfake.Options{PathPrefix: rakutenPrefix, QuotaPerHour: quota, Now: clock.now, Accounts: []rakutenfake.Account{
		{Login: rakutenLogin, Token: rakutenToken, SellerID: "18352654"},
	}})
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	return fake, ts.URL + rakutenPrefix, clock
}

// rakutenSeed is what the buyers of a fault test wrote, by item.
type rakutenSeed struct {
	items  []string
	bodies map[string][]string // each item's buyer messages, oldest first
}

// seedRakuten sells n items at the first account, each of whose buyers
// writes once, a minute apart, the last a minute ago.
func seedRakuten(t *testing.T, fake *rakutenfake.Server, n int, tag string) *rakutenSeed {
	t.Helper()
	s := &rakutenSeed{bodies: map[string][]string{}}
	for i := range n {
		item := sellItem(t, fake, rakutenLogin, fmt.Sprintf("%s%03d", tag, i), fmt.Sprintf("acheteur%d", i), fmt.Sprintf("%s%d@rakuten-relay.example", tag, i))
		s.items = append(s.items, item)
		s.write(t, fake, item, fmt.Sprintf("Bonjour, où en est ma commande %s-%d ?", tag, i), time.Now().Add(-time.Duration(n-i)*time.Minute))
	}
	return s
}

// write has an item's buyer write a message.
func (s *rakutenSeed) write(t *testing.T, fake *rakutenfake.Server, item, body string, at time.Time) {
	t.Helper()
	if err := fake.AddBuyerMessage(rakutenLogin, item, body, at); err != nil {
		t.Fatal(err)
	}
	s.bodies[item] = append(s.bodies[item], body)
}

// rakAction matches the Rakuten requests of one action.
func rakAction(action string) func(*http.Request) bool {
	return func(r *http.Request) bool { return r.URL.Query().Get(api.ParamAction) == action }
}

// rakCalls counts the requests the fake got, refused ones included.
func rakCalls(fake *rakutenfake.Server) int {
	n := 0
	for _, a := range []string{api.ActionGetItemTodoList, api.ActionGetItemInfos, api.ActionGetNewSales, api.ActionGetCurrentSales, api.ActionContactUserAboutItem, api.ActionContactUsAboutItem} {
		n += fake.Calls(a)
	}
	return n
}

// rakMirrorComplete tells whether every buyer message is in a ticket.
func (h *harness) rakMirrorComplete(s *rakutenSeed) bool {
	have := map[string]int{}
	for _, tk := range h.gorg.Tickets() {
		if strings.HasPrefix(tk.ExternalID, rakTicketPrefix) {
			for _, m := range tk.Messages {
				have[m.BodyText]++
			}
		}
	}
	for _, bodies := range s.bodies {
		for _, b := range bodies {
			if !h.hasBody(have, b) {
				return false
			}
		}
	}
	return true
}

func (h *harness) hasBody(have map[string]int, body string) bool {
	for text := range have {
		if strings.Contains(text, body) {
			return true
		}
	}
	return false
}

// checkRakutenMirrored checks the outcome against what the buyers and
// the agents wrote: one ticket per item's buyer thread and none other,
// holding each buyer message once and in order and each agent's reply
// once (the shop's message on Rakuten is not mirrored back), and each
// reply sent to Rakuten once.
func (h *harness) checkRakutenMirrored(t *testing.T, fake *rakutenfake.Server, s *rakutenSeed, replies map[string][]string) {
	t.Helper()
	byExt := map[string]int{}
	for _, tk := range h.gorg.Tickets() {
		if strings.HasPrefix(tk.ExternalID, "bridge-disc-rakuten-") {
			byExt[tk.ExternalID]++
		}
	}
	for _, item := range s.items {
		ext := rakTicketPrefix + rakuten.ThreadID(item, rakuten.CorrBuyer)
		tks := h.ticketsWith(ext)
		delete(byExt, ext)
		if len(tks) != 1 {
			t.Errorf("item %s has %d tickets, want 1", item, len(tks))
			continue
		}
		full, _ := h.gorg.Ticket(tks[0].ID)
		var public []string
		for _, m := range full.Messages {
			if m.Public == nil || *m.Public {
				public = append(public, m.BodyText)
			}
		}
		want := append(append([]string{}, s.bodies[item]...), replies[item]...)
		if len(public) != len(want) {
			t.Errorf("item %s: the ticket holds %d messages, want %d: %q", item, len(public), len(want), public)
			continue
		}
		next := 0
		for k, b := range want {
			n := 0
			for i, text := range public {
				if strings.Contains(text, b) {
					n++
					if k < len(s.bodies[item]) && i < next {
						t.Errorf("item %s: %q out of order", item, b) // the buyer's, among themselves
					}
					next = i
				}
			}
			if n != 1 {
				t.Errorf("item %s: %q is %d times in the ticket, want once", item, b, n)
			}
		}
	}
	for ext, n := range byExt {
		t.Errorf("%d ticket(s) %s mirror no buyer thread", n, ext)
	}
	sent := map[string]int{}
	for _, r := range fake.Sent(rakutenLogin) {
		sent[r.ItemID+"\x00"+r.Content]++
	}
	nReplies := 0
	for item, rs := range replies {
		for _, r := range rs {
			nReplies++
			if n := sent[item+"\x00"+r]; n != 1 {
				t.Errorf("item %s: the reply %q reached Rakuten %d times, want once", item, r, n)
			}
		}
	}
	if n := len(fake.Sent(rakutenLogin)); n != nReplies {
		t.Errorf("%d replies reached Rakuten, want %d", n, nReplies)
	}
	if n := h.gorg.Sent(); n != 0 {
		t.Errorf("Gorgias would have sent %d messages to customers", n)
	}
}

// rakutenTicket is the Gorgias ticket of an item's buyer thread.
func (h *harness) rakutenTicket(t *testing.T, item string) int64 {
	t.Helper()
	tks := h.ticketsWith(rakTicketPrefix + rakuten.ThreadID(item, rakuten.CorrBuyer))
	if len(tks) != 1 {
		t.Fatalf("item %s has %d tickets", item, len(tks))
	}
	return tks[0].ID
}

// settleScheduledSyncs waits for the sync the scheduler starts with, of
// an empty account, so that the test's own syncs, which are retried
// until they succeed, do the work: a scheduled sync that fails waits
// for the next period. Its calls do not count against the quota.
func (h *harness) settleScheduledSyncs(fake *rakutenfake.Server, clock *rakutenClock) {
	h.t.Helper()
	eventually(h.t, 20*time.Second, "the scheduled sync of the Rakuten account", func() bool { return fake.Calls(api.ActionGetItemTodoList) > 0 })
	h.settle()
	clock.advance(time.Hour)
}

// Rakuten's hourly quota, spent in the middle of a backfill: the sync is
// put off for the quota's backoff, holding no worker and calling Rakuten
// no more meanwhile; once the quota is lifted and the backoff over, every
// thread becomes one ticket, with what was read before the refusal too.
func TestRakutenQuotaMidBackfillDefersAndLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	// The backfill reads the todo list and 12 items, then the sales: the
	// quota is spent after the seventh item.
	const backoff = 4 * time.Second
	fake, baseURL, clock := rakutenFaultFake(t, 8)
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.rakutenQuota = backoff
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces,
			rakutenMarketplace(rakutenAccount, rakutenLogin, rakutenToken, "acme-gorgias", baseURL))
	}})
	h.settleScheduledSyncs(fake, clock)
	seed := seedRakuten(t, fake, 12, "7300")
	base := rakCalls(fake)
	sync := syncer(t, h)
	sync(rakutenAccount)

	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	var deferred *asynq.TaskInfo
	eventually(t, 20*time.Second, "the sync to be put off", func() bool {
		tasks, _ := insp.ListRetryTasks(discussions.Queue)
		for _, task := range tasks {
			if task.Type == discussions.TypeSync {
				deferred = task
			}
		}
		return deferred != nil
	})
	calls := rakCalls(fake)
	if calls-base != 9 {
		t.Errorf("%d calls to Rakuten before the sync was put off, want the quota's 8 and the refused one", calls-base)
	}
	if !strings.Contains(deferred.LastErr, "Quota exceeded") {
		t.Errorf("the sync was put off for %q, want the quota", deferred.LastErr)
	}
	if wait := deferred.NextProcessAt.Sub(deferred.LastFailedAt); wait < backoff-time.Second {
		t.Errorf("the sync comes back %s after the refusal, want the quota's backoff of %s", wait, backoff)
	}
	if deferred.Retried != 0 {
		t.Errorf("the put-off sync counts %d failed attempts, want none", deferred.Retried)
	}
	if n := h.activeDiscussionTasks(t); n != 0 {
		t.Errorf("%d discussion tasks hold a worker while the account is put off", n)
	}
	// The next clock hour lifts the quota; the bridge must still wait
	// for its backoff, not come back at once.
	clock.advance(time.Hour)
	if n := rakCalls(fake); n != calls {
		t.Errorf("%d calls to Rakuten while the account is put off", n-calls)
	}
	eventually(t, 30*time.Second, "a ticket per thread", func() bool { return len(rakutenTickets(h)) == len(seed.items) })
	h.settle()
	h.checkRakutenMirrored(t, fake, seed, nil)
}

// 5xx answers and hangs past the account's timeout, on the todo list,
// the items' reads and the replies, are retried; a reply whose answer was
// lost (Rakuten took it) is looked for before it is sent again, and a
// reply whose read-back failed is not mirrored back as a new message:
// every message and every reply ends once in its ticket, and each reply
// reached Rakuten once.
func TestRakutenServerErrorsAndHangsAreRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	fake, baseURL, clock := rakutenFaultFake(t, 0)
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		mk := rakutenMarketplace(rakutenAccount, rakutenLogin, rakutenToken, "acme-gorgias", baseURL)
		mk.Timeout = time.Second
		h.cfg.Merchants[0].Marketplaces = append(h.cfg.Merchants[0].Marketplaces, mk)
	}})
	h.settleScheduledSyncs(fake, clock)
	seed := seedRakuten(t, fake, 6, "7400")
	sync := syncer(t, h)
	hang := 3 * time.Second
	faults := fake.Faults()
	faults.Push(
		fault.Fault{Status: http.StatusServiceUnavailable, Match: rakAction(api.ActionGetItemTodoList)},
		fault.Fault{Hang: hang, Match: rakAction(api.ActionGetItemTodoList)},
		fault.Fault{Status: http.StatusBadGateway, Match: rakAction(api.ActionGetItemInfos)},
		fault.Fault{Hang: hang, Match: rakAction(api.ActionGetItemInfos)},
		fault.Fault{Status: http.StatusInternalServerError, Match: rakAction(api.ActionGetNewSales)},
	)
	sync(rakutenAccount)
	eventually(t, 40*time.Second, "a ticket per thread", func() bool { return h.rakMirrorComplete(seed) })
	h.settle()
	if n := faults.Pending(); n != 0 {
		t.Errorf("%d faults were not met", n)
	}

	replies := map[string][]string{}
	reply := func(i int, body string, fs ...fault.Fault) {
		t.Helper()
		item := seed.items[i]
		faults.Push(fs...)
		h.agentReply(h.rakutenTicket(t, item), gorgiasfake.AgentReply{BodyText: body})
		replies[item] = append(replies[item], body)
		eventually(t, 30*time.Second, "the reply on Rakuten", func() bool {
			for _, s := range fake.Sent(rakutenLogin) {
				if s.Content == body {
					return true
				}
			}
			return false
		})
		h.settleWithin(30 * time.Second)
		if n := faults.Pending(); n != 0 {
			t.Errorf("reply %d: %d faults were not met", i, n)
			faults.Clear()
		}
	}
	contact := rakAction(api.ActionContactUserAboutItem)
	// Not taken: a 503 before Rakuten handles it.
	reply(0, "Bonjour, le colis part demain.", fault.Fault{Status: http.StatusServiceUnavailable, Match: contact})
	// Taken, and its answer lost to a 503.
	reply(1, "Bonjour, le colis est parti hier.", fault.Fault{Status: http.StatusServiceUnavailable, After: true, Match: contact})
	// Taken, and its answer late past the timeout.
	reply(2, "Bonjour, voici le suivi du colis.", fault.Fault{Hang: hang, After: true, Match: contact})
	// Taken and answered, but the read before it hangs once and the
	// read-back after it fails.
	var sentOnce atomic.Bool
	reply(3, "Bonjour, nous remboursons la commande.",
		fault.Fault{Hang: hang, Match: rakAction(api.ActionGetItemInfos)},
		fault.Fault{Status: http.StatusBadGateway, Match: func(r *http.Request) bool {
			if contact(r) {
				sentOnce.Store(true)
			}
			return sentOnce.Load() && rakAction(api.ActionGetItemInfos)(r)
		}})

	// The buyers write again; the syncs mirror that, and the shop's
	// replies now read back from Rakuten, once.
	seed.write(t, fake, seed.items[1], "Merci, bien reçu.", time.Time{})
	seed.write(t, fake, seed.items[3], "Merci pour le remboursement.", time.Time{})
	faults.Push(fault.Fault{Hang: hang, Match: rakAction(api.ActionGetItemInfos)})
	sync(rakutenAccount)
	eventually(t, 40*time.Second, "the new messages", func() bool { return h.rakMirrorComplete(seed) })
	sync(rakutenAccount)
	h.settle()
	h.checkRakutenMirrored(t, fake, seed, replies)
}

// withRakutenAccount adds the first Rakuten account, answered from
// Gorgias, to the configuration of the harness and of its children.
func (h *harness) withRakutenAccount(baseURL, extra string) {
	h.t.Helper()
	h.env["RAKUTEN_TOKEN"] = rakutenToken
	h.tuneChildConfig("  - id: globex\n", fmt.Sprintf(`      - id: %s
        kind: rakuten
        base_url: %q
        api_key: ${RAKUTEN_TOKEN}
        rakuten: {login: %s}
        store: acme-fr
        helpdesk: acme-gorgias
        sync_every: 1h
        overlap: 2m
        settle_delay: 3s
        timeout: 2s
        rate_limit: {requests: 600, per: 1m}
%s  - id: globex
`, rakutenAccount, baseURL, rakutenLogin, extra))
	cfg, err := config.Parse([]byte(h.yml), func(k string) (string, bool) { v, ok := h.env[k]; return v, ok })
	if err != nil {
		h.t.Fatal(err)
	}
	cfg.Server.AllowPrivateFileHosts, cfg.Worker.QueueShards = h.cfg.Server.AllowPrivateFileHosts, h.cfg.Worker.QueueShards
	h.cfg = cfg
}

// A bridge killed mid-sync, then restarted on the same Redis, loses and
// duplicates nothing:
//
//  1. killed while it reads the items: the first ones answered (Rakuten
//     marked their messages read, and no longer lists them as to do) and
//     no ticket written yet; only the Store still knows them;
//  2. killed once Rakuten took a reply and before its answer came back:
//     the restarted bridge finds the reply on Rakuten and does not send
//     it again.
func TestRakutenKilledMidSyncLosesAndDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills bridge processes")
	}
	fake, baseURL, _ := rakutenFaultFake(t, 0)
	seed := seedRakuten(t, fake, 10, "7500")
	h := newHarness(t, harnessOptions{mode: ModeAPI, maxRetry: 25, before: func(h *harness) { h.withRakutenAccount(baseURL, "") }})
	sync := syncer(t, h)
	defer func() {
		if t.Failed() {
			insp := asynq.NewInspectorFromRedisClient(h.rdb)
			for _, q := range discussionQueues {
				info, err := insp.GetQueueInfo(q)
				t.Logf("queue %s: %+v %v", q, info, err)
				for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){insp.ListActiveTasks, insp.ListRetryTasks, insp.ListPendingTasks, insp.ListScheduledTasks} {
					tasks, _ := list(q)
					for _, task := range tasks {
						t.Logf("  %s %s %s next %s err %s", task.State, task.Type, task.ID, task.NextProcessAt, task.LastErr)
					}
				}
			}
		}
	}()

	// 1. The fourth item's read is held before Rakuten handles it.
	held := holdNth(fake.Faults(), 4, false, rakAction(api.ActionGetItemInfos))
	child := h.startBridge("first", "worker")
	sync(rakutenAccount)
	waitHeld(t, held, "the fourth item's read")
	child.kill(t)
	if n := len(rakutenTickets(h)); n != 0 {
		t.Fatalf("%d tickets before the kill: the kill came too late", n)
	}
	if n := fake.Calls(api.ActionGetItemInfos); n != 3 {
		t.Fatalf("%d item reads answered before the kill, want 3", n)
	}
	fake.Faults().Clear()
	h.expireDeadLeases(t, true)
	child = h.startBridge("second", "worker")
	sync(rakutenAccount)
	eventually(t, 30*time.Second, "every message in a ticket", func() bool { return h.rakMirrorComplete(seed) })
	h.settleDiscussions(t, 30*time.Second)
	h.checkRakutenMirrored(t, fake, seed, nil)

	// 2. A reply's answer is held once Rakuten took it.
	held = holdNth(fake.Faults(), 1, true, rakAction(api.ActionContactUserAboutItem))
	body := "Bonjour, votre colis est en route."
	item := seed.items[2]
	if !h.postAgentReply(h.rakutenTicket(t, item), gorgiasfake.AgentReply{BodyText: body}) {
		t.Fatal("the bridge did not take the agent's reply")
	}
	waitHeld(t, held, "the reply")
	child.kill(t)
	if n := len(fake.Sent(rakutenLogin)); n != 1 {
		t.Fatalf("%d replies on Rakuten before the kill, want 1", n)
	}
	fake.Faults().Clear()
	h.expireDeadLeases(t, true)
	h.startBridge("third", "worker")
	seed.write(t, fake, item, "Merci !", time.Time{})
	sync(rakutenAccount)
	eventually(t, 30*time.Second, "the buyer's thanks", func() bool { return h.rakMirrorComplete(seed) })
	h.settleDiscussions(t, 40*time.Second)
	h.checkRakutenMirrored(t, fake, seed, map[string][]string{item: {body}})
	h.checkNoMirrorGaveUp(t)
}

// Two bridge processes on one Redis, each with its scheduler and workers,
// mirror one Rakuten account as one does, while buyers keep writing and
// agents answer: each thread one ticket, each message and reply once.
func TestRakutenTwoReplicasMirrorAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two bridge processes")
	}
	fake, baseURL, _ := rakutenFaultFake(t, 0)
	seed := seedRakuten(t, fake, 20, "7600")
	h := newHarness(t, harnessOptions{mode: ModeAPI, maxRetry: 25, before: func(h *harness) { h.withRakutenAccount(baseURL, "") }})
	h.env["BRIDGE_LOG_LEVEL"] = "debug" // "task done" lines tell who mirrored what
	a, b := h.startBridge("a", "serve"), h.startBridge("b", "serve")
	for _, c := range []*bridgeChild{a, b} {
		eventually(t, 30*time.Second, c.name+" to start", func() bool { return strings.Contains(c.logs.String(), `"bridge started"`) })
	}
	sync := syncer(t, h)
	for range 4 {
		sync(rakutenAccount)
	}
	defer func() {
		if t.Failed() {
			for _, l := range strings.Split(a.logs.String(), "\n") {
				if strings.Contains(l, "rakuten") {
					t.Log(l)
				}
			}
		}
	}()
	eventually(t, 40*time.Second, "a ticket per thread", func() bool { return h.rakMirrorComplete(seed) })
	replies := map[string][]string{}
	for round := range 3 {
		for i := round; i < len(seed.items); i += 4 {
			seed.write(t, fake, seed.items[i], fmt.Sprintf("Des nouvelles ? (%d)", round), time.Time{})
		}
		item := seed.items[round*5]
		body := fmt.Sprintf("Bonjour, nous regardons (%d).", round)
		h.agentReply(h.rakutenTicket(t, item), gorgiasfake.AgentReply{BodyText: body})
		replies[item] = append(replies[item], body)
		for range 3 {
			sync(rakutenAccount)
		}
	}
	eventually(t, 40*time.Second, "every message in a ticket", func() bool { return h.rakMirrorComplete(seed) })
	h.settleDiscussions(t, 40*time.Second)
	h.checkRakutenMirrored(t, fake, seed, replies)
	h.checkNoMirrorGaveUp(t)
	for _, c := range []*bridgeChild{a, b} {
		if n := c.mirrored(); n == 0 {
			t.Errorf("bridge %s mirrored no thread: the test did not run two replicas", c.name)
		} else {
			t.Logf("bridge %s ran %d mirror tasks", c.name, n)
		}
	}
}
