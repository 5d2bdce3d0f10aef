package email

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
)

// slotBox is a mailbox of the test's own: mail in UID order, one
// UIDVALIDITY epoch at a time. The IMAP reader is tested against a real
// Dovecot; this one keeps the connector's tests about the connector.
type slotBox struct {
	mu       sync.Mutex
	validity uint32
	mails    [][]byte
	fetches  int
}

func (b *slotBox) add(raw []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mails = append(b.mails, raw)
}

func (b *slotBox) Fetch(_ context.Context, after imapbox.Cursor, max int) ([]imapbox.RawMessage, imapbox.Cursor, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.fetches++
	from := after.LastUID
	if after.UIDValidity != b.validity {
		from = 0
	}
	var out []imapbox.RawMessage
	next := imapbox.Cursor{UIDValidity: b.validity, LastUID: from}
	for i := int(from); i < len(b.mails) && len(out) < max; i++ {
		out = append(out, imapbox.RawMessage{
			UID: uint32(i + 1), UIDValidity: b.validity, InternalDate: time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC),
			Size: int64(len(b.mails[i])), Raw: b.mails[i], Replayed: after.UIDValidity != 0 && after.UIDValidity != b.validity,
		})
		next.LastUID = uint32(i + 1)
	}
	return out, next, nil
}

// recordingSender keeps what it sends; fail, when set, is its answer.
type recordingSender struct {
	mu   sync.Mutex
	sent []Outgoing
	fail error
}

func (s *recordingSender) Send(_ context.Context, m Outgoing) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, m)
	id := "reply-" + string(rune('a'+len(s.sent))) + "@seller.example"
	if s.fail != nil {
		return id, s.fail
	}
	return id, nil
}

func corpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("mailparse", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type fixture struct {
	store  *Store
	box    *slotBox
	in     *Ingester
	conn   *Connector
	sender *recordingSender
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	srv := rdbtest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	store := NewStore(rdb, "t:", "acme-amazon-fr", time.Now)
	box := &slotBox{validity: 7}
	sender := &recordingSender{}
	return &fixture{
		store: store, box: box, sender: sender,
		in:   NewIngester(store, box, mailparse.Amazon, mailparse.Options{}),
		conn: New(Options{Store: store, Sender: sender, From: "seller@boutique.example", Limits: &mailparse.AmazonReplyLimits}),
	}
}

func (f *fixture) ingest(t *testing.T) IngestResult {
	t.Helper()
	res, err := f.in.Run(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) threads(t *testing.T) []connectors.Thread {
	t.Helper()
	var all []connectors.Thread
	q := connectors.ThreadQuery{Limit: 1}
	for range 100 {
		p, err := f.conn.ListThreads(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, p.Threads...)
		if p.NextPageToken == "" {
			return all
		}
		q = connectors.ThreadQuery{PageToken: p.NextPageToken}
	}
	t.Fatal("the listing never ends")
	return nil
}

// Buyer mail becomes one thread per buyer and order, its text without
// the quoted history, with its files and the original; a delivery failure
// becomes a note on that thread; newsletters and spam become nothing but
// a line for the admin. Fetching everything again stores nothing twice.
func TestMailBecomesThreads(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{
		"amazon-fr-buyer-qp-latin1.eml", "amazon-de-buyer-html-b64-win1252.eml", "amazon-uk-buyer-jpeg-utf8.eml",
		"amazon-newsletter.eml", "spam-fake-amazon.eml", "amazon-fr-delivery-failure.eml", "malformed-deep-nesting.eml",
	} {
		f.box.add(corpus(t, name))
	}
	res := f.ingest(t)
	if res.Fetched != 7 || res.Stored != 4 || res.Unmatched != 3 {
		t.Fatalf("first run %+v; want 7 fetched, 4 stored (3 buyer mails and a failure), 3 unmatched", res)
	}
	threads := f.threads(t)
	if len(threads) != 3 {
		t.Fatalf("%d threads, want 3", len(threads))
	}
	var fr connectors.Thread
	for _, th := range threads {
		if th.Entity.ID == "171-1234567-7654321" {
			fr = th
		}
		// Each mail's "no response needed" link (old and current
		// footers, text and HTML) stays under the buyer's text for the
		// agent, on its own marketplace's host.
		tld := th.Customer.ID[strings.LastIndex(th.Customer.ID, "@marketplace.amazon.")+len("@marketplace.amazon."):]
		_, link, _ := strings.Cut(th.Messages[0].Body, "\n\n"+noResponseLabel)
		if !strings.HasPrefix(link, "http") || !strings.Contains(link, ".amazon."+tld+"/") || !strings.Contains(link, "no-response-needed") {
			t.Errorf("thread %s: the no-response link under the text is %q", th.Entity.ID, link)
		}
		if th.Entity.Type != connectors.EntityOrder || th.Customer == nil || !strings.Contains(th.Customer.ID, "@marketplace.amazon.") {
			t.Errorf("thread %+v", th)
		}
	}
	if len(fr.Messages) != 2 {
		t.Fatalf("the French thread has %d messages, want the buyer's and the failure note", len(fr.Messages))
	}
	buyer, note := fr.Messages[0], fr.Messages[1]
	if !strings.Contains(buyer.Body, "je n'ai toujours pas reçu ma commande") || strings.Contains(buyer.Body, "votre colis est parti") {
		t.Errorf("buyer text %q", buyer.Body)
	}
	if len(buyer.Attachments) != 1 || buyer.Attachments[0].Name != "original.eml" {
		t.Errorf("buyer attachments %+v, want the original", buyer.Attachments)
	}
	if note.From.Type != connectors.PartyOperator || !strings.Contains(note.Body, "could not deliver") {
		t.Errorf("failure note %+v", note)
	}
	rc, meta, err := f.conn.DownloadAttachment(context.Background(), buyer.Attachments[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	if meta.Name != "original.eml" || string(raw) != string(corpus(t, "amazon-fr-buyer-qp-latin1.eml")) {
		t.Errorf("the original: %+v, %d bytes", meta, len(raw))
	}
	// The mail is dated March; it was stored now, and a sync that looks
	// for what changed in the last minute finds it.
	recent, err := f.conn.ListThreads(context.Background(), connectors.ThreadQuery{UpdatedSince: time.Now().Add(-time.Minute)})
	if err != nil || len(recent.Threads) != 3 {
		t.Errorf("threads updated in the last minute: %d, %v", len(recent.Threads), err)
	}
	un, _ := f.store.Unmatched(context.Background(), 10)
	if len(un) != 3 {
		t.Errorf("unmatched lines %+v", un)
	}
	if n, err := f.conn.UnmatchedCount(context.Background()); n != 3 || err != nil {
		t.Errorf("unmatched count %d, %v; want 3", n, err)
	}

	// The cursor lost (a crash before it moved) and a second reader: the
	// same mail again stores nothing.
	if err := f.store.rdb.Del(context.Background(), f.store.cursorKey()).Err(); err != nil {
		t.Fatal(err)
	}
	again := f.ingest(t)
	if again.Stored != 0 || again.Seen != 4 {
		t.Errorf("again %+v; want everything seen", again)
	}
	f.box.validity = 8 // the mailbox was rebuilt: a new UIDVALIDITY
	if again := f.ingest(t); again.Stored != 0 || again.Fetched != 7 {
		t.Errorf("after a UIDVALIDITY change %+v; want all fetched, none stored", again)
	}
	if got := f.threads(t); len(got) != 3 || len(got[0].Messages)+len(got[1].Messages)+len(got[2].Messages) != 4 {
		t.Errorf("after the second runs: %d threads", len(got))
	}
}

// A reply goes from the registered address to the buyer's alias, threaded
// on the buyer's mail, as plain text, and shows in the thread as the
// shop's. One the relay would refuse is refused before sending; one whose
// sending is uncertain is recorded, so that a retry finds it.
func TestReplies(t *testing.T) {
	f := newFixture(t)
	f.box.add(corpus(t, "amazon-fr-buyer-qp-latin1.eml"))
	f.ingest(t)
	th := f.threads(t)[0]
	ctx := context.Background()

	sent, err := f.conn.Reply(ctx, th.ID, connectors.Reply{Body: "Bonjour Camille, le suivi est 6A123.", To: []connectors.PartyType{connectors.PartyCustomer},
		Files: []connectors.ReplyFile{{Name: "facture.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4")}}})
	if err != nil {
		t.Fatal(err)
	}
	out := f.sender.sent[0]
	if out.From != "seller@boutique.example" || !strings.HasSuffix(out.To, "@marketplace.amazon.fr") || out.InReplyTo != "0100018e-fr-0001@email.amazonses.com" ||
		!strings.HasPrefix(out.Subject, "Re: ") || len(out.References) != 1 || len(out.Files) != 1 {
		t.Errorf("sent %+v", out)
	}
	got, _ := f.conn.GetThread(ctx, th.ID)
	last := got.Messages[len(got.Messages)-1]
	if last.ID != sent.MessageID || last.From.Type != connectors.PartyShop || last.Body != "Bonjour Camille, le suivi est 6A123." || len(last.Attachments) != 1 {
		t.Errorf("the reply in the thread %+v (sent %+v)", last, sent)
	}

	buyer := []connectors.PartyType{connectors.PartyCustomer}
	for _, bad := range []connectors.Reply{
		{Body: "See <b>this</b>", To: buyer},
		{Body: "Write to me at jeanne@example.com", To: buyer},
		{Body: "ok", To: buyer, Files: []connectors.ReplyFile{{Name: "tool.exe", Content: []byte("MZ")}}},
		{Body: "   ", To: buyer},
		{Body: "Nobody to send it to."},
		{Body: "To the operator, whom the relay does not have.", To: []connectors.PartyType{connectors.PartyOperator}},
	} {
		if _, err := f.conn.Reply(ctx, th.ID, bad); !errors.Is(err, connectors.ErrInvalid) {
			t.Errorf("reply %q: %v, want ErrInvalid", bad.Body, err)
		}
	}
	if len(f.sender.sent) != 1 {
		t.Errorf("%d mails sent, want the refused ones kept back", len(f.sender.sent))
	}

	f.sender.fail = connectors.ErrUncertain
	if _, err := f.conn.Reply(ctx, th.ID, connectors.Reply{Body: "Le colis arrive demain.", To: buyer}); !errors.Is(err, connectors.ErrUncertain) {
		t.Fatalf("uncertain send: %v", err)
	}
	got, _ = f.conn.GetThread(ctx, th.ID)
	if last := got.Messages[len(got.Messages)-1]; last.Body != "Le colis arrive demain." || last.From.Type != connectors.PartyShop {
		t.Errorf("an uncertain reply is not in the thread: %+v", last)
	}
	if _, err := f.conn.Reply(ctx, "tnope", connectors.Reply{Body: "x", To: buyer}); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("unknown thread: %v", err)
	}
}

// A merchant's own relay (the generic profile): mail from its domain
// with a case number in the subject is a discussion about that case.
func TestGenericRelay(t *testing.T) {
	f := newFixture(t)
	p, err := mailparse.Generic(mailparse.GenericConfig{
		Name: "market", Marketplace: "market", RelayDomains: []string{"relay.example-market.com"},
		CaseSubject: `\[Case #([A-Z0-9-]+)\]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.in = NewIngester(f.store, f.box, p, mailparse.Options{})
	f.box.add(corpus(t, "generic-relay-case.eml"))
	f.box.add(corpus(t, "amazon-fr-buyer-qp-latin1.eml")) // not this relay's
	if res := f.ingest(t); res.Stored != 1 || res.Unmatched != 1 {
		t.Fatalf("ingest %+v", res)
	}
	th := f.threads(t)
	if len(th) != 1 || th[0].Entity.ID != "EM-20931" || th[0].Entity.RawType != "case" || th[0].CustomerEmail != "c-88231@relay.example-market.com" {
		t.Errorf("threads %+v", th)
	}
}

// With the mailbox's server named, a buyer's mail counts only when that
// server vouched for its sender: a mail that merely claims a relay
// address is no thread, and the admin sees why.
func TestRequireAuthentication(t *testing.T) {
	f := newFixture(t)
	f.in.RequireAuthentication("mx.boutique.example")
	f.box.add(append([]byte("Authentication-Results: mx.boutique.example; dkim=pass header.d=amazon.fr; spf=pass smtp.mailfrom=amazonses.com\r\n"), corpus(t, "amazon-fr-buyer-qp-latin1.eml")...))
	f.box.add(append([]byte("Authentication-Results: mx.boutique.example; dkim=none; spf=fail smtp.mailfrom=marketplace.amazon.de\r\n"), corpus(t, "amazon-de-buyer-html-b64-win1252.eml")...))
	if res := f.ingest(t); res.Stored != 1 || res.Unmatched != 1 {
		t.Fatalf("ingest %+v: want the vouched-for mail stored and the other unmatched", res)
	}
	if th := f.threads(t); len(th) != 1 || th[0].Entity.ID != "171-1234567-7654321" {
		t.Errorf("threads %+v", th)
	}
	un, _ := f.store.Unmatched(context.Background(), 10)
	if len(un) != 1 || !strings.Contains(un[0].Reason, "not authenticated") {
		t.Errorf("unmatched %+v", un)
	}
}

// failUnmatchedOnce fails, once, the first write of the admin's list of
// unmatched mail, as a crash just before it would.
type failUnmatchedOnce struct {
	key  string
	done bool
}

func (h *failUnmatchedOnce) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *failUnmatchedOnce) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.hit([]redis.Cmder{cmd}) {
			return errors.New("killed")
		}
		return next(ctx, cmd)
	}
}

func (h *failUnmatchedOnce) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.hit(cmds) {
			return errors.New("killed")
		}
		return next(ctx, cmds)
	}
}

func (h *failUnmatchedOnce) hit(cmds []redis.Cmder) bool {
	if h.done {
		return false
	}
	for _, c := range cmds {
		if c.Name() == "lpush" && len(c.Args()) > 1 && c.Args()[1] == h.key {
			h.done = true
			return true
		}
	}
	return false
}

// A mail that matches no rule and whose run is cut short before its line
// for the admin is written (a crash) is listed for the admin when the
// mail is read again: the mail is never marked seen without its line.
func TestUnmatchedMailSurvivesACrash(t *testing.T) {
	f := newFixture(t)
	hook := &failUnmatchedOnce{key: f.store.unmatchedKey()}
	f.store.rdb.AddHook(hook)
	f.box.add(corpus(t, "amazon-newsletter.eml"))
	if _, err := f.in.Run(context.Background(), 100); err == nil {
		t.Fatal("the cut run succeeded")
	}
	if res := f.ingest(t); res.Unmatched != 1 {
		t.Errorf("the run again: %+v, want the newsletter unmatched", res)
	}
	if un, _ := f.store.Unmatched(context.Background(), 10); len(un) != 1 {
		t.Errorf("the admin sees %d unmatched mails, want the newsletter", len(un))
	}
}
