package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// Test Redis databases of the tests below, which run in parallel with the
// rest of the package (see rdbtest).
const (
	discussionsCrashDB    = 12
	discussionsReplicasDB = 13
)

// The ids the bridge gives what it mirrors from the harness's Mirakl shop.
const (
	discTicketPrefix  = "bridge-disc-carrefour-" + miraklShop + "-"
	discMessagePrefix = "mp-acme-carrefour-"
)

// A bridge killed while it mirrors, four times at four kinds of moment,
// then restarted on the same Redis, ends with what an uninterrupted run
// gives: one ticket per thread, every message once and in order, every
// attachment copied.
//
//  1. Killed once the helpdesk has created a ticket and before its answer
//     came back: the ticket exists, the bridge has not recorded it.
//  2. Killed once the helpdesk has appended a thread's third message and
//     before its answer came back: the message is there, the ledger does
//     not know it.
//  3. Killed while an append waits before the helpdesk handles it:
//     nothing was written, and the bridge must not count it as done.
//  4. Killed at a random moment while it mirrors messages that arrived
//     since, and restarted at once: asynq gives the killed tasks back by
//     itself, about a minute later.
func TestDiscussionsCrashMidSyncLeavesNoDuplicateAndLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for asynq to recover a killed worker's tasks (about a minute)")
	}
	t.Parallel()
	h := newHarness(t, harnessOptions{mode: ModeAPI, db: discussionsCrashDB, clientTimeout: 30 * time.Second, maxRetry: 25})
	// The bridge's own pacing of Gorgias keeps the mirroring going for
	// seconds, long enough to be killed in the middle.
	h.tuneChildConfig(gorgiasPaceAt, gorgiasPace(10))
	seeded := seedThreads(t, h.mkl, 40, time.Now().Add(-time.Hour), time.Minute)

	// 1. The tenth ticket create is held once Gorgias has made the ticket.
	held := holdNth(h.gorg.Faults(), 10, true, isTicketCreate)
	child := h.startBridge("first", "worker")
	body := waitHeld(t, held, "a ticket create")
	ext := jsonField(t, body, "external_id")
	eventually(t, 10*time.Second, "the held create's ticket", func() bool { return len(h.ticketsWith(ext)) == 1 })
	child.kill(t)
	thread := strings.TrimPrefix(ext, discTicketPrefix)
	if d, err := h.discussionStore().Get(context.Background(), "acme", "acme-carrefour", thread); err == nil && d.TicketID != "" {
		t.Errorf("the bridge recorded ticket %s before Gorgias answered", d.TicketID)
	}
	if n := len(h.discussionTickets()); n >= len(seeded.ids) {
		t.Fatalf("every thread had its ticket before the first kill (%d): nothing was left mid-way", n)
	}
	t.Logf("killed with %d of %d tickets, one of them unrecorded", len(h.discussionTickets()), len(seeded.ids))
	h.gorg.Faults().Clear()
	h.expireDeadLeases(t, true)

	// 2. The first append of a third message is held once Gorgias has it.
	held = holdNth(h.gorg.Faults(), 1, true, func(r *http.Request) bool {
		return isMessageAppend(r) && seeded.third[peekJSONField(r, "external_id")]
	})
	child = h.startBridge("second", "worker")
	body = waitHeld(t, held, "a third message's append")
	msgExt := jsonField(t, body, "external_id")
	eventually(t, 10*time.Second, "the held append's message", func() bool { return h.messageCount(msgExt) == 1 })
	child.kill(t)
	msgID := strings.TrimPrefix(msgExt, discMessagePrefix)
	thread = seeded.threadOf[msgID]
	if in := h.inboundLedger(t, thread); slices.Contains(in, msgID) {
		t.Error("the bridge recorded a message as appended before Gorgias answered")
	}
	t.Logf("killed with %d of %d tickets, a third message appended and unrecorded", len(h.discussionTickets()), len(seeded.ids))
	h.gorg.Faults().Clear()
	h.expireDeadLeases(t, true)

	// 3. The next append is held before Gorgias handles it.
	held = holdNth(h.gorg.Faults(), 1, false, isMessageAppend)
	child = h.startBridge("third", "worker")
	msgExt = jsonField(t, waitHeld(t, held, "an append"), "external_id")
	child.kill(t)
	msgID = strings.TrimPrefix(msgExt, discMessagePrefix)
	if n := h.messageCount(msgExt); n != 0 {
		t.Fatalf("Gorgias holds the held message %d times, want none yet", n)
	}
	if in := h.inboundLedger(t, seeded.threadOf[msgID]); slices.Contains(in, msgID) {
		t.Errorf("the bridge recorded a message as appended before Gorgias had it")
	}
	t.Logf("killed with %d of %d tickets, an append not yet made", len(h.discussionTickets()), len(seeded.ids))
	h.gorg.Faults().Clear()
	h.expireDeadLeases(t, true)

	// 4. Customers write again and open new threads; the bridge is killed
	// at a random moment once it mirrors them.
	before := h.ticketMessages()
	more := addMessages(t, h.mkl, seeded.ids, 4)
	more += len(seedThreads(t, h.mkl, 4, time.Now().Add(-10*time.Second), time.Second).ids)
	child = h.startBridge("fourth", "worker")
	h.enqueueSyncs(t, 1)
	eventually(t, 30*time.Second, "the new messages to start arriving", func() bool { return h.ticketMessages() >= before+2 })
	pause := rand.N(400 * time.Millisecond)
	time.Sleep(pause)
	child.kill(t)
	t.Logf("killed %s after the fourth cycle's first appends, %d tasks running, %d messages in tickets, %d new ones to mirror", pause, h.activeDiscussionTasks(t), h.ticketMessages(), more)
	// Only the thread and sync leases run out at once: asynq takes the
	// killed tasks back on its own.
	h.expireDeadLeases(t, false)

	h.startBridge("last", "worker")
	h.enqueueSyncs(t, 1)
	h.settleDiscussions(t, 150*time.Second)
	// Mirroring everything once more writes nothing twice.
	h.enqueueSyncs(t, 1)
	h.settleDiscussions(t, 30*time.Second)
	h.checkMirrored(t)
	h.checkNoMirrorGaveUp(t)
}

