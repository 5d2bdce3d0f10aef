// Live runs: a connector's contract test may also run against a real
// sandbox account. Its live harness calls LiveEnv with the environment
// variables holding the sandbox's URL and credentials; the test then runs
// only when they are all set AND go test was given -live, and skips
// otherwise, so that credentials lying in a shell or a CI environment never
// send a plain `go test ./...` to a real helpdesk. For example:
//
//	GORGIAS_LIVE_BASE_URL=… GORGIAS_LIVE_EMAIL=… GORGIAS_LIVE_API_KEY=… \
//		go test ./connectors/gorgias -run Live -live
//
// Against a live account the fault tests skip (Harness.Faults is nil), and
// every ticket the suite creates carries a fresh "helpdesktest-" external
// id, so runs never see each other's tickets.
package helpdesktest

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// live is registered here, once, for every connector's test binary:
// connectors call LiveEnv instead of defining their own flag.
var live = flag.Bool("live", false, "run connector contract tests against the live sandboxes configured in the environment")

// LiveEnv returns the named environment variables for a live run, and
// skips t unless -live was given and every one of them is set.
func LiveEnv(t *testing.T, names ...string) map[string]string {
	t.Helper()
	if !*live {
		t.Skip("live sandbox run: pass -live to enable")
	}
	env := make(map[string]string, len(names))
	var missing []string
	for _, name := range names {
		v := os.Getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		env[name] = v
	}
	if len(missing) > 0 {
		t.Skipf("live sandbox run: %s not set", strings.Join(missing, ", "))
	}
	return env
}

// RunConformanceTests runs the whole contract suite, each test against a
// fresh harness. Tests that need fault injection skip when the harness has
// none. The hang test recognises the ticket-creating request as a POST to a
// path ending in /tickets (or /tickets.json).
func RunConformanceTests(t *testing.T, newHarness HarnessMaker) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, h Harness)
	}{
		{"CreateIsIdempotent", testCreateIsIdempotent},
		{"CreateStoresTicket", testCreateStoresTicket},
		{"ExternalIDAtLimit", testExternalIDAtLimit},
		{"CreateAfterTrashMakesNewTicket", testCreateAfterTrash},
		{"UnknownTicketIsNotFound", testUnknownTicket},
		{"AddMessage", testAddMessage},
		{"SetTagsReplaces", testSetTags},
		{"SetStatus", testSetStatus},
		{"WrongCredentials", testWrongCredentials},
		{"InvalidTicket", testInvalidTicket},
		{"CancelledContext", testCancelled},
		{"RateLimited", testRateLimited},
		{"ServerErrors", testServerErrors},
		{"HungCreateThenRetry", testHungCreateThenRetry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newHarness(t))
		})
	}
}

// Test data stays within what every helpdesk keeps as given: lower-case
// emails, tags of lower-case letters and underscores (Zendesk rewrites
// others).
const (
	requesterEmail = "helpdesktest-requester@example.com"
	requesterName  = "Helpdesk Test"
	alertBody      = "Order 1042 has not shipped for 5 days. This is an internal note."
)

// newTicket returns a ticket to create, with an external id no other test
// or run uses.
func newTicket(t *testing.T) connectors.NewTicket {
	t.Helper()
	id := "helpdesktest-" + strings.ToLower(rand.Text())
	return connectors.NewTicket{
		ExternalID: id,
		Subject:    "Contract test " + id,
		Requester:  connectors.Person{Email: requesterEmail, Name: requesterName},
		Tags:       []string{"helpdesktest", "alert_late_shipment"},
		Language:   "en",
		Message:    connectors.Message{BodyText: alertBody, Internal: true},
	}
}

// wantTicket is what the connector must answer for nt.
func wantTicket(nt connectors.NewTicket, s connectors.Status) connectors.Ticket {
	return connectors.Ticket{
		ExternalID:     nt.ExternalID,
		Subject:        nt.Subject,
		Status:         s,
		Tags:           nt.Tags,
		RequesterEmail: nt.Requester.Email,
	}
}

// ticketOpts compares tickets whatever the helpdesk's id and tag order.
var ticketOpts = cmp.Options{
	cmpopts.IgnoreFields(connectors.Ticket{}, "ID"),
	cmpopts.SortSlices(func(a, b string) bool { return a < b }),
	cmpopts.EquateEmpty(),
}

