package events_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
)

type onePlanner struct{}

func (onePlanner) Plan(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	return []*asynq.Task{asynq.NewTask("t", nil, asynq.TaskID("t:"+ev.ID))}, nil
}

// While a secret rotates, events signed with the old or the new one are
// accepted, and so is a header carrying both signatures.
func TestSignatureDuringSecretRotation(t *testing.T) {
	rdb := rdbtest.Client(t, 3)
	cfg := &config.Config{
		Worker: config.Worker{TaskRetention: time.Hour, MaxRetry: 3},
		Events: config.Events{ReplayWindow: 5 * time.Minute, DedupeTTL: time.Hour},
		Merchants: []config.Merchant{{ID: "acme", EventSecrets: []config.Secret{
			config.NewSecret("new-secret"), config.NewSecret("old-secret"),
		}}},
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	in := events.New(events.Options{
		Config: cfg, Queue: asynq.NewClientFromRedisClient(rdb), Redis: rdb,
		Now: func() time.Time { return now }, Planners: map[string]events.Planner{"k": onePlanner{}},
	})
	ts := strconv.FormatInt(now.Unix(), 10)
	body := func(id string) []byte {
		return []byte(`{"id":"` + id + `","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{}}`)
	}
	cases := []struct {
		name, id, sig string
		wantCode      string
	}{
		{"new secret", "e1", events.SignatureHeader("new-secret", ts, body("e1")), ""},
		{"old secret", "e2", events.SignatureHeader("old-secret", ts, body("e2")), ""},
		{"both, sender rotating", "e3", events.SignatureHeader("old-secret", ts, body("e3")) + ", " + events.SignatureHeader("new-secret", ts, body("e3")), ""},
		{"retired secret", "e4", events.SignatureHeader("retired", ts, body("e4")), events.CodeInvalidSignature},
		{"signature of another body", "e5", events.SignatureHeader("new-secret", ts, body("e1")), events.CodeInvalidSignature},
		{"not hex", "e6", "sha256=zz", events.CodeInvalidSignature},
		{"truncated", "e7", events.SignatureHeader("new-secret", ts, body("e7"))[:20], events.CodeInvalidSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := in.Receive(context.Background(), events.Signed{Merchant: "acme", Timestamp: ts, Signature: tc.sig}, body(tc.id))
			if tc.wantCode == "" {
				if err != nil || res.Status != "accepted" || res.Enqueued != 1 {
					t.Fatalf("Receive = %+v, %v; want accepted with one task", res, err)
				}
				return
			}
			var apiErr *httpapi.Error
			if !errors.As(err, &apiErr) || apiErr.Code != tc.wantCode || apiErr.Status != http.StatusUnauthorized {
				t.Fatalf("Receive error = %v, want 401 %s", err, tc.wantCode)
			}
		})
	}
}

// newIntake returns an intake of merchant acme (secrets new-secret and
// old-secret) on the real Redis, its clock stopped at now.
func newIntake(t *testing.T, q events.Enqueuer, p events.Planner, now time.Time) (*events.Intake, *asynq.Client) {
	t.Helper()
	rdb := rdbtest.Client(t, 3)
	cfg := &config.Config{
		Worker: config.Worker{TaskRetention: time.Hour, MaxRetry: 3},
		Events: config.Events{ReplayWindow: 5 * time.Minute, DedupeTTL: time.Hour},
		Merchants: []config.Merchant{{ID: "acme", EventSecrets: []config.Secret{
			config.NewSecret("new-secret"), config.NewSecret("old-secret"),
		}}},
	}
	client := asynq.NewClientFromRedisClient(rdb)
	if q == nil {
		q = client
	}
	return events.New(events.Options{
		Config: cfg, Queue: q, Redis: rdb,
		Now: func() time.Time { return now }, Planners: map[string]events.Planner{"k": p},
	}), client
}

