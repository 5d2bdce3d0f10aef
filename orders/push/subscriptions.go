package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// Subscription states.
const (
	// StateVerifying: waiting for the handshake; events queue meanwhile.
	StateVerifying = "verifying"
	StateActive    = "active"
	// StatePaused: failed for too long; events queue (bounded) until a
	// resume.
	StatePaused = "paused"
)

// Sources of a subscription.
const (
	SourceAPI    = "api"
	SourceConfig = "config"
)

// Errors of the subscription service, which the API maps.
var (
	ErrNotFound             = errors.New("push: no such subscription")
	ErrTooManySubscriptions = errors.New("push: too many subscriptions")
	// ErrConfigured: a subscription of the configuration changes there,
	// not through the API.
	ErrConfigured = errors.New("push: the subscription is defined in the configuration")
)

// ExistsError: the merchant already subscribes the URL, with subscription
// ID. A client that retries a create it saw time out learns the id
// instead of getting every event twice.
type ExistsError struct{ ID string }

func (e *ExistsError) Error() string { return "push: the URL is subscribed already, by " + e.ID }

// subID is the id of the API's subscription of a URL: one URL, one id,
// so that of two creates of a URL, retried or racing, the create script
// lets one only through.
func subID(merchant, rawURL string) string {
	sum := sha256.Sum256([]byte(merchant + "\n" + rawURL))
	return "sub_" + hex.EncodeToString(sum[:10])
}

// Subscription is a subscription as the API shows it.
type Subscription struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Source string `json:"source"`
	State  string `json:"state"`
	// PausedReason is delivery_failed or verification_failed.
	PausedReason  string     `json:"paused_reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	VerifiedAt    *time.Time `json:"verified_at,omitempty"`
	PausedAt      *time.Time `json:"paused_at,omitempty"`
	ResumedAt     *time.Time `json:"resumed_at,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	LastFailureAt *time.Time `json:"last_failure_at,omitempty"`
	// FailingSince and FailedAttempts describe the current streak of
	// failures, which a success ends.
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	FailedAttempts int64      `json:"failed_attempts"`
	// Backlog is how many events wait; OldestPendingAt is when the oldest
	// of them was published.
	Backlog         int64      `json:"backlog"`
	OldestPendingAt *time.Time `json:"oldest_pending_at,omitempty"`
	Counts          Counts     `json:"counts"`
	// Deliveries are the last attempts, newest first (one subscription's
	// answer only).
	Deliveries []Delivery `json:"deliveries,omitempty"`
	// Secret signs the pushes; shown once, when the API creates it.
	Secret string `json:"secret,omitempty"`
}

// Counts are a subscription's totals since it was created.
type Counts struct {
	Published int64 `json:"published"`
	Delivered int64 `json:"delivered"`
	Failed    int64 `json:"failed"`
	Dropped   int64 `json:"dropped"`
	Replayed  int64 `json:"replayed"`
}

