package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

// TestPushIsSignedAndVerifiable: a subscriber gets each event as JSON,
// signed like the intake's events, and the README's receiver code accepts
// it and refuses it altered, signed with another secret, or old.
func TestPushIsSignedAndVerifiable(t *testing.T) {
	obs := &recorder{}
	h := newHarness(t, harnessOptions{limits: fastLimits, observer: obs})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	if s.Secret == "" || s.State != push.StateVerifying || s.Source != push.SourceAPI || s.URL != r.URL() {
		t.Fatalf("created: %+v", s)
	}
	r.setSecret(s.Secret)
	for _, id := range []string{"e1", "e2", "e3"} {
		h.publish(id, "acme-fr", "FR-1")
	}
	waitFor(t, "three events", func() bool { return len(r.orders()["acme-fr/FR-1"]) == 3 && h.get(s.ID).Backlog == 0 })
	if diff := cmp.Diff(map[string][]string{"acme-fr/FR-1": {"e1", "e2", "e3"}}, r.orders()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}

	var last pushed
	r.set(func(r *receiver) { last = r.all[len(r.all)-1] })
	for k, want := range map[string]string{
		"Content-Type": "application/json", events.HeaderMerchant: "acme", push.HeaderSubscription: s.ID,
		push.HeaderEventID: "e3", push.HeaderEventType: push.TypeOrderChanged, push.HeaderReplayed: "",
	} {
		if got := last.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// The intake's scheme, byte for byte.
	ts := last.Header.Get(events.HeaderTimestamp)
	if got, want := last.Header.Get(events.HeaderSignature), events.SignatureHeader(s.Secret, ts, last.Body); got != want {
		t.Errorf("signature %q, the intake's scheme gives %q", got, want)
	}
	wantWire := push.Wire{ID: "e3", Type: push.TypeOrderChanged, Merchant: "acme", Store: "acme-fr", OrderID: "FR-1",
		OccurredAt: h.clock.Now().UTC(), Data: json.RawMessage(`{"note":"e3","order_id":"FR-1"}`)}
	if diff := cmp.Diff(wantWire, last.Wire); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	now := h.clock.Now()
	if err := verifyPush(s.Secret, last.Header, last.Body, now); err != nil {
		t.Errorf("the README's check refuses a genuine push: %v", err)
	}
	bad := map[string]func() error{
		"altered body": func() error {
			return verifyPush(s.Secret, last.Header, bytes.Replace(last.Body, []byte("FR-1"), []byte("FR-2"), 1), now)
		},
		"another secret":  func() error { return verifyPush("another-secret-0123456789abcdef", last.Header, last.Body, now) },
		"six minutes old": func() error { return verifyPush(s.Secret, last.Header, last.Body, now.Add(6*time.Minute)) },
		"no signature": func() error {
			hd := last.Header.Clone()
			hd.Del(events.HeaderSignature)
			return verifyPush(s.Secret, hd, last.Body, now)
		},
	}
	for name, check := range bad {
		if check() == nil {
			t.Errorf("%s: the README's check accepts it", name)
		}
	}

	g := h.get(s.ID)
	if g.State != push.StateActive || g.Backlog != 0 || g.Counts.Delivered != 3 || g.Counts.Published != 3 || g.VerifiedAt == nil || g.Secret != "" {
		t.Errorf("report: %+v", g)
	}
	if len(g.Deliveries) < 4 || g.Deliveries[0].EventID != "e3" || g.Deliveries[0].Outcome != "delivered" ||
		g.Deliveries[0].Status != http.StatusNoContent || g.Deliveries[0].OrderID != "FR-1" || g.Deliveries[2].EventID != "e1" ||
		g.Deliveries[3].Type != push.TypeVerification || g.Deliveries[3].Outcome != "verified" {
		t.Errorf("deliveries: %+v", g.Deliveries)
	}
	if obs.get("attempt:delivered") != 3 || obs.get("attempt:verified") != 1 {
		t.Errorf("observed %v", obs.n)
	}
	if strings.Contains(h.logs.String(), s.Secret) {
		t.Error("the subscription's secret reached the logs")
	}
	if r.count(func(r *receiver) int { return r.badSig }) != 0 {
		t.Error("the receiver refused a signature")
	}
}

// TestHandshakeComesFirst: no event goes to a URL that has not echoed the
// challenge; events wait, and go once it does.
func TestHandshakeComesFirst(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	r := newReceiver(t, h.clock)
	r.set(func(r *receiver) { r.echo = false })
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	h.publish("e1", "acme-fr", "FR-1")
	h.publish("e2", "acme-fr", "FR-1")
	waitFor(t, "three handshakes", func() bool { return r.count(func(r *receiver) int { return r.handshakes }) >= 3 })
	if got := r.orders(); len(got) != 0 {
		t.Fatalf("events went before the handshake: %v", got)
	}
	g := h.get(s.ID)
	if g.State != push.StateVerifying || g.Backlog != 2 || len(g.Deliveries) == 0 ||
		g.Deliveries[0].Type != push.TypeVerification || g.Deliveries[0].Outcome != "failed" || !strings.Contains(g.Deliveries[0].Error, "challenge") {
		t.Fatalf("report: %+v", g)
	}
	r.set(func(r *receiver) { r.echo = true })
	waitFor(t, "the events", func() bool { return len(r.orders()["acme-fr/FR-1"]) == 2 })
	if diff := cmp.Diff(map[string][]string{"acme-fr/FR-1": {"e1", "e2"}}, r.orders()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	if g := h.get(s.ID); g.State != push.StateActive {
		t.Errorf("state %s", g.State)
	}
}

// TestTenMinuteOutageLosesNothing: a subscriber that refuses connections
// for ten minutes (on the bridge's clock) while events keep coming gets
// every event once it is back, in order per order, and is never paused.
func TestTenMinuteOutageLosesNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	waitFor(t, "the handshake", func() bool { return h.get(s.ID).State == push.StateActive })

	r.Down()
	orders := [][2]string{{"acme-fr", "FR-1"}, {"acme-fr", "FR-2"}, {"acme-de", "DE-7"}}
	want := map[string][]string{}
	publish := func(from, to int) {
		for i := from; i <= to; i++ {
			for _, o := range orders {
				id := o[1] + "-" + string(rune('a'+i))
				h.publish(id, o[0], o[1])
				want[o[0]+"/"+o[1]] = append(want[o[0]+"/"+o[1]], id)
			}
		}
	}
	failed := func() int64 { return h.get(s.ID).Counts.Failed }
	publish(0, 4)
	waitFor(t, "failed attempts", func() bool { return failed() >= 30 })
	h.clock.Advance(5 * time.Minute)
	publish(5, 7)
	n := failed()
	waitFor(t, "more failed attempts", func() bool { return failed() >= n+30 })
	h.clock.Advance(5 * time.Minute)
	n = failed()
	waitFor(t, "failures ten minutes in", func() bool { return failed() >= n+6 })

	g := h.get(s.ID)
	if g.State != push.StateActive || g.Backlog != 24 || g.FailingSince == nil || h.clock.Now().Sub(*g.FailingSince) < 10*time.Minute {
		t.Fatalf("after ten minutes down: %+v", g)
	}
	if len(g.Deliveries) != push.MaxDeliveries || g.Deliveries[0].Outcome != "failed" || g.Deliveries[0].Error != "connection refused" {
		t.Errorf("deliveries: %d, newest %+v", len(g.Deliveries), g.Deliveries[0])
	}
	if strings.Contains(h.logs.String(), "k=v") {
		t.Error("the URL's query reached the logs")
	}

	r.Up()
	waitFor(t, "every event", func() bool {
		got := r.orders()
		for k, w := range want {
			if len(got[k]) < len(w) {
				return false
			}
		}
		return true
	})
	if diff := cmp.Diff(want, r.orders()); diff != "" {
		t.Errorf("received, per order (-want +got):\n%s", diff)
	}
	// The receiver has the last event a moment before the bridge has its
	// answer.
	waitFor(t, "the last acknowledgement", func() bool { return h.get(s.ID).Backlog == 0 })
	g = h.get(s.ID)
	if g.State != push.StateActive || g.Backlog != 0 || g.FailingSince != nil || g.FailedAttempts != 0 || g.Counts.Dropped != 0 {
		t.Errorf("after the outage: %+v", g)
	}
}

// TestPausedAfterFailingForTheSpanThenResumed: a subscriber that fails for
// longer than the pause span is paused; its events keep queueing; resume
// verifies it again and delivers the backlog in order.
func TestPausedAfterFailingForTheSpanThenResumed(t *testing.T) {
	obs := &recorder{}
	lim := fastLimits
	lim.PauseAfter, lim.PauseMinAttempts = time.Hour, 3
	h := newHarness(t, harnessOptions{limits: lim, observer: obs})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	waitFor(t, "the handshake", func() bool { return h.get(s.ID).State == push.StateActive })

	r.set(func(r *receiver) { r.fail = http.StatusInternalServerError })
	for _, id := range []string{"e1", "e2", "e3"} {
		h.publish(id, "acme-fr", "FR-1")
	}
	h.publish("f1", "acme-fr", "FR-2")
	waitFor(t, "failures", func() bool { return h.get(s.ID).Counts.Failed >= 2 })
	if g := h.get(s.ID); g.State != push.StateActive {
		t.Fatalf("paused before the span: %+v", g)
	}
	h.clock.Advance(61 * time.Minute)
	waitFor(t, "the pause", func() bool { return h.get(s.ID).State == push.StatePaused })
	g := h.get(s.ID)
	if g.PausedReason != "delivery_failed" || g.PausedAt == nil || g.Backlog != 4 || obs.get("paused") != 1 {
		t.Fatalf("paused: %+v, observed %v", g, obs.n)
	}

	// Paused, events queue and nothing is tried.
	attempts := r.count(func(r *receiver) int { return len(r.all) })
	h.publish("e4", "acme-fr", "FR-1")
	time.Sleep(300 * time.Millisecond) // a dozen forwarder rounds
	if got := r.count(func(r *receiver) int { return len(r.all) }); got != attempts {
		t.Errorf("a paused subscription was tried %d more times", got-attempts)
	}
	if g := h.get(s.ID); g.Backlog != 5 || g.State != push.StatePaused {
		t.Errorf("paused, after one more event: %+v", g)
	}

	r.set(func(r *receiver) { r.fail = 0 })
	var resumed push.Subscription
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions/"+s.ID+"/resume", acmeToken, nil, &resumed); status != http.StatusAccepted {
		t.Fatalf("resume: %d %s", status, raw)
	}
	if resumed.State != push.StateVerifying || resumed.PausedReason != "" {
		t.Errorf("resumed: %+v", resumed)
	}
	want := map[string][]string{"acme-fr/FR-1": {"e1", "e2", "e3", "e4"}, "acme-fr/FR-2": {"f1"}}
	waitFor(t, "the backlog", func() bool {
		got := r.orders()
		return len(got["acme-fr/FR-1"]) == 4 && len(got["acme-fr/FR-2"]) == 1
	})
	if diff := cmp.Diff(want, r.orders()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
	waitFor(t, "the last acknowledgement", func() bool { return h.get(s.ID).Backlog == 0 })
	if g := h.get(s.ID); g.State != push.StateActive || g.ResumedAt == nil {
		t.Errorf("after the resume: %+v", g)
	}
}

// TestReplay: delivered events published since a time go again, in their
// order, with the same ids, marked as replayed.
func TestReplay(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	t0 := h.clock.Now()
	h.publish("e1", "acme-fr", "FR-1")
	h.publish("e2", "acme-fr", "FR-1")
	h.clock.Advance(time.Hour)
	h.publish("e3", "acme-fr", "FR-1")
	h.publish("f1", "acme-fr", "FR-2")
	waitFor(t, "four events", func() bool { return h.get(s.ID).Counts.Delivered == 4 })

	replayed := func() []string {
		var out []string
		r.set(func(r *receiver) {
			for _, p := range r.all {
				if p.Header.Get(push.HeaderReplayed) == "true" {
					out = append(out, p.Header.Get(push.HeaderEventID))
				}
			}
		})
		return out
	}
	var ans struct{ Replayed int }
	since := t0.Add(30 * time.Minute).Format(time.RFC3339)
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions/"+s.ID+"/replay", acmeToken, map[string]string{"since": since}, &ans); status != http.StatusAccepted || ans.Replayed != 2 {
		t.Fatalf("replay: %d %s", status, raw)
	}
	waitFor(t, "the replay", func() bool { return len(replayed()) == 2 })
	// Two orders: in parallel, in either order.
	if diff := cmp.Diff([]string{"e3", "f1"}, replayed(), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions/"+s.ID+"/replay", acmeToken, map[string]string{"since": t0.Format(time.RFC3339)}, &ans); status != http.StatusAccepted || ans.Replayed != 4 {
		t.Fatalf("replay all: %d %s", status, raw)
	}
	waitFor(t, "the second replay", func() bool { return len(replayed()) == 6 && h.get(s.ID).Backlog == 0 })
	got := replayed()[2:]
	// Per order, in publishing order; orders in parallel.
	var fr1 []string
	for _, id := range got {
		if id != "f1" {
			fr1 = append(fr1, id)
		}
	}
	if diff := cmp.Diff([]string{"e1", "e2", "e3"}, fr1); diff != "" {
		t.Errorf("replayed FR-1 (-want +got):\n%s", diff)
	}
	if g := h.get(s.ID); g.Counts.Replayed != 6 {
		t.Errorf("report: %+v", g)
	}
}

