package smtpout_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/mail"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/relayfake"
	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
)

const (
	seller = "shop@seller.example"
	alias  = "k7x2m9p4q8r1s5t3@marketplace.amazon.fr"
)

func relay(t *testing.T, cfg relayfake.Config) *relayfake.Server {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = map[string]string{"shop": "pw"}
	}
	if cfg.RegisteredSenders == nil {
		cfg.RegisteredSenders = []string{seller}
	}
	s, err := relayfake.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func sender(t *testing.T, r *relayfake.Server, edit func(*smtpout.Options)) *smtpout.Sender {
	t.Helper()
	o := smtpout.Options{
		Addr: r.Addr(), Security: smtpout.StartTLS, TLSConfig: &tls.Config{RootCAs: r.CertPool()},
		Username: "shop", Password: "pw",
		From: mail.Address{Name: "La Boutique", Address: seller},
		Now:  func() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) },
	}
	if edit != nil {
		edit(&o)
	}
	s, err := smtpout.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reply() smtpout.Reply {
	return smtpout.Reply{
		To:         []mail.Address{{Address: alias}},
		Subject:    "Re: Demande de renseignements (Commande : 171-1234567-1234567) — délai",
		Text:       "Bonjour,\nvotre colis part demain.\nCordialement\n",
		InReplyTo:  "<buyer-2@marketplace.amazon.fr>",
		References: []string{"<buyer-1@marketplace.amazon.fr>"},
	}
}

func TestSendThreadedPlainText(t *testing.T) {
	r := relay(t, relayfake.Config{})
	m, err := sender(t, r, nil).Send(context.Background(), reply())
	if err != nil {
		t.Fatal(err)
	}
	got := r.Accepted()
	if len(got) != 1 {
		t.Fatalf("%d accepted, refused: %+v", len(got), r.Refused())
	}
	a := got[0]
	if a.From != seller || len(a.To) != 1 || a.To[0] != alias {
		t.Errorf("envelope %s -> %v", a.From, a.To)
	}
	if a.MessageID == "" || a.MessageID != m.MessageID || !strings.HasSuffix(m.MessageID, "@seller.example") {
		t.Errorf("Message-ID: sent %q, returned %q", a.MessageID, m.MessageID)
	}
	if a.InReplyTo != "buyer-2@marketplace.amazon.fr" {
		t.Errorf("In-Reply-To = %q", a.InReplyTo)
	}
	if a.References != "<buyer-1@marketplace.amazon.fr> <buyer-2@marketplace.amazon.fr>" {
		t.Errorf("References = %q", a.References)
	}
	if a.Subject != reply().Subject {
		t.Errorf("Subject = %q", a.Subject)
	}
	if a.Text != "Bonjour,\r\nvotre colis part demain.\r\nCordialement\r\n" {
		t.Errorf("Text = %q", a.Text)
	}
	if len(a.Attachments) != 0 || !strings.Contains(string(a.Raw), "Content-Type: text/plain; charset=utf-8") {
		t.Errorf("not a single plain-text part:\n%s", a.Raw)
	}
	if !strings.Contains(string(a.Raw), "From: \"La Boutique\" <"+seller+">") {
		t.Errorf("From header:\n%s", a.Raw)
	}
}

func TestSendAttachmentsImplicitTLS(t *testing.T) {
	r := relay(t, relayfake.Config{ImplicitTLS: true})
	s := sender(t, r, func(o *smtpout.Options) { o.Security = smtpout.ImplicitTLS })
	rp := reply()
	pdf := []byte("%PDF-1.4 " + strings.Repeat("x", 3000))
	rp.Attachments = []smtpout.Attachment{{Filename: "facture 12.pdf", ContentType: "application/pdf", Data: pdf}}
	if _, err := s.Send(context.Background(), rp); err != nil {
		t.Fatal(err)
	}
	got := r.Accepted()
	if len(got) != 1 {
		t.Fatalf("%d accepted, refused: %+v", len(got), r.Refused())
	}
	if !strings.Contains(string(got[0].Raw), "multipart/mixed") {
		t.Errorf("not multipart/mixed")
	}
	at := got[0].Attachments
	if len(at) != 1 || at[0].Filename != "facture 12.pdf" || at[0].ContentType != "application/pdf" || at[0].Size != int64(len(pdf)) {
		t.Errorf("attachments: %+v", at)
	}
	if !strings.HasPrefix(got[0].Text, "Bonjour,") {
		t.Errorf("text part: %q", got[0].Text)
	}
}

