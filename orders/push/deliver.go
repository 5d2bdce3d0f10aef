package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Task types.
const (
	TypeDeliver = "push:deliver"
	TypeVerify  = "push:verify"
)

// DeliverPayload names the order whose backlog a task delivers, and the
// owner token it was enqueued with.
type DeliverPayload struct {
	Merchant     string `json:"m"`
	Subscription string `json:"s"`
	Order        string `json:"o"` // "<store>:<order id>"
	Token        string `json:"t"`
	// Fails is how many attempts at the order's head failed before, for
	// the backoff.
	Fails int `json:"f,omitempty"`
}

// VerifyPayload names the subscription whose handshake a task runs.
type VerifyPayload struct {
	Merchant     string `json:"m"`
	Subscription string `json:"s"`
	Token        string `json:"t"`
	Fails        int    `json:"f,omitempty"`
}

// Delivery is one attempt, as the report shows it.
type Delivery struct {
	At        time.Time `json:"at"`
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	Store     string    `json:"store,omitempty"`
	OrderID   string    `json:"order_id,omitempty"`
	Replayed  bool      `json:"replayed,omitempty"`
	Attempt   int       `json:"attempt"`
	Outcome   string    `json:"outcome"` // delivered, verified (a handshake), failed
	Status    int       `json:"status,omitempty"`
	LatencyMS int64     `json:"latency_ms"`
	Error     string    `json:"error,omitempty"`
}

// DeliverOrder delivers the order's backlog, oldest first, while the task
// owns it. A failed attempt records itself and enqueues the next one at
// the backoff's delay. It returns an error only when the bridge itself
// failed (Redis, or the worker stopping): then asynq runs it again.
func (p *Publisher) DeliverOrder(ctx context.Context, pl DeliverPayload) error {
	k := p.keys.sub(pl.Merchant, pl.Subscription)
	s := step{mode: "deliver", merchant: pl.Merchant, sub: pl.Subscription, order: pl.Order, token: pl.Token, fails: pl.Fails}
	started := time.Now()
	for {
		res, err := claimScript.Run(ctx, p.o.Redis, []string{k.hash, k.ev, k.pending, k.orders, k.own}, s.order, s.token).StringSlice()
		if err != nil {
			return fmt.Errorf("push: claim %s/%s: %w", pl.Merchant, pl.Subscription, err)
		}
		switch res[0] {
		case "again":
			continue
		case "stale":
			return p.enqueueOwner(ctx, s, res)
		case "deliver":
		default: // gone, idle, empty
			return nil
		}
		if len(res) < 4 {
			return fmt.Errorf("push: claim %s/%s: short answer", pl.Merchant, pl.Subscription)
		}
		e, err := parseEntry(res[1])
		if err != nil {
			return err
		}
		at := p.o.Now()
		a := p.post(ctx, res[2], res[3], pl.Merchant, pl.Subscription, e.ID, e.Type, e.Replayed, e.Body, at)
		if ctx.Err() != nil {
			// The worker is stopping: not the subscriber's failure.
			return ctx.Err()
		}
		store, orderID := splitOrderKey(e.Order)
		rec := Delivery{At: at.UTC(), EventID: e.ID, Type: e.Type, Store: store, OrderID: orderID, Replayed: e.Replayed,
			Attempt: s.fails + 1, Status: a.status, LatencyMS: a.latency.Milliseconds(), Error: a.err}
		if a.ok() {
			rec.Outcome = "delivered"
			p.observe("delivered", a.latency)
			next, err := p.ack(ctx, k, s, e, rec)
			if err != nil {
				return err
			}
			if next != "more" {
				return nil
			}
			s.fails = 0
			if time.Since(started) > batchBudget {
				return p.handover(ctx, k, s)
			}
			continue
		}
		rec.Outcome = "failed"
		p.observe("failed", a.latency)
		zerolog.Ctx(ctx).Info().Str("merchant", pl.Merchant).Str("subscription", pl.Subscription).Str("event_id", e.ID).
			Int("status", a.status).Str("error", a.err).Int("attempt", s.fails+1).Msg("push not delivered; retrying later")
		return p.failed(ctx, k, s, rec, a.retryAfter)
	}
}

func (p *Publisher) ack(ctx context.Context, k subKeys, s step, e entry, rec Delivery) (string, error) {
	b, _ := json.Marshal(rec)
	now := p.o.Now()
	res, err := ackScript.Run(ctx, p.o.Redis, []string{k.hash, k.ev, k.pending, k.orders, k.own, k.log, k.logev, k.dl},
		s.order, s.token, e.Seq, now.UnixMilli(), b, now.Add(-p.lim.Retention).UnixMilli(), p.lim.MaxLog, p.lim.Retention.Milliseconds()).StringSlice()
	if err != nil {
		// The event was delivered but is still the head: its next attempt
		// sends it again, which the receiver dedupes.
		return "", fmt.Errorf("push: acknowledge %s: %w", e.ID, err)
	}
	return res[0], nil
}

