// Package events is the intake of signed events from order platforms:
// POST /v1/events. It verifies the sender's signature, validates the
// envelope, hands the event's data to the feature that owns its kind, and
// answers 202 only once every task the event gives rise to is enqueued in
// Redis. An event id seen before answers 202 again and enqueues nothing.
package events

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/config"
)

// Headers of a signed event.
const (
	HeaderMerchant  = "X-Bridge-Merchant"
	HeaderTimestamp = "X-Bridge-Timestamp"
	HeaderSignature = "X-Bridge-Signature"
	// SignaturePrefix starts each signature in HeaderSignature; several
	// comma-separated signatures are accepted while a secret rotates.
	SignaturePrefix = "sha256="
	// MaxSignatures bounds the signatures one request may offer. A
	// rotation needs two; more only make an unauthenticated request
	// costlier to refuse.
	MaxSignatures = 4
	// MaxBody is the largest event body accepted.
	MaxBody = 1 << 20
)

// Event is the envelope every event shares. Data is decoded by its kind.
type Event struct {
	ID         string          `json:"id" validate:"required,max=128,printascii,id"`
	Kind       string          `json:"kind" validate:"required,max=64"`
	OccurredAt time.Time       `json:"occurred_at" validate:"required"`
	Data       json.RawMessage `json:"data" validate:"required"`

	// Merchant is the verified sender.
	Merchant *config.Merchant `json:"-"`
	// ReceivedAt is when the bridge received it, on its own clock.
	ReceivedAt time.Time `json:"-"`
}

// Planner turns one kind of event into the tasks that handle it. It must
// validate everything before returning: an error means nothing is
// enqueued. Validation errors are *httpapi.Error values naming the field.
type Planner interface {
	Plan(ctx context.Context, ev Event) ([]*asynq.Task, error)
}

// PlanFunc adapts a function to Planner, as http.HandlerFunc does.
type PlanFunc func(ctx context.Context, ev Event) ([]*asynq.Task, error)

// Plan calls f.
func (f PlanFunc) Plan(ctx context.Context, ev Event) ([]*asynq.Task, error) { return f(ctx, ev) }

// Enqueuer is the part of asynq.Client the intake uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Replicas holds an answer until writes reached the Redis replicas. Write
// runs write's commands (none when nil) on the master that holds key, then
// waits until they and every write finished earlier on the masters that
// hold key and also reached them; ErrNotReplicated (rdb's) or another
// error when not in time.
type Replicas interface {
	Write(ctx context.Context, key string, write func(p redis.Pipeliner), also ...string) error
}

// Counter counts events by kind and outcome.
type Counter interface {
	Count(kind, outcome string)
}

// Options configure an Intake.
type Options struct {
	Config   *config.Config
	Queue    Enqueuer
	Redis    redis.UniversalClient
	Counter  Counter
	Now      func() time.Time
	Planners map[string]Planner
	// Replicas, when set, makes the answer 202 wait until the event's
	// tasks and its id reached a replica.
	Replicas Replicas
	// Queues are the asynq queues planners enqueue to: before answering
	// that an event is a duplicate, the intake waits until what an
	// earlier copy stored in them reached a replica too (with a Cluster,
	// they may be on other masters than the event's id).
	Queues []string
}

// Intake receives signed events.
type Intake struct {
	opts Options
}

// New returns an intake for the given event kinds.
func New(opts Options) *Intake {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Intake{opts: opts}
}

// Signed is what the sender put in the headers.
type Signed struct {
	Merchant  string
	Timestamp string
	Signature string
}

// Result says what became of an accepted event.
type Result struct {
	ID        string `json:"id"`
	Status    string `json:"status"` // accepted or duplicate
	Enqueued  int    `json:"enqueued"`
	Duplicate bool   `json:"duplicate"`
}

