package push

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Event types pushed to subscribers.
const (
	TypeOrderCreated         = "order.created"
	TypeOrderChanged         = "order.changed"
	TypeOrderStatusChanged   = "order.status_changed"
	TypeOrderActionRequested = "order.action_requested"
	TypeOrderActionConfirmed = "order.action_confirmed"
	TypeOrderActionRefused   = "order.action_refused"
	TypeOrderActionFailed    = "order.action_failed"
	// TypeVerification is the handshake's body: see verify.go.
	TypeVerification = "subscription.verification"
)

// eventTypes are the types Publish accepts.
var eventTypes = []string{
	TypeOrderCreated, TypeOrderChanged, TypeOrderStatusChanged,
	TypeOrderActionRequested, TypeOrderActionConfirmed, TypeOrderActionRefused, TypeOrderActionFailed,
}

// Event is one change of an order, as the order feature publishes it.
type Event struct {
	// ID is stable: the caller derives it from what happened (the intake
	// event's id and the change), so that publishing again after a failure
	// pushes nothing twice, and receivers dedupe on it.
	ID         string
	Type       string
	Store      string
	OrderID    string
	OccurredAt time.Time
	// Data is the order as it is now, or what the action was; pushed as
	// it is.
	Data json.RawMessage
}

// Wire is the JSON body of a pushed event.
type Wire struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Merchant   string          `json:"merchant"`
	Store      string          `json:"store"`
	OrderID    string          `json:"order_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// Headers of a push, besides the signature's (events.HeaderTimestamp,
// events.HeaderSignature and events.HeaderMerchant, as the intake's).
const (
	HeaderEventID      = "X-Bridge-Event-Id"
	HeaderEventType    = "X-Bridge-Event-Type"
	HeaderSubscription = "X-Bridge-Subscription"
	// HeaderReplayed is "true" on an event sent again by a replay.
	HeaderReplayed = "X-Bridge-Replayed"
)

// Bounds that are not tunable.
const (
	// MaxEventBytes bounds a pushed body, the intake's bound: any event
	// the bridge accepted fits.
	MaxEventBytes = 1 << 20
	// MaxResponseBytes is how much of a subscriber's answer is read; the
	// rest is dropped unread (the connection is then not reused).
	MaxResponseBytes = 4 << 10
	// MaxDeliveries is how many of the last attempts a subscription keeps
	// for its report.
	MaxDeliveries = 50
	// maxIDLen and maxOrderIDLen bound what goes into keys and headers.
	maxIDLen      = 128
	maxOrderIDLen = 255
	// taskMaxRetry covers Redis failing for hours: a delivery task is
	// retried by asynq only when the bridge itself failed (a subscriber's
	// failure is a new task), and an archived one would leave its order
	// waiting for a resume.
	taskMaxRetry = 200
	// batchBudget bounds how long one task keeps delivering one order's
	// backlog before it hands over to a successor task, so that a long
	// backlog does not hold a worker.
	batchBudget = 30 * time.Second
)

// Limits tune delivery; a zero field takes its default.
type Limits struct {
	// Timeout bounds one POST, answer included (default 10 s).
	Timeout time.Duration
	// RetryBase and RetryMax bound the exponential backoff between the
	// attempts at one event (defaults 10 s and 5 min): after an outage,
	// delivery resumes within RetryMax.
	RetryBase, RetryMax time.Duration
	// PauseAfter and PauseMinAttempts: a subscription whose attempts all
	// failed for PauseAfter (default 1 h), at least PauseMinAttempts of
	// them (default 10), is paused.
	PauseAfter       time.Duration
	PauseMinAttempts int
	// MaxBacklog bounds the events waiting for one subscription (default
	// 10,000): past it, the oldest is dropped and counted.
	MaxBacklog int
	// Retention is how long delivered events are kept for replay (default
	// 7 days), at most MaxLog of them per subscription (default 10,000).
	Retention time.Duration
	MaxLog    int
	// DedupeWindow is how long a published event id is remembered, so that
	// publishing it again appends nothing (default 24 h).
	DedupeWindow time.Duration
	// MaxSubscriptions bounds a merchant's subscriptions, those of the
	// configuration included (default 10).
	MaxSubscriptions int
	// HandshakeDelay is how long after the API created a subscription its
	// first handshake comes (default 2 s): the integrator has the secret
	// only from the creation's answer, and needs a moment to store it.
	HandshakeDelay time.Duration
}

// DefaultLimits are the documented defaults.
var DefaultLimits = Limits{
	Timeout:          10 * time.Second,
	RetryBase:        10 * time.Second,
	RetryMax:         5 * time.Minute,
	PauseAfter:       time.Hour,
	PauseMinAttempts: 10,
	MaxBacklog:       10000,
	Retention:        7 * 24 * time.Hour,
	MaxLog:           10000,
	DedupeWindow:     24 * time.Hour,
	MaxSubscriptions: 10,
	HandshakeDelay:   2 * time.Second,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	pickN := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	return Limits{
		Timeout: pick(l.Timeout, d.Timeout), RetryBase: pick(l.RetryBase, d.RetryBase), RetryMax: pick(l.RetryMax, d.RetryMax),
		PauseAfter: pick(l.PauseAfter, d.PauseAfter), PauseMinAttempts: pickN(l.PauseMinAttempts, d.PauseMinAttempts),
		MaxBacklog: pickN(l.MaxBacklog, d.MaxBacklog), Retention: pick(l.Retention, d.Retention), MaxLog: pickN(l.MaxLog, d.MaxLog),
		DedupeWindow: pick(l.DedupeWindow, d.DedupeWindow), MaxSubscriptions: pickN(l.MaxSubscriptions, d.MaxSubscriptions),
		HandshakeDelay: pick(l.HandshakeDelay, d.HandshakeDelay),
	}
}

// Configured is a subscription from the configuration
// (merchants[].order_push). It cannot be deleted through the API; the
// next start deletes it once the configuration no longer lists it.
type Configured struct {
	Merchant string
	ID       string // a slug, unique within the merchant
	URL      string
	Secret   config.Secret
}

// Enqueuer is the part of asynq.Client that push uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Resolver looks host names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Observer counts what pushes become; cmd/bridge's metrics implement it.
type Observer interface {
	// Attempt counts one POST: outcome is "delivered" or "failed" for an
	// event, "verified" or "failed" for a handshake.
	Attempt(outcome string, elapsed time.Duration)
	// Count counts n subscription-level happenings: "paused" (a
	// subscription paused itself), "dropped" (events pushed out of a full
	// backlog), "resumed", "replayed" (events queued again).
	Count(what string, n int)
}

// Options configure a Publisher.
type Options struct {
	// Config gives the merchants, their API tokens (merchants[].api_tokens,
	// for the subscription API), redis.key_prefix and
	// server.allow_private_file_hosts.
	Config *config.Config
	Redis  redis.UniversalClient
	Queue  Enqueuer
	// Shards spreads the push queue over Cluster masters; a
	// subscription's tasks share one queue.
	Shards jobs.Shards
	// Configured are the subscriptions of the configuration; SyncConfigured
	// brings Redis in line with them.
	Configured []Configured
	Limits     Limits
	Observer   Observer // nil: not counted
	Resolver   Resolver // nil: net.DefaultResolver
	Now        func() time.Time
	// Client sends the POSTs; nil builds one on
	// connectors.NewDownloadTransport, which refuses private addresses as
	// it dials (unless allowed), with Limits.Timeout and no redirects.
	Client *http.Client
}

// Queue is the asynq queue of push tasks (with Shards, also push-1, ...).
const Queue = "push"

// Publisher appends order events to subscribers' outboxes and delivers
// them; it also serves the subscription API (Register).
type Publisher struct {
	o      Options
	lim    Limits
	keys   keys
	client *http.Client
}

// New returns a Publisher.
func New(o Options) *Publisher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	lim := o.Limits.withDefaults()
	client := o.Client
	if client == nil {
		client = &http.Client{
			Transport: connectors.NewDownloadTransport(o.Config.Server.AllowPrivateFileHosts),
			Timeout:   lim.Timeout,
			// A redirect is an answer like any other non-2xx: following it
			// would let a subscriber send the bridge anywhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Publisher{o: o, lim: lim, keys: keys{prefix: o.Config.Redis.KeyPrefix}, client: client}
}

// ErrInvalidEvent: Publish refuses the event as it is, whatever the
// number of tries; it is permanent.
var ErrInvalidEvent = errors.New("push: invalid event")

// Publish appends ev to the outbox of each of the merchant's subscriptions
// (verifying, active or paused alike) and makes sure a task delivers it.
// Publishing the same event id again within Limits.DedupeWindow appends
// nothing, so a caller retries Publish until it returns nil. A merchant
// without subscriptions costs one Redis read.
func (p *Publisher) Publish(ctx context.Context, merchant string, ev Event) error {
	body, err := encodeEvent(merchant, ev)
	if err != nil {
		return err
	}
	subs, err := p.o.Redis.SMembers(ctx, p.keys.index(merchant)).Result()
	if err != nil {
		return fmt.Errorf("push: subscriptions of %s: %w", merchant, err)
	}
	now := p.o.Now()
	ok := orderKey(ev.Store, ev.OrderID)
	var errs []error
	for _, sub := range subs {
		if err := p.append(ctx, merchant, sub, ok, ev, body, now); err != nil {
			errs = append(errs, fmt.Errorf("push: publish %s to %s/%s: %w", ev.ID, merchant, sub, err))
		}
	}
	return errors.Join(errs...)
}

// encodeEvent checks ev and returns its body.
func encodeEvent(merchant string, ev Event) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrInvalidEvent, ev.ID, fmt.Sprintf(format, args...))
	}
	switch {
	case !printable(ev.ID, maxIDLen) || !ascii(ev.ID):
		return nil, bad("id must be 1 to %d printable ASCII characters", maxIDLen)
	case !validType(ev.Type):
		return nil, bad("type must be one of %s", strings.Join(eventTypes, ", "))
	case !printable(ev.Store, maxIDLen) || strings.Contains(ev.Store, ":"):
		return nil, bad("store must be 1 to %d printable characters without a colon", maxIDLen)
	case !printable(ev.OrderID, maxOrderIDLen):
		return nil, bad("order id must be 1 to %d printable characters", maxOrderIDLen)
	case ev.OccurredAt.IsZero():
		return nil, bad("occurred_at is required")
	case len(ev.Data) == 0 || !json.Valid(ev.Data):
		return nil, bad("data must be JSON")
	}
	body, err := json.Marshal(Wire{ID: ev.ID, Type: ev.Type, Merchant: merchant, Store: ev.Store, OrderID: ev.OrderID, OccurredAt: ev.OccurredAt.UTC(), Data: ev.Data})
	if err != nil {
		return nil, bad("%v", err)
	}
	if len(body) > MaxEventBytes {
		return nil, bad("the body would be %d bytes, more than %d", len(body), MaxEventBytes)
	}
	return body, nil
}

func validType(t string) bool {
	for _, v := range eventTypes {
		if t == v {
			return true
		}
	}
	return false
}

// printable: 1 to max characters, none of them a control character (they
// would break the outbox's entries, which are lines).
func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// maxIDs bounds the event ids a subscription remembers for Publish's
// dedupe, whatever the window.
const maxIDs = 100000

// append runs one subscription's append and enqueues the order's owner.
func (p *Publisher) append(ctx context.Context, merchant, sub, order string, ev Event, body []byte, now time.Time) error {
	k := p.keys.sub(merchant, sub)
	res, err := appendScript.Run(ctx, p.o.Redis, []string{k.hash, k.ev, k.pending, k.orders, k.own, k.ids},
		ev.ID, order, entryRest(now, ev.ID, ev.Type, order, body), now.UnixMilli(), p.lim.MaxBacklog,
		now.Add(-p.lim.DedupeWindow).UnixMilli(), maxIDs, p.lim.DedupeWindow.Milliseconds()).Slice()
	if err != nil {
		return err
	}
	owner, _ := res[1].(string)
	dropped, _ := res[2].(int64)
	p.count("dropped", int(dropped))
	if owner == "" {
		return nil
	}
	// Enqueued even when the order already had an owner: a no-op then,
	// unless that owner's enqueue was lost.
	return p.enqueue(ctx, p.task(step{mode: "deliver", merchant: merchant, sub: sub, order: order, token: owner}))
}

// ascii: printable ASCII only, as a header value must be.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