// Two bridge processes on one Redis, each with its scheduler and workers,
// mirror as one does, while customers keep writing; an account's syncs
// never overlap, even when several are due at once.
func TestDiscussionsTwoReplicasMirrorAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two bridge processes for about a minute")
	}
	t.Parallel()
	h := newHarness(t, harnessOptions{mode: ModeAPI, db: discussionsReplicasDB, clientTimeout: 5 * time.Second, maxRetry: 25})
	listings := &inflightMeter{match: isThreadListing}
	mkl := httptest.NewServer(listings.wrap(h.mkl))
	t.Cleanup(mkl.Close)
	// Each listing lasts, so that two syncs running at once would overlap.
	h.mkl.Faults().Repeat(1000, fault.Fault{Hang: 300 * time.Millisecond, Match: isThreadListing})
	h.tuneChildConfig(gorgiasPaceAt, gorgiasPaceBurst(100, 10*time.Second),
		`"`+h.mklTS.URL+`"`, `"`+mkl.URL+`"`,
		"        overlap: 1m\n", "        overlap: 1m\n        sync_every: 10s\n")
	h.env["BRIDGE_LOG_LEVEL"] = "debug" // "task done" lines tell who mirrored what

	a, b := h.startBridge("a", "serve"), h.startBridge("b", "serve")
	for _, c := range []*bridgeChild{a, b} {
		eventually(t, 30*time.Second, c.name+" to start", func() bool { return strings.Contains(c.logs.String(), `"bridge started"`) })
	}
	seeded := seedThreads(t, h.mkl, 30, time.Now().Add(-time.Hour), time.Minute)
	h.enqueueSyncs(t, 4) // forced resyncs, all due at once
	eventually(t, 60*time.Second, "a third of the tickets", func() bool { return len(h.discussionTickets()) >= 10 })
	// A few threads get a message before each of several quick syncs:
	// each sync queues one more mirror task for each of them, which the
	// two processes' workers then run side by side.
	for range 4 {
		addMessages(t, h.mkl, seeded.ids, 5)
		listed, _ := listings.stats()
		h.enqueueSyncs(t, 2)
		eventually(t, 30*time.Second, "a sync to list the threads", func() bool { return listings.idleAfter(listed) })
	}
	addMessages(t, h.mkl, seeded.ids, 3)
	seedThreads(t, h.mkl, 3, time.Now().Add(-10*time.Second), time.Second)
	h.enqueueSyncs(t, 4)
	eventually(t, 30*time.Second, "more tickets", func() bool { return len(h.discussionTickets()) >= 25 })
	addMessages(t, h.mkl, seeded.ids[1:], 5)

	// The schedulers' syncs, every 10 s, pick up the last messages.
	h.eventuallyMirrored(t, 90*time.Second, "every message to be mirrored", h.mirrorComplete)
	h.settleDiscussions(t, 30*time.Second)
	h.checkMirrored(t)
	h.checkNoMirrorGaveUp(t)
	if n, most := listings.stats(); n < 3 || most != 1 {
		t.Errorf("%d thread listings, at most %d at once; want several, never two at once", n, most)
	} else {
		t.Logf("%d thread listings, one at a time", n)
	}
	for _, c := range []*bridgeChild{a, b} {
		if n := c.mirrored(); n == 0 {
			t.Errorf("bridge %s mirrored no thread: the test did not run two replicas", c.name)
		} else {
			t.Logf("bridge %s ran %d mirror tasks", c.name, n)
		}
	}
}