// Stable error codes of the intake.
const (
	CodeUnknownMerchant  = "unknown_merchant"
	CodeMissingSignature = "missing_signature"
	CodeInvalidSignature = "invalid_signature"
	CodeStaleTimestamp   = "stale_timestamp"
	CodeUnknownKind      = "unknown_kind"
	CodeEventIDReused    = "event_id_reused"
	CodeQueueUnavailable = "queue_unavailable"
	CodeEventInProgress  = "event_in_progress"
	// CodeNotReplicated: the event is on the Redis master but reached no
	// replica in time, so a failover could still lose it.
	CodeNotReplicated = "not_replicated"
)

// The event-id ledger: the key of a merchant's event id holds the
// content digest of the event once its tasks are enqueued, or
// claimPrefix + digest + ":" + token while one request enqueues them.
// Claiming is one atomic step, so that of concurrent copies exactly one
// runs the planner and enqueues.
const (
	claimPrefix = "pending:"
	// claimTTL lets a claim whose holder died, or could not release it,
	// lapse, so that the sender's retry is not refused for ever.
	claimTTL = 30 * time.Second
	// enqueueBudget bounds the holder's work, well inside claimTTL, so
	// that a live claim never lapses under its holder.
	enqueueBudget = 10 * time.Second
	// claimWait is how long a copy waits for a concurrent copy's claim to
	// settle before asking the sender to retry.
	claimWait = 5 * time.Second
	claimPoll = 20 * time.Millisecond
)

var (
	// claimScript takes the id when it is free and returns "", or returns
	// what holds it.
	claimScript = redis.NewScript(`local cur = redis.call("GET", KEYS[1])
if cur then return cur end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
return ""`)
	// releaseScript frees the id only while this request's claim holds it.
	releaseScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
)

// Receive verifies, validates and enqueues one event.
func (in *Intake) Receive(ctx context.Context, s Signed, body []byte) (Result, error) {
	m, err := in.verify(s, body)
	if err != nil {
		return Result{}, err
	}
	var ev Event
	if err := httpapi.DecodeJSON("", body, &ev); err != nil {
		return Result{}, err
	}
	ev.Merchant = m
	ev.ReceivedAt = in.opts.Now()
	planner, ok := in.opts.Planners[ev.Kind]
	if !ok {
		in.count(ev.Kind, "unknown_kind")
		return Result{}, httpapi.Errorf(http.StatusUnprocessableEntity, CodeUnknownKind, "kind", "kind %q is not one of the accepted kinds", ev.Kind)
	}
	digest, err := digestOf(ev)
	if err != nil {
		return Result{}, err
	}
	key := in.dedupeKey(m.ID, ev.ID)
	claim, dup, err := in.claim(ctx, key, ev, digest)
	if err != nil {
		return Result{}, err
	}
	if dup {
		// A copy is answered 202 only once the first copy is durable: the
		// first may have been refused for want of a replica, its id and
		// tasks on the master alone.
		if err := in.replicated(ctx, key, nil, queueKeys(in.opts.Queues)); err != nil {
			return Result{}, err
		}
		in.count(ev.Kind, "duplicate")
		return Result{ID: ev.ID, Status: "duplicate", Duplicate: true}, nil
	}
	// From here on, a failure frees the id, so that the sender's retry
	// runs; if even that fails, the claim lapses after claimTTL.
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := releaseScript.Run(rctx, in.opts.Redis, []string{key}, claim).Err(); err != nil {
			zerolog.Ctx(ctx).Warn().Err(err).Str("event_id", ev.ID).Msg("event claim not released; it lapses on its own")
		}
	}
	tasks, err := planner.Plan(ctx, ev)
	if err != nil {
		release()
		in.count(ev.Kind, "invalid")
		return Result{}, err
	}
	qctx, cancel := context.WithTimeout(ctx, enqueueBudget)
	defer cancel()
	enqueued := 0
	var used []string
	for _, t := range tasks {
		info, err := in.opts.Queue.EnqueueContext(qctx, t, asynq.Retention(in.opts.Config.Worker.TaskRetention), asynq.MaxRetry(in.opts.Config.Worker.MaxRetry))
		switch {
		case err == nil:
			enqueued++
			used = append(used, info.Queue)
		case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
			// Enqueued by an earlier delivery of this event that did not get
			// as far as recording it, in a queue the planners use.
			used = append(used, in.opts.Queues...)
		default:
			release()
			return Result{}, unavailable(err)
		}
	}
	// Recorded last: a crash before this line leaves the claim to lapse
	// and the sender to retry, and the task ids above keep that retry
	// from doing anything twice. The claim cannot have lapsed meanwhile:
	// enqueueBudget is well inside claimTTL.
	//
	// With replicas, the id and the tasks must reach one before the 202.
	// If they do not in time, the id stays recorded on the master and the
	// sender's retry finds it: that copy is answered only once they did,
	// or, should the master fail first, is stored again by a new claim.
	err = in.replicated(qctx, key, func(p redis.Pipeliner) {
		p.Set(qctx, key, digest, in.opts.Config.Events.DedupeTTL)
	}, queueKeys(used))
	if err != nil {
		return Result{}, err
	}
	in.count(ev.Kind, "accepted")
	zerolog.Ctx(ctx).Info().Str("merchant", m.ID).Str("event_id", ev.ID).Str("kind", ev.Kind).Int("tasks", len(tasks)).Msg("event accepted")
	return Result{ID: ev.ID, Status: "accepted", Enqueued: enqueued}, nil
}

