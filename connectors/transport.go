package connectors

import (
	"context"
	"io"
	"net/http"
	"time"
)

// Limiter paces calls to one external account. The bridge's limiter lives
// in Redis so that every replica shares the same budget.
type Limiter interface {
	// Acquire returns nil when a call to key may go now. When the budget
	// is spent it either waits briefly, or returns a *DeferredError saying
	// when to come back: a worker never sleeps on a rate limit.
	Acquire(ctx context.Context, key string) error
	// Penalize records that the vendor answered 429: no replica calls key
	// again before d has passed.
	Penalize(ctx context.Context, key string, d time.Duration) error
}

// CallObserver is told about every call a connector makes. status is 0 when
// no answer came back (timeout, refused connection).
type CallObserver interface {
	ObserveCall(system string, status int, elapsed time.Duration)
	ObserveLimiterWait(system string, waited time.Duration)
	// ObserveDeferral counts a call put off because its account's budget
	// was spent, by the priority class it was asked in.
	ObserveDeferral(system, class string)
}

// Transport is the http.RoundTripper every connector's client goes
// through: it asks the account's rate limiter before each call,
// reports each call, and turns a 429 into a penalty shared by all replicas.
type Transport struct {
	Base     http.RoundTripper // nil means http.DefaultTransport
	System   string            // "gorgias", "zendesk", ...
	Key      string            // the rate-limit key: one per vendor account
	Limiter  Limiter           // nil: no pacing
	Observer CallObserver      // nil: no accounting
	Now      func() time.Time  // nil: time.Now
	// Timeout bounds each call once the limiter let it go. Waiting for the
	// limiter does not count against it, as http.Client.Timeout would.
	Timeout time.Duration
	// Narrower, when set, names the rate-limit key of a vendor limit that
	// some of the account's calls count against besides the account's own
	// (Zendesk's Update Ticket), or "" for a call it does not cover.
	Narrower func(*http.Request) string
}

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	now := t.Now
	if now == nil {
		now = time.Now
	}
	ctx := req.Context()
	keys := []string{t.Key}
	if t.Narrower != nil {
		if k := t.Narrower(req); k != "" {
			// The narrower budget first: it is the one more often spent,
			// and a call it defers then takes nothing of the account's.
			keys = []string{k, t.Key}
		}
	}
	if t.Limiter != nil {
		start := now()
		for _, key := range keys {
			if err := t.Limiter.Acquire(ctx, key); err != nil {
				if d, ok := Deferred(err); ok {
					d.System = t.System
					if t.Observer != nil {
						t.Observer.ObserveDeferral(t.System, d.Class)
					}
				}
				return nil, err
			}
		}
		if t.Observer != nil {
			t.Observer.ObserveLimiterWait(t.System, now().Sub(start))
		}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	cancel := context.CancelFunc(func() {})
	if t.Timeout > 0 {
		var callCtx context.Context
		callCtx, cancel = context.WithTimeout(ctx, t.Timeout)
		req = req.WithContext(callCtx)
	}
	start := now()
	resp, err := base.RoundTrip(req)
	if err != nil {
		cancel()
	} else {
		resp.Body = cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	if t.Observer != nil {
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		t.Observer.ObserveCall(t.System, status, now().Sub(start))
	}
	if err == nil && resp.StatusCode == http.StatusTooManyRequests && t.Limiter != nil {
		// A penalty that cannot be recorded only costs us another 429.
		// Which of the limits answered is not said: every key the call
		// counts against waits.
		wait := RetryAfter(resp.Header, now(), time.Second)
		for _, key := range keys {
			_ = t.Limiter.Penalize(context.WithoutCancel(ctx), key, wait)
		}
	}
	return resp, err
}

// cancelOnClose ends a call's timeout when its body is closed, not before:
// the body is still being read after RoundTrip returns.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