// bridgeChild is a bridge process run from the test binary, with its own
// copy of its logs.
type bridgeChild struct {
	name string
	cmd  *exec.Cmd
	logs *syncBuffer
}

// startBridge runs `bridge <args>` as its own process on the children's
// configuration; it is killed when the test ends.
func (h *harness) startBridge(name string, args ...string) *bridgeChild {
	h.t.Helper()
	return h.startBridgeAt(name, "127.0.0.1:0", args...)
}

// startBridgeAt is startBridge listening at listen, for a test that sends
// it requests.
func (h *harness) startBridgeAt(name, listen string, args ...string) *bridgeChild {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), "bridge.yaml")
	yml := strings.Replace(h.yml, "server:\n", "server:\n  listen: \""+listen+"\"\n", 1)
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		h.t.Fatal(err)
	}
	c := &bridgeChild{name: name, logs: &syncBuffer{}}
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(append(args, "-config", path), " "))
	for k, v := range h.env {
		c.cmd.Env = append(c.cmd.Env, k+"="+v)
	}
	c.cmd.Stdout = io.MultiWriter(h.logs, c.logs)
	c.cmd.Stderr = c.cmd.Stdout
	if err := c.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
		if h.t.Failed() {
			c.logProblems(h.t)
		}
	})
	return c
}

