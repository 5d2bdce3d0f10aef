package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/dovecottest"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
)

const seller = "seller@boutique.example"

// The connector on real servers: buyers' mail read over IMAP from a real
// Dovecot becomes threads; a reply goes over SMTP, through the relay fake,
// from the registered address to the buyer's alias, threaded; a reply the
// relay refuses comes back as a delivery failure into the mailbox, and
// becomes a note on the thread it answered.
func TestOnDovecotAndTheRelay(t *testing.T) {
	dc := dovecottest.Get(t)
	admin := dc.Admin(t)
	mailbox := dc.Mailbox(t, admin)
	for _, name := range []string{"amazon-fr-buyer-qp-latin1.eml", "amazon-de-buyer-html-b64-win1252.eml", "amazon-newsletter.eml"} {
		dovecottest.Deliver(t, admin, mailbox, corpus(t, name))
	}
	user, password, tlsAddr, imapTLS := dc.User, dc.Password, dc.TLSAddr, dc.TLS()

	relay, err := relayfake.Start(relayfake.Config{
		RegisteredSenders: []string{seller},
		Bounces:           &relayfake.IMAPTarget{Addr: tlsAddr, Username: user, Password: password, Mailbox: mailbox, TLSConfig: imapTLS},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	smtp, err := smtpout.New(smtpout.Options{Addr: relay.Addr(), Security: smtpout.StartTLS, TLSConfig: &tls.Config{RootCAs: relay.CertPool()}, From: mail.Address{Address: seller}})
	if err != nil {
		t.Fatal(err)
	}
	box, err := imapbox.New(imapbox.Options{Addr: dc.Addr, Username: user, Password: password, Mailbox: mailbox, Security: imapbox.StartTLS, TLSConfig: imapTLS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = box.Close() })

	f := newFixture(t)
	f.in = NewIngester(f.store, box, mailparse.Amazon, mailparse.Options{})
	f.conn = New(Options{Store: f.store, Sender: SMTP{S: smtp}, From: seller, Limits: &mailparse.AmazonReplyLimits})
	if res := f.ingest(t); res.Stored != 2 || res.Unmatched != 1 {
		t.Fatalf("ingest %+v: want 2 buyer mails and the newsletter unmatched", res)
	}
	var fr connectors.Thread
	for _, th := range f.threads(t) {
		if th.Entity.ID == "171-1234567-7654321" {
			fr = th
		}
	}
	if fr.ID == "" {
		t.Fatal("no thread for the French order")
	}

	ctx := context.Background()
	if _, err := f.conn.Reply(ctx, fr.ID, connectors.Reply{Body: "Bonjour Camille, le suivi est 6A123.", To: []connectors.PartyType{connectors.PartyCustomer},
		Files: []connectors.ReplyFile{{Name: "suivi.pdf", ContentType: "application/pdf", Content: []byte("%PDF-1.4\n%%EOF\n")}}}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := relay.WaitFor(wctx, 1, 0); err != nil {
		t.Fatal(err)
	}
	got := relay.Accepted()[0]
	if got.From != seller || len(got.To) != 1 || !strings.HasSuffix(got.To[0], "@marketplace.amazon.fr") ||
		got.InReplyTo != "0100018e-fr-0001@email.amazonses.com" || !strings.Contains(got.Text, "le suivi est 6A123") || len(got.Attachments) != 1 {
		t.Errorf("the relay got %+v", got)
	}

	// A reply the connector lets through (no limits) but the relay
	// refuses: its notice comes back into the mailbox, onto the thread.
	loose := New(Options{Store: f.store, Sender: SMTP{S: smtp}, From: seller})
	if _, err := loose.Reply(ctx, fr.ID, connectors.Reply{Body: "Voici l'outil.", To: []connectors.PartyType{connectors.PartyCustomer}, Files: []connectors.ReplyFile{{Name: "outil.exe", ContentType: "application/x-msdownload", Content: []byte("MZ")}}}); err != nil {
		t.Fatal(err)
	}
	if err := relay.WaitFor(wctx, 1, 1); err != nil {
		t.Fatal(err)
	}
	if r := relay.Refused(); len(r) != 1 || r[0].BounceErr != nil {
		t.Fatalf("refused %+v", r)
	}
	res := f.ingest(t)
	if res.Stored != 1 {
		t.Fatalf("after the bounce %+v: want the notice stored", res)
	}
	th, err := f.conn.GetThread(ctx, fr.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := th.Messages[len(th.Messages)-1]
	if last.From.Type != connectors.PartyOperator || !strings.Contains(last.Body, "could not deliver") {
		t.Errorf("the thread's last message %+v, want the failure note", last)
	}
	if len(th.Messages) != 4 { // the buyer's, two replies, the note
		t.Errorf("%d messages in the thread", len(th.Messages))
	}
	if _, err := f.conn.Reply(ctx, fr.ID, connectors.Reply{Body: "ok", To: []connectors.PartyType{connectors.PartyCustomer}, Files: []connectors.ReplyFile{{Name: "outil.exe", Content: []byte("MZ")}}}); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("with Amazon's limits the .exe is refused before sending: %v", err)
	}
}

// buyerMail is a relayed Amazon buyer's mail about an order.
func buyerMail(i, order int) []byte {
	return []byte(fmt.Sprintf("From: \"Buyer %d\" <buyerx%04d@marketplace.amazon.de>\r\nTo: %s\r\n"+
		"Subject: Anfrage von Amazon-Kunde (Bestellung: 302-0000000-%07d)\r\nMessage-ID: <b%03d@email.amazonses.com>\r\n"+
		"Date: Sat, 05 Dec 2026 10:%02d:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nNachricht %d\r\n",
		order, order, seller, order, i, i%60, i))
}

// Two bridges reading one mailbox at once store each mail once: the
// same threads and messages as one reader.
func TestTwoReadersOfOneMailbox(t *testing.T) {
	dc := dovecottest.Get(t)
	admin := dc.Admin(t)
	mailbox := dc.Mailbox(t, admin)
	const mails, orders = 30, 10
	for i := range mails {
		dovecottest.Deliver(t, admin, mailbox, buyerMail(i, i%orders))
	}
	f := newFixture(t)
	ctx := context.Background()
	errs := make(chan error, 2)
	for range 2 {
		box, err := imapbox.New(imapbox.Options{Addr: dc.Addr, Username: dc.User, Password: dc.Password, Mailbox: mailbox, Security: imapbox.StartTLS, TLSConfig: dc.TLS()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = box.Close() })
		in := NewIngester(f.store, box, mailparse.Amazon, mailparse.Options{})
		go func() {
			for {
				res, err := in.Run(ctx, 4) // small batches, so that the two interleave
				if err != nil || !res.More {
					errs <- err
					return
				}
			}
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	threads := f.threads(t)
	n := 0
	seen := map[string]bool{}
	for _, th := range threads {
		for _, m := range th.Messages {
			if seen[m.ID] {
				t.Errorf("message %s twice", m.ID)
			}
			seen[m.ID] = true
			n++
		}
	}
	if len(threads) != orders || n != mails {
		t.Errorf("%d threads and %d messages, want %d and %d", len(threads), n, orders, mails)
	}
}
