package amazon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
)

const (
	maxAnswerBytes = 16 << 20
	maxErrorBytes  = 64 << 10
	maxMessageLen  = 300
)

// System names Amazon in errors and metrics.
const System = "amazon"

// Operation names, as Amazon names them.
const (
	OpGetOrders     = "getOrders"
	OpGetOrder      = "getOrder"
	OpGetOrderItems = "getOrderItems"
	OpCreateRDT     = "createRestrictedDataToken"
)

// Plan is a usage plan: tokens added per second and the bucket's size.
type Plan struct {
	PerSecond float64
	Burst     int
}

// DefaultPlans are the Orders v0 and Tokens API default usage plans
// (ordersV0.json and tokens_2021-03-01.json, "Usage Plan" tables).
var DefaultPlans = map[string]Plan{
	OpGetOrders:     {PerSecond: 0.0167, Burst: 20},
	OpGetOrder:      {PerSecond: 0.5, Burst: 30},
	OpGetOrderItems: {PerSecond: 0.5, Burst: 30},
	OpCreateRDT:     {PerSecond: 1, Burst: 10},
}

// buckets are this process's view of Amazon's token buckets, one per
// operation: a call is put off (a *connectors.DeferredError) rather than
// sent when Amazon would refuse it, and a 429 empties the bucket.
type buckets struct {
	mu sync.Mutex
	b  map[string]*bucket
}

type bucket struct {
	plan   Plan
	tokens float64
	at     time.Time
}

func (bs *buckets) get(op string, now time.Time) *bucket {
	b := bs.b[op]
	if b == nil {
		p := DefaultPlans[op]
		b = &bucket{plan: p, tokens: float64(p.Burst), at: now}
		bs.b[op] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(float64(b.plan.Burst), b.tokens+el*b.plan.PerSecond)
	}
	b.at = now
	return b
}

// take spends a token for op, or says when one will be there.
func (bs *buckets) take(op string, now time.Time) (time.Time, bool) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.get(op, now)
	if b.tokens >= 1 {
		b.tokens--
		return time.Time{}, true
	}
	return now.Add(b.refill(1 - b.tokens)), false
}

// refill is how long n tokens take to come.
func (b *bucket) refill(n float64) time.Duration {
	if b.plan.PerSecond <= 0 {
		return time.Minute
	}
	return time.Duration(math.Ceil(n / b.plan.PerSecond * float64(time.Second)))
}

// available is how many tokens op has now.
func (bs *buckets) available(op string, now time.Time) float64 {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.get(op, now).tokens
}

// waitFor is how long until op has n tokens, capped at its burst.
func (bs *buckets) waitFor(op string, n int, now time.Time) time.Duration {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.get(op, now)
	need := math.Min(float64(n), float64(b.plan.Burst)) - b.tokens
	if need <= 0 {
		return 0
	}
	return b.refill(need)
}

// throttled empties op's bucket after a 429 and returns how long until a
// token is back: Amazon sends no Retry-After (nothing documents one), so
// the wait is one token's refill at the plan's rate.
func (bs *buckets) throttled(op string, now time.Time) time.Duration {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	b := bs.get(op, now)
	b.tokens = 0
	return b.refill(1)
}

// observe adopts the rate Amazon states in x-amzn-RateLimit-Limit, the
// account's real plan (spec: "Your rate limit (requests per second) for
// this operation"). The burst is not stated: the default one stays.
func (bs *buckets) observe(op string, h http.Header, now time.Time) {
	v := h.Get("x-amzn-RateLimit-Limit")
	if v == "" {
		return
	}
	r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || r <= 0 || r > 1000 {
		return
	}
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.get(op, now).plan.PerSecond = r
}

// call is one SP-API request.
type call struct {
	op     string
	method string
	path   string
	query  url.Values
	body   []byte
	// rdt sends the restricted data token for this path instead of the
	// access token.
	rdt bool
}