// logProblems shows the warnings and errors the process logged, the
// last ones if there are many.
func (c *bridgeChild) logProblems(t *testing.T) {
	var lines []string
	for _, l := range strings.Split(c.logs.String(), "\n") {
		if strings.Contains(l, `"level":"warn"`) || strings.Contains(l, `"level":"error"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	for _, l := range lines {
		t.Logf("bridge %s: %s", c.name, l)
	}
}

// kill SIGKILLs the process and waits for it to be gone.
func (c *bridgeChild) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill bridge %s: %v", c.name, err)
	}
	_ = c.cmd.Wait()
}

var mirrorDone = regexp.MustCompile(`"task_type":"` + discussions.TypeMirror + `"[^\n]*"message":"task done"`)

// mirrored counts the mirror tasks the process logged as done (at debug
// level).
func (c *bridgeChild) mirrored() int {
	return len(mirrorDone.FindAllStringIndex(c.logs.String(), -1))
}

// tuneChildConfig edits the configuration the children read: pairs of
// text to find, each once, and its replacement. The result must be valid.
func (h *harness) tuneChildConfig(pairs ...string) {
	h.t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(h.yml, pairs[i]) {
			h.t.Fatalf("the test configuration has no %q", pairs[i])
		}
		h.yml = strings.Replace(h.yml, pairs[i], pairs[i+1], 1)
	}
	if _, err := config.Parse([]byte(h.yml), func(k string) (string, bool) { v, ok := h.env[k]; return v, ok }); err != nil {
		h.t.Fatalf("tuned test config: %v", err)
	}
}

// gorgiasPace, with gorgiasPaceAt, is the tuneChildConfig pair that sets
// the bridge's pacing of the Gorgias account to n calls a second.
func gorgiasPace(n int) string {
	return fmt.Sprintf("%s        rate_limit: {requests: %d, per: 1s}\n", gorgiasPaceAt, n)
}

// gorgiasPaceBurst paces the Gorgias account to n calls per period, so
// that the budget allows bursts: deferred tasks come back in whole seconds,
// and a bucket smaller than a second's calls loses what they miss.
func gorgiasPaceBurst(n int, per time.Duration) string {
	return fmt.Sprintf("%s        rate_limit: {requests: %d, per: %s}\n", gorgiasPaceAt, n, per)
}

const gorgiasPaceAt = "        language: en\n"

// seededThreads are the threads seedThreads opened.
type seededThreads struct {
	ids []string
	// third holds the external ids of the threads' third messages.
	third map[string]bool
	// threadOf maps a message id to its thread.
	threadOf map[string]string
}

// seedThreads opens n threads on the Mirakl fake, the first at start and
// one a second after the other: a third of them with three messages (the
// customer's, the operator's step later, one the shop wrote in the back
// office step after that), a third with two, some with attachments on the
// first or a later message.
func seedThreads(t *testing.T, mkl *miraklfake.Server, n int, start time.Time, step time.Duration) seededThreads {
	t.Helper()
	s := seededThreads{third: map[string]bool{}, threadOf: map[string]string{}}
	for i := range n {
		at := start.Add(time.Duration(i) * time.Second)
		first := miraklfake.MessageSeed{Body: fmt.Sprintf("<p>Hello, my parcel %d has not arrived.</p>", i), At: at}
		if i%5 == 0 {
			first.Attachments = []miraklfake.FileSeed{{Name: fmt.Sprintf("receipt-%d.pdf", i), ContentType: "application/pdf", Content: []byte(fmt.Sprintf("receipt of order %d", i))}}
		}
		th, err := mkl.AddThread(miraklfake.ThreadSeed{
			EntityType: mapi.EntityOrder, EntityID: fmt.Sprintf("ORDER-%03d", i), Topic: fmt.Sprintf("Parcel %d", i),
			CustomerID: fmt.Sprintf("cust-%d", i), CustomerName: buyerName, Message: first,
		})
		if err != nil {
			t.Fatal(err)
		}
		s.ids = append(s.ids, th.ID)
		s.threadOf[th.Messages[0].ID] = th.ID
		var later []miraklfake.MessageSeed
		if i%3 != 2 {
			op := miraklfake.MessageSeed{From: mapi.SenderOperator, Body: fmt.Sprintf("Operator: we asked the carrier about parcel %d.", i), At: at.Add(step)}
			if i%7 == 3 {
				op.Attachments = []miraklfake.FileSeed{{Name: "carrier.png", ContentType: "image/png", Content: []byte(fmt.Sprintf("carrier answer %d", i))}}
			}
			later = append(later, op)
		}
		if i%3 == 0 {
			later = append(later, miraklfake.MessageSeed{From: mapi.SenderShop, Body: fmt.Sprintf("Shop: parcel %d is on its way again.", i), At: at.Add(2 * step)})
		}
		for k, m := range later {
			msg, err := mkl.AddMessage(th.ID, m)
			if err != nil {
				t.Fatal(err)
			}
			s.threadOf[msg.ID] = th.ID
			if k == 1 {
				s.third[discMessagePrefix+msg.ID] = true
			}
		}
	}
	return s
}

// addMessages has the customers of every step-th thread write again, now,
// some with a photo; it returns how many messages it added.
func addMessages(t *testing.T, mkl *miraklfake.Server, threads []string, step int) int {
	t.Helper()
	n := 0
	for i := 0; i < len(threads); i += step {
		m := miraklfake.MessageSeed{Body: fmt.Sprintf("Any news? (%d)", i)}
		if i%2 == 0 {
			m.Attachments = []miraklfake.FileSeed{{Name: "photo.jpg", ContentType: "image/jpeg", Content: []byte(fmt.Sprintf("photo %d of a damaged box", i))}}
		}
		if _, err := mkl.AddMessage(threads[i], m); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// enqueueSyncs asks for n syncs of the account at once, as forced
// resyncs do.
func (h *harness) enqueueSyncs(t *testing.T, n int) {
	t.Helper()
	h.enqueueSyncsOf(t, "acme-carrefour", n)
}

// enqueueSyncsOf asks for n syncs of one of acme's accounts at once.
func (h *harness) enqueueSyncsOf(t *testing.T, account string, n int) {
	t.Helper()
	c := asynq.NewClientFromRedisClient(h.rdb)
	defer c.Close()
	for range n {
		if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: account}, 1)); err != nil {
			t.Fatal(err)
		}
	}
}

// settleDiscussions waits until no discussion task is pending, running
// (in a live process or a dead one), scheduled or waiting for a retry.
func (h *harness) settleDiscussions(t *testing.T, within time.Duration) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	h.eventuallyMirrored(t, within, "the discussion tasks to finish", func() bool {
		used, err := insp.Queues()
		if err != nil {
			return false
		}
		for _, q := range discussionQueues {
			if !slices.Contains(used, q) {
				continue // never used: nothing in it
			}
			info, err := insp.GetQueueInfo(q)
			if err != nil || info.Pending+info.Active+info.Scheduled+info.Retry > 0 {
				return false
			}
		}
		return true
	})
}

// eventuallyMirrored waits for cond as eventually does, and meanwhile
// runs at once the discussion tasks whose retry is due in more than a few
// seconds. A thread busy with another task a few times in a row would
// otherwise wait minutes, its backoff doubling from 2 s; retrying earlier
// is safe, as the leases and the ledgers, not the delays, keep it so.
func (h *harness) eventuallyMirrored(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	var last time.Time
	eventually(t, within, what, func() bool {
		if time.Since(last) > time.Second {
			last = time.Now()
			for _, q := range discussionQueues {
				retries, _ := insp.ListRetryTasks(q, asynq.PageSize(100))
				for _, task := range retries {
					if time.Until(task.NextProcessAt) > 3*time.Second {
						_ = insp.RunTask(q, task.ID)
					}
				}
			}
		}
		return cond()
	})
}

// activeDiscussionTasks counts the discussion tasks asynq holds as
// running.
func (h *harness) activeDiscussionTasks(t *testing.T) int {
	t.Helper()
	active := 0
	for _, q := range discussionQueues {
		info, err := asynq.NewInspectorFromRedisClient(h.rdb).GetQueueInfo(q)
		if err != nil {
			continue // not used yet
		}
		active += info.Active
	}
	return active
}

// discussionQueues are the queues discussion tasks run in.
var discussionQueues = []string{discussions.Queue, discussions.BulkQueue, discussions.RepliesQueue}

// checkNoMirrorGaveUp fails the test for every mirror task asynq archived.
func (h *harness) checkNoMirrorGaveUp(t *testing.T) {
	t.Helper()
	for _, q := range discussionQueues {
		archived, _ := asynq.NewInspectorFromRedisClient(h.rdb).ListArchivedTasks(q, asynq.PageSize(100))
		for _, task := range archived {
			if task.Type == discussions.TypeMirror {
				t.Errorf("mirror task %s gave up: %s", task.ID, task.LastErr)
			}
		}
	}
}

// expireDeadLeases plays the time the leases of a killed bridge take to run
// out, so that the test need not wait for them: the discussions' thread
// (2 min) and sync (10 min) locks and, with tasks, asynq's leases on the
// tasks it was running (taken back 30 s after they expire). Only the
// killed process held any, as it was the only one running.
func (h *harness) expireDeadLeases(t *testing.T, tasks bool) {
	t.Helper()
	ctx := context.Background()
	locks, err := h.rdb.Keys(ctx, h.cfg.Redis.KeyPrefix+"dsc:{acme}:lock:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) > 0 {
		if err := h.rdb.Del(ctx, locks...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if !tasks {
		return
	}
	past := float64(time.Now().Add(-time.Minute).Unix())
	for _, q := range discussionQueues {
		key := "asynq:{" + q + "}:lease"
		ids, err := h.rdb.ZRange(ctx, key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := h.rdb.ZAddXX(ctx, key, redis.Z{Score: past, Member: id}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// discussionStore reads what the bridge recorded.
func (h *harness) discussionStore() *discussions.Store {
	return discussions.NewStore(h.rdb, h.cfg.Redis.KeyPrefix)
}

// inboundLedger is the ids of a thread's messages the bridge recorded as
// in its ticket.
func (h *harness) inboundLedger(t *testing.T, thread string) []string {
	t.Helper()
	ids, err := h.rdb.SMembers(context.Background(), h.cfg.Redis.KeyPrefix+"dsc:{acme}:in:acme-carrefour:"+thread).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// ticketsWith returns the Gorgias tickets, trashed ones included, with
// this external id.
func (h *harness) ticketsWith(ext string) []gapi.Ticket {
	var out []gapi.Ticket
	for _, tk := range h.gorg.Tickets() {
		if tk.ExternalID == ext {
			out = append(out, tk)
		}
	}
	return out
}

// messageCount counts the Gorgias messages with this external id.
func (h *harness) messageCount(ext string) int {
	n := 0
	for _, tk := range h.gorg.Tickets() {
		for _, m := range tk.Messages {
			if m.ExternalID == ext {
				n++
			}
		}
	}
	return n
}

// ticketMessages counts the messages in mirrored tickets.
func (h *harness) ticketMessages() int {
	n := 0
	for _, tk := range h.gorg.Tickets() {
		if strings.HasPrefix(tk.ExternalID, discTicketPrefix) {
			n += len(tk.Messages)
		}
	}
	return n
}

// mirrorComplete tells whether every message of every thread is in a
// ticket.
func (h *harness) mirrorComplete() bool {
	have := map[string]bool{}
	for _, tk := range h.gorg.Tickets() {
		for _, m := range tk.Messages {
			have[m.ExternalID] = true
		}
	}
	for _, th := range h.mkl.Threads() {
		for _, m := range th.Messages {
			if !have[discMessagePrefix+m.ID] {
				return false
			}
		}
	}
	return true
}

// checkMirrored checks the outcome against the marketplace: each thread
// has exactly one ticket, which holds each of the thread's messages once,
// in order, with its attachments' content; the bridge recorded that
// ticket and every message in its ledger; no ticket mirrors no thread.
func (h *harness) checkMirrored(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	store := h.discussionStore()
	threads := h.mkl.Threads()
	ids := make([]string, len(threads))
	for i, th := range threads {
		ids[i] = th.ID
	}
	ticketOf := ticketPerThread(t, h.gorg.Tickets(), "bridge-disc-", discTicketPrefix, ids)
	files := 0
	for _, th := range threads {
		tk, ok := ticketOf[th.ID]
		if !ok {
			continue
		}
		var want, got []string
		for _, m := range th.Messages {
			want = append(want, discMessagePrefix+m.ID)
		}
		for _, m := range tk.Messages {
			got = append(got, m.ExternalID)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ticket %d of thread %s: messages by external id (-want +got):\n%s", tk.ID, th.ID, diff)
			continue
		}
		for i, m := range th.Messages {
			if diff := h.checkFiles(m, tk.Messages[i]); diff != "" {
				t.Errorf("ticket %d, message %d: attachments (-want +got):\n%s", tk.ID, i, diff)
			}
			files += len(m.Attachments)
		}
		d, err := store.Get(ctx, "acme", "acme-carrefour", th.ID)
		if err != nil || d.TicketID != strconv.FormatInt(tk.ID, 10) {
			t.Errorf("thread %s: the bridge recorded ticket %q (%v), want %d", th.ID, d.TicketID, err, tk.ID)
		}
		// Each message's count and its reopening commit with its ledger
		// entry, so no kill can lose them.
		if d.Messages != len(th.Messages) {
			t.Errorf("thread %s: the discussion counts %d messages, the ticket holds %d", th.ID, d.Messages, len(th.Messages))
		}
		if last := th.Messages[len(th.Messages)-1]; last.From.Type != mapi.SenderShop && (d.Status != discussions.StatusOpen || d.Read) {
			t.Errorf("thread %s ends with a customer's or operator's message but is %s, read %v", th.ID, d.Status, d.Read)
		}
		in := h.inboundLedger(t, th.ID)
		slices.Sort(in)
		var ids []string
		for _, m := range th.Messages {
			ids = append(ids, m.ID)
		}
		slices.Sort(ids)
		if diff := cmp.Diff(ids, in); diff != "" {
			t.Errorf("thread %s: ledger of messages in the ticket (-want +got):\n%s", th.ID, diff)
		}
	}
	if n := h.gorg.Sent(); n != 0 {
		t.Errorf("Gorgias would have sent %d messages to customers", n)
	}
	if r := h.mkl.Replies(); len(r) != 0 {
		t.Errorf("the bridge sent %d mirrored messages back to the marketplace", len(r))
	}
	if !t.Failed() {
		t.Logf("%d threads, each in one ticket, with %d attachments copied", len(threads), files)
	}
}

// ticketPerThread finds each thread's ticket among tickets, by its
// external id (prefix and the thread's id): a thread with no ticket or
// several is an error, and so is a ticket whose external id starts with
// mirrored and that mirrors no thread. It returns the first ticket of
// each thread that has one.
func ticketPerThread(t *testing.T, tickets []gapi.Ticket, mirrored, prefix string, threads []string) map[string]gapi.Ticket {
	t.Helper()
	byExt := map[string][]gapi.Ticket{}
	for _, tk := range tickets {
		if strings.HasPrefix(tk.ExternalID, mirrored) {
			byExt[tk.ExternalID] = append(byExt[tk.ExternalID], tk)
		}
	}
	out := map[string]gapi.Ticket{}
	for _, id := range threads {
		tks := byExt[prefix+id]
		delete(byExt, prefix+id)
		if len(tks) != 1 {
			t.Errorf("thread %s has %d tickets, want 1", id, len(tks))
		}
		if len(tks) > 0 {
			out[id] = tks[0]
		}
	}
	for ext, tks := range byExt {
		t.Errorf("%d ticket(s) with external id %s mirror no thread", len(tks), ext)
	}
	return out
}

// checkFiles compares a marketplace message's attachments with those of its
// ticket message, by name and content.
func (h *harness) checkFiles(m mapi.Message, got gapi.Message) string {
	type file struct{ Name, Content string }
	var want, have []file
	for _, a := range m.Attachments {
		f, _ := h.mkl.Attachment(a.ID)
		want = append(want, file{a.Name, string(f.Content)})
	}
	for _, a := range got.Attachments {
		have = append(have, file{a.Name, h.download(a.URL)})
	}
	return cmp.Diff(want, have)
}

// download fetches a file Gorgias holds, as the API user.
func (h *harness) download(url string) string {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return "bad url: " + err.Error()
	}
	req.SetBasicAuth(agentEmail, gorgiasKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.Status
	}
	return string(b)
}

// holdNth queues a fault for the nth request match accepts: the fake holds
// it until the client goes away, having handled it (after) or not. The
// channel yields that request's body.
func holdNth(inj *fault.Injector, n int, after bool, match func(*http.Request) bool) <-chan []byte {
	got := make(chan []byte, 1)
	var seen atomic.Int32
	inj.Push(fault.Fault{After: after, Hang: 10 * time.Minute, Match: func(r *http.Request) bool {
		if !match(r) || int(seen.Add(1)) < n {
			return false
		}
		got <- peekBody(r)
		return true
	}})
	return got
}

func waitHeld(t *testing.T, held <-chan []byte, what string) []byte {
	t.Helper()
	select {
	case b := <-held:
		return b
	case <-time.After(60 * time.Second):
		t.Fatalf("timed out waiting for %s to hold", what)
		return nil
	}
}

// peekBody reads a request's body and leaves it to be read again.
func peekBody(r *http.Request) []byte {
	b, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b
}

// peekJSONField is a string field of a request's JSON body, "" if none.
func peekJSONField(r *http.Request, name string) string {
	var v map[string]any
	_ = json.Unmarshal(peekBody(r), &v)
	s, _ := v[name].(string)
	return s
}

func jsonField(t *testing.T, body []byte, name string) string {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("held request: %v", err)
	}
	s, _ := v[name].(string)
	if s == "" {
		t.Fatalf("held request has no %s: %s", name, body)
	}
	return s
}

func isTicketCreate(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/api/tickets"
}

func isMessageAppend(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/api/tickets/") && strings.HasSuffix(r.URL.Path, "/messages")
}

// isThreadListing is Mirakl's M11, the listing a sync pages through.
func isThreadListing(r *http.Request) bool {
	return r.Method == http.MethodGet && r.URL.Path == "/api/inbox/threads"
}

// inflightMeter counts the requests match accepts, and the most that were
// in flight at once.
type inflightMeter struct {
	match func(*http.Request) bool

	mu              sync.Mutex
	now, most, seen int
}

func (m *inflightMeter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !m.match(r) {
			next.ServeHTTP(w, r)
			return
		}
		m.mu.Lock()
		m.now++
		m.seen++
		m.most = max(m.most, m.now)
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			m.now--
			m.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// idleAfter tells whether more than seen requests came and none is in
// flight.
func (m *inflightMeter) idleAfter(seen int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen > seen && m.now == 0
}

func (m *inflightMeter) stats() (seen, most int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.seen, m.most
}