// TestBacklogIsBounded: past the bound, the oldest events are dropped and
// counted; the rest go in order.
func TestBacklogIsBounded(t *testing.T) {
	obs := &recorder{}
	lim := fastLimits
	lim.MaxBacklog = 5
	h := newHarness(t, harnessOptions{limits: lim, observer: obs})
	r := newReceiver(t, h.clock)
	r.set(func(r *receiver) { r.echo = false })
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	for _, e := range [][2]string{{"a1", "FR-1"}, {"a2", "FR-1"}, {"b1", "FR-2"}, {"a3", "FR-1"}, {"b2", "FR-2"}, {"a4", "FR-1"}, {"b3", "FR-2"}, {"a5", "FR-1"}} {
		h.publish(e[0], "acme-fr", e[1])
	}
	g := h.get(s.ID)
	if g.Backlog != 5 || g.Counts.Dropped != 3 || obs.get("dropped") != 3 || g.OldestPendingAt == nil {
		t.Fatalf("report: %+v", g)
	}
	r.set(func(r *receiver) { r.echo = true })
	want := map[string][]string{"acme-fr/FR-1": {"a3", "a4", "a5"}, "acme-fr/FR-2": {"b2", "b3"}}
	waitFor(t, "the backlog", func() bool { return h.get(s.ID).Backlog == 0 })
	if diff := cmp.Diff(want, r.orders()); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}
}

