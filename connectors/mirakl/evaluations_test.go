package mirakl_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// TestListEvaluationsAsOR11AndOR51 holds the calls of a listing to the
// mapping evaluations.go describes: OR11 for the orders a customer may
// have evaluated, updated since Since less the window, paged by offset
// with the query kept in the token; then OR51 for each of them, and no
// other.
func TestListEvaluationsAsOR11AndOR51(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	const window = 24 * time.Hour
	h := startFake(t, setup{wrap: rec.wrap, shopID: shopID, window: window})
	mp := h.mp
	since := time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.UTC)
	for i, state := range []string{api.StateShipped, api.StateReceived, api.StateClosed, api.StateShipping, api.StateCanceled} {
		id := fmt.Sprintf("R-%d-A", i)
		if _, err := h.fake.PutOrder(shopID, api.Order{OrderID: id, OrderState: state, LastUpdatedDate: api.NewTime(since.Add(-time.Hour))}); err != nil {
			t.Fatal(err)
		}
	}
	// Too old for the window, though evaluated since.
	if _, err := h.fake.PutOrder(shopID, api.Order{OrderID: "R-OLD-A", OrderState: api.StateClosed, LastUpdatedDate: api.NewTime(since.Add(-window - 2*time.Minute))}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"R-1-A", "R-OLD-A"} {
		if _, err := h.fake.PutEvaluation(shopID, id, miraklfake.EvaluationSeed{Grade: 1, At: since.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}

	page, err := mp.ListEvaluations(t.Context(), connectors.EvaluationQuery{Since: since, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Evaluations) != 1 || page.Evaluations[0].OrderID != "R-1-A" || page.NextPageToken == "" {
		t.Fatalf("first page: %+v", page)
	}
	or11 := rec.find(http.MethodGet, "/api/orders")
	want := url.Values{
		"paginate": {"true"}, "max": {"2"}, "offset": {"0"}, "shop_id": {shopID},
		"order_state_codes": {"SHIPPED,TO_COLLECT,RECEIVED,CLOSED"},
		"start_update_date": {"2025-02-28T09:00:00.123Z"},
	}
	if len(or11) != 1 {
		t.Fatalf("%d OR11 calls, want 1", len(or11))
	}
	if diff := cmp.Diff(want, or11[0].query); diff != "" {
		t.Errorf("OR11 query (-want +got):\n%s", diff)
	}
	// The rest of the listing, from its token alone.
	q := connectors.EvaluationQuery{PageToken: page.NextPageToken}
	for page.NextPageToken != "" {
		if page, err = mp.ListEvaluations(t.Context(), q); err != nil {
			t.Fatal(err)
		}
		if len(page.Evaluations) != 0 {
			t.Errorf("later page lists %+v", page.Evaluations)
		}
		q.PageToken = page.NextPageToken
	}
	or11 = rec.find(http.MethodGet, "/api/orders")
	if len(or11) != 2 || or11[1].query.Get("offset") != "2" || or11[1].query.Get("start_update_date") != want.Get("start_update_date") || or11[1].query.Get("max") != "2" {
		t.Errorf("OR11 calls: %+v", or11)
	}
	var asked []string
	for _, s := range rec.all() {
		if id, ok := strings.CutSuffix(strings.TrimPrefix(s.path, prefix+"/api/orders/"), "/evaluation"); ok {
			asked = append(asked, id)
			if s.query.Get("shop_id") != shopID || s.header.Get("Authorization") != apiKey || s.header.Get("Accept") != "application/json" {
				t.Errorf("OR51 for %s: query %v, headers %v", id, s.query, s.header)
			}
		}
	}
	if diff := cmp.Diff([]string{"R-0-A", "R-1-A", "R-2-A"}, asked); diff != "" {
		t.Errorf("orders asked for their evaluation (-want +got):\n%s", diff)
	}
}

// routed serves OR11 a one-order listing and OR51 the given answer.
func routed(t *testing.T, status int, body string) *mirakl.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/orders" {
			_, _ = io.WriteString(w, `{"orders": [{"order_id": "O-1-A", "order_state": "RECEIVED", "customer": {"firstname": "Max", "lastname": "Muster"},
				"customer_notification_email": "x7f3@relay.example", "created_date": "2019-04-01T09:00:00Z", "last_updated_date": "2019-04-02T09:00:00Z"}], "total_count": 1}`)
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	c, err := mirakl.New(mirakl.Options{BaseURL: srv.URL, APIKey: apiKey, HTTPClient: srv.Client(), Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEvaluationAnswers(t *testing.T) {
	t.Parallel()
	// The spec's example, with a field Mirakl may add.
	example := `{"assessments": [{"code": "1", "label": "Shipping method as expected", "response": "1"}],
		"comment": "Great seller, I recommend!", "customer_id": "Customer-001", "date": "2019-04-03T09:46:17Z",
		"firstname": "Taylor", "grade": 4, "last_updated_date": "2019-04-03T09:46:17Z", "lastname": "Smith",
		"reply": {"comment": "Owww thks", "date": "2019-06-25T16:00:00Z", "type": "SHOP"}, "visible": true, "a_new_field": 1}`
	given := time.Date(2019, 4, 3, 9, 46, 17, 0, time.UTC)
	page, err := routed(t, http.StatusOK, example).ListEvaluations(t.Context(), connectors.EvaluationQuery{Since: given})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Evaluations) != 1 || page.Evaluations[0].Order == nil {
		t.Fatalf("page: %+v", page)
	}
	got := page.Evaluations[0]
	if got.Order.ID != "O-1-A" || got.Order.CustomerEmail != "x7f3@relay.example" {
		t.Errorf("order %+v", got.Order)
	}
	got.Order = nil
	want := connectors.Evaluation{
		OrderID: "O-1-A", Grade: 4, Comment: "Great seller, I recommend!", CustomerName: "Taylor Smith", CustomerID: "Customer-001",
		CreatedAt: given, UpdatedAt: given,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("evaluation (-want +got):\n%s", diff)
	}
	// Given and changed before Since: left out.
	if page, err := routed(t, http.StatusOK, example).ListEvaluations(t.Context(), connectors.EvaluationQuery{Since: given.Add(time.Second)}); err != nil || len(page.Evaluations) != 0 {
		t.Errorf("an evaluation before Since: %+v, %v", page, err)
	}

	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   error // nil: no evaluation, no error
	}{
		{"404", http.StatusNotFound, `{"status": 404, "message": "Not found"}`, nil},
		{"204", http.StatusNoContent, ``, nil},
		{"empty 200", http.StatusOK, ``, nil},
		{"null", http.StatusOK, `null`, nil},
		{"400", http.StatusBadRequest, `{"status": 400, "message": "Bad request"}`, connectors.ErrInvalid},
		{"500", http.StatusInternalServerError, ``, connectors.ErrUnavailable},
		{"garbled", http.StatusOK, `{"grade": "`, connectors.ErrUnavailable},
	} {
		page, err := routed(t, tc.status, tc.body).ListEvaluations(t.Context(), connectors.EvaluationQuery{})
		switch {
		case tc.want == nil && (err != nil || len(page.Evaluations) != 0):
			t.Errorf("%s: %+v, %v; want no evaluation and no error", tc.name, page, err)
		case tc.want != nil && !errors.Is(err, tc.want):
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		case tc.want != nil && !strings.Contains(err.Error(), "order O-1-A"):
			t.Errorf("%s: err = %v, want the order named", tc.name, err)
		}
	}
}

func TestListEvaluationsRefusesForeignTokens(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tok := range []string{"not a token", "e30", enc(`{"m":10,"o":10}`), enc(`{"em":10,"eo":0,"es":"yesterday"}`)} {
		if _, err := h.mp.ListEvaluations(t.Context(), connectors.EvaluationQuery{PageToken: tok}); !errors.Is(err, connectors.ErrInvalid) {
			t.Errorf("page token %q: err = %v, want ErrInvalid", tok, err)
		}
	}
	if _, err := h.mp.ListOrders(t.Context(), connectors.OrderQuery{PageToken: enc(`{"em":10,"eo":10}`)}); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("an evaluation token to ListOrders: err = %v, want ErrInvalid", err)
	}
	if _, err := mirakl.New(mirakl.Options{BaseURL: "https://marketplace.example.com", APIKey: apiKey, EvaluationWindow: -time.Hour}); err == nil {
		t.Error("a negative EvaluationWindow was taken")
	}
}
