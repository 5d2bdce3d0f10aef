package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"
	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors/email/dovecottest"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// The e-mail account the crash tests' bridges read, and the ids the
// bridge gives what it mirrors from it.
const (
	mailAccount       = "acme-amazon"
	mailTicketPrefix  = "bridge-disc-amazon-" + mailAccount + "-"
	mailMessagePrefix = "mp-" + mailAccount + "-"
)

// A bridge killed while it reads an IMAP FETCH answer, then started
// again, mirrors every mail once, in order, in the right ticket.
//
// The kill window: the mailbox holds more mail than one ingest batch
// (100). The first batch was fetched, stored in Redis and the IMAP cursor
// committed; the second batch's FETCH of message bodies has started, a
// few kilobytes of its answer have reached the bridge, and the rest never
// comes (a proxy between the bridge and Dovecot stops passing bytes).
// Nothing of the second batch is stored and none of it may be lost; the
// next bridge reads Dovecot directly, over STARTTLS, from the cursor.
func TestMailKilledDuringAnIMAPFetchLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bridge processes")
	}
	t.Parallel()
	const n, threads = 150, 20
	r := newMailCrashRig(t, n, threads)
	imap := startStallProxy(t, r.dc.Addr)
	// The bodies of the second batch: its FETCH is let through, then 4
	// KiB of its answer.
	imap.arm(nthMatch(regexp.MustCompile(`BODY\.PEEK\[\]`), 2, 4<<10))
	r.useIMAP(imap.addr(), "none")
	child := r.startBridge("first", "worker")
	r.waitFrozen(imap, "the second batch's FETCH")
	if cur, stored := r.mailCursor(t), r.storedMails(t); cur != 100 || stored != 100 {
		t.Fatalf("frozen with the cursor at UID %d and %d mails stored; want the first batch's 100 and 100", cur, stored)
	}
	child.kill(t)
	imap.reset()
	r.useIMAP(r.dc.Addr, "starttls")
	r.finish(t)
}

// A bridge killed after it stored some mail in Redis and before it moved
// the IMAP cursor past them, twice, then started again, mirrors every
// mail once, in order, in the right ticket.
//
// The e-mail channel stores each mail in Redis (its thread, its message,
// its dedupe key, in one transaction) and moves the cursor once the batch
// is stored; only then does the discussion sync list the threads and
// mirror them to the helpdesk. So the mail's own window is between those
// Redis writes and the cursor, and the proxy here sits between the bridge
// and Redis. Forty mails were read and mirrored first; sixty more arrive.
//
//  1. Killed before the 30th mail of the batch reaches Redis: 29 are
//     stored, the cursor is still before all 60.
//  2. The next bridge reads the 60 again, and is killed as it commits the
//     cursor: all 60 are stored, the 29 once only, and the cursor has not
//     moved.
//
// The last bridge reads them a third time and mirrors them. (The window
// between the helpdesk's ticket write and the bridge's record of it is
// TestMailKilledBetweenTheTicketWriteAndItsRecordDuplicatesNothing's.)
func TestMailKilledBetweenStoringAndTheCursorLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bridge processes")
	}
	t.Parallel()
	const first, n, threads = 40, 100, 20
	r := newMailCrashRig(t, first, threads)
	rp := startStallProxy(t, r.redis.Addr)
	r.useRedis("redis://" + rp.addr() + "/0")
	child := r.startBridge("warm-up", "worker")
	r.mirrorAll(t)
	if cur := r.mailCursor(t); cur != first {
		t.Fatalf("cursor at UID %d after the first %d mails", cur, first)
	}
	// The sixty arrive while no bridge runs, so that one fetch reads them
	// all: a running bridge's mailbox watch would read them as they come.
	child.kill(t)
	r.expireDeadLeases(t, true)
	r.deliver(t, first, n)

	// 1. The 30th of the new mails' store transactions is held.
	store := regexp.MustCompile(`(?i)rpush\r\n\$\d+\r\n[^\r]*mail:\{` + mailAccount + `\}:m:`)
	rp.arm(nthMatch(store, 30, -1))
	child = r.startBridge("first", "worker")
	r.enqueueMailSync(t) // the mailbox watch would, within a second
	r.waitFrozen(rp, "the 30th store")
	if cur, stored := r.mailCursor(t), r.storedMails(t); cur != first || stored != first+29 {
		t.Fatalf("frozen with the cursor at UID %d and %d mails stored; want %d and %d", cur, stored, first, first+29)
	}
	child.kill(t)
	rp.reset()
	r.expireDeadLeases(t, true)

	// 2. The cursor's commit is held.
	rp.arm(nthMatch(regexp.MustCompile(`(?is)eval(sha)?\r\n.{0,200}?mail:\{`+mailAccount+`\}:cur\r\n`), 1, -1))
	child = r.startBridge("second", "worker")
	r.enqueueMailSync(t)
	r.waitFrozen(rp, "the cursor's commit")
	if cur, stored := r.mailCursor(t), r.storedMails(t); cur != first || stored != n {
		t.Fatalf("frozen with the cursor at UID %d and %d mails stored; want %d and %d", cur, stored, first, n)
	}
	child.kill(t)
	rp.reset()
	r.finish(t)
}