// Create subscribes url to the merchant's order events and starts its
// handshake. The answer holds the secret, which no later answer shows.
func (p *Publisher) Create(ctx context.Context, merchant, rawURL string) (Subscription, error) {
	if err := p.checkURL(ctx, rawURL); err != nil {
		return Subscription{}, err
	}
	// The configuration's subscriptions, and the API's of before ids came
	// from their URL, are found by their url; the API's by their id.
	ids, err := p.o.Redis.SMembers(ctx, p.keys.index(merchant)).Result()
	if err != nil {
		return Subscription{}, fmt.Errorf("push: list subscriptions of %s: %w", merchant, err)
	}
	urls := make([]*redis.StringCmd, len(ids))
	_, _ = p.o.Redis.Pipelined(ctx, func(pp redis.Pipeliner) error {
		for i, id := range ids {
			urls[i] = pp.HGet(ctx, p.keys.sub(merchant, id).hash, "url")
		}
		return nil
	})
	for i, u := range urls {
		if err := u.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return Subscription{}, fmt.Errorf("push: read subscriptions of %s: %w", merchant, err)
		}
		if u.Val() == rawURL {
			return Subscription{}, &ExistsError{ID: ids[i]}
		}
	}
	if len(ids) >= p.lim.MaxSubscriptions {
		return Subscription{}, ErrTooManySubscriptions
	}
	id, secret, inc := subID(merchant, rawURL), randomHex(32), randomHex(4)
	k := p.keys.sub(merchant, id)
	now := p.o.Now()
	created, err := createScript.Run(ctx, p.o.Redis, []string{k.hash}, merchant, id, rawURL, secret, SourceAPI, now.UnixMilli(), inc).Int()
	if err != nil {
		return Subscription{}, fmt.Errorf("push: create subscription of %s: %w", merchant, err)
	}
	if created == 0 {
		return Subscription{}, &ExistsError{ID: id}
	}
	// Listed only once it exists, so that Publish never finds an id
	// without its subscription; a failure from here on deletes it again.
	undo := func(err error) (Subscription, error) {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if derr := p.remove(uctx, merchant, id); derr != nil {
			zerolog.Ctx(ctx).Warn().Err(derr).Str("merchant", merchant).Str("subscription", id).Msg("half-created push subscription not removed")
		}
		return Subscription{}, err
	}
	if err := p.o.Redis.SAdd(ctx, p.keys.index(merchant), id).Err(); err != nil {
		return undo(fmt.Errorf("push: list subscription of %s: %w", merchant, err))
	}
	verify := p.task(step{mode: "verify", merchant: merchant, sub: id, token: inc + ".1.0"})
	if err := p.enqueue(ctx, verify, asynq.ProcessIn(p.lim.HandshakeDelay)); err != nil {
		return undo(err)
	}
	sub, err := p.Get(ctx, merchant, id)
	if err != nil {
		return Subscription{}, err
	}
	sub.Deliveries = nil
	sub.Secret = secret
	return sub, nil
}

