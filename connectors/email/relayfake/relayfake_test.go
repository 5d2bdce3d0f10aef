package relayfake_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-message/mail"

	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
)

const (
	seller   = "shop@seller.example"
	approved = "support@seller.example"
	alias    = "k7x2m9p4q8r1s5t3@marketplace.amazon.fr"
	optedOut = "q1w2e3r4t5y6u7i8@marketplace.amazon.de"
)

func start(t *testing.T, cfg relayfake.Config) *relayfake.Server {
	t.Helper()
	cfg.Users = map[string]string{"shop": "pw"}
	if cfg.RegisteredSenders == nil {
		cfg.RegisteredSenders = []string{seller, approved}
	}
	cfg.OptedOut = []string{optedOut}
	s, err := relayfake.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func send(t *testing.T, r *relayfake.Server, from string, rp smtpout.Reply) smtpout.Message {
	t.Helper()
	s, err := smtpout.New(smtpout.Options{
		Addr: r.Addr(), TLSConfig: &tls.Config{RootCAs: r.CertPool()},
		Username: "shop", Password: "pw", From: mail.Address{Address: from},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.Send(context.Background(), rp)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func answer(to string) smtpout.Reply {
	return smtpout.Reply{
		To: []mail.Address{{Address: to}}, Subject: "Re: Inquiry (Order: 171-1234567-1234567)",
		Text: "Hello,\nit ships today.\n", InReplyTo: "<q@marketplace.amazon.fr>",
	}
}

func TestRules(t *testing.T) {
	r := start(t, relayfake.Config{MaxAttachmentBytes: 1000})
	pdf := smtpout.Attachment{Filename: "invoice.pdf", ContentType: "application/pdf", Data: make([]byte, 600)}

	cases := []struct {
		name   string
		from   string
		edit   func(*smtpout.Reply)
		reason relayfake.Reason // "": accepted
	}{
		{"registered sender", seller, nil, ""},
		{"approved sender", approved, nil, ""},
		{"alias with a case id", seller, func(rp *smtpout.Reply) {
			rp.To = []mail.Address{{Address: "k7x2m9p4q8r1s5t3+0c2d9f1e-aa11@marketplace.amazon.com.br"}}
		}, ""},
		{"other sender", "someone@seller.example", nil, relayfake.ReasonSender},
		{"allowed attachment", seller, func(rp *smtpout.Reply) { rp.Attachments = []smtpout.Attachment{pdf} }, ""},
		{"attachment type", seller, func(rp *smtpout.Reply) {
			rp.Attachments = []smtpout.Attachment{{Filename: "setup.exe", ContentType: "application/x-msdownload", Data: []byte("MZ")}}
		}, relayfake.ReasonAttachmentType},
		{"attachments too large together", seller, func(rp *smtpout.Reply) { rp.Attachments = []smtpout.Attachment{pdf, pdf} }, relayfake.ReasonAttachmentSize},
		{"opted out, unsolicited", seller, func(rp *smtpout.Reply) {
			rp.To = []mail.Address{{Address: optedOut}}
			rp.InReplyTo = ""
		}, relayfake.ReasonOptedOut},
		{"opted out, [Important]", seller, func(rp *smtpout.Reply) {
			rp.To = []mail.Address{{Address: optedOut}}
			rp.InReplyTo = ""
			rp.Subject = "[important] Your order cannot ship"
		}, ""},
		{"opted out, answering the buyer", seller, func(rp *smtpout.Reply) { rp.To = []mail.Address{{Address: optedOut}} }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc, ref := len(r.Accepted()), len(r.Refused())
			rp := answer(alias)
			if c.edit != nil {
				c.edit(&rp)
			}
			m := send(t, r, c.from, rp)
			if c.reason == "" {
				if got := r.Accepted(); len(got) != acc+1 || got[acc].MessageID != m.MessageID {
					t.Fatalf("not accepted; refusals: %+v", r.Refused()[ref:])
				}
				return
			}
			got := r.Refused()
			if len(got) != ref+1 || got[ref].Reason != c.reason {
				t.Fatalf("refusals: %+v, want one for %s", got[ref:], c.reason)
			}
			n := string(got[ref].Notice)
			if !strings.Contains(n, "We were unable to deliver the message you sent") || !strings.Contains(n, "In-Reply-To: <"+m.MessageID+">") {
				t.Errorf("notice:\n%s", n)
			}
		})
	}
}

func TestHTMLRefused(t *testing.T) {
	r := start(t, relayfake.Config{})
	raw := "From: " + seller + "\r\nTo: " + alias + "\r\nSubject: hi\r\nMessage-ID: <h1@seller.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <a href=\"http://x\">x</a></p>\r\n"
	s, err := smtpout.New(smtpout.Options{
		Addr: r.Addr(), TLSConfig: &tls.Config{RootCAs: r.CertPool()},
		Username: "shop", Password: "pw", From: mail.Address{Address: seller},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendRaw(context.Background(), smtpout.Message{From: seller, To: []string{alias}, Raw: []byte(raw)}); err != nil {
		t.Fatal(err)
	}
	if got := r.Refused(); len(got) != 1 || got[0].Reason != relayfake.ReasonHTML {
		t.Fatalf("refusals: %+v", got)
	}
}

// The whole loop on real servers: a reply refused by the relay comes back
// as a notice in the seller's Dovecot mailbox, where the mailbox reader
// finds it.
func TestRefusalBouncesIntoTheMailbox(t *testing.T) {
	addr := os.Getenv("BRIDGE_TEST_IMAPS_ADDR")
	if addr == "" {
		t.Skip("BRIDGE_TEST_IMAPS_ADDR is unset: run under .ci/with-dovecot (make test does) for a real IMAP server")
	}
	user, password := os.Getenv("BRIDGE_TEST_IMAP_USER2"), os.Getenv("BRIDGE_TEST_IMAP_PASSWORD2")
	pem, err := os.ReadFile(os.Getenv("BRIDGE_TEST_IMAP_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tlsConf := &tls.Config{RootCAs: pool}

	mailbox := fmt.Sprintf("Bounces-%d", time.Now().UnixNano())
	adm, err := client.DialTLS(addr, tlsConf)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Logout()
	if err := adm.Login(user, password); err != nil {
		t.Fatal(err)
	}
	if err := adm.Create(mailbox); err != nil {
		t.Fatal(err)
	}

	r := start(t, relayfake.Config{Bounces: &relayfake.IMAPTarget{
		Addr: addr, Username: user, Password: password, Mailbox: mailbox, TLSConfig: tlsConf,
	}})
	rp := answer(alias)
	rp.Attachments = []smtpout.Attachment{{Filename: "macro.docm", ContentType: "application/vnd.ms-word.document.macroEnabled.12", Data: []byte("PK")}}
	m := send(t, r, seller, rp)
	ref := r.Refused()
	if len(ref) != 1 || ref[0].Reason != relayfake.ReasonAttachmentType || ref[0].BounceErr != nil {
		t.Fatalf("refusals: %+v", ref)
	}

	box, err := imapbox.New(imapbox.Options{Addr: addr, Security: imapbox.ImplicitTLS, TLSConfig: tlsConf,
		Username: user, Password: password, Mailbox: mailbox})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	msgs, _, err := box.Fetch(context.Background(), imapbox.Cursor{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("%d messages in the seller's mailbox, want the notice", len(msgs))
	}
	if !bytes.Equal(msgs[0].Raw, ref[0].Notice) {
		t.Errorf("the mailbox holds another message than the notice")
	}
	mr, err := mail.CreateReader(bytes.NewReader(msgs[0].Raw))
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := mr.Header.MsgIDList("In-Reply-To"); len(ids) != 1 || ids[0] != m.MessageID {
		t.Errorf("the notice answers %v, want the refused message %s", ids, m.MessageID)
	}
	if subj, _ := mr.Header.Subject(); !strings.Contains(subj, "Order: 171-1234567-1234567") {
		t.Errorf("the notice's subject lost the order id: %q", subj)
	}
}
