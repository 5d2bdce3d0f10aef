package mirakl_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

func TestOrderStatus(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]connectors.OrderStatus{
		"":                           connectors.OrderNotProvided,
		api.StateStaging:             connectors.OrderNew,
		api.StateWaitingAcceptance:   connectors.OrderNew,
		api.StateWaitingDebit:        connectors.OrderInProgress,
		api.StateWaitingDebitPayment: connectors.OrderInProgress,
		api.StateShipping:            connectors.OrderInProgress,
		api.StateShipped:             connectors.OrderShipped,
		api.StateToCollect:           connectors.OrderShipped,
		api.StateReceived:            connectors.OrderShipped,
		api.StateIncidentOpen:        connectors.OrderShipped,
		api.StateClosed:              connectors.OrderClosed,
		api.StateRefunded:            connectors.OrderClosed,
		api.StateRefused:             connectors.OrderCanceled,
		api.StateCanceled:            connectors.OrderCanceled,
		api.StateWaitingRefund:       connectors.OrderUndefined,
		api.StateWaitingRefundPay:    connectors.OrderUndefined,
		"LOST_IN_TRANSIT":            connectors.OrderUndefined,
		"shipped":                    connectors.OrderUndefined,
	} {
		if got := mirakl.OrderStatus(state); got != want {
			t.Errorf("OrderStatus(%q) = %s, want %s", state, got, want)
		}
	}
}