var snapshotOpts = cmp.Options{
	cmpopts.SortSlices(func(a, b string) bool { return a < b }),
	cmpopts.EquateEmpty(),
}

// create creates nt and fails the test unless it was created.
func create(t *testing.T, h Harness, nt connectors.NewTicket) connectors.Ticket {
	t.Helper()
	tk, created, err := h.Helpdesk().CreateTicket(t.Context(), nt)
	if err != nil {
		t.Fatalf("CreateTicket: %v", err)
	}
	if !created {
		t.Fatalf("CreateTicket of a new external id: created = false, want true")
	}
	if tk.ID == "" {
		t.Fatalf("CreateTicket returned no ticket id")
	}
	return tk
}

func wantCount(t *testing.T, h Harness, externalID string, want int) {
	t.Helper()
	if got := h.TicketCount(t, externalID); got != want {
		t.Errorf("tickets with the external id = %d, want %d", got, want)
	}
}

func requireFaults(t *testing.T, h Harness) *fault.Injector {
	t.Helper()
	f := h.Faults()
	if f == nil {
		t.Skip("no fault injection against this account")
	}
	return f
}

func testCreateIsIdempotent(t *testing.T, h Harness) {
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	first := create(t, h, nt)
	if diff := cmp.Diff(wantTicket(nt, connectors.StatusOpen), first, ticketOpts); diff != "" {
		t.Errorf("created ticket (-want +got):\n%s", diff)
	}

	second, created, err := hd.CreateTicket(ctx, nt)
	if err != nil {
		t.Fatalf("second CreateTicket: %v", err)
	}
	if created || second.ID != first.ID {
		t.Errorf("second CreateTicket = id %s, created %t; want id %s, created false", second.ID, created, first.ID)
	}
	wantCount(t, h, nt.ExternalID, 1)

	found, err := hd.FindTicket(ctx, nt.ExternalID)
	if err != nil {
		t.Fatalf("FindTicket: %v", err)
	}
	got, err := hd.GetTicket(ctx, first.ID)
	if err != nil {
		t.Fatalf("GetTicket: %v", err)
	}
	for name, tk := range map[string]connectors.Ticket{"FindTicket": found, "GetTicket": got} {
		if tk.ID != first.ID {
			t.Errorf("%s: id = %s, want %s", name, tk.ID, first.ID)
		}
		if diff := cmp.Diff(wantTicket(nt, connectors.StatusOpen), tk, ticketOpts); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func testCreateStoresTicket(t *testing.T, h Harness) {
	nt := newTicket(t)
	tk := create(t, h, nt)
	want := Snapshot{
		ExternalID:     nt.ExternalID,
		Subject:        nt.Subject,
		Status:         connectors.StatusOpen,
		Tags:           nt.Tags,
		RequesterEmail: requesterEmail,
		RequesterName:  requesterName,
		Messages:       []SnapshotMessage{{BodyText: alertBody, Internal: true}},
	}
	if diff := cmp.Diff(want, h.Inspect(t, tk.ID), snapshotOpts); diff != "" {
		t.Errorf("stored ticket (-want +got):\n%s", diff)
	}
}

func testExternalIDAtLimit(t *testing.T, h Harness) {
	nt := newTicket(t)
	nt.ExternalID += strings.Repeat("x", connectors.MaxExternalIDLen-len(nt.ExternalID))
	first := create(t, h, nt)
	again, created, err := h.Helpdesk().CreateTicket(t.Context(), nt)
	if err != nil {
		t.Fatalf("second CreateTicket: %v", err)
	}
	if created || again.ID != first.ID {
		t.Errorf("second CreateTicket = id %s, created %t; want id %s, created false", again.ID, created, first.ID)
	}
	wantCount(t, h, nt.ExternalID, 1)
}

func testCreateAfterTrash(t *testing.T, h Harness) {
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	old := create(t, h, nt)
	h.Trash(t, old.ID)

	if _, err := hd.FindTicket(ctx, nt.ExternalID); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("FindTicket after trash: err = %v, want ErrNotFound", err)
	}
	fresh, created, err := hd.CreateTicket(ctx, nt)
	if err != nil {
		t.Fatalf("CreateTicket after trash: %v", err)
	}
	if !created || fresh.ID == old.ID {
		t.Errorf("CreateTicket after trash = id %s, created %t; want a new ticket (old id %s)", fresh.ID, created, old.ID)
	}
	found, err := hd.FindTicket(ctx, nt.ExternalID)
	if err != nil || found.ID != fresh.ID {
		t.Errorf("FindTicket = id %s, err %v; want id %s", found.ID, err, fresh.ID)
	}
	wantCount(t, h, nt.ExternalID, 2)
}

func testUnknownTicket(t *testing.T, h Harness) {
	ctx, hd := t.Context(), h.Helpdesk()
	_, err := hd.FindTicket(ctx, newTicket(t).ExternalID)
	if !errors.Is(err, connectors.ErrNotFound) || connectors.IsRetryable(err) {
		t.Errorf("FindTicket of an unknown external id: err = %v, want ErrNotFound, not retryable", err)
	}
	_, err = hd.GetTicket(ctx, "999999999")
	if !errors.Is(err, connectors.ErrNotFound) || connectors.IsRetryable(err) {
		t.Errorf("GetTicket of an unknown id: err = %v, want ErrNotFound, not retryable", err)
	}
}

func testAddMessage(t *testing.T, h Harness) {
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	tk := create(t, h, nt)
	note := connectors.Message{BodyText: "The carrier confirmed a delay.", Internal: true}
	reply := connectors.Message{BodyText: "Any news about my parcel?", FromCustomer: true, Author: nt.Requester}
	for _, m := range []connectors.Message{note, reply} {
		if err := hd.AddMessage(ctx, tk.ID, m); err != nil {
			t.Fatalf("AddMessage: %v", err)
		}
	}
	want := []SnapshotMessage{
		{BodyText: alertBody, Internal: true},
		{BodyText: note.BodyText, Internal: true},
		{BodyText: reply.BodyText, FromCustomer: true},
	}
	if diff := cmp.Diff(want, h.Inspect(t, tk.ID).Messages); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}

func testSetTags(t *testing.T, h Harness) {
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	tk := create(t, h, nt)
	for _, tags := range [][]string{{"helpdesktest", "alert_resolved"}, nil} {
		if err := hd.SetTags(ctx, tk.ID, tags); err != nil {
			t.Fatalf("SetTags(%q): %v", tags, err)
		}
		if diff := cmp.Diff(tags, h.Inspect(t, tk.ID).Tags, snapshotOpts); diff != "" {
			t.Errorf("stored tags after SetTags(%q) (-want +got):\n%s", tags, diff)
		}
		got, err := hd.GetTicket(ctx, tk.ID)
		if err != nil {
			t.Fatalf("GetTicket: %v", err)
		}
		if diff := cmp.Diff(tags, got.Tags, snapshotOpts); diff != "" {
			t.Errorf("GetTicket tags after SetTags(%q) (-want +got):\n%s", tags, diff)
		}
	}
}

func testSetStatus(t *testing.T, h Harness) {
	ctx, hd := t.Context(), h.Helpdesk()
	tk := create(t, h, newTicket(t))
	for _, s := range []connectors.Status{connectors.StatusSolved, connectors.StatusOpen} {
		if err := hd.SetStatus(ctx, tk.ID, s); err != nil {
			t.Fatalf("SetStatus(%s): %v", s, err)
		}
		if got := h.Inspect(t, tk.ID).Status; got != s {
			t.Errorf("stored status after SetStatus(%s) = %s", s, got)
		}
		got, err := hd.GetTicket(ctx, tk.ID)
		if err != nil {
			t.Fatalf("GetTicket: %v", err)
		}
		if got.Status != s {
			t.Errorf("GetTicket status after SetStatus(%s) = %s", s, got.Status)
		}
	}
}

func testWrongCredentials(t *testing.T, h Harness) {
	ctx, wrong, nt := t.Context(), h.WrongCredentials(), newTicket(t)
	_, _, err := wrong.CreateTicket(ctx, nt)
	if !errors.Is(err, connectors.ErrUnauthorized) || connectors.IsRetryable(err) {
		t.Errorf("CreateTicket with wrong credentials: err = %v, want ErrUnauthorized, not retryable", err)
	}
	if _, err := wrong.FindTicket(ctx, nt.ExternalID); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("FindTicket with wrong credentials: err = %v, want ErrUnauthorized", err)
	}
	wantCount(t, h, nt.ExternalID, 0)
}

