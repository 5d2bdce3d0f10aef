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
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"io"
	"mime"
	"net/http"
	"net/url"
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
		{"AppendMirroredMessagesWithFiles", testAppendMirrored},
		{"AppendSameExternalIDTwice", testAppendTwice},
		{"AppendAfterLostAnswer", testAppendAfterLostAnswer},
		{"CreateWithFiles", testCreateWithFiles},
		{"CreateWithCustomerMessage", testCreateWithCustomerMessage},
		{"InvalidMessage", testInvalidMessage},
		{"WebhookAgentReply", testWebhookAgentReply},
		{"WebhookDeliveredTwice", testWebhookTwice},
		{"WebhookInternalNoteIsNoReply", testWebhookInternalNote},
		{"WebhookRefusesUnauthenticated", testWebhookUnauthenticated},
		{"WebhookRefusesMalformed", testWebhookMalformed},
		{"WebhookRefusesStale", testWebhookStale},
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
	_, err = hd.ListMessages(ctx, "999999999")
	if !errors.Is(err, connectors.ErrNotFound) || connectors.IsRetryable(err) {
		t.Errorf("ListMessages of an unknown id: err = %v, want ErrNotFound, not retryable", err)
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
		// Well under the 5 s hang: a loaded machine may take a second
		// to schedule the cancellation.
		if elapsed := time.Since(start); elapsed > 2500*time.Millisecond {
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

// Files a marketplace message carries: binary content, so that a
// connector that mangles bytes (text decoding, base64 twice) is caught.
var (
	photo   = connectors.File{Name: "damaged-box.png", ContentType: "image/png", Data: append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 255, 7, 128}, 64)...)}
	invoice = connectors.File{Name: "invoice-1042.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n")}
)

// operatorName is how a marketplace operator signs.
const operatorName = "Marketplace operator"

// messages lists the ticket's messages and fails the test on error.
func messages(t *testing.T, h Harness, ticketID string) []connectors.TicketMessage {
	t.Helper()
	msgs, err := h.Helpdesk().ListMessages(t.Context(), ticketID)
	if err != nil {
		t.Fatalf("ListMessages: %v", err)
	}
	return msgs
}

// withExternalID returns the messages carrying this external id.
func withExternalID(msgs []connectors.TicketMessage, externalID string) []connectors.TicketMessage {
	var out []connectors.TicketMessage
	for _, m := range msgs {
		if m.ExternalID == externalID {
			out = append(out, m)
		}
	}
	return out
}

// one returns the only message with this external id.
func one(t *testing.T, msgs []connectors.TicketMessage, externalID string) connectors.TicketMessage {
	t.Helper()
	found := withExternalID(msgs, externalID)
	if len(found) != 1 {
		t.Fatalf("messages with external id %q: %d, want 1", externalID, len(found))
	}
	return found[0]
}

// wantFiles checks that a stored message has exactly these files, and that
// each downloads byte for byte with its content type.
func wantFiles(t *testing.T, h Harness, m connectors.TicketMessage, files ...connectors.File) {
	t.Helper()
	if len(m.Attachments) != len(files) {
		t.Fatalf("message %s has %d attachments, want %d", m.ID, len(m.Attachments), len(files))
	}
	for i, f := range files {
		a := m.Attachments[i]
		if a.Name != f.Name || a.URL == "" {
			t.Errorf("attachment %d = name %q, url set %t; want name %q with a url", i, a.Name, a.URL != "", f.Name)
		}
		if err := h.Helpdesk().CheckFileURL(a.URL); err != nil {
			t.Errorf("CheckFileURL(%s) refuses the helpdesk's own attachment: %v", f.Name, err)
		}
		body, contentType, err := h.Helpdesk().DownloadAttachment(t.Context(), a.URL)
		if err != nil {
			t.Errorf("DownloadAttachment(%s): %v", f.Name, err)
			continue
		}
		data, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			t.Errorf("reading %s: %v", f.Name, err)
			continue
		}
		if !bytes.Equal(data, f.Data) {
			t.Errorf("%s downloaded as %d bytes that differ from the %d uploaded", f.Name, len(data), len(f.Data))
		}
		if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != f.ContentType {
			t.Errorf("%s downloaded as %q, want %q", f.Name, contentType, f.ContentType)
		}
		wantForeignHostRefused(t, h, a.URL)
	}
}