// replicated runs write (the id's record, or nothing) and, with Replicas,
// waits until it and the tasks in the queues reached a replica.
func (in *Intake) replicated(ctx context.Context, key string, write func(p redis.Pipeliner), queues []string) error {
	var err error
	if in.opts.Replicas == nil {
		if write == nil {
			return nil
		}
		_, err = in.opts.Redis.Pipelined(ctx, func(p redis.Pipeliner) error { write(p); return nil })
	} else {
		err = in.opts.Replicas.Write(ctx, key, write, queues...)
	}
	switch {
	case errors.Is(err, rdb.ErrNotReplicated):
		return &notReplicatedError{err: err}
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// queueKeys names a key in each queue's Cluster slot: asynq keeps a queue's
// keys under the hash tag of its name.
func queueKeys(queues []string) []string {
	var keys []string
	for _, q := range queues {
		k := "asynq:{" + q + "}"
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return keys
}

// claim takes the event's id for this request, atomically, and returns
// the claim's value. dup is true when the same content was already
// enqueued; the same id with other content is a 409. While another
// request holds a claim on the same content, claim waits for it to
// settle: the copy answers duplicate only once the event is really
// stored, and takes over when the other request gave up.
func (in *Intake) claim(ctx context.Context, key string, ev Event, digest string) (claim string, dup bool, err error) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	claim = claimPrefix + digest + ":" + hex.EncodeToString(b[:])
	wait := time.NewTimer(claimWait)
	defer wait.Stop()
	for {
		cur, err := claimScript.Run(ctx, in.opts.Redis, []string{key}, claim, claimTTL.Milliseconds()).Text()
		if err != nil {
			return "", false, unavailable(err)
		}
		held, pending := strings.CutPrefix(cur, claimPrefix)
		switch {
		case cur == "":
			return claim, false, nil
		case cur == digest:
			return "", true, nil
		case !pending || !strings.HasPrefix(held, digest+":"):
			in.count(ev.Kind, "conflict")
			return "", false, httpapi.Errorf(http.StatusConflict, CodeEventIDReused, "id", "id %q was already used for an event with different content", ev.ID)
		}
		select {
		case <-ctx.Done():
			return "", false, unavailable(ctx.Err())
		case <-wait.C:
			return "", false, httpapi.Errorf(http.StatusServiceUnavailable, CodeEventInProgress, "id", "id %q is being stored by another request; retry later", ev.ID)
		case <-time.After(claimPoll):
		}
	}
}

// verify finds the merchant and checks the signature over timestamp and
// body, in constant time, against each of the merchant's secrets.
func (in *Intake) verify(s Signed, body []byte) (*config.Merchant, error) {
	if s.Merchant == "" {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeUnknownMerchant, HeaderMerchant, "%s header is required", HeaderMerchant)
	}
	m, ok := in.opts.Config.Merchant(s.Merchant)
	if !ok {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeUnknownMerchant, HeaderMerchant, "%s: unknown merchant", HeaderMerchant)
	}
	// The field names the header that is missing (the signature's when
	// both are), so that a sender knows which one to add.
	if s.Signature == "" {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeMissingSignature, HeaderSignature, "%s and %s headers are required: %s is missing", HeaderTimestamp, HeaderSignature, HeaderSignature)
	}
	if s.Timestamp == "" {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeMissingSignature, HeaderTimestamp, "%s and %s headers are required: %s is missing", HeaderTimestamp, HeaderSignature, HeaderTimestamp)
	}
	secs, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeStaleTimestamp, HeaderTimestamp, "%s must be Unix seconds", HeaderTimestamp)
	}
	age := in.opts.Now().Sub(time.Unix(secs, 0))
	if window := in.opts.Config.Events.ReplayWindow; age > window || age < -window {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeStaleTimestamp, HeaderTimestamp, "%s is outside the %s replay window", HeaderTimestamp, window)
	}
	// Refused before any MAC is computed, and each secret's MAC is
	// computed once, whatever the number of signatures offered: the body
	// may be 1 MiB.
	if n := strings.Count(s.Signature, ",") + 1; n > MaxSignatures {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeInvalidSignature, HeaderSignature, "%s holds %d signatures; at most %d are accepted", HeaderSignature, n, MaxSignatures)
	}
	var offered [][]byte
	for _, sig := range strings.Split(s.Signature, ",") {
		got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), SignaturePrefix))
		if err == nil && len(got) == sha256.Size {
			offered = append(offered, got)
		}
	}
	match := false
	if len(offered) > 0 {
		for _, secret := range m.EventSecrets {
			want := Sign(secret.Reveal(), s.Timestamp, body)
			for _, got := range offered {
				// Every comparison runs: how many match must not show in
				// the timing.
				match = hmac.Equal(got, want) || match
			}
		}
	}
	if match {
		return m, nil
	}
	return nil, httpapi.Errorf(http.StatusUnauthorized, CodeInvalidSignature, HeaderSignature, "%s does not match the body", HeaderSignature)
}

