package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/email"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
)

// newEmailMarketplace assembles the connector of a marketplace that
// relays by e-mail: its mailbox over IMAP, its replies over SMTP, its
// threads in Redis, its relay's rules.
func newEmailMarketplace(mk config.Marketplace, rdb redis.UniversalClient, keyPrefix string, o Overrides) (*email.Connector, error) {
	e := mk.Email
	profile, ok := mailparse.Builtin(e.Profile)
	if !ok {
		return nil, fmt.Errorf("no e-mail profile %q", e.Profile)
	}
	tlsFor := func(addr string) *tls.Config {
		host, _, _ := net.SplitHostPort(addr)
		return &tls.Config{ServerName: host, RootCAs: o.MailRoots, MinVersion: tls.VersionTLS12}
	}
	box, err := imapbox.New(imapbox.Options{
		Addr: e.IMAP.Addr, Username: e.IMAP.Username, Password: e.IMAP.Password.Reveal(), Mailbox: e.IMAP.Mailbox,
		Security:  map[string]imapbox.Security{"": imapbox.StartTLS, "starttls": imapbox.StartTLS, "implicit": imapbox.ImplicitTLS, "none": imapbox.InsecureNoTLS}[e.IMAP.TLS],
		TLSConfig: tlsFor(e.IMAP.Addr),
	})
	if err != nil {
		return nil, err
	}
	sender, err := smtpout.New(smtpout.Options{
		Addr: e.SMTP.Addr, Username: e.SMTP.Username, Password: e.SMTP.Password.Reveal(), From: mail.Address{Address: e.From},
		Security:  map[string]smtpout.Security{"": smtpout.StartTLS, "starttls": smtpout.StartTLS, "implicit": smtpout.ImplicitTLS, "none": smtpout.InsecureNoTLS}[e.SMTP.TLS],
		TLSConfig: tlsFor(e.SMTP.Addr),
	})
	if err != nil {
		return nil, err
	}
	store := email.NewStore(rdb, keyPrefix, mk.ID, o.Now)
	var limits *mailparse.ReplyLimits
	if e.Profile == "amazon" {
		limits = &mailparse.AmazonReplyLimits
	}
	return email.New(email.Options{
		Store: store, Sender: email.SMTP{S: sender}, From: e.From, Limits: limits, Now: o.Now,
		Ingest: email.NewIngester(store, box, profile, mailparse.Options{}),
	}), nil
}