// wantForeignHostRefused checks that the same attachment URL moved to a
// host the account does not serve files from is refused, by CheckFileURL
// and by DownloadAttachment, before any request.
func wantForeignHostRefused(t *testing.T, h Harness, own string) {
	t.Helper()
	u, err := url.Parse(own)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"files.example.net", "169.254.169.254", "10.0.0.5:8080"} {
		u.Host = host
		if err := h.Helpdesk().CheckFileURL(u.String()); !errors.Is(err, connectors.ErrRefusedURL) {
			t.Errorf("CheckFileURL on %s: %v, want ErrRefusedURL", host, err)
		}
		body, _, err := h.Helpdesk().DownloadAttachment(t.Context(), u.String())
		if err == nil {
			body.Close()
		}
		if !errors.Is(err, connectors.ErrRefusedURL) {
			t.Errorf("DownloadAttachment on %s: %v, want ErrRefusedURL", host, err)
		} else if strings.Contains(err.Error(), u.Path) && u.Path != "/" && u.Path != "" {
			t.Errorf("the refusal shows the URL's path: %v", err)
		}
	}
}

func testAppendMirrored(t *testing.T, h Harness) {
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	tk := create(t, h, nt)
	customer := connectors.Message{
		BodyText:     "The parcel arrived damaged, see the photo.",
		BodyHTML:     "<p>The parcel arrived <b>damaged</b>, see the photo.</p>",
		FromCustomer: true,
		Author:       nt.Requester,
		ExternalID:   "helpdesktest-msg-customer",
		Files:        []connectors.File{photo},
		SentAt:       time.Now().Add(-time.Hour),
	}
	operator := connectors.Message{
		BodyText:     "Please refund the customer; the invoice is attached.",
		FromOperator: true,
		Author:       connectors.Person{Name: operatorName},
		ExternalID:   "helpdesktest-msg-operator",
		Files:        []connectors.File{invoice, photo},
	}
	for _, m := range []connectors.Message{customer, operator} {
		if err := hd.AddMessage(ctx, tk.ID, m); err != nil {
			t.Fatalf("AddMessage(%s): %v", m.ExternalID, err)
		}
	}
	msgs := messages(t, h, tk.ID)
	if len(msgs) != 3 {
		t.Fatalf("ListMessages = %d messages, want 3 (the alert, the customer's, the operator's)", len(msgs))
	}
	if msgs[0].BodyText != alertBody || !msgs[0].Internal || msgs[1].ExternalID != customer.ExternalID || msgs[2].ExternalID != operator.ExternalID {
		t.Errorf("ListMessages is not oldest first: external ids %q, %q, %q", msgs[0].ExternalID, msgs[1].ExternalID, msgs[2].ExternalID)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		if m.ID == "" || ids[m.ID] || m.CreatedAt.IsZero() {
			t.Errorf("message id %q (seen before: %t), created at %v: want a distinct id and a time", m.ID, ids[m.ID], m.CreatedAt)
		}
		ids[m.ID] = true
	}

	c := one(t, msgs, customer.ExternalID)
	if !c.FromCustomer || c.Internal || !strings.Contains(c.BodyText, "arrived damaged") {
		t.Errorf("customer message = from customer %t, internal %t, text %q; want a public message from the customer", c.FromCustomer, c.Internal, c.BodyText)
	}
	if c.Author.Email != nt.Requester.Email {
		t.Errorf("customer message author is not the requester")
	}
	wantFiles(t, h, c, photo)

	o := one(t, msgs, operator.ExternalID)
	if o.FromCustomer || !o.Internal || !strings.Contains(o.BodyText, operator.BodyText) || !strings.Contains(o.BodyText, operatorName) {
		t.Errorf("operator message = from customer %t, internal %t, text %q; want an internal note naming %q", o.FromCustomer, o.Internal, o.BodyText, operatorName)
	}
	wantFiles(t, h, o, invoice, photo)
}

func testAppendTwice(t *testing.T, h Harness) {
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	tk := create(t, h, nt)
	m := connectors.Message{
		BodyText: "Any news about my parcel?", FromCustomer: true, Author: nt.Requester,
		ExternalID: "helpdesktest-msg-twice", Files: []connectors.File{photo},
	}
	for i := range 2 {
		if err := hd.AddMessage(ctx, tk.ID, m); err != nil {
			t.Fatalf("AddMessage #%d: %v", i+1, err)
		}
	}
	msgs := messages(t, h, tk.ID)
	if n := len(withExternalID(msgs, m.ExternalID)); n != 1 || len(msgs) != 2 {
		t.Fatalf("after two AddMessage with one external id: %d with it, %d in all; want 1 and 2", n, len(msgs))
	}
	wantFiles(t, h, one(t, msgs, m.ExternalID), photo)

	// Another external id is another message.
	m.ExternalID += "-next"
	if err := hd.AddMessage(ctx, tk.ID, m); err != nil {
		t.Fatalf("AddMessage with another external id: %v", err)
	}
	if n := len(messages(t, h, tk.ID)); n != 3 {
		t.Errorf("messages after a new external id = %d, want 3", n)
	}
}