// seedMirakl puts an order of two lines in a Mirakl state.
func seedMirakl(t *testing.T, h *fakeHarness, id, state string) api.Order {
	t.Helper()
	o, err := h.fake.PutOrder("", api.Order{
		OrderID: id, OrderState: state, CurrencyISOCode: "EUR",
		OrderLines: []api.OrderLine{
			{OfferSKU: "MUG", Quantity: 2, Price: "40.00", ShippingPrice: "5.00"},
			{OfferSKU: "PLATE", Quantity: 1, Price: "12.50", ShippingPrice: "0"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOrderActions(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	for state, want := range map[string][]connectors.OrderActionKind{
		api.StateStaging:           nil,
		api.StateWaitingAcceptance: {connectors.ActionAccept, connectors.ActionRefuse},
		api.StateWaitingDebit:      nil, // not paid: neither shipped nor cancelled yet
		api.StateShipping:          {connectors.ActionShip, connectors.ActionCancel, connectors.ActionCancelLines},
		api.StateShipped:           nil,
		api.StateClosed:            nil,
		"SOMETHING_NEW":            nil,
	} {
		seedMirakl(t, h, "ACT-"+state, state)
		o, err := h.mp.GetOrder(t.Context(), "ACT-"+state)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, o.Actions); diff != "" {
			t.Errorf("%s: actions (-want +got):\n%s", state, diff)
		}
	}
}

func TestRefusalKeepsMiraklsMessage(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedMirakl(t, h, "O-1-A", api.StateWaitingAcceptance)
	err := h.mp.Act(t.Context(), "O-1-A", connectors.ShipOrder{Tracking: connectors.Tracking{CarrierCode: "UPS", Number: "1Z"}})
	var refused *connectors.OrderActionError
	var apiErr *connectors.APIError
	if !errors.As(err, &refused) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest {
		t.Fatalf("err = %v, want an *OrderActionError over Mirakl's 400", err)
	}
	if refused.Status != connectors.OrderNew || refused.State != api.StateWaitingAcceptance || !strings.Contains(refused.Message, "not in the expected state") {
		t.Errorf("refusal = %+v", refused)
	}
	for _, want := range []string{
		"cannot ship order O-1-A: it is new (marketplace state WAITING_ACCEPTANCE)",
		"a new order can be: accepted, refused",
		"the marketplace says: Order is not in the expected state",
	} {
		if !strings.Contains(refused.Error(), want) {
			t.Errorf("refusal reads %q, want %q in it", refused.Error(), want)
		}
	}
	// A 400 of an allowed action is no refusal by state: it stays invalid.
	seedMirakl(t, h, "O-2-A", api.StateShipping)
	err = h.mp.Act(t.Context(), "O-2-A", connectors.ShipOrder{Tracking: connectors.Tracking{CarrierCode: "PIGEON", Number: "1"}})
	if !errors.Is(err, connectors.ErrInvalid) || errors.As(err, &refused) {
		t.Errorf("an unknown carrier: err = %v, want ErrInvalid and no refusal by state", err)
	}
}

func TestActRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedMirakl(t, h, "O-1-A", api.StateShipping)
	for name, action := range map[string]connectors.OrderAction{
		"a shipping method":          connectors.ShipOrder{Tracking: connectors.Tracking{CarrierName: "PX", ShippingMethod: "express"}},
		"a tracking without carrier": connectors.ShipOrder{Tracking: connectors.Tracking{Number: "PX-1"}},
		"no action":                  nil,
		"lines without reason":       connectors.CancelOrderLines{Lines: []connectors.LineCancel{{LineID: "O-1-A-1"}}},
		"a line twice": connectors.CancelOrderLines{Reason: "34", Lines: []connectors.LineCancel{
			{LineID: "O-1-A-1", Quantity: 1}, {LineID: "O-1-A-1", Quantity: 1},
		}},
		"a negative quantity": connectors.CancelOrderLines{Reason: "34", Lines: []connectors.LineCancel{{LineID: "O-1-A-1", Quantity: -1}}},
	} {
		if err := h.mp.Act(t.Context(), "O-1-A", action); !errors.Is(err, connectors.ErrInvalid) || connectors.IsRetryable(err) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	for route, n := range h.fake.Requests() {
		if strings.HasPrefix(route, "PUT") {
			t.Errorf("%s reached Mirakl %d times", route, n)
		}
	}
	if _, err := h.mp.GetOrder(t.Context(), "O-1-A,O-2-A"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("GetOrder of two ids: err = %v, want ErrNotFound", err)
	}
}

func TestActOnOrders(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	o := seedMirakl(t, h, "O-1-A", api.StateShipping)
	// Actions given by pointer work as by value; a registered carrier gets
	// Mirakl's own tracking URL.
	if err := h.mp.Act(t.Context(), o.OrderID, &connectors.ShipOrder{Tracking: connectors.Tracking{CarrierCode: "UPS", Number: "1Z9"}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.mp.GetOrder(t.Context(), o.OrderID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != connectors.OrderShipped || got.Carrier != "UPS" || got.TrackingURL != "https://www.ups.com/track?tracknum=1Z9" {
		t.Errorf("shipped with UPS: %s, %q, %q", got.Status, got.Carrier, got.TrackingURL)
	}

	// Cancelling lines sends the amounts, the currency and the tax mode.
	seedMirakl(t, h, "O-2-A", api.StateShipping)
	cancel := connectors.CancelOrderLines{Reason: "34", Lines: []connectors.LineCancel{{LineID: "O-2-A-1", Quantity: 1}, {LineID: "O-2-A-2"}}}
	if err := h.mp.Act(t.Context(), "O-2-A", cancel); err != nil {
		t.Fatal(err)
	}
	stored, _ := h.fake.Order("", "O-2-A")
	var got2 []api.Cancelation
	for _, l := range stored.OrderLines {
		got2 = append(got2, l.Cancelations...)
	}
	if len(got2) != 2 || got2[0].Quantity != 1 || got2[0].Amount != "20" || got2[0].ShippingAmount != "2.5" || got2[1].Amount != "12.5" {
		t.Errorf("cancelations = %+v", got2)
	}
	// Cancelling one unit again is no retry: it adds up.
	if err := h.mp.Act(t.Context(), "O-2-A", connectors.CancelOrderLines{Reason: "34", Lines: []connectors.LineCancel{{LineID: "O-2-A-1", Quantity: 1}}}); err != nil {
		t.Fatal(err)
	}
	if o, _ := h.mp.GetOrder(t.Context(), "O-2-A"); o.Status != connectors.OrderCanceled {
		t.Errorf("both lines cancelled: %s", o.Status)
	}
}

func TestActFailures(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedMirakl(t, h, "O-1-A", api.StateShipping)
	put := func(r *http.Request) bool { return r.Method == http.MethodPut }

	// A 5xx on the write: it may have happened.
	h.fake.Faults().Push(fault.Fault{Status: http.StatusInternalServerError, Match: put})
	err := h.mp.Act(t.Context(), "O-1-A", connectors.CancelOrder{})
	if !errors.Is(err, connectors.ErrUncertain) || !connectors.IsRetryable(err) {
		t.Errorf("cancel answered 500: err = %v, want ErrUncertain, retryable", err)
	}
	// A 429 is a refusal: nothing happened, wait and retry.
	h.fake.Faults().Push(fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3e9, Match: put})
	err = h.mp.Act(t.Context(), "O-1-A", connectors.CancelOrder{})
	if d, ok := connectors.RetryDelay(err); !ok || d != 3e9 || errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("cancel answered 429: err = %v, want a 3s rate limit, not uncertain", err)
	}
	// Refused, and reading the order back fails: retryable.
	seedMirakl(t, h, "O-2-A", api.StateWaitingAcceptance)
	h.fake.Faults().Push(fault.Fault{Status: http.StatusServiceUnavailable, Match: func(r *http.Request) bool { return r.Method == http.MethodGet }})
	err = h.mp.Act(t.Context(), "O-2-A", connectors.CancelOrder{})
	if !connectors.IsRetryable(err) || !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("refused, then the read back failed: err = %v, want retryable", err)
	}
	// Unknown orders are not found.
	for _, action := range []connectors.OrderAction{connectors.AcceptOrder{}, connectors.ShipOrder{}, connectors.CancelOrder{}} {
		if err := h.mp.Act(t.Context(), "NOPE-A", action); !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("%s of an unknown order: err = %v, want ErrNotFound", action.Kind(), err)
		}
	}
}
