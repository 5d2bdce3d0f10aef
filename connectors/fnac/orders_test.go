package fnac_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

// An order whose state changes between the connector's read and its
// write (Fnac cancels it meanwhile) is refused by Fnac per order; the
// refusal reaches the caller as an *OrderActionError with Fnac's message.
func TestOrderRefusedByFnacMidAction(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	id := fnacOrderID("RACE-1-A")
	h.PutOrder(t, connectors.Order{
		ID: id, Status: connectors.OrderNew, CreatedAt: time.Now().Add(-time.Hour), UpdatedAt: time.Now().Add(-time.Hour),
		Lines: []connectors.OrderLine{{ID: "1", SKU: "MUG-1", Title: "Mug", Quantity: 1, Price: "10.00"}},
	})
	// A fault that never applies, to see the write arrive and cancel the
	// order just before the fake handles it.
	var moved atomic.Bool
	h.fake.Faults().Push(fault.Fault{Status: http.StatusTeapot, Match: func(r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/"+api.ServiceOrdersUpdate) && !moved.Swap(true) {
			if err := h.fake.MoveOrder(fnacShop, id, api.LineToAccept, api.OrderCancelled); err != nil {
				t.Error(err)
			}
		}
		return false
	}})
	err := h.mp.Act(t.Context(), id, connectors.AcceptOrder{})
	h.fake.Faults().Clear()
	if !moved.Load() {
		t.Fatal("accept made no write")
	}
	var refused *connectors.OrderActionError
	if !errors.As(err, &refused) || refused.Status != connectors.OrderCanceled || !strings.Contains(refused.Message, "ERR_109") {
		t.Fatalf("accepting an order cancelled meanwhile: err = %v, want an *OrderActionError with Fnac's ERR_109", err)
	}
	if !errors.Is(err, connectors.ErrConflict) || connectors.IsRetryable(err) {
		t.Errorf("err = %v, want permanent, ErrConflict", err)
	}
}

func TestOrderStatusTable(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]connectors.OrderStatus{
		"Created": connectors.OrderNew, "ToAccept": connectors.OrderNew,
		"Accepted": connectors.OrderInProgress, "ToShip": connectors.OrderInProgress,
		"Shipped": connectors.OrderShipped, "NotReceived": connectors.OrderShipped,
		"Received": connectors.OrderClosed,
		"Refused":  connectors.OrderCanceled, "Cancelled": connectors.OrderCanceled, "Refunded": connectors.OrderCanceled,
		"Error": connectors.OrderUndefined, "Debited": connectors.OrderUndefined, "": connectors.OrderNotProvided,
	} {
		if got := fnac.OrderStatus(state); got != want {
			t.Errorf("OrderStatus(%q) = %s, want %s", state, got, want)
		}
	}
}