// isMessageAppend recognises the request that appends a message: Gorgias
// POSTs to …/tickets/{id}/messages, Zendesk PUTs the ticket.
func isMessageAppend(r *http.Request) bool {
	p := strings.TrimSuffix(r.URL.Path, ".json")
	if r.Method == http.MethodPost {
		return strings.HasSuffix(p, "/messages")
	}
	if r.Method != http.MethodPut {
		return false
	}
	i := strings.LastIndex(p, "/tickets/")
	return i >= 0 && strings.Trim(p[i+len("/tickets/"):], "0123456789") == ""
}

func testAppendAfterLostAnswer(t *testing.T, h Harness) {
	faults := requireFaults(t, h)
	ctx, hd, nt := t.Context(), h.Helpdesk(), newTicket(t)
	tk := create(t, h, nt)
	m := connectors.Message{BodyText: "Is it shipped yet?", FromCustomer: true, Author: nt.Requester, ExternalID: "helpdesktest-msg-lost"}
	// The message is written but its answer never comes back in time.
	faults.Push(fault.Fault{After: true, Hang: 5 * time.Second, Match: isMessageAppend})
	err := hd.AddMessage(ctx, tk.ID, m)
	if faults.Pending() != 0 {
		t.Fatalf("AddMessage made no message-appending request")
	}
	if err == nil || !connectors.IsRetryable(err) {
		t.Errorf("AddMessage whose answer hung: err = %v, want a retryable error", err)
	}
	if err := hd.AddMessage(ctx, tk.ID, m); err != nil {
		t.Fatalf("retried AddMessage: %v", err)
	}
	if n := len(withExternalID(messages(t, h, tk.ID), m.ExternalID)); n != 1 {
		t.Errorf("messages with the external id after a lost answer and a retry = %d, want 1", n)
	}
}

func testCreateWithFiles(t *testing.T, h Harness) {
	nt := newTicket(t)
	nt.Message.Files = []connectors.File{invoice}
	nt.Message.ExternalID = "helpdesktest-msg-first"
	tk := create(t, h, nt)
	msgs := messages(t, h, tk.ID)
	if len(msgs) != 1 {
		t.Fatalf("a new ticket has %d messages, want 1", len(msgs))
	}
	if msgs[0].ExternalID != nt.Message.ExternalID {
		t.Errorf("the first message's external id = %q, want %q", msgs[0].ExternalID, nt.Message.ExternalID)
	}
	wantFiles(t, h, msgs[0], invoice)
	// Appending it again finds it.
	if err := h.Helpdesk().AddMessage(t.Context(), tk.ID, nt.Message); err != nil {
		t.Fatal(err)
	}
	if n := len(messages(t, h, tk.ID)); n != 1 {
		t.Errorf("appending the first message again made %d messages, want 1", n)
	}
}

// testCreateWithCustomerMessage: a ticket opened by a customer's message
// (a mirrored thread's first one) shows that message as the customer's,
// as every later one is, not as written by the bridge's API user.
func testCreateWithCustomerMessage(t *testing.T, h Harness) {
	nt := newTicket(t)
	nt.Message = connectors.Message{
		BodyText: "Where is my parcel?", FromCustomer: true, Author: nt.Requester,
		ExternalID: "helpdesktest-msg-first", SentAt: time.Now().Add(-time.Hour),
	}
	tk := create(t, h, nt)
	msgs := messages(t, h, tk.ID)
	if len(msgs) != 1 {
		t.Fatalf("ListMessages = %d messages, want 1", len(msgs))
	}
	if m := msgs[0]; !m.FromCustomer || m.Internal || m.Author.Email != nt.Requester.Email {
		t.Errorf("first message: from customer %t, internal %t, author is the requester %t; want a public message by the requester",
			m.FromCustomer, m.Internal, m.Author.Email == nt.Requester.Email)
	}
}

