package connectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The error vocabulary. Connectors wrap one of these (or return a
// *RateLimitedError or *APIError that unwraps to one) so that callers
// classify failures with errors.Is, never by string.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrInvalid      = errors.New("invalid request")
	ErrConflict     = errors.New("conflict")
	ErrTooLarge     = errors.New("payload too large")
	// ErrUnavailable covers 5xx answers, timeouts and network failures: the
	// same call may succeed later.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrUncertain marks a failed write that may have taken effect anyway:
	// no answer, a cut answer or a 5xx. The vendor may still be handling
	// it, so writing again at once could write twice (see Uncertain).
	ErrUncertain = errors.New("the write may have taken effect")
)

// Uncertain marks err, the failure of a write that is not idempotent, with
// ErrUncertain when the write may have happened: the request may have
// reached the vendor and no refusal came back. A 429 or another 4xx is a
// refusal, and a call the rate limiter put off was never sent: both are
// returned as they are.
func Uncertain(err error) error {
	if err == nil || errors.Is(err, ErrUncertain) {
		return err
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return err
	}
	if _, ok := Deferred(err); ok {
		return err // the limiter put the call off: nothing was sent
	}
	if IsRetryable(err) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%w: %w", ErrUncertain, err)
	}
	return err
}

// SettleError says that a write whose outcome is unknown may still land:
// the vendor may be handling it. Looking it up now could miss it and write
// it twice, so the caller comes back after RetryAfter, when the vendor has
// had time to finish, and looks again. It is retryable.
type SettleError struct {
	RetryAfter time.Duration
	// Err is the uncertain failure, when this attempt had it.
	Err error
}

func (e *SettleError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v; looking again in %s, once the vendor has settled it", e.Err, e.RetryAfter.Round(time.Millisecond))
	}
	return fmt.Sprintf("an earlier write may still land; looking again in %s", e.RetryAfter.Round(time.Millisecond))
}

func (e *SettleError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrUnavailable, e.Err}
	}
	return []error{ErrUnavailable}
}

// RateLimitedError is a 429: the caller must wait RetryAfter before the
// next call to the same account.
type RateLimitedError struct {
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited, retry after %s", e.RetryAfter)
}

// DeferredError says that the account's budget is spent for now: nothing
// was sent, and the caller's task should give its worker back and come
// again at Until. It is no failure, and costs the task none of its retries.
type DeferredError struct {
	System string // the external system, for metrics: "gorgias", ...
	Class  string // the priority class the call was paced in
	Until  time.Time
}

func (e *DeferredError) Error() string {
	return fmt.Sprintf("%s budget spent for %s work: deferred until %s", e.System, e.Class, e.Until.UTC().Format(time.RFC3339Nano))
}

// Deferred returns the deferral in err's chain, if any.
func Deferred(err error) (*DeferredError, bool) {
	var d *DeferredError
	ok := errors.As(err, &d)
	return d, ok
}

// APIError is an error answer from a vendor API. It unwraps to the
// vocabulary error its status maps to.
type APIError struct {
	Status  int
	Message string // the vendor's own message, never customer data we sent
	Kind    error
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("HTTP %d: %v", e.Status, e.Kind)
	}
	return fmt.Sprintf("HTTP %d: %v: %s", e.Status, e.Kind, e.Message)
}

func (e *APIError) Unwrap() error { return e.Kind }

// StatusError maps an HTTP error status to the vocabulary. A 429 becomes a
// *RateLimitedError that honours the Retry-After header.
func StatusError(resp *http.Response, message string, now time.Time) error {
	if resp.StatusCode == http.StatusTooManyRequests {
		return &RateLimitedError{RetryAfter: RetryAfter(resp.Header, now, time.Second)}
	}
	var kind error
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		kind = ErrUnauthorized
	case resp.StatusCode == http.StatusForbidden:
		kind = ErrForbidden
	case resp.StatusCode == http.StatusNotFound:
		kind = ErrNotFound
	case resp.StatusCode == http.StatusConflict:
		kind = ErrConflict
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		kind = ErrTooLarge
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		kind = ErrUnavailable
	default:
		kind = ErrInvalid
	}
	return &APIError{Status: resp.StatusCode, Message: message, Kind: kind}
}

// RetryAfter reads a Retry-After header given in seconds or as an HTTP date.
// A missing or unreadable header yields fallback.
func RetryAfter(h http.Header, now time.Time, fallback time.Duration) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return fallback
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
		return 0
	}
	return fallback
}

// TransportError wraps a failure to get an answer at all (timeout, refused
// connection) as ErrUnavailable, unless the caller's own context ended.
// The URL in the error keeps only its scheme and host: paths and queries
// may carry access tokens (attachments' URLs do), and errors get logged.
func TransportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if d, ok := Deferred(err); ok {
		return d // nothing was sent: not an uncertain call
	}
	if ue, ok := err.(*url.Error); ok {
		err = &url.Error{Op: ue.Op, URL: hostOnly(ue.URL), Err: ue.Err}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

// hostOnly is a URL's scheme and host, or a placeholder.
func hostOnly(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(url withheld)"
	}
	return u.Scheme + "://" + u.Host
}

// IsRetryable tells whether the same call may succeed later. Rate limits,
// 5xx answers, timeouts and network failures are retryable; everything the
// vendor refused on its merits (auth, validation, not found) is permanent.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return true
	}
	if _, ok := Deferred(err); ok {
		return true
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return false
}

// IsPermanent tells whether err is the external system refusing the
// request on its merits (credentials, permission, content, a missing
// object): trying again cannot help. Retryable errors are never permanent.
func IsPermanent(err error) bool {
	if err == nil || IsRetryable(err) {
		return false
	}
	for _, permanent := range []error{ErrUnauthorized, ErrForbidden, ErrInvalid, ErrNotFound, ErrConflict, ErrTooLarge} {
		if errors.Is(err, permanent) {
			return true
		}
	}
	return false
}

// RetryDelay returns how long to wait before retrying err, when the vendor
// said so (Retry-After) or an uncertain write must settle, and false
// otherwise.
func RetryDelay(err error) (time.Duration, bool) {
	var rl *RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	var se *SettleError
	if errors.As(err, &se) {
		return se.RetryAfter, true
	}
	return 0, false
}

// WithholdQuoted drops a vendor's message from an error when it quotes
// the body of the reply it refused, which is customer-facing content and
// must not reach the logs.
func WithholdQuoted(err error, body string) error {
	var apiErr *APIError
	if body == "" || !errors.As(err, &apiErr) || apiErr.Message == "" {
		return err
	}
	probe := strings.TrimSpace(body)
	if n := 20; utf8.RuneCountInString(probe) > n {
		probe = string([]rune(probe)[:n])
	}
	if strings.Contains(apiErr.Message, probe) {
		apiErr.Message = "[message withheld: it quotes the reply]"
	}
	return err
}

// ShortID keeps ids readable in error strings even when a caller passed
// something huge.
func ShortID(id string) string {
	const max = 64
	if utf8.RuneCountInString(id) <= max {
		return id
	}
	return string([]rune(id)[:max]) + "…"
}
