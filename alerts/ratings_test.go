package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// testDB is this package's database on the test Redis (see rdbtest). The
// tests share it, so they do not run in parallel.
const testDB = 2

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// ratingConfig is a merchant with one store, a Gorgias account taking
// every alert, a Zendesk account taking only bad ratings with a comment,
// and a Mirakl shop with rating alerts.
func ratingConfig(on bool) *config.Config {
	cfg := &config.Config{Merchants: []config.Merchant{{
		ID:     "acme",
		Stores: []config.Store{{ID: "acme-fr", Name: "ACME France", OrderURL: "https://backoffice.example/orders/{order_id}"}},
		Helpdesks: []config.Helpdesk{
			{ID: "acme-gorgias", Kind: config.KindGorgias, Stores: []string{"acme-fr"}, TagPrefix: "bigblue-"},
			{ID: "acme-zendesk", Kind: config.KindZendesk, Stores: []string{"acme-fr"}, Alerts: []string{config.AlertActionRequired, config.AlertBadRatingWithComment}},
		},
		Marketplaces: []config.Marketplace{
			{ID: "acme-carrefour", Kind: config.KindMirakl, Name: "carrefour", Store: "acme-fr", Helpdesk: "acme-gorgias", RatingAlerts: on},
		},
	}}}
	cfg.ApplyDefaults()
	return cfg
}

// fakeLister lists evaluations as a marketplace would: those given or
// changed at or after Since, per at a time, the query in the page token.
// It records the queries and fails the pages named in fail, once each.
type fakeLister struct {
	mu      sync.Mutex
	evals   []connectors.Evaluation
	per     int
	fail    map[string]error // by page token ("" the first page)
	queries []connectors.EvaluationQuery
}

func (f *fakeLister) set(evals ...connectors.Evaluation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evals = evals
}

func (f *fakeLister) ListEvaluations(_ context.Context, q connectors.EvaluationQuery) (connectors.EvaluationPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	if err, ok := f.fail[q.PageToken]; ok {
		delete(f.fail, q.PageToken)
		return connectors.EvaluationPage{}, err
	}
	since, offset := q.Since, 0
	if q.PageToken != "" {
		s, o, _ := strings.Cut(q.PageToken, "/")
		ns, _ := strconv.ParseInt(s, 10, 64)
		since, offset = time.Unix(0, ns).UTC(), must(strconv.Atoi(o))
	}
	var match []connectors.Evaluation
	for _, e := range f.evals {
		if !e.CreatedAt.Before(since) || !e.UpdatedAt.Before(since) {
			match = append(match, e)
		}
	}
	per := f.per
	if per == 0 {
		per = 100
	}
	page := connectors.EvaluationPage{Evaluations: match[min(offset, len(match)):min(offset+per, len(match))]}
	if offset+per < len(match) {
		page.NextPageToken = fmt.Sprintf("%d/%d", since.UnixNano(), offset+per)
	}
	return page, nil
}

func (f *fakeLister) calls() []connectors.EvaluationQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

func must[T any](v T, _ error) T { return v }

// rig is a RatingSync on the test Redis with a settable clock.
type rig struct {
	rdb    *redis.Client
	cfg    *config.Config
	lister *fakeLister
	now    time.Time
	mu     sync.Mutex
}

func newRig(t *testing.T, on bool) *rig {
	t.Helper()
	return &rig{rdb: rdbtest.Client(t, testDB), cfg: ratingConfig(on), lister: &fakeLister{}, now: t0}
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.now = r.now.Add(d)
}

func (r *rig) sync(t *testing.T, listers ...connectors.EvaluationLister) *RatingSync {
	t.Helper()
	var l connectors.EvaluationLister = r.lister
	if len(listers) > 0 {
		l = listers[0]
	}
	c := asynq.NewClientFromRedisClient(r.rdb)
	return NewRatingSync(RatingSyncOptions{
		Config: r.cfg, Redis: r.rdb, Listers: map[string]connectors.EvaluationLister{"acme-carrefour": l},
		Queue: c, Shards: 1, Now: r.clock,
	})
}

// raised returns the raise tasks in the alerts queue, by task id.
func (r *rig) raised(t *testing.T) map[string]RaisePayload {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(r.rdb)
	tasks, err := insp.ListPendingTasks(Queue, asynq.PageSize(1000))
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	out := map[string]RaisePayload{}
	for _, ti := range tasks {
		if ti.Type != TypeRaise {
			t.Errorf("task %s of type %s in the alerts queue", ti.ID, ti.Type)
			continue
		}
		var p RaisePayload
		if err := json.Unmarshal(ti.Payload, &p); err != nil {
			t.Fatal(err)
		}
		out[ti.ID] = p
	}
	return out
}