func testInvalidMessage(t *testing.T, h Harness) {
	tk := create(t, h, newTicket(t))
	tests := []struct {
		name string
		msg  connectors.Message
	}{
		{"no body", connectors.Message{FromCustomer: true}},
		{"operator without a name", connectors.Message{BodyText: "Refund.", FromOperator: true}},
		{"both operator and customer", connectors.Message{BodyText: "Refund.", FromOperator: true, FromCustomer: true, Author: connectors.Person{Name: operatorName}}},
		{"file without content", connectors.Message{BodyText: "See file.", Internal: true, Files: []connectors.File{{Name: "empty.txt"}}}},
		{"external id over the limit", connectors.Message{BodyText: "Hi.", Internal: true, ExternalID: strings.Repeat("x", connectors.MaxExternalIDLen+1)}},
	}
	for _, tc := range tests {
		err := h.Helpdesk().AddMessage(t.Context(), tk.ID, tc.msg)
		if !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) {
			t.Errorf("%s: err = %v, want ErrInvalid, not retryable", tc.name, err)
		}
	}
	if n := len(messages(t, h, tk.ID)); n != 1 {
		t.Errorf("invalid messages were stored: %d messages, want 1", n)
	}
}

func requireWebhooks(t *testing.T, h Harness) WebhookHarness {
	t.Helper()
	wh := h.Webhooks()
	if wh == nil {
		t.Skip("no agent replies against this account")
	}
	return wh
}

// replies parses every delivery with the right secret, fails the test on
// a refusal, and returns the events that are agents' replies.
func replies(t *testing.T, wh WebhookHarness, ds []Delivery) []connectors.WebhookEvent {
	t.Helper()
	var out []connectors.WebhookEvent
	for i, d := range ds {
		ev, err := wh.ParseWebhook(d, wh.Secret(), d.At)
		if err != nil {
			t.Fatalf("ParseWebhook of delivery %d: %v", i, err)
		}
		if ev.AgentReply {
			out = append(out, ev)
		}
	}
	return out
}

// agentReply makes a public reply and returns its one delivery.
func agentReply(t *testing.T, h Harness, wh WebhookHarness) Delivery {
	t.Helper()
	tk := create(t, h, newTicket(t))
	ds := wh.AgentReply(t, tk.ID, AgentReply{BodyText: "We are on it."})
	for _, d := range ds {
		if ev, err := wh.ParseWebhook(d, wh.Secret(), d.At); err == nil && ev.AgentReply {
			return d
		}
	}
	t.Fatalf("an agent's public reply made no delivery that parses as a reply (%d deliveries)", len(ds))
	return Delivery{}
}