func TestHeaderInjection(t *testing.T) {
	r := relay(t, relayfake.Config{})
	rp := reply()
	rp.Subject = "Hello\r\nBcc: victim@example.com"
	rp.Attachments = []smtpout.Attachment{{Filename: "a.txt\r\nX-Evil: 1", ContentType: "text/plain", Data: []byte("hi")}}
	m, err := sender(t, r, nil).Compose(rp)
	if err != nil {
		t.Fatal(err)
	}
	raw := string(m.Raw)
	if strings.Contains(raw, "\r\nBcc:") || strings.Contains(raw, "\r\nX-Evil:") {
		t.Errorf("a header was injected:\n%s", raw)
	}
	rp = reply()
	rp.InReplyTo = "<a b@c>"
	if _, err := sender(t, r, nil).Compose(rp); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("a bad In-Reply-To: %v", err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	r := relay(t, relayfake.Config{MaxMessageBytes: 4000})

	_, err := sender(t, r, func(o *smtpout.Options) { o.Password = "wrong" }).Send(ctx, reply())
	if !errors.Is(err, connectors.ErrUnauthorized) || !connectors.IsPermanent(err) {
		t.Errorf("wrong password: %v", err)
	}

	rp := reply()
	rp.To = []mail.Address{{Address: "someone@example.com"}}
	_, err = sender(t, r, nil).Send(ctx, rp)
	var se *smtpout.Error
	if !errors.As(err, &se) || se.Code != 550 || !connectors.IsPermanent(err) || strings.Contains(err.Error(), "someone@") {
		t.Errorf("unknown recipient: %v", err)
	}

	r.SetFault(relayfake.TempFail)
	_, err = sender(t, r, nil).Send(ctx, reply())
	if !errors.Is(err, connectors.ErrUnavailable) || !connectors.IsRetryable(err) || errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("451: %v", err)
	}

	r.SetFault(relayfake.DropAfterData)
	m, err := sender(t, r, nil).Send(ctx, reply())
	if !errors.Is(err, connectors.ErrUncertain) || m.MessageID == "" {
		t.Errorf("dropped after DATA: %v (Message-ID %q)", err, m.MessageID)
	}
	// Sending the same message again is the caller's way out.
	if err := sender(t, r, nil).SendRaw(ctx, m); err != nil {
		t.Errorf("resend: %v", err)
	}

	big := reply()
	big.Attachments = []smtpout.Attachment{{Filename: "a.pdf", ContentType: "application/pdf", Data: make([]byte, 5000)}}
	_, err = sender(t, r, nil).Send(ctx, big)
	if !errors.Is(err, connectors.ErrTooLarge) {
		t.Errorf("over the server's SIZE: %v", err)
	}
	_, err = sender(t, r, func(o *smtpout.Options) { o.MaxMessageSize = 1000 }).Compose(big)
	if !errors.Is(err, connectors.ErrTooLarge) {
		t.Errorf("over MaxMessageSize: %v", err)
	}

	_, err = sender(t, r, func(o *smtpout.Options) { o.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} }).Send(ctx, reply())
	if !errors.Is(err, connectors.ErrForbidden) || connectors.IsRetryable(err) {
		t.Errorf("untrusted certificate: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err = sender(t, r, nil).Send(cctx, reply()); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}

	r.Close()
	_, err = sender(t, r, nil).Send(ctx, reply())
	if !errors.Is(err, connectors.ErrUnavailable) || errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("server down: %v", err)
	}
	// Only the resend: the fake keeps nothing of a message it dropped.
	if n := len(r.Accepted()); n != 1 {
		t.Errorf("%d accepted, want 1", n)
	}
}