// List returns the merchant's subscriptions, by id, without their
// deliveries.
func (p *Publisher) List(ctx context.Context, merchant string) ([]Subscription, error) {
	ids, err := p.o.Redis.SMembers(ctx, p.keys.index(merchant)).Result()
	if err != nil {
		return nil, fmt.Errorf("push: subscriptions of %s: %w", merchant, err)
	}
	slices.Sort(ids)
	out := []Subscription{}
	for _, id := range ids {
		s, err := p.read(ctx, merchant, id, false)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Get returns one subscription with its last deliveries.
func (p *Publisher) Get(ctx context.Context, merchant, id string) (Subscription, error) {
	return p.read(ctx, merchant, id, true)
}

func (p *Publisher) read(ctx context.Context, merchant, id string, deliveries bool) (Subscription, error) {
	if !validSubID(id) {
		return Subscription{}, ErrNotFound
	}
	k := p.keys.sub(merchant, id)
	var h *redis.MapStringStringCmd
	var backlog *redis.IntCmd
	var oldest *redis.ZSliceCmd
	var dl *redis.StringSliceCmd
	_, err := p.o.Redis.Pipelined(ctx, func(pl redis.Pipeliner) error {
		h = pl.HGetAll(ctx, k.hash)
		backlog = pl.HLen(ctx, k.ev)
		oldest = pl.ZRangeWithScores(ctx, k.orders, 0, 0)
		if deliveries {
			dl = pl.LRange(ctx, k.dl, 0, MaxDeliveries-1)
		}
		return nil
	})
	if err != nil {
		return Subscription{}, fmt.Errorf("push: read subscription %s/%s: %w", merchant, id, err)
	}
	f := h.Val()
	if len(f) == 0 || f["merchant"] != merchant {
		return Subscription{}, ErrNotFound
	}
	s := Subscription{
		ID: id, URL: f["url"], Source: f["source"], State: f["state"], PausedReason: f["paused_reason"],
		CreatedAt: msTime(f["created"]), VerifiedAt: msPtr(f["verified_at"]), PausedAt: msPtr(f["paused_at"]),
		ResumedAt: msPtr(f["resumed_at"]), LastSuccessAt: msPtr(f["last_success"]), LastFailureAt: msPtr(f["last_failure"]),
		FailingSince: msPtr(f["failing_since"]), FailedAttempts: num(f["fail_attempts"]), Backlog: backlog.Val(),
		Counts: Counts{Published: num(f["published"]), Delivered: num(f["delivered"]), Failed: num(f["failed"]),
			Dropped: num(f["dropped"]), Replayed: num(f["replayed"])},
	}
	if z := oldest.Val(); len(z) == 1 {
		seq := fmt.Sprintf("%016d", int64(z[0].Score))
		if e, err := p.o.Redis.HGet(ctx, k.ev, seq).Result(); err == nil {
			if en, err := parseEntry(e); err == nil {
				t := en.Published.UTC()
				s.OldestPendingAt = &t
			}
		}
	}
	if deliveries {
		s.Deliveries = []Delivery{}
		for _, raw := range dl.Val() {
			var d Delivery
			if json.Unmarshal([]byte(raw), &d) == nil {
				s.Deliveries = append(s.Deliveries, d)
			}
		}
	}
	return s, nil
}

// Delete removes a subscription of the API, its backlog and its log.
// Tasks already queued for it find it gone and end.
func (p *Publisher) Delete(ctx context.Context, merchant, id string) error {
	if !validSubID(id) {
		return ErrNotFound
	}
	k := p.keys.sub(merchant, id)
	f, err := p.o.Redis.HMGet(ctx, k.hash, "merchant", "source").Result()
	if err != nil {
		return fmt.Errorf("push: read subscription %s/%s: %w", merchant, id, err)
	}
	if f[0] != merchant {
		return ErrNotFound
	}
	if f[1] == SourceConfig {
		return ErrConfigured
	}
	return p.remove(ctx, merchant, id)
}

// remove unlists the subscription first, so that Publish stops appending
// to it, then deletes its keys.
func (p *Publisher) remove(ctx context.Context, merchant, id string) error {
	if err := p.o.Redis.SRem(ctx, p.keys.index(merchant), id).Err(); err != nil {
		return fmt.Errorf("push: unlist subscription %s/%s: %w", merchant, id, err)
	}
	if err := p.o.Redis.Unlink(ctx, p.keys.sub(merchant, id).all()...).Err(); err != nil {
		return fmt.Errorf("push: delete subscription %s/%s: %w", merchant, id, err)
	}
	return nil
}

// Resume sends a subscription, paused or not, through the handshake
// again; once it passes, the backlog is delivered. Every order's backlog
// gets a new task then, so resume also restarts deliveries that are
// waiting out a long backoff.
func (p *Publisher) Resume(ctx context.Context, merchant, id string) (Subscription, error) {
	if _, err := p.read(ctx, merchant, id, false); err != nil {
		return Subscription{}, err
	}
	res, err := resumeScript.Run(ctx, p.o.Redis, []string{p.keys.sub(merchant, id).hash}, p.o.Now().UnixMilli()).StringSlice()
	if err != nil {
		return Subscription{}, fmt.Errorf("push: resume %s/%s: %w", merchant, id, err)
	}
	if res[0] != StateVerifying {
		return Subscription{}, ErrNotFound
	}
	if err := p.enqueue(ctx, p.task(step{mode: "verify", merchant: merchant, sub: id, token: res[1]})); err != nil {
		return Subscription{}, err
	}
	p.count("resumed", 1)
	return p.read(ctx, merchant, id, false)
}

// Replay queues again the delivered events published at or after since
// and still kept (Limits.Retention, at most Limits.MaxLog), in their
// publishing order, each after what its order has pending. They go out
// with the same event ids and the header X-Bridge-Replayed: true; a
// paused subscription sends them once resumed.
func (p *Publisher) Replay(ctx context.Context, merchant, id string, since time.Time) (int, error) {
	if _, err := p.read(ctx, merchant, id, false); err != nil {
		return 0, err
	}
	k := p.keys.sub(merchant, id)
	res, err := replayScript.Run(ctx, p.o.Redis, []string{k.hash, k.ev, k.pending, k.orders, k.own, k.log, k.logev},
		since.UnixMilli(), p.lim.MaxBacklog, p.lim.MaxBacklog).Slice()
	if err != nil {
		return 0, fmt.Errorf("push: replay %s/%s: %w", merchant, id, err)
	}
	if s, _ := res[0].(string); s != "replayed" {
		return 0, ErrNotFound
	}
	n, _ := res[1].(int64)
	dropped, _ := res[2].(int64)
	p.count("replayed", int(n))
	p.count("dropped", int(dropped))
	var pairs []string
	for _, v := range res[3:] {
		s, _ := v.(string)
		pairs = append(pairs, s)
	}
	return int(n), p.enqueueOwners(ctx, merchant, id, pairs)
}

// SyncConfigured brings Redis in line with the configured subscriptions:
// it creates those that are new (their handshake starts), updates the
// URL or secret of those that changed (a new URL is verified again), and
// deletes those the configuration no longer lists. Every replica runs it
// at start; it is idempotent. A URL refused by the rules is an error, and
// that subscription is left as it was.
func (p *Publisher) SyncConfigured(ctx context.Context) error {
	var errs []error
	want := map[string]map[string]bool{}
	for _, c := range p.o.Configured {
		if want[c.Merchant] == nil {
			want[c.Merchant] = map[string]bool{}
		}
		want[c.Merchant][c.ID] = true
		if !configID.MatchString(c.ID) {
			errs = append(errs, fmt.Errorf("push: configured subscription %s/%s: id must be a slug", c.Merchant, c.ID))
			continue
		}
		if err := p.checkURL(ctx, c.URL); err != nil {
			errs = append(errs, fmt.Errorf("push: configured subscription %s/%s: %w", c.Merchant, c.ID, err))
			continue
		}
		k := p.keys.sub(c.Merchant, c.ID)
		res, err := upsertScript.Run(ctx, p.o.Redis, []string{k.hash}, c.Merchant, c.ID, c.URL, c.Secret.Reveal(), p.o.Now().UnixMilli(), randomHex(4)).StringSlice()
		if err != nil {
			errs = append(errs, fmt.Errorf("push: configured subscription %s/%s: %w", c.Merchant, c.ID, err))
			continue
		}
		if res[0] == "conflict" {
			errs = append(errs, fmt.Errorf("push: configured subscription %s/%s: the id is taken by a subscription of the API", c.Merchant, c.ID))
			continue
		}
		if err := p.o.Redis.SAdd(ctx, p.keys.index(c.Merchant), c.ID).Err(); err != nil {
			errs = append(errs, fmt.Errorf("push: list configured subscription %s/%s: %w", c.Merchant, c.ID, err))
			continue
		}
		if res[0] == "created" || res[0] == "verify" {
			if err := p.enqueue(ctx, p.task(step{mode: "verify", merchant: c.Merchant, sub: c.ID, token: res[1]})); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Configured subscriptions the configuration dropped.
	for _, m := range p.o.Config.Merchants {
		ids, err := p.o.Redis.SMembers(ctx, p.keys.index(m.ID)).Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("push: subscriptions of %s: %w", m.ID, err))
			continue
		}
		for _, id := range ids {
			if want[m.ID][id] {
				continue
			}
			src, err := p.o.Redis.HGet(ctx, p.keys.sub(m.ID, id).hash, "source").Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				errs = append(errs, fmt.Errorf("push: read subscription %s/%s: %w", m.ID, id, err))
				continue
			}
			if src == SourceConfig {
				if err := p.remove(ctx, m.ID, id); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

func msTime(s string) time.Time {
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func msPtr(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := msTime(s)
	return &t
}

func num(s string) int64 {
	n, _ := strconv.ParseInt(s, 10, 64)
	return n
}