// kindsByOrder summarises raised tasks as order → "account kind" lines.
func kindsByOrder(raised map[string]RaisePayload) map[string][]string {
	out := map[string][]string{}
	for _, p := range raised {
		out[p.OrderID] = append(out[p.OrderID], p.Account+" "+p.Kind)
	}
	for _, v := range out {
		slices.Sort(v)
	}
	return out
}

func evaluation(order string, grade int, comment string, at time.Time) connectors.Evaluation {
	return connectors.Evaluation{
		OrderID: order, Grade: grade, Comment: comment, CustomerName: "Jeanne Martin", CustomerID: "cust-" + order,
		CreatedAt: at, UpdatedAt: at,
		Order: &connectors.Order{
			ID: order, State: "RECEIVED", CreatedAt: at.Add(-72 * time.Hour), CustomerEmail: "x7f3@relay.example", CustomerName: "Jeanne Martin",
			Total: "49.90", Currency: "EUR", Lines: []connectors.OrderLine{{SKU: "MUG-01", Title: "Blue mug", Quantity: 2}},
		},
	}
}

func TestRatingSyncRaisesEachBadEvaluationOnce(t *testing.T) {
	r := newRig(t, true)
	ctx := t.Context()
	r.lister.set(
		evaluation("ORD-1", 1, "Box arrived crushed", t0.Add(-time.Minute)),
		evaluation("ORD-2", 2, "", t0.Add(-30*time.Second)),
		evaluation("ORD-3", 2, " \n\t", t0.Add(-20*time.Second)), // blank: no comment
		evaluation("ORD-4", 4, "Great", t0.Add(-10*time.Second)), // good: nothing
		evaluation("ORD-5", 1, "Before the switch", t0.Add(-time.Hour)),
	)
	s := r.sync(t)
	if err := s.Sync(ctx, "acme", "acme-carrefour"); err != nil {
		t.Fatal(err)
	}
	// The first sync reads from now less the overlap.
	if q := r.lister.calls(); len(q) != 1 || !q[0].Since.Equal(t0.Add(-2*time.Minute)) {
		t.Errorf("queries %+v, want one since %s", q, t0.Add(-2*time.Minute))
	}
	want := map[string][]string{
		"ORD-1": {"acme-gorgias bad-rating-with-comment", "acme-zendesk bad-rating-with-comment"},
		"ORD-2": {"acme-gorgias bad-rating-no-comment"},
		"ORD-3": {"acme-gorgias bad-rating-no-comment"},
	}
	raised := r.raised(t)
	if diff := cmp.Diff(want, kindsByOrder(raised)); diff != "" {
		t.Errorf("raised (-want +got):\n%s", diff)
	}

	// A raise task is the survey's, derived from the evaluation.
	eventID := "rating:acme-carrefour:ORD-1:2025-03-01T08:59:00.000Z"
	id := TypeRaise + ":" + key("acme", eventID, "acme-gorgias")
	p, ok := raised[id]
	if !ok {
		t.Fatalf("no task %s among %v", id, slices.Collect(maps.Keys(raised)))
	}
	created := t0.Add(-time.Minute - 72*time.Hour)
	wantP := RaisePayload{
		Merchant: "acme", Account: "acme-gorgias", EventID: eventID, OccurredAt: t0.Add(-time.Minute),
		Kind: config.AlertBadRatingWithComment, OrderID: "ORD-1", Store: "acme-fr",
		Buyer: Buyer{Name: "Jeanne Martin", Email: "x7f3@relay.example"}, Score: 1, Comment: "Box arrived crushed",
		Order: &OrderDetails{Marketplace: "carrefour", Status: "RECEIVED", CreatedAt: &created, Total: "49.90", Currency: "EUR",
			Lines: []OrderLine{{SKU: "MUG-01", Name: "Blue mug", Quantity: 2}}},
	}
	if diff := cmp.Diff(wantP, p); diff != "" {
		t.Errorf("raise payload (-want +got):\n%s", diff)
	}
	store, _ := r.cfg.Merchants[0].Store("acme-fr")
	subject, body, err := render("en", p, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Buyer Jeanne Martin gave a bad rating", "rated the delivery of order ORD-1 (ACME France) 1/5", `Comment: "Box arrived crushed"`, "- Marketplace: carrefour", "https://backoffice.example/orders/ORD-1", eventID} {
		if !strings.Contains(subject+"\n"+body, w) {
			t.Errorf("ticket does not say %q:\n%s\n%s", w, subject, body)
		}
	}
	if cur, err := syncstate.New(r.rdb).Cursor(ctx, "alerts:{acme}:rcur:acme-carrefour"); err != nil || !cur.Equal(t0) {
		t.Errorf("cursor = %s, %v; want %s", cur, err, t0)
	}

	// An hour later: the same evaluations listed again raise nothing more
	// in the accounts they were raised in; one that has a comment now is
	// raised, once, in the account that takes only those (the Gorgias
	// ticket keeps its id); a new one raises its own.
	r.advance(time.Hour)
	changed := evaluation("ORD-2", 1, "Still waiting for a refund", t0.Add(-30*time.Second))
	changed.UpdatedAt = t0.Add(50 * time.Minute)
	r.lister.set(
		evaluation("ORD-1", 1, "Box arrived crushed", t0.Add(-time.Minute)), changed,
		evaluation("ORD-6", 2, "Late", t0.Add(30*time.Minute)),
	)
	if err := s.Sync(ctx, "acme", "acme-carrefour"); err != nil {
		t.Fatal(err)
	}
	if q := r.lister.calls(); !q[len(q)-1].Since.Equal(t0.Add(-2 * time.Minute)) {
		t.Errorf("second sync since %s, want the cursor less the overlap", q[len(q)-1].Since)
	}
	want["ORD-2"] = []string{"acme-gorgias bad-rating-no-comment", "acme-zendesk bad-rating-with-comment"}
	want["ORD-6"] = []string{"acme-gorgias bad-rating-with-comment", "acme-zendesk bad-rating-with-comment"}
	if diff := cmp.Diff(want, kindsByOrder(r.raised(t))); diff != "" {
		t.Errorf("after the second sync (-want +got):\n%s", diff)
	}
}