// step is one task's place in the ownership of an order's backlog
// (mode "deliver") or of a subscription's handshake (mode "verify").
type step struct {
	mode                 string
	merchant, sub, order string
	token                string
	fails                int
}

// task is the step's asynq task.
func (p *Publisher) task(s step) *asynq.Task {
	if s.mode == "verify" {
		return p.verifyTask(VerifyPayload{Merchant: s.merchant, Subscription: s.sub, Token: s.token, Fails: s.fails})
	}
	return p.deliverTask(DeliverPayload{Merchant: s.merchant, Subscription: s.sub, Order: s.order, Token: s.token, Fails: s.fails})
}

// failed records a failed attempt and enqueues the successor at the
// backoff's delay, or pauses the subscription.
func (p *Publisher) failed(ctx context.Context, k subKeys, s step, rec Delivery, retryAfter time.Duration) error {
	next, err := nextToken(s.token)
	if err != nil {
		return fmt.Errorf("push: %w: %v", asynq.SkipRetry, err)
	}
	b, _ := json.Marshal(rec)
	res, err := failScript.Run(ctx, p.o.Redis, []string{k.hash, k.own, k.dl}, s.mode, s.order, s.token, next,
		p.o.Now().UnixMilli(), b, p.lim.PauseAfter.Milliseconds(), p.lim.PauseMinAttempts).StringSlice()
	if err != nil {
		return fmt.Errorf("push: record failure of %s/%s: %w", s.merchant, s.sub, err)
	}
	switch res[0] {
	case "retry":
		delay := p.backoff(s.fails, retryAfter)
		succ := s
		succ.token, succ.fails = next, s.fails+1
		// If this enqueue fails, asynq runs this task again: it finds the
		// successor the owner, and enqueues it.
		return p.enqueue(ctx, p.task(succ), asynq.ProcessIn(delay))
	case "paused":
		p.count("paused", 1)
		zerolog.Ctx(ctx).Warn().Str("merchant", s.merchant).Str("subscription", s.sub).
			Msg("push subscription paused after failing for too long; resume it once the receiver works")
	case "stale":
		return p.enqueueOwner(ctx, s, res)
	}
	return nil
}

// handover passes the order to a successor task at once, so that a long
// backlog does not hold one worker.
func (p *Publisher) handover(ctx context.Context, k subKeys, s step) error {
	next, err := nextToken(s.token)
	if err != nil {
		return fmt.Errorf("push: %w: %v", asynq.SkipRetry, err)
	}
	moved, err := handoverScript.Run(ctx, p.o.Redis, []string{k.own}, s.order, s.token, next).Int()
	if err != nil {
		return fmt.Errorf("push: hand %s over: %w", s.order, err)
	}
	if moved == 0 {
		return nil
	}
	succ := s
	succ.token, succ.fails = next, 0
	return p.enqueue(ctx, p.task(succ))
}

// enqueueOwner enqueues the task of the current owner, res being a
// script's {"stale", owner}: a no-op (a task id conflict) unless that
// task's enqueue was lost.
func (p *Publisher) enqueueOwner(ctx context.Context, s step, res []string) error {
	if len(res) < 2 || res[1] == "" {
		return nil
	}
	succ := s
	succ.token, succ.fails = res[1], 0
	return p.enqueue(ctx, p.task(succ))
}

// backoff is the delay before the attempt that follows fails failures:
// exponential from RetryBase to RetryMax, half of it random so that
// subscriptions failing together do not retry together, and at least
// what the subscriber asked for with Retry-After (up to RetryMax).
func (p *Publisher) backoff(fails int, retryAfter time.Duration) time.Duration {
	d := p.lim.RetryBase
	for i := 0; i < fails && d < p.lim.RetryMax; i++ {
		d *= 2 // RetryMax is far from overflowing
	}
	d = min(d, p.lim.RetryMax)
	d = d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
	if retryAfter > d {
		d = min(retryAfter, p.lim.RetryMax)
	}
	return d
}

// nextToken is the successor of an owner token "<incarnation>.<gen>.<step>".
func nextToken(tok string) (string, error) {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return "", fmt.Errorf("malformed token %q", tok)
	}
	n, err := strconv.Atoi(tok[i+1:])
	if err != nil {
		return "", fmt.Errorf("malformed token %q", tok)
	}
	return tok[:i+1] + strconv.Itoa(n+1), nil
}