// Sign computes the signature a sender puts in HeaderSignature (hex, after
// SignaturePrefix): HMAC-SHA256 over the timestamp, a dot, and the body.
func Sign(secret, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// SignatureHeader returns the HeaderSignature value for a body.
func SignatureHeader(secret, timestamp string, body []byte) string {
	return SignaturePrefix + hex.EncodeToString(Sign(secret, timestamp, body))
}

// digestOf fingerprints an event's content independently of key order and
// whitespace, so that a sender re-serialising the same event is a duplicate
// and not a conflict.
func digestOf(ev Event) (string, error) {
	var data any
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return "", httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "data", "data is not valid JSON")
	}
	canon, err := json.Marshal([]any{ev.Kind, ev.OccurredAt.UTC().Format(time.RFC3339Nano), data})
	if err != nil {
		return "", fmt.Errorf("events: digest: %w", err)
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

func (in *Intake) dedupeKey(merchant, id string) string {
	return in.opts.Config.Redis.KeyPrefix + "event:" + merchant + ":" + id
}

func (in *Intake) count(kind, outcome string) {
	if in.opts.Counter == nil {
		return
	}
	if _, ok := in.opts.Planners[kind]; !ok {
		kind = "unknown" // never let senders mint label values
	}
	in.opts.Counter.Count(kind, outcome)
}

func unavailable(err error) error {
	return &unavailableError{err: err}
}

type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "events: queue unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

type notReplicatedError struct{ err error }

func (e *notReplicatedError) Error() string { return "events: not replicated: " + e.err.Error() }
func (e *notReplicatedError) Unwrap() error { return e.err }