// TestPublishingAgainPushesOnce: the same event id published twice (the
// caller's retry) is pushed once.
func TestPublishingAgainPushesOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	h.publish("e1", "acme-fr", "FR-1")
	h.publish("e1", "acme-fr", "FR-1")
	h.publish("e2", "acme-fr", "FR-1")
	waitFor(t, "e2", func() bool { return len(r.orders()["acme-fr/FR-1"]) == 2 })
	pushes := r.count(func(r *receiver) int {
		n := 0
		for _, p := range r.all {
			if p.Wire.ID == "e1" {
				n++
			}
		}
		return n
	})
	if pushes != 1 {
		t.Errorf("e1 pushed %d times", pushes)
	}
	if g := h.get(s.ID); g.Counts.Published != 2 {
		t.Errorf("published %d", g.Counts.Published)
	}
}

// TestPublishRefusesInvalidEvents: what cannot be pushed is refused at
// once, permanently; a merchant without subscriptions costs nothing.
func TestPublishRefusesInvalidEvents(t *testing.T) {
	h := newHarness(t, harnessOptions{noWorker: true})
	h.subscribe("https://hooks.example.com/orders")
	ok := push.Event{ID: "e1", Type: push.TypeOrderCreated, Store: "acme-fr", OrderID: "FR-1", OccurredAt: h.clock.Now(), Data: json.RawMessage(`{}`)}
	tests := map[string]func(e *push.Event){
		"no id":          func(e *push.Event) { e.ID = "" },
		"id not ascii":   func(e *push.Event) { e.ID = "é1" },
		"id too long":    func(e *push.Event) { e.ID = strings.Repeat("x", 129) },
		"unknown type":   func(e *push.Event) { e.Type = "order.deleted" },
		"store colon":    func(e *push.Event) { e.Store = "acme:fr" },
		"order newline":  func(e *push.Event) { e.OrderID = "FR\n1" },
		"no order":       func(e *push.Event) { e.OrderID = "" },
		"no time":        func(e *push.Event) { e.OccurredAt = time.Time{} },
		"data not JSON":  func(e *push.Event) { e.Data = json.RawMessage(`{`) },
		"data too large": func(e *push.Event) { e.Data = json.RawMessage(`"` + strings.Repeat("x", push.MaxEventBytes) + `"`) },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			e := ok
			change(&e)
			if err := h.pub.Publish(context.Background(), "acme", e); !errors.Is(err, push.ErrInvalidEvent) {
				t.Errorf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
	if err := h.pub.Publish(context.Background(), "acme", ok); err != nil {
		t.Errorf("a valid event: %v", err)
	}
	if err := h.pub.Publish(context.Background(), "globex", ok); err != nil {
		t.Errorf("a merchant without subscriptions: %v", err)
	}
}

// TestDeleteStopsDeliveries: a deleted subscription's keys go, and its
// queued tasks end without sending.
func TestDeleteStopsDeliveries(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	waitFor(t, "the handshake", func() bool { return h.get(s.ID).State == push.StateActive })
	r.Down()
	h.publish("e1", "acme-fr", "FR-1")
	waitFor(t, "a failure", func() bool { return h.get(s.ID).Counts.Failed >= 1 })
	if status, raw := h.call(http.MethodDelete, "/v1/orders/subscriptions/"+s.ID, acmeToken, nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, raw)
	}
	if status, _ := h.call(http.MethodGet, "/v1/orders/subscriptions/"+s.ID, acmeToken, nil, nil); status != http.StatusNotFound {
		t.Errorf("get after delete: %d", status)
	}
	keys, err := h.rdb.Keys(context.Background(), "test:push:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("keys left: %v", keys)
	}
	r.Up()
	h.publish("e2", "acme-fr", "FR-1")
	time.Sleep(300 * time.Millisecond) // a dozen forwarder rounds
	if got := r.orders(); len(got) != 0 {
		t.Errorf("a deleted subscription got %v", got)
	}
}

// flakyQueue fails chosen enqueues of delivery tasks, as a Redis that
// drops a connection does.
type flakyQueue struct {
	push.Enqueuer
	mu   sync.Mutex
	n    int          // delivery enqueues so far
	fail map[int]bool // which of them fail (1 is the first)
}

func (f *flakyQueue) EnqueueContext(ctx context.Context, t *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if t.Type() == push.TypeDeliver {
		f.mu.Lock()
		f.n++
		fail := f.fail[f.n]
		f.mu.Unlock()
		if fail {
			return nil, errors.New("dial tcp: connection reset by peer")
		}
	}
	return f.Enqueuer.EnqueueContext(ctx, t, opts...)
}

func (f *flakyQueue) failNext(k ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = map[int]bool{}
	for _, i := range k {
		f.fail[f.n+i] = true
	}
}

// TestLostEnqueuesAreRepaired: an event appended whose task could not be
// enqueued is delivered once the caller publishes it again; a retry whose
// successor could not be enqueued is run again by asynq and enqueues it.
func TestLostEnqueuesAreRepaired(t *testing.T) {
	q := &flakyQueue{}
	h := newHarness(t, harnessOptions{limits: fastLimits, queue: func(e push.Enqueuer) push.Enqueuer { q.Enqueuer = e; return q }})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	waitFor(t, "the handshake", func() bool { return h.get(s.ID).State == push.StateActive })

	q.failNext(1)
	ev := push.Event{ID: "e1", Type: push.TypeOrderCreated, Store: "acme-fr", OrderID: "FR-1", OccurredAt: h.clock.Now(), Data: json.RawMessage(`{}`)}
	if err := h.pub.Publish(context.Background(), "acme", ev); err == nil {
		t.Fatal("Publish hid a failed enqueue")
	}
	if err := h.pub.Publish(context.Background(), "acme", ev); err != nil {
		t.Fatalf("the caller's retry: %v", err)
	}
	waitFor(t, "e1", func() bool { return len(r.orders()["acme-fr/FR-1"]) == 1 })

	r.set(func(r *receiver) { r.fail = http.StatusServiceUnavailable })
	q.failNext(2) // the publish's enqueue goes; the first retry's does not
	h.publish("e2", "acme-fr", "FR-1")
	waitFor(t, "a failure", func() bool { return h.get(s.ID).Counts.Failed >= 1 })
	r.set(func(r *receiver) { r.fail = 0 })
	waitFor(t, "e2", func() bool { return len(r.orders()["acme-fr/FR-1"]) == 2 })
	if !strings.Contains(h.logs.String(), "task failed, will retry") {
		t.Error("the lost successor did not make its task fail for asynq to retry")
	}
	if g := h.get(s.ID); g.Counts.Published != 2 {
		t.Errorf("published %d", g.Counts.Published)
	}
}

// TestReplayKeepsWhatTheRetentionSays: delivered events older than the
// retention, or past the log's bound, are not kept for replay.
func TestReplayKeepsWhatTheRetentionSays(t *testing.T) {
	lim := fastLimits
	lim.Retention, lim.MaxLog = time.Hour, 2
	h := newHarness(t, harnessOptions{limits: lim})
	r := newReceiver(t, h.clock)
	s := h.subscribe(r.URL())
	r.setSecret(s.Secret)
	t0 := h.clock.Now()
	h.publish("e1", "acme-fr", "FR-1")
	waitFor(t, "e1", func() bool { return h.get(s.ID).Counts.Delivered == 1 })
	h.clock.Advance(2 * time.Hour)
	for _, id := range []string{"e2", "e3", "e4"} {
		h.publish(id, "acme-fr", "FR-1")
	}
	waitFor(t, "e4", func() bool { return h.get(s.ID).Counts.Delivered == 4 })
	var ans struct{ Replayed int }
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions/"+s.ID+"/replay", acmeToken, map[string]string{"since": t0.Format(time.RFC3339)}, &ans); status != http.StatusAccepted || ans.Replayed != 2 {
		t.Fatalf("replay: %d %s, want the 2 newest", status, raw)
	}
}