// do sends cl, paced by op's bucket, and decodes a 2xx answer into out.
// An answer refusing the access token renews it and tries once more.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	for attempt := 0; ; attempt++ {
		if err := c.pace(ctx, cl.op); err != nil {
			return err
		}
		tok, err := c.credential(ctx, cl, attempt > 0)
		if err == nil {
			err = c.send(ctx, cl, tok, out)
		}
		var refused *tokenRefused
		if !errors.As(err, &refused) {
			return err
		}
		if attempt > 0 {
			return refused.APIError
		}
		// Renewed on the next attempt.
	}
}

// pace asks the shared limiter, when there is one, else this process's
// bucket. Nothing is sent when the budget is spent.
func (c *Client) pace(ctx context.Context, op string) error {
	if c.limiter != nil {
		if err := c.limiter.Acquire(ctx, c.limiterKey+":"+op); err != nil {
			if d, ok := connectors.Deferred(err); ok {
				d.System = System // the class stays the limiter's
			}
			return err
		}
		return nil
	}
	if until, ok := c.buckets.take(op, c.now()); !ok {
		return &connectors.DeferredError{System: System, Class: op, Until: until}
	}
	return nil
}

// tokenRefused is a 403 that refuses the token itself (expired, revoked,
// invalid): worth one renewal.
type tokenRefused struct{ *connectors.APIError }

func (c *Client) send(ctx context.Context, cl call, tok string, out any) error {
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("x-amz-access-token", tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "helpdesk-bridge (Language=Go)")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return connectors.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	now := c.now()
	c.buckets.observe(cl.op, resp.Header, now)
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
		if err != nil {
			return connectors.TransportError(ctx, err)
		}
		if len(data) > maxAnswerBytes {
			return fmt.Errorf("%w: answer larger than %d bytes", connectors.ErrUnavailable, maxAnswerBytes)
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				return fmt.Errorf("%w: undecodable answer: %w", connectors.ErrUnavailable, err)
			}
		}
		return nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	e := firstError(data)
	if resp.StatusCode == http.StatusTooManyRequests {
		wait := c.buckets.throttled(cl.op, now)
		if h := resp.Header.Get("Retry-After"); h != "" {
			wait = connectors.RetryAfter(resp.Header, now, wait)
		}
		if c.limiter != nil {
			_ = c.limiter.Penalize(context.WithoutCancel(ctx), c.limiterKey+":"+cl.op, wait)
		}
		return &connectors.RateLimitedError{RetryAfter: wait}
	}
	err = connectors.StatusError(resp, e.text(), now)
	var ae *connectors.APIError
	if errors.As(err, &ae) && resp.StatusCode == http.StatusForbidden && e.Code == "Unauthorized" && tokenProblem(e.Details) {
		// The token, not the permission: the caller renews it once. If
		// the renewed one is refused too, the seller's authorisation is.
		ae.Kind = connectors.ErrUnauthorized
		return &tokenRefused{ae}
	}
	return err
}

// tokenProblem tells a refused token (expired, revoked, malformed) from a
// refused permission by the details Amazon gives (models issues #2147,
// #4122). An empty details is a permission problem as far as we know.
func tokenProblem(details string) bool {
	d := strings.ToLower(details)
	return strings.Contains(d, "token") && (strings.Contains(d, "expired") || strings.Contains(d, "revoked") ||
		strings.Contains(d, "invalid") || strings.Contains(d, "malformed"))
}

// apiError is one of Amazon's {"errors":[{code, message, details}]}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}

func firstError(data []byte) apiError {
	var body struct {
		Errors []apiError `json:"errors"`
	}
	if json.Unmarshal(data, &body) != nil || len(body.Errors) == 0 {
		return apiError{}
	}
	return body.Errors[0]
}

// text is the error for humans: code, message and details, one bounded
// line. Amazon's messages name parameters, never buyer data we sent.
func (e apiError) text() string {
	s := strings.Join(strings.Fields(strings.Join([]string{e.Code, e.Message, e.Details}, " ")), " ")
	if utf8.RuneCountInString(s) > maxMessageLen {
		s = string([]rune(s)[:maxMessageLen]) + "…"
	}
	return s
}
