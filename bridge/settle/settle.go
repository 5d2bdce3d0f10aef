// Package settle keeps an uncertain write from becoming two. A write that
// got no answer (a timeout, a dropped connection, a cut answer, a 5xx) may
// still be under way at the vendor: a look-up made now can miss it, and the
// write made after that look-up lands next to the late one. So the bridge
// records, in Redis, when a write became uncertain, and looks again only
// once a settle delay has passed, longer than the vendor plausibly takes to
// finish a request. Until then the task fails with a
// *connectors.SettleError whose delay the worker's retry policy honours:
// no worker sleeps while it waits.
package settle

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// Ledger records uncertain writes in Redis, shared by every replica.
type Ledger struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
}

// NewLedger returns a ledger on rdb; now nil means time.Now.
func NewLedger(rdb redis.UniversalClient, keyPrefix string, now func() time.Time) *Ledger {
	if now == nil {
		now = time.Now
	}
	return &Ledger{rdb: rdb, prefix: keyPrefix, now: now}
}

func (l *Ledger) key(write string) string { return l.prefix + "settle:" + write }

// markScript keeps the latest moment a write became uncertain: of two
// attempts that both failed, the later one may land the later.
var markScript = redis.NewScript(`
local cur = tonumber(redis.call("GET", KEYS[1]) or "0")
if tonumber(ARGV[1]) > cur then
	redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
end
return 1`)

// Uncertain records that the write named key may have happened now, and
// returns the error its task fails with: a *connectors.SettleError that
// brings the task back once delay has passed.
func (l *Ledger) Uncertain(ctx context.Context, key string, delay time.Duration, cause error) error {
	now := l.now()
	// Past the delay the record only says "look up first", which a
	// missing record says too: it expires a margin later.
	ttl := delay + time.Hour
	err := markScript.Run(context.WithoutCancel(ctx), l.rdb, []string{l.key(key)}, now.UnixMilli(), ttl.Milliseconds()).Err()
	settle := &connectors.SettleError{RetryAfter: delay, Err: cause}
	if err != nil {
		// Unrecorded, the next attempt would not wait; the retry delay
		// still does.
		return errors.Join(settle, err)
	}
	return settle
}

// Wait returns a *connectors.SettleError while the write named key is
// settling, and nil when it never was uncertain or has settled: then the
// caller looks it up before writing again.
func (l *Ledger) Wait(ctx context.Context, key string, delay time.Duration) error {
	v, err := l.rdb.Get(ctx, l.key(key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil // not ours to read: look up
	}
	if left := time.UnixMilli(ms).Add(delay).Sub(l.now()); left > 0 {
		return &connectors.SettleError{RetryAfter: left}
	}
	return nil
}

// Helpdesk wraps a helpdesk connector so that its writes that are not
// idempotent (a create without an idempotency key, a message append, a tag
// create) never happen twice: after an uncertain one, the next call waits
// for it to settle, then lets the connector look up before writing.
type Helpdesk struct {
	connectors.Helpdesk
	ledger  *Ledger
	account string
	delay   time.Duration
}

var _ connectors.Helpdesk = (*Helpdesk)(nil)

// NewHelpdesk wraps hd, the helpdesk account with this id; delay is the
// account's settle delay.
func NewHelpdesk(hd connectors.Helpdesk, ledger *Ledger, account string, delay time.Duration) *Helpdesk {
	return &Helpdesk{Helpdesk: hd, ledger: ledger, account: account, delay: delay}
}

// guard runs write under the ledger's record of key.
func (h *Helpdesk) guard(ctx context.Context, key string, write func() error) error {
	key = h.account + ":" + key
	if err := h.ledger.Wait(ctx, key, h.delay); err != nil {
		return err
	}
	err := write()
	if errors.Is(err, connectors.ErrUncertain) {
		return h.ledger.Uncertain(ctx, key, h.delay, err)
	}
	return err
}

// CreateTicket creates the ticket once, even after an uncertain create.
func (h *Helpdesk) CreateTicket(ctx context.Context, t connectors.NewTicket) (ticket connectors.Ticket, created bool, err error) {
	err = h.guard(ctx, "create:"+t.ExternalID, func() error {
		var err error
		ticket, created, err = h.Helpdesk.CreateTicket(ctx, t)
		return err
	})
	return ticket, created, err
}

// AddMessage appends a message with an external id once, even after an
// uncertain append. One without an external id cannot be looked up, so it
// goes through as it is.
func (h *Helpdesk) AddMessage(ctx context.Context, ticketID string, m connectors.Message) error {
	if m.ExternalID == "" {
		return h.Helpdesk.AddMessage(ctx, ticketID, m)
	}
	return h.guard(ctx, "msg:"+ticketID+":"+m.ExternalID, func() error {
		return h.Helpdesk.AddMessage(ctx, ticketID, m)
	})
}

// SetTags sets the ticket's tags, creating each missing tag once.
func (h *Helpdesk) SetTags(ctx context.Context, ticketID string, tags []string) error {
	return h.guard(ctx, "tags:"+ticketID, func() error {
		return h.Helpdesk.SetTags(ctx, ticketID, tags)
	})
}