func testInvalidTicket(t *testing.T, h Harness) {
	tests := []struct {
		name       string
		externalID string
	}{
		{"external id over the limit", strings.Repeat("x", connectors.MaxExternalIDLen+1)},
		{"no external id", ""},
	}
	for _, tc := range tests {
		nt := newTicket(t)
		nt.ExternalID = tc.externalID
		_, _, err := h.Helpdesk().CreateTicket(t.Context(), nt)
		if !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) {
			t.Errorf("%s: err = %v, want ErrInvalid, not retryable", tc.name, err)
		}
	}
}

func testCancelled(t *testing.T, h Harness) {
	hd, nt := h.Helpdesk(), newTicket(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	_, _, err := hd.CreateTicket(ctx, nt)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("CreateTicket with a cancelled context: err = %v, want context.Canceled", err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("CreateTicket with a cancelled context took %s", elapsed)
	}

	if faults := h.Faults(); faults != nil {
		// Cancelled while the helpdesk has not answered yet.
		faults.Push(fault.Fault{Hang: 5 * time.Second})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := hd.FindTicket(ctx, nt.ExternalID)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("FindTicket cancelled in flight: err = %v, want context.Canceled", err)
		}
		if elapsed := time.Since(start); elapsed > 800*time.Millisecond {
			t.Errorf("FindTicket cancelled in flight returned after %s", elapsed)
		}
	}
	wantCount(t, h, nt.ExternalID, 0)
}

