package connectors_test

import (
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// A call the rate limiter put off was never sent: it is neither uncertain
// (no settle delay, no look-up) nor permanent, and stays a deferral
// through the layers that wrap it.
func TestDeferredCallsAreNotUncertain(t *testing.T) {
	d := &connectors.DeferredError{System: "gorgias", Class: "alerts", Until: time.Now().Add(time.Second)}
	for name, err := range map[string]error{
		"as is":           d,
		"through http":    &url.Error{Op: "Post", URL: "https://acme.gorgias.com/api/tickets", Err: d},
		"wrapped":         fmt.Errorf("gorgias: create ticket: %w", &url.Error{Op: "Post", URL: "https://x", Err: d}),
		"transport error": connectors.TransportError(t.Context(), &url.Error{Op: "Post", URL: "https://x", Err: d}),
	} {
		got := connectors.Uncertain(err)
		if errors.Is(got, connectors.ErrUncertain) {
			t.Errorf("%s: %v is marked uncertain", name, got)
		}
		if _, ok := connectors.Deferred(got); !ok {
			t.Errorf("%s: %v is no longer a deferral", name, got)
		}
		if connectors.IsPermanent(got) || !connectors.IsRetryable(got) {
			t.Errorf("%s: %v: want retryable, not permanent", name, got)
		}
		if errors.Is(got, connectors.ErrUnavailable) {
			t.Errorf("%s: %v counts as the vendor being unavailable", name, got)
		}
	}
}