// A bridge killed after the helpdesk wrote a mail's ticket, or a later
// mail's message, and before its answer came back, then started again,
// writes neither twice and loses nothing.
//
//  1. Killed once Gorgias has created the fifth ticket and before the
//     bridge heard: the ticket exists, the bridge has not recorded it.
//  2. Killed once Gorgias has appended a thread's second mail and before
//     the bridge heard: the message is there, the bridge's ledger does
//     not know it.
//
// The mail itself was stored and the IMAP cursor committed before the
// sync enqueued the mirroring: the cursor is not what these kills test.
func TestMailKilledBetweenTheTicketWriteAndItsRecordDuplicatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bridge processes")
	}
	t.Parallel()
	const n, threads = 60, 20
	r := newMailCrashRig(t, n, threads)
	// Paced, so that the mirroring is still going when the holds come.
	r.tuneChildConfig(gorgiasPaceBurst(1000, 20*time.Second), gorgiasPace(10))

	// 1. The fifth ticket create is held once Gorgias has made the ticket.
	held := holdNth(r.gorg.Faults(), 5, true, isTicketCreate)
	child := r.startBridge("first", "worker")
	ext := jsonField(t, waitHeld(t, held, "a ticket create"), "external_id")
	eventually(t, 10*time.Second, "the held create's ticket", func() bool { return len(r.ticketsWith(ext)) == 1 })
	child.kill(t)
	thread := strings.TrimPrefix(ext, mailTicketPrefix)
	if d, err := r.discussionStore().Get(context.Background(), "acme", mailAccount, thread); err == nil && d.TicketID != "" {
		t.Errorf("the bridge recorded ticket %s before Gorgias answered", d.TicketID)
	}
	r.gorg.Faults().Clear()
	r.expireDeadLeases(t, true)

	// 2. The first append of a thread's later mail is held once Gorgias
	// has it.
	held = holdNth(r.gorg.Faults(), 1, true, isMessageAppend)
	child = r.startBridge("second", "worker")
	r.enqueueMailSync(t)
	msgExt := jsonField(t, waitHeld(t, held, "an append"), "external_id")
	eventually(t, 10*time.Second, "the held append's message", func() bool { return r.messageCount(msgExt) == 1 })
	child.kill(t)
	var tk gapi.Ticket
	for _, c := range r.gorg.Tickets() {
		for _, m := range c.Messages {
			if m.ExternalID == msgExt {
				tk = c
			}
		}
	}
	if slices.Contains(r.mailLedger(t, strings.TrimPrefix(tk.ExternalID, mailTicketPrefix)), strings.TrimPrefix(msgExt, mailMessagePrefix)) {
		t.Error("the bridge recorded a message as appended before Gorgias answered")
	}
	t.Logf("killed with %d tickets, a later mail appended and unrecorded", len(r.mailTickets()))
	r.gorg.Faults().Clear()
	r.finish(t)
}

