package discussions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// replyFixture mirrors one Mirakl thread into a Gorgias ticket, both fakes
// behind the real connectors, on the test Redis, so that an agent's replies
// can be relayed as the reply task does.
type replyFixture struct {
	t       *testing.T
	svc     *Service
	store   *Store
	gorg    *gorgiasfake.Server
	gorgURL string
	mkl     *miraklfake.Server
	thread  string
	ticket  string
}

const (
	replyShop     = "2042"
	replyMklKey   = "mirakl-key"
	replyAgent    = "bridge@acme.test"
	replyGorgKey  = "gorgias-key"
	replyTimeout  = 300 * time.Millisecond
	replySettle   = 1500 * time.Millisecond
	replyLateHold = time.Second
)

func newReplyFixture(t *testing.T, language string) *replyFixture {
	t.Helper()
	f := &replyFixture{t: t}
	f.gorg = gorgiasfake.New(gorgiasfake.Options{Accounts: map[string]string{replyAgent: replyGorgKey}, Unthrottled: true})
	gts := httptest.NewServer(f.gorg)
	t.Cleanup(gts.Close)
	f.gorgURL = gts.URL
	f.mkl = miraklfake.New(miraklfake.Options{Shops: []miraklfake.Shop{{ID: replyShop, Name: "ACME", APIKeys: []string{replyMklKey}}}})
	mts := httptest.NewServer(f.mkl)
	t.Cleanup(mts.Close)

	gc := gts.Client()
	gc.Timeout = replyTimeout
	hd, err := gorgias.New(gorgias.Options{BaseURL: gts.URL, Email: replyAgent, APIKey: replyGorgKey, HTTPClient: gc})
	if err != nil {
		t.Fatal(err)
	}
	mc := mts.Client()
	mc.Timeout = replyTimeout
	mp, err := mirakl.New(mirakl.Options{BaseURL: mts.URL, APIKey: replyMklKey, ShopID: replyShop, HTTPClient: mc})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{
		Worker: config.Worker{MaxRetry: 3},
		Merchants: []config.Merchant{{
			ID:        "acme",
			Helpdesks: []config.Helpdesk{{ID: "acme-gorgias", Kind: config.KindGorgias, Language: language}},
			Marketplaces: []config.Marketplace{{
				ID: "acme-carrefour", Kind: config.KindMirakl, Name: "carrefour", ShopID: replyShop, Store: "acme-fr",
				Helpdesk: "acme-gorgias", SettleDelay: replySettle,
			}},
		}},
	}
	f.store = NewStore(rdbtest.Client(t, apiTestDB), "test:")
	f.svc = NewService(Options{
		Config: cfg, Store: f.store, Queue: &apiQueue{},
		Marketplaces: map[string]connectors.Marketplace{"acme-carrefour": mp},
		Helpdesks:    map[string]Helpdesk{"acme-gorgias": hd},
	})

	th, err := f.mkl.AddThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-7", Topic: "Broken mug", CustomerID: "c-7", CustomerName: "Jeanne Martin",
		Message: miraklfake.MessageSeed{Body: "My mug arrived broken."},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.thread = th.ID
	thread, err := mp.GetThread(context.Background(), th.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Mirror(context.Background(), MirrorPayload{Merchant: "acme", Account: "acme-carrefour", Thread: thread}); err != nil {
		t.Fatal(err)
	}
	f.ticket = f.discussion().TicketID
	return f
}

func (f *replyFixture) discussion() Discussion {
	f.t.Helper()
	d, err := f.store.Get(context.Background(), "acme", "acme-carrefour", f.thread)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// agentWrites stands for an agent's public reply in Gorgias's UI, without
// the webhook: the test runs the reply task itself.
func (f *replyFixture) agentWrites(body, status string) {
	f.agentDoes(gorgiasfake.AgentReply{BodyText: body, Status: status})
}

// agentWritesHTML is agentWrites with the HTML body an editor writes.
func (f *replyFixture) agentWritesHTML(html string) {
	f.agentDoes(gorgiasfake.AgentReply{BodyHTML: html})
}

// agentDoes posts what an agent does in Gorgias's UI and returns the id
// of the message it made.
func (f *replyFixture) agentDoes(r gorgiasfake.AgentReply) string {
	f.t.Helper()
	raw, _ := json.Marshal(r)
	resp, err := http.Post(f.gorgURL+"/_fake/tickets/"+f.ticket+"/agent-reply", "application/json", bytes.NewReader(raw))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gorgiasfake.AgentReplyResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		f.t.Fatalf("agent reply: %d %v", resp.StatusCode, err)
	}
	return strconv.FormatInt(out.MessageID, 10)
}

func (f *replyFixture) reply(status connectors.Status, at time.Time) error {
	return f.svc.Reply(context.Background(), ReplyPayload{Merchant: "acme", Helpdesk: "acme-gorgias", TicketID: f.ticket, Status: status, At: at})
}

func (f *replyFixture) lastNote() string {
	f.t.Helper()
	id, _ := strconv.ParseInt(f.ticket, 10, 64)
	tk, _ := f.gorg.Ticket(id)
	return tk.Messages[len(tk.Messages)-1].BodyText
}

// TestRefusedReplyLeavesCountAndReadState: a reply the marketplace will not
// take is no message of the thread and does not answer it; the discussion
// says that its last reply was refused, and why.
func TestRefusedReplyLeavesCountAndReadState(t *testing.T) {
	f := newReplyFixture(t, "en")
	before := f.discussion()
	if before.Read || before.Messages != 1 {
		t.Fatalf("before: read %v, %d messages; want unread, 1", before.Read, before.Messages)
	}

	// Refused by the bridge, on the marketplace's stated minimum.
	f.agentWrites("ok", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	d := f.discussion()
	if d.Messages != 1 || d.Read || !d.LastMessageAt.Equal(before.LastMessageAt) {
		t.Errorf("after a refused reply: %d messages, read %v, last message %s; want %d, unread, unchanged", d.Messages, d.Read, d.LastMessageAt, before.Messages)
	}
	if d.LastReply == nil || d.LastReply.Status != ReplyRefused || !strings.Contains(d.LastReply.Reason, "too short") {
		t.Errorf("last_reply = %+v, want refused, too short", d.LastReply)
	}

	// Refused by the marketplace itself.
	f.mkl.Faults().Push(fault.Fault{Status: http.StatusBadRequest, Match: func(r *http.Request) bool { return r.Method == http.MethodPost }})
	f.agentWrites("Hello, a refund is on its way.", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	if d := f.discussion(); d.Messages != 1 || d.Read || d.LastReply == nil || d.LastReply.Status != ReplyRefused {
		t.Errorf("after a reply Mirakl refused: %d messages, read %v, last reply %+v", d.Messages, d.Read, d.LastReply)
	}

	// A reply that goes out counts and answers the thread.
	f.agentWrites("Hello, a refund is on its way, sorry!", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	if d := f.discussion(); d.Messages != 2 || !d.Read || d.LastReply == nil || d.LastReply.Status != ReplySent || d.LastReply.Reason != "" {
		t.Errorf("after a sent reply: %d messages, read %v, last reply %+v; want 2, read, sent", d.Messages, d.Read, d.LastReply)
	}
}

// TestRefusalNotesSpeakToAgents: the note says in the account's language
// what was refused and what to do, and keeps the technical detail last.
func TestRefusalNotesSpeakToAgents(t *testing.T) {
	for _, c := range []struct {
		language string
		want     []string
	}{
		{"en", []string{"This reply was NOT sent to carrefour.", "Why: carrefour refused this reply.", "What you can do: ", "Technical detail: mirakl: reply to thread"}},
		{"fr", []string{"Cette réponse n'a PAS été envoyée à carrefour.", "Pourquoi : carrefour a refusé cette réponse.", "Que faire : ", "Détail technique : mirakl: reply to thread"}},
	} {
		t.Run(c.language, func(t *testing.T) {
			f := newReplyFixture(t, c.language)
			f.mkl.Faults().Push(fault.Fault{Status: http.StatusBadRequest, Match: func(r *http.Request) bool { return r.Method == http.MethodPost }})
			f.agentWrites("Hello, a refund is on its way.", "")
			if err := f.reply("", time.Now()); err != nil {
				t.Fatal(err)
			}
			note := f.lastNote()
			at := -1
			for _, want := range c.want {
				i := strings.Index(note, want)
				if i <= at {
					t.Fatalf("the note lacks %q, or has it out of order:\n%s", want, note)
				}
				at = i
			}
			if strings.HasPrefix(note, "mirakl:") || strings.Contains(strings.SplitN(note, "\n\n", 2)[0], "HTTP 400") {
				t.Errorf("the note opens with the technical detail:\n%s", note)
			}
		})
	}
}

// TestOlderStatusDoesNotOverwriteNewer: a delivery whose task ran late (a
// busy thread, a retry) applies its status only if its event is newer than
// the status in place.
func TestOlderStatusDoesNotOverwriteNewer(t *testing.T) {
	f := newReplyFixture(t, "en")
	t0 := time.Now()
	// The later event (the agent reopened the ticket) ran first.
	if err := f.reply(connectors.StatusOpen, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The earlier one (reply and solve) runs now.
	if err := f.reply(connectors.StatusSolved, t0); err != nil {
		t.Fatal(err)
	}
	if d := f.discussion(); d.Status != StatusOpen || !d.StatusAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("status %s at %s, want open at %s: an older event overwrote a newer one", d.Status, d.StatusAt, t0.Add(time.Minute))
	}
	// A newer event still applies, and so does the API.
	if err := f.reply(connectors.StatusPending, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d := f.discussion(); d.Status != StatusPending {
		t.Errorf("status %s, want pending from the newest event", d.Status)
	}
}

// TestLateMiraklReplyIsSentOnce: Mirakl posts a reply after the client gave
// up; the retry waits for it to settle, finds it in the thread and does
// not post it again.
func TestLateMiraklReplyIsSentOnce(t *testing.T) {
	f := newReplyFixture(t, "en")
	landed := make(chan struct{})
	f.mkl.Faults().Push(fault.Fault{Late: true, Hang: replyLateHold, Done: landed, Match: func(r *http.Request) bool { return r.Method == http.MethodPost }})
	f.agentWrites("Hello, a refund is on its way.", "")

	err := f.reply("", time.Now())
	var se *connectors.SettleError
	if !errors.As(err, &se) || !errors.Is(err, connectors.ErrUncertain) {
		t.Fatalf("first attempt: %v, want an uncertain reply to settle", err)
	}
	// An early retry sends nothing.
	err = f.reply("", time.Now())
	if !errors.As(err, &se) {
		t.Fatalf("early retry: %v, want to wait for the reply to settle", err)
	}
	<-landed
	time.Sleep(se.RetryAfter)
	if err := f.reply("", time.Now()); err != nil {
		t.Fatalf("retry once settled: %v", err)
	}
	n := 0
	for _, r := range f.mkl.Replies() {
		if r.ThreadID == f.thread {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d replies in the thread, want 1", n)
	}
	if d := f.discussion(); d.Messages != 2 || d.LastReply == nil || d.LastReply.Status != ReplySent {
		t.Errorf("discussion: %d messages, last reply %+v; want 2, sent", d.Messages, d.LastReply)
	}
}

// A reply whose answer was lost is on the marketplace before its task
// looks again; a sync that mirrors the thread meanwhile takes it as the
// bridge's own instead of appending it to the ticket a second time, and
// the task, once the reply settled, finds it and sends nothing.
func TestLostReplyIsNotMirroredBack(t *testing.T) {
	f := newReplyFixture(t, "en")
	f.mkl.Faults().Push(fault.Fault{After: true, Hang: 2 * replyTimeout, Match: func(r *http.Request) bool { return r.Method == http.MethodPost }})
	f.agentWrites("Hello, a refund is on its way.", "")
	ticketMessages := func() int {
		id, _ := strconv.ParseInt(f.ticket, 10, 64)
		tk, _ := f.gorg.Ticket(id)
		return len(tk.Messages)
	}
	err := f.reply("", time.Now())
	var se *connectors.SettleError
	if !errors.As(err, &se) || !errors.Is(err, connectors.ErrUncertain) {
		t.Fatalf("first attempt: %v, want an uncertain reply to settle", err)
	}
	if n := len(f.mkl.Replies()); n != 1 {
		t.Fatalf("%d replies on Mirakl, want the one whose answer was lost", n)
	}
	mirror := func() {
		t.Helper()
		a, err := f.svc.account("acme", "acme-carrefour")
		if err != nil {
			t.Fatal(err)
		}
		th, err := a.mp.GetThread(context.Background(), f.thread)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Mirror(context.Background(), MirrorPayload{Merchant: "acme", Account: "acme-carrefour", Thread: th}); err != nil {
			t.Fatal(err)
		}
	}
	mirror()
	if n := ticketMessages(); n != 2 {
		t.Fatalf("the ticket holds %d messages after a sync, want the customer's and the agent's", n)
	}
	time.Sleep(se.RetryAfter)
	if err := f.reply("", time.Now()); err != nil {
		t.Fatalf("retry once settled: %v", err)
	}
	mirror()
	if n, r := ticketMessages(), len(f.mkl.Replies()); n != 2 || r != 1 {
		t.Errorf("%d messages in the ticket and %d replies on Mirakl, want 2 and 1", n, r)
	}
	if d := f.discussion(); d.LastReply == nil || d.LastReply.Status != ReplySent {
		t.Errorf("last reply %+v, want sent", d.LastReply)
	}
}

// TestNoteDoesNotSetStatus: a delivery that names an internal note (its
// flags rendered empty, so that it passed for a reply) leaves the
// discussion's status alone, though the ticket was reopened with it.
func TestNoteDoesNotSetStatus(t *testing.T) {
	f := newReplyFixture(t, "en")
	f.agentWrites("Your parcel left our warehouse today.", "closed")
	if err := f.reply(connectors.StatusSolved, time.Now()); err != nil {
		t.Fatal(err)
	}
	no := false
	note := f.agentDoes(gorgiasfake.AgentReply{BodyText: "Check the carrier's claim next week", Public: &no, Status: "open"})
	err := f.svc.Reply(context.Background(), ReplyPayload{Merchant: "acme", Helpdesk: "acme-gorgias", TicketID: f.ticket, Status: connectors.StatusOpen, MessageID: note, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if d := f.discussion(); d.Status != StatusSolved {
		t.Errorf("status %q after an internal note, want solved", d.Status)
	}
	// A reply named by its delivery still sets it.
	reply := f.agentDoes(gorgiasfake.AgentReply{BodyText: "Sorry, one more question: which colour?", Status: "open"})
	err = f.svc.Reply(context.Background(), ReplyPayload{Merchant: "acme", Helpdesk: "acme-gorgias", TicketID: f.ticket, Status: connectors.StatusOpen, MessageID: reply, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if d := f.discussion(); d.Status != StatusOpen {
		t.Errorf("status %q after an agent's reply that reopened the ticket, want open", d.Status)
	}
}