func testWebhookAgentReply(t *testing.T, h Harness) {
	wh := requireWebhooks(t, h)
	nt := newTicket(t)
	tk := create(t, h, nt)
	reply := AgentReply{
		BodyText: "We are sending a new parcel today.",
		BodyHTML: "<p>We are sending a <i>new</i> parcel today.</p>",
		Status:   connectors.StatusSolved,
		Files:    []connectors.File{photo},
	}
	evs := replies(t, wh, wh.AgentReply(t, tk.ID, reply))
	if len(evs) != 1 {
		t.Fatalf("an agent's public reply made %d reply events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.TicketID != tk.ID || ev.Status != connectors.StatusSolved || ev.DeliveryID == "" {
		t.Errorf("event = ticket %s, status %q, delivery id %q; want ticket %s, solved, a delivery id", ev.TicketID, ev.Status, ev.DeliveryID, tk.ID)
	}
	msgs := messages(t, h, tk.ID)
	last := msgs[len(msgs)-1]
	if last.Internal || last.FromCustomer || last.ExternalID != "" || !strings.Contains(last.BodyText, "new parcel") {
		t.Errorf("the reply as listed = internal %t, from customer %t, external id %q, text %q; want a public agent message the bridge did not write",
			last.Internal, last.FromCustomer, last.ExternalID, last.BodyText)
	}
	if ev.MessageID != "" && ev.MessageID != last.ID {
		t.Errorf("event message id = %s, want the reply's id %s", ev.MessageID, last.ID)
	}
	wantFiles(t, h, last, photo)
	if got, err := h.Helpdesk().GetTicket(t.Context(), tk.ID); err != nil || got.Status != connectors.StatusSolved {
		t.Errorf("GetTicket after reply and solve = %s, %v; want solved", got.Status, err)
	}
}

func testWebhookTwice(t *testing.T, h Harness) {
	wh := requireWebhooks(t, h)
	tk := create(t, h, newTicket(t))
	evs := replies(t, wh, wh.AgentReply(t, tk.ID, AgentReply{BodyText: "Shipped.", Twice: true}))
	if len(evs) != 2 {
		t.Fatalf("a reply delivered twice made %d reply events, want 2", len(evs))
	}
	if evs[0].DeliveryID == "" || evs[0].DeliveryID != evs[1].DeliveryID {
		t.Errorf("delivery ids of one reply delivered twice = %q and %q, want one non-empty id", evs[0].DeliveryID, evs[1].DeliveryID)
	}
	if evs[0].TicketID != tk.ID || evs[1].TicketID != tk.ID {
		t.Errorf("events name tickets %s and %s, want %s", evs[0].TicketID, evs[1].TicketID, tk.ID)
	}
}

func testWebhookInternalNote(t *testing.T, h Harness) {
	wh := requireWebhooks(t, h)
	tk := create(t, h, newTicket(t))
	if evs := replies(t, wh, wh.AgentReply(t, tk.ID, AgentReply{BodyText: "Customer seems upset.", Internal: true})); len(evs) != 0 {
		t.Errorf("an internal note made %d reply events, want none", len(evs))
	}
	// The bridge's own mirrored message is no reply either.
	nt := connectors.Message{BodyText: "Hello?", FromCustomer: true, Author: connectors.Person{Email: requesterEmail}, ExternalID: "helpdesktest-msg-echo"}
	if err := h.Helpdesk().AddMessage(t.Context(), tk.ID, nt); err != nil {
		t.Fatal(err)
	}
	if evs := replies(t, wh, wh.AgentReply(t, tk.ID, AgentReply{BodyText: "Another note.", Internal: true})); len(evs) != 0 {
		t.Errorf("the bridge's own message or a note made %d reply events, want none", len(evs))
	}
}

// wantRefused checks a ParseWebhook error's kind, that it names a field,
// and that it does not repeat the secret.
func wantRefused(t *testing.T, name string, err, kind error, secret string) {
	t.Helper()
	other := connectors.ErrInvalid
	if kind == connectors.ErrInvalid {
		other = connectors.ErrUnauthorized
	}
	if !errors.Is(err, kind) || errors.Is(err, other) || connectors.WebhookField(err) == "" {
		t.Errorf("%s: err = %v, want %v naming a header or field", name, err, kind)
		return
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("%s: the error repeats the secret", name)
	}
}

func testWebhookUnauthenticated(t *testing.T, h Harness) {
	wh := requireWebhooks(t, h)
	d := agentReply(t, h, wh)
	secret := wh.Secret()
	_, err := wh.ParseWebhook(d, "not-"+secret, d.At)
	wantRefused(t, "wrong secret", err, connectors.ErrUnauthorized, secret)
	_, err = wh.ParseWebhook(d, "", d.At)
	wantRefused(t, "no secret configured", err, connectors.ErrUnauthorized, secret)
	_, err = wh.ParseWebhook(Delivery{Header: http.Header{"Content-Type": {"application/json"}}, Body: d.Body, At: d.At}, secret, d.At)
	wantRefused(t, "no secret or signature header", err, connectors.ErrUnauthorized, secret)
	forged := wh.Deliver(t, d.Body, d.At)
	if _, err := wh.ParseWebhook(forged, "not-"+secret, d.At); !errors.Is(err, connectors.ErrUnauthorized) {
		t.Errorf("a call made with another secret: err = %v, want ErrUnauthorized", err)
	}
}

func testWebhookMalformed(t *testing.T, h Harness) {
	wh := requireWebhooks(t, h)
	now := time.Now()
	for _, tc := range []struct{ name, body string }{
		{"not JSON", "{ticket_id: 1"},
		{"no ticket id", `{"event":"agent_reply","message_id":"7"}`},
		{"ticket id not a number", `{"event":"agent_reply","ticket_id":"abc","message_id":"7"}`},
	} {
		_, err := wh.ParseWebhook(wh.Deliver(t, []byte(tc.body), now), wh.Secret(), now)
		wantRefused(t, tc.name, err, connectors.ErrInvalid, wh.Secret())
	}
}

func testWebhookStale(t *testing.T, h Harness) {
	wh := requireWebhooks(t, h)
	if wh.MaxAge() == 0 {
		t.Skip("this helpdesk's calls carry no time")
	}
	d := agentReply(t, h, wh)
	for name, now := range map[string]time.Time{
		"stale":           d.At.Add(wh.MaxAge() + time.Minute),
		"from the future": d.At.Add(-wh.MaxAge() - time.Minute),
	} {
		_, err := wh.ParseWebhook(d, wh.Secret(), now)
		wantRefused(t, name, err, connectors.ErrUnauthorized, wh.Secret())
	}
	if _, err := wh.ParseWebhook(d, wh.Secret(), d.At.Add(wh.MaxAge()/2)); err != nil {
		t.Errorf("a call inside the window: %v", err)
	}
}