// Two bridge processes reading one mailbox, each with its mailbox watch,
// scheduler and workers, mirror as one does, while mail keeps arriving:
// each mail once, in order, in its order's ticket.
// (TestTwoReadersOfOneMailbox is the connector's own version.)
func TestMailTwoReplicasReadOneMailboxAsOne(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two bridge processes")
	}
	t.Parallel()
	const threads = 20
	r := newMailCrashRig(t, 30, threads)
	r.env["BRIDGE_LOG_LEVEL"] = "debug" // "task done" lines tell who mirrored what
	a, b := r.startBridge("a", "worker"), r.startBridge("b", "worker")
	for i := range 4 {
		r.deliver(t, r.delivered, r.delivered+20)
		if i%2 == 0 {
			// Besides the watches' wake-ups, syncs asked for at once,
			// which both processes' workers take.
			for range 3 {
				r.enqueueMailSync(t)
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	r.mirrorAll(t)
	r.checkMailMirrored(t)
	for _, c := range []*bridgeChild{a, b} {
		if n := c.mirrored(); n == 0 {
			t.Errorf("bridge %s mirrored no thread: the test did not run two replicas", c.name)
		} else {
			t.Logf("bridge %s ran %d mirror tasks and %d syncs of the mailbox", c.name, n, c.mailSyncs())
		}
	}
}

var mailSynced = regexp.MustCompile(`"account":"` + mailAccount + `"[^\n]*"message":"discussions synced"`)

// finish starts a last bridge once the killed one's tasks are free again,
// lets it mirror everything, and checks the outcome.
func (r *mailCrashRig) finish(t *testing.T) {
	t.Helper()
	r.expireDeadLeases(t, true)
	r.startBridge("last", "worker")
	r.mirrorAll(t)
	r.checkMailMirrored(t)
}

// mailSyncs counts the syncs of the e-mail account the process logged as
// done: each read the mailbox first.
func (c *bridgeChild) mailSyncs() int {
	return len(mailSynced.FindAllStringIndex(c.logs.String(), -1))
}

// mailCrashRig runs bridge processes that read an Amazon e-mail account
// from a Dovecot mailbox of the test's own, on a redis-server of the
// test's own, mirroring to the harness's Gorgias fake.
type mailCrashRig struct {
	*harness
	dc      dovecottest.Server
	admin   *client.Client
	mailbox string
	redis   *rdbtest.Server
	threads int
	// delivered is how many of mailN's mails are in the mailbox.
	delivered int
	// imapAt and redisAt are the children's settings now, as they are
	// in the configuration.
	imapAt, redisAt string
}

// newMailCrashRig delivers mails 0 to n-1 of mailN to the mailbox, and
// sets the children up to read it.
func newMailCrashRig(t *testing.T, n, threads int) *mailCrashRig {
	t.Helper()
	dc := dovecottest.Get(t)
	admin := dc.Admin(t)
	mailbox := dc.Mailbox(t, admin)
	relay, err := relayfake.Start(relayfake.Config{RegisteredSenders: []string{amazonSeller}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	srv := rdbtest.Start(t)
	h := newHarness(t, harnessOptions{mode: ModeAPI, redisURL: srv.URL(), clientTimeout: 30 * time.Second, maxRetry: 25})
	r := &mailCrashRig{harness: h, dc: dc, admin: admin, mailbox: mailbox, redis: srv, threads: threads}
	h.env["MAIL_PASSWORD"] = dc.Password
	// The children trust the test Dovecot's certificate as a system
	// root: they have no MailRoots override.
	h.env["SSL_CERT_FILE"] = os.Getenv("BRIDGE_TEST_IMAP_CA")
	r.imapAt = fmt.Sprintf(`imap: {addr: %q, tls: starttls, username: %q, password: "${MAIL_PASSWORD}", mailbox: %q}`, dc.Addr, dc.User, mailbox)
	r.redisAt = fmt.Sprintf("  url: %q", srv.URL())
	account := fmt.Sprintf(`      - id: %s
        kind: email
        name: amazon
        store: acme-fr
        helpdesk: acme-gorgias
        sync_every: 1h
        overlap: 2m
        backfill: 720h
        settle_delay: 3s
        email:
          profile: amazon
          from: %s
          %s
          smtp: {addr: %q, tls: none}
`, mailAccount, amazonSeller, r.imapAt, relay.Addr())
	// Gorgias's own limit would pace the mirroring over half a minute.
	h.tuneChildConfig(gorgiasPaceAt, gorgiasPaceBurst(1000, 20*time.Second), "  - id: globex\n", account+"  - id: globex\n")
	r.deliver(t, 0, n)
	return r
}

// useIMAP points the next children at addr, with tls (starttls, none).
func (r *mailCrashRig) useIMAP(addr, tls string) {
	next := fmt.Sprintf(`imap: {addr: %q, tls: %s, username: %q, password: "${MAIL_PASSWORD}", mailbox: %q}`, addr, tls, r.dc.User, r.mailbox)
	r.tuneChildConfig(r.imapAt, next)
	r.imapAt = next
}

// useRedis points the next children at url.
func (r *mailCrashRig) useRedis(url string) {
	next := fmt.Sprintf("  url: %q", url)
	r.tuneChildConfig(r.redisAt, next)
	r.redisAt = next
}

// deliver puts mails from to to-1 of mailN in the mailbox, in order.
func (r *mailCrashRig) deliver(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		dovecottest.Deliver(t, r.admin, r.mailbox, mailN(i, r.threads))
	}
	r.delivered = to
}

// mailN is the i-th of the crash tests' buyers' mails: one thread per
// order, i modulo threads, every seventh mail with a PDF.
func mailN(i, threads int) []byte {
	order := i % threads
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
	head := fmt.Sprintf("From: <crashbuyer%04d@marketplace.amazon.fr>\r\nTo: %s\r\n"+
		"Subject: Demande de renseignements de la part du client Amazon (Commande : 171-0000001-%07d)\r\n"+
		"Message-ID: <crash-%04d@email.amazonses.com>\r\nDate: %s\r\nMIME-Version: 1.0\r\n",
		order, amazonSeller, order, i, at.Format(time.RFC1123Z))
	text := fmt.Sprintf("Message %04d about my order.", i)
	if i%7 != 0 {
		return []byte(head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n")
	}
	return []byte(head + "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text +
		"\r\n--b1\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"receipt.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJSVFT0YK\r\n--b1--\r\n")
}

// waitFrozen waits for the proxy to freeze.
func (r *mailCrashRig) waitFrozen(p *stallProxy, what string) {
	r.t.Helper()
	select {
	case <-p.frozenCh():
	case <-time.After(60 * time.Second):
		r.t.Fatalf("timed out waiting for the proxy to freeze at %s", what)
	}
}

// enqueueMailSync asks for a sync of the e-mail account, as its mailbox
// watch and the scheduler do.
func (r *mailCrashRig) enqueueMailSync(t *testing.T) {
	t.Helper()
	c := asynq.NewClientFromRedisClient(r.rdb)
	if _, err := c.EnqueueContext(context.Background(), discussions.NewSyncTask(discussions.SyncPayload{Merchant: "acme", Account: mailAccount}, 1)); err != nil {
		t.Fatal(err)
	}
}

// mirrorAll has the running bridge sync the account until every
// delivered mail is in a ticket and nothing is left to do, then once
// more, which must change nothing.
func (r *mailCrashRig) mirrorAll(t *testing.T) {
	t.Helper()
	r.enqueueMailSync(t)
	r.eventuallyMirrored(t, 40*time.Second, "every mail in a ticket", func() bool { return r.mailMessages() >= r.delivered })
	r.settleDiscussions(t, 30*time.Second)
	r.enqueueMailSync(t)
	r.settleDiscussions(t, 30*time.Second)
}

// mailKey is the key of the account's store with this suffix.
func (r *mailCrashRig) mailKey(suffix string) string {
	return r.cfg.Redis.KeyPrefix + "mail:{" + mailAccount + "}:" + suffix
}

// mailCursor is the UID the account's IMAP cursor is at, 0 if none.
func (r *mailCrashRig) mailCursor(t *testing.T) int {
	t.Helper()
	raw, err := r.rdb.Get(context.Background(), r.mailKey("cur")).Bytes()
	if err != nil {
		return 0
	}
	var c struct {
		UID int `json:"uid"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.UID
}

// storedMails counts the messages in the account's stored threads.
func (r *mailCrashRig) storedMails(t *testing.T) int {
	t.Helper()
	n := 0
	for _, k := range r.keys(t, r.mailKey("m:*")) {
		l, err := r.rdb.LLen(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		n += int(l)
	}
	return n
}

func (r *mailCrashRig) keys(t *testing.T, pattern string) []string {
	t.Helper()
	keys, err := r.rdb.Keys(context.Background(), pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// mailTickets are the Gorgias tickets of the account's threads.
func (r *mailCrashRig) mailTickets() []gapi.Ticket {
	var out []gapi.Ticket
	for _, tk := range r.gorg.Tickets() {
		if strings.HasPrefix(tk.ExternalID, mailTicketPrefix) {
			out = append(out, tk)
		}
	}
	return out
}

// mailMessages counts the messages in the account's tickets.
func (r *mailCrashRig) mailMessages() int {
	n := 0
	for _, tk := range r.mailTickets() {
		n += len(tk.Messages)
	}
	return n
}

// mailLedger is the ids of a thread's messages the bridge recorded as in
// its ticket.
func (r *mailCrashRig) mailLedger(t *testing.T, thread string) []string {
	t.Helper()
	ids, err := r.rdb.SMembers(context.Background(), r.cfg.Redis.KeyPrefix+"dsc:{acme}:in:"+mailAccount+":"+thread).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// checkMailMirrored checks the outcome against the mailbox: one ticket
// per order, which holds each of its mails once, in the order they
// arrived, with its file; the store holds each mail once, the bridge
// recorded the ticket and every message; the cursor is at the last mail;
// nothing was unmatched, nothing sent to a buyer.
func (r *mailCrashRig) checkMailMirrored(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	want := make([][]int, r.threads)
	for i := range r.delivered {
		want[i%r.threads] = append(want[i%r.threads], i)
	}
	byOrder := map[int][]gapi.Ticket{}
	for _, tk := range r.mailTickets() {
		if len(tk.Messages) == 0 {
			t.Errorf("ticket %d has no message", tk.ID)
			continue
		}
		var k int
		if _, err := fmt.Sscanf(strings.TrimSpace(tk.Messages[0].BodyText), "Message %d", &k); err != nil {
			t.Errorf("ticket %d begins with %q", tk.ID, tk.Messages[0].BodyText)
			continue
		}
		byOrder[k%r.threads] = append(byOrder[k%r.threads], tk)
	}
	files := 0
	for order, mails := range want {
		tks := byOrder[order]
		if len(tks) != 1 {
			t.Errorf("order %d has %d tickets, want 1", order, len(tks))
			continue
		}
		tk := tks[0]
		var got []int
		exts := map[string]bool{}
		for _, m := range tk.Messages {
			var k int
			if _, err := fmt.Sscanf(strings.TrimSpace(m.BodyText), "Message %d", &k); err != nil {
				t.Errorf("ticket %d holds %q", tk.ID, m.BodyText)
			}
			got = append(got, k)
			if exts[m.ExternalID] {
				t.Errorf("ticket %d holds message %s twice", tk.ID, m.ExternalID)
			}
			exts[m.ExternalID] = true
			if wantFiles := boolInt(k%7 == 0); len(m.Attachments) != wantFiles {
				t.Errorf("ticket %d, mail %d: %d files, want %d", tk.ID, k, len(m.Attachments), wantFiles)
			}
			files += len(m.Attachments)
		}
		if !slices.Equal(got, mails) {
			t.Errorf("ticket %d of order %d holds mails %v, want %v", tk.ID, order, got, mails)
		}
		thread := strings.TrimPrefix(tk.ExternalID, mailTicketPrefix)
		if l, err := r.rdb.LLen(ctx, r.mailKey("m:"+thread)).Result(); err != nil || int(l) != len(mails) {
			t.Errorf("thread %s: %d messages stored (%v), want %d", thread, l, err, len(mails))
		}
		d, err := r.discussionStore().Get(ctx, "acme", mailAccount, thread)
		if err != nil || d.TicketID != strconv.FormatInt(tk.ID, 10) {
			t.Errorf("thread %s: the bridge recorded ticket %q (%v), want %d", thread, d.TicketID, err, tk.ID)
		}
		if in := r.mailLedger(t, thread); len(in) != len(mails) {
			t.Errorf("thread %s: the ledger holds %d messages, want %d", thread, len(in), len(mails))
		}
	}
	if cur := r.mailCursor(t); cur != r.delivered {
		t.Errorf("the cursor is at UID %d, want %d", cur, r.delivered)
	}
	if n, _ := r.rdb.LLen(ctx, r.mailKey("unmatched")).Result(); n != 0 {
		t.Errorf("%d mails unmatched", n)
	}
	if n := r.gorg.Sent(); n != 0 {
		t.Errorf("Gorgias would have sent %d messages to buyers", n)
	}
	r.checkNoMirrorGaveUp(t)
	if !t.Failed() {
		t.Logf("%d mails in %d tickets, each once and in order, %d files", r.delivered, len(r.mailTickets()), files)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
