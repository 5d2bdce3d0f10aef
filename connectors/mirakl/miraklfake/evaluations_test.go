package miraklfake_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

func mustEvaluate(t *testing.T, s *miraklfake.Server, shop, orderID string, e miraklfake.EvaluationSeed) api.Evaluation {
	t.Helper()
	got, err := s.PutEvaluation(shop, orderID, e)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestGetEvaluationOR51(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	o := api.Order{OrderID: "E-1-A", OrderState: api.StateReceived, Customer: api.Customer{CustomerID: "cust-1", Firstname: "Jane", Lastname: "Doe"}}
	seedOrder(t, s, o)
	before := mustOrder(t, s, "E-1-A")
	given := clk.Now()
	clk.Advance(time.Hour)
	mustEvaluate(t, s, "", "E-1-A", miraklfake.EvaluationSeed{
		Grade: 2, Comment: "Box arrived crushed", At: given,
		Assessments: []api.Assessment{{Code: "3", Label: "Delivery deadline respected", Response: "false"}},
	})

	a := get(t, s, "/api/orders/E-1-A/evaluation", nil)
	if a.status != http.StatusOK {
		t.Fatalf("OR51: HTTP %d %s", a.status, a.raw)
	}
	var got api.Evaluation
	a.decode(t, &got)
	want := api.Evaluation{
		Assessments: []api.Assessment{{Code: "3", Label: "Delivery deadline respected", Response: "false"}},
		Comment:     "Box arrived crushed", CustomerID: "cust-1", Firstname: "Jane", Lastname: "Doe",
		Date: api.NewTime(given), LastUpdatedDate: api.NewTime(given), Grade: 2, Visible: true,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OR51 (-want +got):\n%s", diff)
	}
	// The order is left as it was.
	if after := mustOrder(t, s, "E-1-A"); !after.LastUpdatedDate.Equal(before.LastUpdatedDate.Time) {
		t.Errorf("evaluating moved the order's last update from %v to %v", before.LastUpdatedDate, after.LastUpdatedDate)
	}

	// Evaluated again: the first date stays, the last update moves.
	clk.Advance(time.Hour)
	again := mustEvaluate(t, s, "", "E-1-A", miraklfake.EvaluationSeed{Grade: 1, Hidden: true})
	if !again.Date.Equal(given) || !again.LastUpdatedDate.Equal(clk.Now()) || again.Visible || again.Comment != "" {
		t.Errorf("evaluated again: %+v", again)
	}
	if e, ok := s.Evaluation("", "E-1-A"); !ok || e.Grade != 1 {
		t.Errorf("Evaluation = %+v, %v", e, ok)
	}
}

func TestGetEvaluationNotFound(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, api.Order{OrderID: "E-2-A", OrderState: api.StateShipped})
	if _, err := s.PutOrder(otherID, api.Order{OrderID: "E-3-A", OrderState: api.StateClosed}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutEvaluation(otherID, "E-3-A", miraklfake.EvaluationSeed{Grade: 1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		query      url.Values
		want       string
	}{
		{"no evaluation", "/api/orders/E-2-A/evaluation", nil, "The order has no evaluation"},
		{"unknown order", "/api/orders/NOPE/evaluation", nil, "The requested order does not exist"},
		{"another shop's order", "/api/orders/E-3-A/evaluation", nil, "The requested order does not exist"},
	} {
		a := get(t, s, tc.path, tc.query)
		if a.status != http.StatusNotFound {
			t.Errorf("%s: HTTP %d, want 404", tc.name, a.status)
			continue
		}
		if msg := a.errorBody(t); msg != tc.want {
			t.Errorf("%s: message %q, want %q", tc.name, msg, tc.want)
		}
	}
	// The other shop reads its own with shop_id.
	a := do(t, s, request{method: http.MethodGet, path: "/api/orders/E-3-A/evaluation", query: url.Values{"shop_id": {otherID}}, key: multiKey})
	if a.status != http.StatusOK {
		t.Errorf("with shop_id: HTTP %d", a.status)
	}
	if a := do(t, s, request{method: http.MethodGet, path: "/api/orders/E-2-A/evaluation"}); a.status != http.StatusUnauthorized {
		t.Errorf("without a key: HTTP %d, want 401", a.status)
	}
	if n := s.Requests()["GET /api/orders/{order_id}/evaluation"]; n != 4 {
		t.Errorf("OR51 counted %d requests, want 4", n)
	}
}

func TestPutEvaluationRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, api.Order{OrderID: "E-4-A", OrderState: api.StateShipping})
	seedOrder(t, s, api.Order{OrderID: "E-5-A", OrderState: api.StateClosed})
	for _, tc := range []struct {
		name, order string
		grade       int
		want        string
	}{
		{"unknown order", "NOPE", 3, "no order"},
		{"not shipped yet", "E-4-A", 3, "cannot evaluate it yet"},
		{"grade too low", "E-5-A", 0, "grade 0"},
		{"grade too high", "E-5-A", 6, "grade 6"},
	} {
		if _, err := s.PutEvaluation("", tc.order, miraklfake.EvaluationSeed{Grade: tc.grade}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
	mustEvaluate(t, s, "", "E-5-A", miraklfake.EvaluationSeed{Grade: 5})
	s.Reset()
	if _, ok := s.Evaluation("", "E-5-A"); ok {
		t.Error("Reset kept an evaluation")
	}
}

func TestEvaluationsAreThrottled(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{Throttle: &miraklfake.Throttle{Requests: 1, Window: 10 * time.Second}})
	seedOrder(t, s, api.Order{OrderID: "E-6-A", OrderState: api.StateShipped})
	if a := get(t, s, "/api/orders/E-6-A/evaluation", nil); a.status != http.StatusNotFound {
		t.Fatalf("first call: HTTP %d", a.status)
	}
	if a := get(t, s, "/api/orders/E-6-A/evaluation", nil); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("second call: HTTP %d, Retry-After %q; want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
}
