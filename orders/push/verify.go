package push

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// VerificationBody is the handshake's JSON body, signed like every push.
// The subscriber proves that it wants the events by answering 2xx with
// the JSON body {"challenge": "<the same challenge>"}; until it has, its
// events wait in its backlog.
type VerificationBody struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"` // TypeVerification
	Merchant     string    `json:"merchant"`
	Subscription string    `json:"subscription"`
	Challenge    string    `json:"challenge"`
	OccurredAt   time.Time `json:"occurred_at"`
}

// VerificationAnswer is what the subscriber answers.
type VerificationAnswer struct {
	Challenge string `json:"challenge"`
}

// VerifySubscription runs one attempt at a subscription's handshake. On
// success the subscription turns active and each order's backlog gets a
// delivery task; on failure, the next attempt is enqueued at the backoff's
// delay, or the subscription is paused like one whose deliveries fail.
func (p *Publisher) VerifySubscription(ctx context.Context, pl VerifyPayload) error {
	k := p.keys.sub(pl.Merchant, pl.Subscription)
	s := step{mode: "verify", merchant: pl.Merchant, sub: pl.Subscription, token: pl.Token, fails: pl.Fails}
	res, err := verifyClaimScript.Run(ctx, p.o.Redis, []string{k.hash, k.own}, s.token).StringSlice()
	if err != nil {
		return fmt.Errorf("push: claim handshake of %s/%s: %w", s.merchant, s.sub, err)
	}
	switch res[0] {
	case "rekick":
		return p.enqueueOwners(ctx, s.merchant, s.sub, res[1:])
	case "stale":
		return p.enqueueOwner(ctx, s, res)
	case "verify":
	default:
		return nil
	}
	if len(res) < 3 {
		return fmt.Errorf("push: claim handshake of %s/%s: short answer", s.merchant, s.sub)
	}
	at := p.o.Now()
	challenge, id := randomHex(16), "vrf_"+randomHex(10)
	body, _ := json.Marshal(VerificationBody{ID: id, Type: TypeVerification, Merchant: s.merchant,
		Subscription: s.sub, Challenge: challenge, OccurredAt: at.UTC()})
	var ans VerificationAnswer
	a := p.post(ctx, res[1], res[2], s.merchant, s.sub, id, TypeVerification, false, body, at)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if a.ok() && (json.Unmarshal(bytes.TrimSpace(a.body), &ans) != nil || ans.Challenge != challenge) {
		a.err = `the answer is not {"challenge": "<the challenge sent>"}`
	}
	rec := Delivery{At: at.UTC(), EventID: id, Type: TypeVerification, Attempt: s.fails + 1, Status: a.status,
		LatencyMS: a.latency.Milliseconds(), Error: a.err}
	if !a.ok() {
		rec.Outcome = "failed"
		p.observe("failed", a.latency)
		zerolog.Ctx(ctx).Info().Str("merchant", s.merchant).Str("subscription", s.sub).Int("status", a.status).
			Str("error", a.err).Int("attempt", s.fails+1).Msg("push subscription not verified; retrying later")
		return p.failed(ctx, k, s, rec, a.retryAfter)
	}
	rec.Outcome = "verified"
	p.observe("verified", a.latency)
	b, _ := json.Marshal(rec)
	res, err = verifiedScript.Run(ctx, p.o.Redis, []string{k.hash, k.orders, k.own, k.dl}, s.token, p.o.Now().UnixMilli(), b).StringSlice()
	if err != nil {
		return fmt.Errorf("push: activate %s/%s: %w", s.merchant, s.sub, err)
	}
	switch res[0] {
	case "active":
		zerolog.Ctx(ctx).Info().Str("merchant", s.merchant).Str("subscription", s.sub).Int("orders", len(res[1:])/2).Msg("push subscription verified")
		// Should this fail, asynq runs the task again, and the claim
		// answers "rekick".
		return p.enqueueOwners(ctx, s.merchant, s.sub, res[1:])
	case "stale":
		return p.enqueueOwner(ctx, s, res)
	}
	return nil
}
