package connectors_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/helpdesk-bridge/bridge/connectors"
)

func TestStatusActions(t *testing.T) {
	t.Parallel()
	for s, want := range map[connectors.OrderStatus][]connectors.OrderActionKind{
		connectors.OrderNew:         {connectors.ActionAccept, connectors.ActionRefuse},
		connectors.OrderInProgress:  {connectors.ActionShip, connectors.ActionCancel, connectors.ActionCancelLines},
		connectors.OrderShipped:     nil,
		connectors.OrderCanceled:    nil,
		connectors.OrderClosed:      nil,
		connectors.OrderUndefined:   nil,
		connectors.OrderNotProvided: nil,
	} {
		if got := s.Actions(); !slices.Equal(got, want) {
			t.Errorf("%s.Actions() = %v, want %v", s, got, want)
		}
		for _, k := range want {
			if !s.Allows(k) {
				t.Errorf("%s does not allow %s", s, k)
			}
		}
	}
	for _, a := range []connectors.OrderAction{connectors.AcceptOrder{}, connectors.RefuseOrder{}, connectors.ShipOrder{}, connectors.CancelOrder{}, connectors.CancelOrderLines{}} {
		if a.Kind() == "" {
			t.Errorf("%T has no kind", a)
		}
	}
}

func TestOrderActionError(t *testing.T) {
	t.Parallel()
	vendor := &connectors.APIError{Status: 400, Message: "Order is not in the expected state", Kind: connectors.ErrInvalid}
	err := fmt.Errorf("mirakl: ship order O-1: %w", &connectors.OrderActionError{
		OrderID: "O-1", Action: connectors.ActionShip, Status: connectors.OrderNew, State: "WAITING_ACCEPTANCE", Message: vendor.Message, Err: vendor,
	})
	var apiErr *connectors.APIError
	if !errors.Is(err, connectors.ErrConflict) || !connectors.IsPermanent(err) || connectors.IsRetryable(err) || !errors.As(err, &apiErr) {
		t.Errorf("err = %v: want connectors.ErrConflict, permanent, with the vendor's answer", err)
	}
	want := "mirakl: ship order O-1: cannot ship order O-1: it is new (marketplace state WAITING_ACCEPTANCE); " +
		"a new order can be: accepted, refused; the marketplace says: Order is not in the expected state"
	if err.Error() != want {
		t.Errorf("Error() =\n%q\nwant\n%q", err.Error(), want)
	}
	bare := &connectors.OrderActionError{OrderID: "O-2", Action: connectors.ActionCancelLines, Status: connectors.OrderShipped}
	if got := bare.Error(); got != "cannot cancel lines of order O-2: it is shipped" || !errors.Is(bare, connectors.ErrConflict) {
		t.Errorf("without a vendor answer: %q", got)
	}
}