// A header of thousands of signatures over a 1 MiB body once cost an HMAC
// of the body per signature and secret, seconds of CPU for anyone who
// knows a merchant id. It is refused before any MAC is computed, even when
// one of the signatures is right.
func TestManySignaturesAreRefusedCheaply(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	in, _ := newIntake(t, nil, onePlanner{}, now)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"id":"e1","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{"pad":"` + strings.Repeat("x", events.MaxBody-100) + `"}}`)
	wrong := events.SignatureHeader("guess", ts, body)
	sigs := make([]string, 10000)
	for i := range sigs {
		sigs[i] = wrong
	}
	sigs[len(sigs)-1] = events.SignatureHeader("new-secret", ts, body)

	start := time.Now()
	_, err := in.Receive(context.Background(), events.Signed{Merchant: "acme", Timestamp: ts, Signature: strings.Join(sigs, ",")}, body)
	elapsed := time.Since(start)
	var apiErr *httpapi.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Code != events.CodeInvalidSignature || apiErr.Field != events.HeaderSignature {
		t.Fatalf("Receive error = %v, want 401 %s naming %s", err, events.CodeInvalidSignature, events.HeaderSignature)
	}
	if !strings.Contains(apiErr.Message, "at most 4") {
		t.Errorf("message %q does not say how many signatures are accepted", apiErr.Message)
	}
	// Hashing the body 10,000 times takes seconds; refusing takes nothing.
	if elapsed > 200*time.Millisecond {
		t.Errorf("refusing 10,000 signatures took %s", elapsed)
	}

	// The most a rotation can send still works, the good one last.
	res, err := in.Receive(context.Background(), events.Signed{Merchant: "acme", Timestamp: ts, Signature: strings.Join(sigs[len(sigs)-events.MaxSignatures:], ", ")}, body)
	if err != nil || res.Status != "accepted" {
		t.Fatalf("Receive with %d signatures = %+v, %v; want accepted", events.MaxSignatures, res, err)
	}
}

// slowPlanner plans like onePlanner after a pause, long enough for
// concurrent copies of an event to overlap.
type slowPlanner struct{}

func (slowPlanner) Plan(ctx context.Context, ev events.Event) ([]*asynq.Task, error) {
	time.Sleep(100 * time.Millisecond)
	return onePlanner{}.Plan(ctx, ev)
}

// Copies of one event posted at once: exactly one is accepted and
// enqueues; the others are duplicates, or 409 for other content, however
// they interleave.
func TestConcurrentCopiesOfAnEvent(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := strconv.FormatInt(now.Unix(), 10)
	body := func(id, data string) []byte {
		return []byte(`{"id":"` + id + `","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":` + data + `}`)
	}
	cases := []struct {
		name   string
		bodies [][]byte
		want   map[string]int // status or error code → count
	}{
		{"same content", [][]byte{body("c1", `{"a":1}`), body("c1", `{"a":1}`), body("c1", `{ "a": 1 }`)},
			map[string]int{"accepted": 1, "duplicate": 2}},
		{"other content", [][]byte{body("c2", `{"a":1}`), body("c2", `{"a":2}`), body("c2", `{"a":3}`)},
			map[string]int{"accepted": 1, events.CodeEventIDReused: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := newIntake(t, nil, slowPlanner{}, now)
			got := map[string]int{}
			var mu sync.Mutex
			var wg sync.WaitGroup
			for _, b := range tc.bodies {
				wg.Go(func() {
					res, err := in.Receive(context.Background(), events.Signed{Merchant: "acme", Timestamp: ts, Signature: events.SignatureHeader("new-secret", ts, b)}, b)
					outcome := res.Status
					if err != nil {
						outcome = httpapi.AsError(err).Code
					}
					mu.Lock()
					got[outcome]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("outcomes (-want +got):\n%s", diff)
			}
		})
	}
}

// failingQueue refuses the first enqueue, as a Redis that hiccups would.
type failingQueue struct {
	events.Enqueuer
	failed atomic.Bool
}

func (q *failingQueue) EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if q.failed.CompareAndSwap(false, true) {
		return nil, errors.New("connection reset")
	}
	return q.Enqueuer.EnqueueContext(ctx, task, opts...)
}

// An event whose enqueue failed after its id was claimed frees the id:
// the sender's retry is accepted, and not taken for a duplicate of an
// event that was never stored.
func TestFailedEnqueueFreesTheEventID(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	q := &failingQueue{}
	in, client := newIntake(t, q, onePlanner{}, now)
	q.Enqueuer = client
	ts := strconv.FormatInt(now.Unix(), 10)
	b := []byte(`{"id":"f1","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{}}`)
	s := events.Signed{Merchant: "acme", Timestamp: ts, Signature: events.SignatureHeader("new-secret", ts, b)}
	if _, err := in.Receive(context.Background(), s, b); err == nil {
		t.Fatal("first delivery accepted although its enqueue failed")
	}
	res, err := in.Receive(context.Background(), s, b)
	if err != nil || res.Status != "accepted" || res.Enqueued != 1 {
		t.Fatalf("retry = %+v, %v; want accepted with one task", res, err)
	}
	res, err = in.Receive(context.Background(), s, b)
	if err != nil || res.Status != "duplicate" {
		t.Fatalf("third delivery = %+v, %v; want duplicate", res, err)
	}
}