func TestRatingSyncOnReplicasRaisesOnce(t *testing.T) {
	r := newRig(t, true)
	var evals []connectors.Evaluation
	for i := range 30 {
		evals = append(evals, evaluation(fmt.Sprintf("ORD-%02d", i), 1+i%4, "", t0.Add(-time.Duration(i)*time.Second)))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		l := &fakeLister{per: 4}
		l.set(evals...)
		s := r.sync(t, l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Sync(t.Context(), "acme", "acme-carrefour")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// Grades 1 and 2 are bad: 16 orders, each in the Gorgias account only.
	raised := r.raised(t)
	if len(raised) != 16 {
		t.Errorf("%d raise tasks, want 16", len(raised))
	}
	for order, kinds := range kindsByOrder(raised) {
		if len(kinds) != 1 {
			t.Errorf("order %s raised %v", order, kinds)
		}
	}
}

func TestRatingSyncResumesAListingPutOff(t *testing.T) {
	r := newRig(t, true)
	ctx := t.Context()
	deferred := &connectors.DeferredError{System: "mirakl", Class: "alerts", Until: t0.Add(time.Minute)}
	r.lister.per = 2
	for i := range 6 {
		r.lister.evals = append(r.lister.evals, evaluation(fmt.Sprintf("ORD-%d", i), 1, "", t0.Add(-time.Duration(i)*time.Second)))
	}
	token := fmt.Sprintf("%d/4", t0.Add(-2*time.Minute).UnixNano())
	r.lister.fail = map[string]error{token: fmt.Errorf("mirakl: list evaluations: %w", deferred)}
	s := r.sync(t)
	err := s.ProcessTask(ctx, NewRatingsTask(RatingsPayload{Merchant: "acme", Account: "acme-carrefour"}, 1))
	if d, ok := connectors.Deferred(err); !ok || d != deferred || errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("put off part-way: err = %v, want the deferral, retryable", err)
	}
	if n := len(r.raised(t)); n != 4 {
		t.Errorf("%d alerts raised before the deferral, want 4", n)
	}
	st := syncstate.New(r.rdb)
	if cur, _ := st.Cursor(ctx, "alerts:{acme}:rcur:acme-carrefour"); !cur.IsZero() {
		t.Errorf("cursor moved to %s before the listing ended", cur)
	}
	l, ok, err := st.ResumeListing(ctx, "alerts:{acme}:rlist:acme-carrefour")
	if err != nil || !ok || l.PageToken != token || !l.Newest.Equal(t0) {
		t.Fatalf("saved listing %+v, %t, %v", l, ok, err)
	}

	// The task comes back later: it goes on from the page it reached, and
	// the cursor becomes when the listing started.
	r.advance(5 * time.Minute)
	if err := s.Sync(ctx, "acme", "acme-carrefour"); err != nil {
		t.Fatal(err)
	}
	q := r.lister.calls()
	if last := q[len(q)-1]; last.PageToken != token || !last.Since.IsZero() {
		t.Errorf("resumed with %+v, want the saved page token", last)
	}
	if n := len(r.raised(t)); n != 6 {
		t.Errorf("%d alerts raised in all, want 6", n)
	}
	if cur, _ := st.Cursor(ctx, "alerts:{acme}:rcur:acme-carrefour"); !cur.Equal(t0) {
		t.Errorf("cursor = %s, want %s, when the listing started", cur, t0)
	}
	if _, ok, _ := st.ResumeListing(ctx, "alerts:{acme}:rlist:acme-carrefour"); ok {
		t.Error("the listing is still saved once done")
	}
	// What the sync left in Redis: its cursor, under the merchant's tag.
	keys, err := r.rdb.Keys(ctx, "alerts:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"alerts:{acme}:rcur:acme-carrefour"}, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
}

func TestRatingSyncListsAgainWhenItsTokenIsRefused(t *testing.T) {
	r := newRig(t, true)
	ctx := t.Context()
	r.lister.set(evaluation("ORD-1", 1, "", t0.Add(-time.Minute)))
	since := t0.Add(-time.Hour)
	st := syncstate.New(r.rdb)
	if err := st.SaveListing(ctx, "alerts:{acme}:rlist:acme-carrefour", syncstate.Listing{Since: since, PageToken: "stale", Newest: t0.Add(-50 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	r.lister.fail = map[string]error{"stale": fmt.Errorf("mirakl: list evaluations: %w: not a page token", connectors.ErrInvalid)}
	if err := r.sync(t).Sync(ctx, "acme", "acme-carrefour"); err != nil {
		t.Fatal(err)
	}
	q := r.lister.calls()
	if len(q) != 2 || q[0].PageToken != "stale" || q[1].PageToken != "" || !q[1].Since.Equal(since) {
		t.Errorf("queries %+v: want the stale token, then the listing's Since again", q)
	}
	if n := len(r.raised(t)); n != 1 {
		t.Errorf("%d raise tasks, want 1", n)
	}
}

func TestRatingSyncSwitchedOffOrUnknown(t *testing.T) {
	r := newRig(t, false)
	ctx := t.Context()
	r.lister.set(evaluation("ORD-1", 1, "Broken", t0))
	s := r.sync(t)
	if err := s.Sync(ctx, "acme", "acme-carrefour"); err != nil {
		t.Fatal(err)
	}
	if n := len(r.lister.calls()); n != 0 {
		t.Errorf("switched off, the sync listed %d times", n)
	}
	if n := len(r.raised(t)); n != 0 {
		t.Errorf("switched off, %d alerts raised", n)
	}
	if keys, _ := r.rdb.Keys(ctx, "*").Result(); len(keys) != 0 {
		t.Errorf("switched off, the sync wrote %v", keys)
	}

	r.cfg.Merchants[0].Marketplaces[0].RatingAlerts = true
	for _, tc := range []struct {
		name, merchant, account string
		listers                 map[string]connectors.EvaluationLister
	}{
		{"unknown merchant", "globex", "acme-carrefour", nil},
		{"unknown account", "acme", "acme-decathlon", nil},
		{"no lister", "acme", "acme-carrefour", map[string]connectors.EvaluationLister{}},
	} {
		s := r.sync(t)
		if tc.listers != nil {
			s.o.Listers = tc.listers
		}
		err := s.ProcessTask(ctx, NewRatingsTask(RatingsPayload{Merchant: tc.merchant, Account: tc.account}, 1))
		if !errors.Is(err, ErrUnknownAccount) || !errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s: err = %v, want ErrUnknownAccount and SkipRetry", tc.name, err)
		}
	}
}

func TestRatingSyncFollowsTheThreshold(t *testing.T) {
	r := newRig(t, true)
	three := 3
	r.cfg.Merchants[0].BadRatingThreshold = &three
	e := evaluation("ORD-1", 3, "", t0)
	e.Order = nil // no order: the requester is a stable address no mail reaches
	r.lister.set(e, evaluation("ORD-2", 4, "", t0))
	if err := r.sync(t).Sync(t.Context(), "acme", "acme-carrefour"); err != nil {
		t.Fatal(err)
	}
	raised := r.raised(t)
	if diff := cmp.Diff(map[string][]string{"ORD-1": {"acme-gorgias bad-rating-no-comment"}}, kindsByOrder(raised)); diff != "" {
		t.Errorf("raised (-want +got):\n%s", diff)
	}
	for _, p := range raised {
		if p.Buyer.Email != "order-ORD-1@acme-carrefour.marketplace.invalid" || p.Buyer.Name != "Jeanne Martin" || p.Order != nil {
			t.Errorf("buyer %+v, order %+v", p.Buyer, p.Order)
		}
	}
}
