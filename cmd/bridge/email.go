package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/amazon"
	"github.com/helpdesk-bridge/bridge/connectors/email"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
	"github.com/helpdesk-bridge/bridge/connectors/email/mailparse"
	"github.com/helpdesk-bridge/bridge/connectors/email/smtpout"
	"github.com/helpdesk-bridge/bridge/discussions"
)

// newEmailMarketplace assembles the connector of a marketplace that
// relays by e-mail: its mailbox over IMAP, its replies over SMTP, its
// threads in Redis, its relay's rules.
func newEmailMarketplace(mk config.Marketplace, rdb redis.UniversalClient, keyPrefix string, o Overrides) (connectors.Marketplace, error) {
	e := mk.Email
	profile, ok := mailparse.Builtin(e.Profile)
	if e.Profile == "generic" && e.Relay != nil {
		var err error
		r := e.Relay
		if profile, err = mailparse.Generic(mailparse.GenericConfig{
			Name: mk.Name, Marketplace: mk.Name, RelayDomains: r.RelayDomains,
			OrderSubject: r.OrderSubject, CaseSubject: r.CaseSubject, OrderBody: r.OrderBody, CaseBody: r.CaseBody,
		}); err != nil {
			return nil, err
		}
		ok = true
	}
	if !ok {
		return nil, fmt.Errorf("no e-mail profile %q", e.Profile)
	}
	box, err := newMailbox(mk, o)
	if err != nil {
		return nil, err
	}
	sender, err := smtpout.New(smtpout.Options{
		Addr: e.SMTP.Addr, Username: e.SMTP.Username, Password: e.SMTP.Password.Reveal(), From: mail.Address{Address: e.From},
		Security:  smtpSecurity[e.SMTP.TLS],
		TLSConfig: mailTLS(o),
	})
	if err != nil {
		return nil, err
	}
	store := email.NewStore(rdb, keyPrefix, mk.ID, o.Now)
	var limits *mailparse.ReplyLimits
	if e.Profile == "amazon" {
		limits = &mailparse.AmazonReplyLimits
	}
	in := email.NewIngester(store, box, profile, mailparse.Options{})
	if e.AuthservID != "" {
		in.RequireAuthentication(e.AuthservID)
	}
	conn := email.New(email.Options{
		Store: store, Sender: email.SMTP{S: sender}, From: e.From, Limits: limits, Now: o.Now,
		Ingest: in,
	})
	a := e.AmazonOrders
	if a == nil {
		return conn, nil
	}
	orders, err := amazon.New(amazon.Options{
		BaseURL: a.BaseURL, LWAURL: a.LWAURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret.Reveal(),
		RefreshToken: a.RefreshToken.Reveal(), MarketplaceIDs: a.MarketplaceIDs, RestrictedData: a.RestrictedData,
		HTTPClient: &http.Client{Transport: o.Transport, Timeout: cmp.Or(mk.Timeout, 30*time.Second)}, Now: o.Now,
	})
	if err != nil {
		return nil, err
	}
	return mailWithOrders{Connector: conn, orders: orders}, nil
}

// mailWithOrders is an e-mail account whose orders come from the
// marketplace's API (Amazon's Selling Partner API): its discussions by
// mail, its orders for sync_orders.
type mailWithOrders struct {
	*email.Connector
	orders *amazon.Client
}

// ListOrders implements connectors.OrderLister.
func (m mailWithOrders) ListOrders(ctx context.Context, q connectors.OrderQuery) (connectors.OrderPage, error) {
	return m.orders.ListOrders(ctx, q)
}

// The configuration's tls settings ("" is starttls), as each client
// takes them.
var (
	imapSecurity = map[string]imapbox.Security{"": imapbox.StartTLS, "starttls": imapbox.StartTLS, "implicit": imapbox.ImplicitTLS, "none": imapbox.InsecureNoTLS}
	smtpSecurity = map[string]smtpout.Security{"": smtpout.StartTLS, "starttls": smtpout.StartTLS, "implicit": smtpout.ImplicitTLS, "none": smtpout.InsecureNoTLS}
)

// mailTLS verifies a mail server's certificate against the system's
// roots, or the test's.
func mailTLS(o Overrides) *tls.Config { return &tls.Config{RootCAs: o.MailRoots} }

// newMailbox is a connection to an e-mail account's mailbox.
func newMailbox(mk config.Marketplace, o Overrides) (*imapbox.Box, error) {
	e := mk.Email
	return imapbox.New(imapbox.Options{
		Addr: e.IMAP.Addr, Username: e.IMAP.Username, Password: e.IMAP.Password.Reveal(), Mailbox: e.IMAP.Mailbox,
		Security:  imapSecurity[e.IMAP.TLS],
		TLSConfig: mailTLS(o),
	})
}

// mailWatchers wait on each e-mail account's mailbox and ask for its
// discussion sync as soon as mail arrives. Each replica watches; the
// syncs asked for in one second are one task, and an account's syncs
// never overlap.
func mailWatchers(cfg *config.Config, queue *asynq.Client, shards jobs.Shards, log zerolog.Logger, o Overrides) ([]func(context.Context), error) {
	var out []func(context.Context)
	for _, m := range cfg.Merchants {
		for _, mk := range m.Marketplaces {
			if mk.Kind != config.KindEmail {
				continue
			}
			box, err := newMailbox(mk, o)
			if err != nil {
				return nil, fmt.Errorf("merchant %s marketplace %s: %w", m.ID, mk.ID, err)
			}
			merchant, account := m.ID, mk.ID
			wake := func(ctx context.Context) error {
				id := "email-wake-" + account + "-" + strconv.FormatInt(time.Now().Unix(), 10)
				_, err := queue.EnqueueContext(ctx, discussions.NewSyncTask(discussions.SyncPayload{Merchant: merchant, Account: account}, shards), asynq.TaskID(id))
				if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
					return nil
				}
				return err
			}
			l := log.With().Str("account", account).Logger()
			out = append(out, func(ctx context.Context) {
				defer box.Close()
				email.Watch(ctx, box, wake, l)
			})
		}
	}
	return out, nil
}

// unmatchedLister is an e-mail account's list of mail that became no
// discussion.
type unmatchedLister interface {
	Unmatched(ctx context.Context, n int) ([]email.UnmatchedMail, error)
	UnmatchedCount(ctx context.Context) (int64, error)
}

// registerMailAdmin serves, to the admin, each e-mail account's latest
// mail that became no discussion: GET /v1/admin/mail/{account}/unmatched.
func registerMailAdmin(r gin.IRouter, markets map[string]connectors.Marketplace) {
	lists := map[string]unmatchedLister{}
	for id, mp := range markets {
		if l, ok := mp.(unmatchedLister); ok {
			lists[id] = l
		}
	}
	r.GET("/v1/admin/mail/:account/unmatched", func(c *gin.Context) {
		l, ok := lists[c.Param("account")]
		if !ok {
			httpapi.Fail(c, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "account", "account: no e-mail marketplace account %q", c.Param("account")))
			return
		}
		n := 100
		if v := c.Query("limit"); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 || n > 1000 {
				httpapi.Fail(c, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "limit", "limit must be an integer from 1 to 1000"))
				return
			}
		}
		mails, err := l.Unmatched(c.Request.Context(), n)
		if err != nil {
			httpapi.Fail(c, err)
			return
		}
		total, err := l.UnmatchedCount(c.Request.Context())
		if err != nil {
			httpapi.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"mails": mails, "total": total})
	})
}