// deliverTask's id names the subscription, the order and the token: one
// task per step of an order's ownership.
func (p *Publisher) deliverTask(pl DeliverPayload) *asynq.Task {
	b, _ := json.Marshal(pl)
	sum := sha256.Sum256([]byte(pl.Merchant + "\x00" + pl.Subscription + "\x00" + pl.Order))
	return asynq.NewTask(TypeDeliver, b, asynq.Queue(p.queue(pl.Merchant, pl.Subscription)),
		asynq.TaskID("push-deliver:"+hex.EncodeToString(sum[:12])+":"+pl.Token), asynq.MaxRetry(taskMaxRetry))
}

func (p *Publisher) verifyTask(pl VerifyPayload) *asynq.Task {
	b, _ := json.Marshal(pl)
	sum := sha256.Sum256([]byte(pl.Merchant + "\x00" + pl.Subscription))
	return asynq.NewTask(TypeVerify, b, asynq.Queue(p.queue(pl.Merchant, pl.Subscription)),
		asynq.TaskID("push-verify:"+hex.EncodeToString(sum[:12])+":"+pl.Token), asynq.MaxRetry(taskMaxRetry))
}

func (p *Publisher) queue(merchant, sub string) string {
	return p.o.Shards.Queue(Queue, merchant+":"+sub)
}

// enqueue enqueues t; a task id conflict means it is there already.
func (p *Publisher) enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	_, err := p.o.Queue.EnqueueContext(ctx, t, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		// asynq flattens Redis's errors into text: marked, the API
		// answers 503 with a Retry-After rather than 500.
		return fmt.Errorf("push: enqueue %s: %w: %w", t.Type(), httpapi.ErrStoreUnavailable, err)
	}
	return nil
}

// enqueueOwners enqueues the tasks of pairs (order, token, order, token...).
func (p *Publisher) enqueueOwners(ctx context.Context, merchant, sub string, pairs []string) error {
	var errs []error
	for i := 0; i+1 < len(pairs); i += 2 {
		t := p.deliverTask(DeliverPayload{Merchant: merchant, Subscription: sub, Order: pairs[i], Token: pairs[i+1]})
		if err := p.enqueue(ctx, t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// attempt is what one POST became.
type attempt struct {
	status     int
	retryAfter time.Duration
	body       []byte // the answer's first MaxResponseBytes
	latency    time.Duration
	err        string // why it failed, for the report: never the URL's path or query
}

func (a attempt) ok() bool { return a.err == "" && a.status >= 200 && a.status < 300 }

// post sends one signed body. The signature is computed afresh for each
// attempt, so that a retry's timestamp is current.
func (p *Publisher) post(ctx context.Context, rawURL, secret, merchant, sub, id, typ string, replayed bool, body []byte, now time.Time) attempt {
	if err := p.staticURLCheck(rawURL); err != nil {
		return attempt{err: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, p.lim.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return attempt{err: "the URL cannot be requested"}
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "helpdesk-bridge-push/1")
	h.Set(events.HeaderMerchant, merchant)
	h.Set(HeaderSubscription, sub)
	h.Set(HeaderEventID, id)
	h.Set(HeaderEventType, typ)
	h.Set(events.HeaderTimestamp, ts)
	h.Set(events.HeaderSignature, events.SignatureHeader(secret, ts, body))
	if replayed {
		h.Set(HeaderReplayed, "true")
	}
	start := time.Now()
	resp, err := p.client.Do(req)
	if err != nil {
		return attempt{latency: time.Since(start), err: describe(err, p.lim.Timeout)}
	}
	defer resp.Body.Close()
	got, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	a := attempt{status: resp.StatusCode, body: got, latency: time.Since(start)}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		a.err = fmt.Sprintf("HTTP %d: redirects are not followed", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		a.err = fmt.Sprintf("HTTP %d", resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			a.retryAfter = connectors.RetryAfter(resp.Header, now, 0)
		}
	case rerr != nil:
		// The answer was cut: the subscriber may not have kept the event;
		// sending it again is what at-least-once allows.
		a.err = "the answer was cut short: " + describe(rerr, p.lim.Timeout)
	}
	return a
}

// describe says why a POST got no answer, in words for the report; it
// never holds the URL, whose path or query may carry a token.
func describe(err error, timeout time.Duration) string {
	var refused *connectors.RefusedURLError
	var dnsErr *net.DNSError
	var ne net.Error
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.As(err, &refused):
		return "refused: " + refused.Error()
	case errors.As(err, &dnsErr):
		return "the host name does not resolve"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed before an answer"
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return "the TLS certificate is not valid for this host"
	}
	return "the request failed"
}

func (p *Publisher) observe(outcome string, d time.Duration) {
	if p.o.Observer != nil {
		p.o.Observer.Attempt(outcome, d)
	}
}

func (p *Publisher) count(what string, n int) {
	if p.o.Observer != nil && n > 0 {
		p.o.Observer.Count(what, n)
	}
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
