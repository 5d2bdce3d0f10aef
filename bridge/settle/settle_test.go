package settle_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/bridge/settle"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// testDB is this package's database on the test Redis (see rdbtest).
const testDB = 14

const (
	// timeout is the client's; hold is how long the slow fake takes to
	// handle the request it then handles anyway; delay is the settle
	// delay, longer than hold as the configuration's must be.
	timeout = 300 * time.Millisecond
	hold    = time.Second
	delay   = 1500 * time.Millisecond
)

type slowGorgias struct {
	fake *gorgiasfake.Server
	hd   *settle.Helpdesk
}

func newSlowGorgias(t *testing.T, prefix string) slowGorgias {
	t.Helper()
	fake := gorgiasfake.New(gorgiasfake.Options{Accounts: map[string]string{"bridge@acme.test": "key"}, Unthrottled: true})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	hc.Timeout = timeout
	c, err := gorgias.New(gorgias.Options{BaseURL: srv.URL, Email: "bridge@acme.test", APIKey: "key", HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	ledger := settle.NewLedger(rdbtest.Client(t, testDB), prefix, nil)
	return slowGorgias{fake: fake, hd: settle.NewHelpdesk(c, ledger, "acme-gorgias", delay)}
}

// late makes the next request that match accepts land after the client
// gave up; the returned channel closes once it has.
func (g slowGorgias) late(match func(*http.Request) bool) chan struct{} {
	done := make(chan struct{})
	g.fake.Faults().Push(fault.Fault{Late: true, Hang: hold, Done: done, Match: match})
	return done
}

// mustSettle checks that err asks the task to come back later, within the
// settle delay.
func mustSettle(t *testing.T, what string, err error) time.Duration {
	t.Helper()
	var se *connectors.SettleError
	if !errors.As(err, &se) || se.RetryAfter <= 0 || se.RetryAfter > delay {
		t.Fatalf("%s: %v, want a SettleError of at most %s", what, err, delay)
	}
	if d, ok := connectors.RetryDelay(err); !ok || d != se.RetryAfter || !connectors.IsRetryable(err) {
		t.Fatalf("%s: the worker would not wait for the settle delay (%s, %v)", what, d, ok)
	}
	return se.RetryAfter
}

func newTicket() connectors.NewTicket {
	return connectors.NewTicket{
		ExternalID: "bridge-disc-carrefour-2042-t1", Subject: "Broken mug",
		Requester: connectors.Person{Email: "jeanne@example.com"},
		Message:   connectors.Message{BodyText: "My mug arrived broken.", FromCustomer: true, ExternalID: "mp-1"},
	}
}

// TestLateCreateLeavesOneTicket: Gorgias handles the first create after
// the client timed out. The task's retries wait for it to settle, then
// find that ticket rather than open a second one.
func TestLateCreateLeavesOneTicket(t *testing.T) {
	g := newSlowGorgias(t, "create:")
	landed := g.late(func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == "/api/tickets" })
	ctx := context.Background()

	_, _, err := g.hd.CreateTicket(ctx, newTicket())
	if !errors.Is(err, connectors.ErrUncertain) {
		t.Fatalf("first create: %v, want an uncertain write", err)
	}
	mustSettle(t, "first create", err)
	// A retry that comes early, as a redelivered task would, writes nothing.
	_, _, err = g.hd.CreateTicket(ctx, newTicket())
	wait := mustSettle(t, "early retry", err)

	<-landed
	time.Sleep(wait)
	tk, created, err := g.hd.CreateTicket(ctx, newTicket())
	if err != nil {
		t.Fatalf("retry once settled: %v", err)
	}
	if created || tk.ID != "1" {
		t.Errorf("retry gave ticket %s (created %v), want the late one, 1", tk.ID, created)
	}
	if n := len(g.fake.Tickets()); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
}

// TestLateAppendLeavesOneMessage: the same for a message appended to a
// mirrored ticket.
func TestLateAppendLeavesOneMessage(t *testing.T) {
	g := newSlowGorgias(t, "append:")
	ctx := context.Background()
	tk, _, err := g.hd.CreateTicket(ctx, newTicket())
	if err != nil {
		t.Fatal(err)
	}
	landed := g.late(func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages")
	})
	msg := connectors.Message{BodyText: "Any news?", FromCustomer: true, ExternalID: "mp-2", Author: connectors.Person{Email: "jeanne@example.com"}}

	err = g.hd.AddMessage(ctx, tk.ID, msg)
	if !errors.Is(err, connectors.ErrUncertain) {
		t.Fatalf("first append: %v, want an uncertain write", err)
	}
	mustSettle(t, "first append", err)
	wait := mustSettle(t, "early retry", g.hd.AddMessage(ctx, tk.ID, msg))

	<-landed
	time.Sleep(wait)
	if err := g.hd.AddMessage(ctx, tk.ID, msg); err != nil {
		t.Fatalf("retry once settled: %v", err)
	}
	got, _ := g.fake.Ticket(1)
	n := 0
	for _, m := range got.Messages {
		if m.ExternalID == "mp-2" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d copies of the message in the ticket, want 1", n)
	}
}

// TestLateTagCreateIsWaitedFor: creating a missing tag is not idempotent
// either; a retry waits for the late create and then uses its tag.
func TestLateTagCreateIsWaitedFor(t *testing.T) {
	g := newSlowGorgias(t, "tags:")
	ctx := context.Background()
	tk, _, err := g.hd.CreateTicket(ctx, newTicket())
	if err != nil {
		t.Fatal(err)
	}
	landed := g.late(func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == "/api/tags" })
	err = g.hd.SetTags(ctx, tk.ID, []string{"vip"})
	mustSettle(t, "first set", err)
	wait := mustSettle(t, "early retry", g.hd.SetTags(ctx, tk.ID, []string{"vip"}))
	<-landed
	time.Sleep(wait)
	if err := g.hd.SetTags(ctx, tk.ID, []string{"vip"}); err != nil {
		t.Fatalf("retry once settled: %v", err)
	}
	if n := g.fake.Requests()["POST /api/tags"]; n != 1 {
		t.Errorf("%d tag creates reached Gorgias, want the late one only", n)
	}
}
