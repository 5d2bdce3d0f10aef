package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// An entity dated in the future would win over every later update and
// freeze the widget: every *.upserted kind refuses an updated_at more than
// the allowed skew ahead of the time the event was received.
func TestUpsertsDatedInTheFutureAreRefused(t *testing.T) {
	t.Parallel()
	const skew = 5 * time.Minute
	received := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	merchant := &config.Merchant{ID: "acme", Stores: []config.Store{{ID: "acme-fr"}}}
	planners := orders.Planners(skew, 1)
	data := map[string]map[string]any{
		orders.KindOrderUpserted: {"store": "acme-fr", "order_id": "O-1", "created_at": "2026-11-20T10:00:00Z",
			"customer": map[string]any{"email": "buyer@example.com"}, "lines": []any{}},
		orders.KindShipmentUpserted:       {"store": "acme-fr", "order_id": "O-1", "shipment_id": "S-1"},
		orders.KindReturnUpserted:         {"store": "acme-fr", "order_id": "O-1", "return_id": "R-1", "products": []any{}},
		orders.KindSupportRequestUpserted: {"store": "acme-fr", "order_id": "O-1", "request_id": "Q-1", "subject": "Where is it?"},
	}
	if len(data) != len(planners) {
		t.Fatalf("the test covers %d kinds, the package plans %d", len(data), len(planners))
	}
	cases := []struct {
		name    string
		updated string
		refused bool
	}{
		{"now", "2026-11-23T12:00:00Z", false},
		{"within the skew", "2026-11-23T12:04:59Z", false},
		{"past the skew", "2026-11-23T12:05:01Z", true},
		{"the end of time", "9999-12-31T23:59:59Z", true},
	}
	for kind, d := range data {
		for _, tc := range cases {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				fields := map[string]any{"updated_at": tc.updated}
				for k, v := range d {
					fields[k] = v
				}
				raw, _ := json.Marshal(fields)
				ev := events.Event{ID: "e-1", Kind: kind, OccurredAt: received, Data: raw, Merchant: merchant, ReceivedAt: received}
				tasks, err := planners[kind].Plan(context.Background(), ev)
				if !tc.refused {
					if err != nil || len(tasks) != 1 {
						t.Fatalf("Plan = %d tasks, %v; want one task", len(tasks), err)
					}
					return
				}
				var apiErr *httpapi.Error
				if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || apiErr.Code != httpapi.CodeInvalidField || apiErr.Field != "data.updated_at" {
					t.Fatalf("Plan error = %v, want 422 invalid_field naming data.updated_at", err)
				}
			})
		}
	}
}

// The spaces a sender's export leaves around an email do not refuse the
// order; an order id that is blank, padded or holds control characters
// does, as it would be another order to the next system.
func TestOrderIdentityIsTidyOrRefused(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	merchant := &config.Merchant{ID: "acme", Stores: []config.Store{{ID: "acme-fr"}}}
	plan := orders.Planners(5*time.Minute, 1)[orders.KindOrderUpserted]
	upsert := func(orderID, email string) error {
		raw, _ := json.Marshal(map[string]any{"store": "acme-fr", "order_id": orderID, "created_at": "2026-11-20T10:00:00Z",
			"updated_at": "2026-11-23T12:00:00Z", "customer": map[string]any{"email": email}, "lines": []any{}})
		_, err := plan.Plan(context.Background(), events.Event{ID: "e-1", Kind: orders.KindOrderUpserted, OccurredAt: received, Data: raw, Merchant: merchant, ReceivedAt: received})
		return err
	}
	if err := upsert("O-1", "  UP@Example.COM "); err != nil {
		t.Errorf("an email with spaces around it: %v", err)
	}
	for _, id := range []string{"   ", " O-1", "O-1\x00", "O\n1"} {
		var apiErr *httpapi.Error
		if err := upsert(id, "buyer@example.com"); !errors.As(err, &apiErr) || apiErr.Field != "data.order_id" {
			t.Errorf("order id %q: %v, want 422 naming data.order_id", id, err)
		}
	}
}
