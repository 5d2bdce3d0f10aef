package marketplacetest

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// EvaluationSeeder is the part of a Seeder that gives orders their
// customers' evaluations, for connectors that are also
// connectors.EvaluationLister.
type EvaluationSeeder interface {
	// Evaluate gives a shipped order its customer's evaluation. An order
	// evaluated again keeps the date it was first given; At is then when
	// it changed.
	Evaluate(t *testing.T, e SeedEvaluation)
}

// SeedEvaluation is a customer's evaluation of an order.
type SeedEvaluation struct {
	OrderID string
	Grade   int // 1 to 5
	Comment string
	// At is when it was given (or changed); zero means now.
	At time.Time
}

// requireEvaluations returns the connector as an EvaluationLister and its
// seeders, or skips.
func requireEvaluations(t *testing.T, h Harness) (connectors.EvaluationLister, Seeder, EvaluationSeeder) {
	t.Helper()
	el, ok := h.Marketplace().(connectors.EvaluationLister)
	if !ok {
		t.Skip("the connector does not list evaluations")
	}
	s := requireSeeder(t, h)
	es, ok := s.(EvaluationSeeder)
	if !ok {
		t.Skip("this account cannot be given evaluations")
	}
	return el, s, es
}

// listEvaluations pages through ListEvaluations, failing on an
// evaluation listed twice, and returns them by order id.
func listEvaluations(t *testing.T, el connectors.EvaluationLister, q connectors.EvaluationQuery) (map[string]connectors.Evaluation, int) {
	t.Helper()
	got := map[string]connectors.Evaluation{}
	for pages := 1; ; pages++ {
		page, err := el.ListEvaluations(t.Context(), q)
		if err != nil {
			t.Fatalf("ListEvaluations (page %d): %v", pages, err)
		}
		if q.Limit > 0 && len(page.Evaluations) > q.Limit {
			t.Errorf("page %d holds %d evaluations, more than the %d orders a page looks at", pages, len(page.Evaluations), q.Limit)
		}
		for _, e := range page.Evaluations {
			if _, dup := got[e.OrderID]; dup {
				t.Errorf("the evaluation of order %s listed twice", e.OrderID)
			}
			got[e.OrderID] = e
		}
		if page.NextPageToken == "" {
			return got, pages
		}
		if pages > 100 {
			t.Fatal("ListEvaluations found no end")
		}
		q = connectors.EvaluationQuery{PageToken: page.NextPageToken}
	}
}

// testListEvaluations lists the evaluations given since a moment among
// orders that have one, had one before, or have none: every one given
// since is listed once with its grade, comment, date and order, over
// several pages; one given before may be listed too; one changed since is
// listed again, with the date it was first given.
func testListEvaluations(t *testing.T, h Harness) {
	el, s, es := requireEvaluations(t, h)
	base := baseTime()
	since := base.Add(10 * time.Minute)
	const n = 45
	want := map[string]connectors.Evaluation{}
	older := map[string]bool{}
	for i := range n {
		id := fmt.Sprintf("EVAL-%02d-A", i)
		status := connectors.OrderShipped
		if i%2 == 1 {
			status = connectors.OrderClosed
		}
		s.PutOrder(t, connectors.Order{
			ID: id, CommercialID: id, Status: status, CreatedAt: base.Add(-48 * time.Hour).Add(time.Duration(i) * time.Second),
			UpdatedAt: base, CustomerName: customerName, CustomerID: "cust-" + id, Total: "40.00", Currency: "EUR",
		})
		switch {
		case i%3 == 0:
			e := SeedEvaluation{OrderID: id, Grade: i%5 + 1, At: since.Add(time.Duration(i) * time.Second)}
			if i%2 == 0 {
				e.Comment = "Comment on " + id
			}
			es.Evaluate(t, e)
			want[id] = connectors.Evaluation{OrderID: id, Grade: e.Grade, Comment: e.Comment, CustomerName: customerName, CreatedAt: e.At, UpdatedAt: e.At}
		case i%3 == 1 && i < 20:
			es.Evaluate(t, SeedEvaluation{OrderID: id, Grade: 5, At: base})
			older[id] = true
		}
	}
	// An order not shipped yet has no evaluation to list.
	seedOrder(t, h, s, "EVAL-NEW-A", connectors.OrderNew, 1)

	got, pages := listEvaluations(t, el, connectors.EvaluationQuery{Since: since, Limit: 10})
	if pages < 2 {
		t.Errorf("%d evaluations among %d orders came in %d page with Limit 10", len(got), n, pages)
	}
	listed := map[string]connectors.Evaluation{}
	for id, e := range got {
		if older[id] {
			continue // given before Since: a listing may return it
		}
		if e.Order == nil || e.Order.ID != id {
			t.Errorf("evaluation of %s: Order = %+v, want the order", id, e.Order)
		}
		e.Order, e.CustomerID = nil, ""
		listed[id] = e
	}
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("evaluations given since %s (-seeded +listed):\n%s", since.Format(time.RFC3339), diff)
	}

	// An evaluation given before is changed: listed again, still named by
	// the date it was first given.
	changedAt := since.Add(20 * time.Minute)
	es.Evaluate(t, SeedEvaluation{OrderID: "EVAL-01-A", Grade: 1, Comment: "Changed my mind", At: changedAt})
	got, _ = listEvaluations(t, el, connectors.EvaluationQuery{Since: changedAt.Add(-time.Minute)})
	e, ok := got["EVAL-01-A"]
	if !ok || e.Grade != 1 || e.Comment != "Changed my mind" || !e.CreatedAt.Equal(base) || e.UpdatedAt.Before(changedAt) {
		t.Errorf("changed evaluation listed as %+v (found %t), want grade 1, first given %s, changed at %s", e, ok, base, changedAt)
	}
}

// testEvaluationListingFails shows that a failed call anywhere in a page
// (the listing's own, or one per order) fails the page, retryably, rather
// than leaving out the evaluations it would have read.
func testEvaluationListingFails(t *testing.T, h Harness) {
	el, s, es := requireEvaluations(t, h)
	faults := requireFaults(t, h)
	base := baseTime()
	for i := range 3 {
		id := fmt.Sprintf("EVALF-%d-A", i)
		s.PutOrder(t, connectors.Order{ID: id, CommercialID: id, Status: connectors.OrderShipped, CreatedAt: base, UpdatedAt: base, CustomerName: customerName, Currency: "EUR"})
		es.Evaluate(t, SeedEvaluation{OrderID: id, Grade: 1, At: base})
	}
	q := connectors.EvaluationQuery{Since: base.Add(-time.Minute)}
	for nth := int32(1); ; nth++ {
		var seen atomic.Int32
		faults.Push(fault.Fault{Status: http.StatusServiceUnavailable, Match: func(*http.Request) bool { return seen.Add(1) == nth }})
		_, err := el.ListEvaluations(t.Context(), q)
		if faults.Pending() > 0 {
			faults.Clear() // the page made fewer calls: each one failed once
			if err != nil {
				t.Fatalf("ListEvaluations without a fault: %v", err)
			}
			break
		}
		if err == nil || !connectors.IsRetryable(err) {
			t.Errorf("ListEvaluations whose call %d answered 503: err = %v, want a retryable error", nth, err)
		}
		if nth > 20 {
			t.Fatal("ListEvaluations made more than 20 calls for a page of 3 orders")
		}
	}
	got, _ := listEvaluations(t, el, q)
	if len(got) != 3 {
		t.Errorf("after the faults, %d evaluations listed, want 3", len(got))
	}
}