func testRateLimited(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	hd, nt := h.Helpdesk(), newTicket(t)
	faults.Push(fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
	_, _, err := hd.CreateTicket(t.Context(), nt)
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("CreateTicket answered 429: err = %v, want a *RateLimitedError", err)
	}
	if rl.RetryAfter != 7*time.Second {
		t.Errorf("RetryAfter = %s, want 7s", rl.RetryAfter)
	}
	if d, ok := connectors.RetryDelay(err); !ok || d != 7*time.Second || !connectors.IsRetryable(err) {
		t.Errorf("RetryDelay = %s, %t; IsRetryable = %t; want 7s, true, true", d, ok, connectors.IsRetryable(err))
	}
	// The retry the caller makes after waiting succeeds.
	create(t, h, nt)
	wantCount(t, h, nt.ExternalID, 1)
}

func testServerErrors(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	hd, nt := h.Helpdesk(), newTicket(t)
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		faults.Push(fault.Fault{Status: status})
		_, _, err := hd.CreateTicket(t.Context(), nt)
		if !errors.Is(err, connectors.ErrUnavailable) || !connectors.IsRetryable(err) {
			t.Errorf("CreateTicket answered %d: err = %v, want ErrUnavailable, retryable", status, err)
		}
	}
	create(t, h, nt)
	wantCount(t, h, nt.ExternalID, 1)
}

// isTicketCreate recognises the request that creates a ticket.
func isTicketCreate(r *http.Request) bool {
	p := strings.TrimSuffix(r.URL.Path, ".json")
	return r.Method == http.MethodPost && strings.HasSuffix(p, "/tickets")
}

func testHungCreateThenRetry(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	hd, nt := h.Helpdesk(), newTicket(t)
	// The ticket is created but its answer never comes back in time: the
	// worst case for idempotency.
	faults.Push(fault.Fault{After: true, Hang: 5 * time.Second, Match: isTicketCreate})
	start := time.Now()
	_, _, err := hd.CreateTicket(t.Context(), nt)
	elapsed := time.Since(start)
	if faults.Pending() != 0 {
		t.Fatalf("CreateTicket made no ticket-creating request (POST …/tickets)")
	}
	if err == nil || !connectors.IsRetryable(err) || errors.Is(err, context.Canceled) {
		t.Errorf("CreateTicket whose answer hung: err = %v, want a retryable timeout", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("CreateTicket waited %s for a hung answer: the harness's client timeout must be at most 1 s", elapsed)
	}

	retry, created, err := hd.CreateTicket(t.Context(), nt)
	if err != nil {
		t.Fatalf("retried CreateTicket: %v", err)
	}
	if created {
		t.Errorf("retried CreateTicket created a second ticket")
	}
	wantCount(t, h, nt.ExternalID, 1)
	if found, err := hd.FindTicket(t.Context(), nt.ExternalID); err != nil || found.ID != retry.ID {
		t.Errorf("FindTicket = id %s, err %v; want id %s", found.ID, err, retry.ID)
	}
}
