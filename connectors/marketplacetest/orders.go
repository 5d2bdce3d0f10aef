package marketplacetest

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// OrderSeeder is the part of a Seeder that moves orders along, for
// connectors that are also connectors.OrderActor. PutOrder seeds an order
// in the marketplace state standing for its Status when its State is "".
type OrderSeeder interface {
	// AdvanceOrder moves an order on to status to by the marketplace's own
	// steps, as its customer, its operator or time would: to
	// OrderInProgress, an accepted order is paid for until it can be
	// shipped; to OrderClosed, a shipped order is received and closed.
	AdvanceOrder(t *testing.T, orderID string, to connectors.OrderStatus)
}

// requireActor returns the connector as an OrderActor and its order
// seeder, or skips.
func requireActor(t *testing.T, h Harness) (connectors.OrderActor, Seeder, OrderSeeder) {
	t.Helper()
	a, ok := h.Marketplace().(connectors.OrderActor)
	if !ok {
		t.Skip("the connector does not act on orders")
	}
	s := requireSeeder(t, h)
	os, ok := s.(OrderSeeder)
	if !ok {
		t.Skip("this account cannot move orders along")
	}
	return a, s, os
}

// seedOrder puts an order named name in status with n lines of two mugs
// each (one, where lines are single units), and returns it as seeded.
func seedOrder(t *testing.T, h Harness, s Seeder, name string, status connectors.OrderStatus, n int) connectors.Order {
	t.Helper()
	q := quirks(h)
	id := q.orderID(name)
	o := connectors.Order{
		ID: id, CommercialID: id, Status: status, CreatedAt: baseTime(), UpdatedAt: baseTime(),
		CustomerName: customerName, CustomerID: "cust-" + id, Total: fmt.Sprintf("%d.00", 40*n), Currency: "EUR",
	}
	units := 2
	if q.SingleUnitLines {
		units = 1
	}
	for i := 1; i <= n; i++ {
		o.Lines = append(o.Lines, connectors.OrderLine{
			ID: q.lineID(id, i), SKU: fmt.Sprintf("MUG-%d", i), Title: "Mug", Quantity: units, Price: "40.00",
		})
	}
	s.PutOrder(t, o)
	return o
}

func getOrder(t *testing.T, a connectors.OrderActor, id string) connectors.Order {
	t.Helper()
	o, err := a.GetOrder(t.Context(), id)
	if err != nil {
		t.Fatalf("GetOrder(%s): %v", id, err)
	}
	checkActions(t, o)
	return o
}

// checkActions holds an order's actions to its status's.
func checkActions(t *testing.T, o connectors.Order) {
	t.Helper()
	for _, k := range o.Actions {
		if !o.Status.Allows(k) {
			t.Errorf("order %s is %s yet allows %s: Actions must be part of Status.Actions() %v", o.ID, o.Status, k, o.Status.Actions())
		}
	}
}

func act(t *testing.T, a connectors.OrderActor, id string, action connectors.OrderAction) {
	t.Helper()
	if err := a.Act(t.Context(), id, action); err != nil {
		t.Fatalf("Act(%s, %s): %v", id, action.Kind(), err)
	}
}

// wantRefused checks that err is the marketplace refusing the action in
// the order's status: a permanent *OrderActionError an agent can read.
func wantRefused(t *testing.T, err error, o connectors.Order, k connectors.OrderActionKind) {
	t.Helper()
	var refused *connectors.OrderActionError
	if !errors.As(err, &refused) {
		t.Errorf("%s of a %s order: err = %v, want an *OrderActionError", k, o.Status, err)
		return
	}
	if !errors.Is(err, connectors.ErrConflict) || !connectors.IsPermanent(err) || connectors.IsRetryable(err) {
		t.Errorf("%s of a %s order: err = %v, want permanent, ErrConflict", k, o.Status, err)
	}
	if refused.Action != k || refused.Status != o.Status || refused.OrderID != o.ID {
		t.Errorf("refusal = %+v, want action %s, status %s, order %s", refused, k, o.Status, o.ID)
	}
	if msg := refused.Error(); !strings.Contains(msg, o.ID) || strings.Contains(msg, customerName) {
		t.Errorf("refusal reads %q: want the order id and no customer data", msg)
	}
}

func lineStatuses(o connectors.Order) []connectors.OrderStatus {
	out := make([]connectors.OrderStatus, len(o.Lines))
	for i, l := range o.Lines {
		out[i] = l.Status
	}
	return out
}

func testGetOrder(t *testing.T, h Harness) {
	q := quirks(h)
	a, s, _ := requireActor(t, h)
	seeded := seedOrder(t, h, s, "GET-1-A", connectors.OrderNew, 2)
	o := getOrder(t, a, seeded.ID)
	if o.ID != seeded.ID || o.Status != connectors.OrderNew || o.State == "" || !slices.Contains(o.Actions, connectors.ActionAccept) {
		t.Errorf("order = %s, status %s (%q), actions %v; want a new order that can be accepted", o.ID, o.Status, o.State, o.Actions)
	}
	var ids []string
	for _, l := range o.Lines {
		ids = append(ids, l.ID)
	}
	if !slices.Equal(ids, []string{q.lineID(o.ID, 1), q.lineID(o.ID, 2)}) || !slices.Equal(lineStatuses(o), []connectors.OrderStatus{connectors.OrderNew, connectors.OrderNew}) {
		t.Errorf("lines %v, statuses %v", ids, lineStatuses(o))
	}
	if _, err := a.GetOrder(t.Context(), q.orderID("NO-SUCH-ORDER-A")); !errors.Is(err, connectors.ErrNotFound) || connectors.IsRetryable(err) {
		t.Errorf("GetOrder of an unknown id: err = %v, want ErrNotFound", err)
	}
}

func testAcceptOrder(t *testing.T, h Harness) {
	q := quirks(h)
	a, s, _ := requireActor(t, h)
	id := seedOrder(t, h, s, "ACC-1-A", connectors.OrderNew, 2).ID
	act(t, a, id, connectors.AcceptOrder{})
	o := getOrder(t, a, id)
	if o.Status != connectors.OrderInProgress || !slices.Equal(lineStatuses(o), []connectors.OrderStatus{connectors.OrderInProgress, connectors.OrderInProgress}) {
		t.Errorf("accepted order is %s, lines %v; want in progress", o.Status, lineStatuses(o))
	}
	// Accepting again is a retry: it succeeds and changes nothing.
	act(t, a, id, connectors.AcceptOrder{})
	// (Where orders are dated by when they were read, a later read is
	// later: only the status tells.)
	if again := getOrder(t, a, id); again.Status != o.Status || (!q.UnlistedOrderUpdates && !again.UpdatedAt.Equal(o.UpdatedAt)) {
		t.Errorf("accepting again changed the order: %s at %s, was %s at %s", again.Status, again.UpdatedAt, o.Status, o.UpdatedAt)
	}
	// Refusing it now is refused.
	wantRefused(t, a.Act(t.Context(), id, connectors.RefuseOrder{}), o, connectors.ActionRefuse)
}

func testAcceptRefusingLines(t *testing.T, h Harness) {
	a, s, _ := requireActor(t, h)
	o := seedOrder(t, h, s, "ACC-2-A", connectors.OrderNew, 2)
	refuse := connectors.AcceptOrder{RefuseLines: []string{o.Lines[1].ID}}
	act(t, a, o.ID, refuse)
	got := getOrder(t, a, o.ID)
	if got.Status != connectors.OrderInProgress || !slices.Equal(lineStatuses(got), []connectors.OrderStatus{connectors.OrderInProgress, connectors.OrderCanceled}) {
		t.Errorf("order %s, lines %v; want in progress with its second line cancelled", got.Status, lineStatuses(got))
	}
	act(t, a, o.ID, refuse)

	// The same decision about other lines is a different one: refused.
	wantRefused(t, a.Act(t.Context(), o.ID, connectors.AcceptOrder{}), got, connectors.ActionAccept)

	other := seedOrder(t, h, s, "ACC-3-A", connectors.OrderNew, 1)
	if err := a.Act(t.Context(), other.ID, connectors.AcceptOrder{RefuseLines: []string{"NO-SUCH-LINE"}}); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("refusing an unknown line: err = %v, want ErrInvalid", err)
	}
	if got := getOrder(t, a, other.ID); got.Status != connectors.OrderNew {
		t.Errorf("a refused decision changed the order to %s", got.Status)
	}
}

func testRefuseOrder(t *testing.T, h Harness) {
	a, s, _ := requireActor(t, h)
	id := seedOrder(t, h, s, "REF-1-A", connectors.OrderNew, 2).ID
	act(t, a, id, connectors.RefuseOrder{})
	o := getOrder(t, a, id)
	if o.Status != connectors.OrderCanceled || len(o.Actions) != 0 {
		t.Errorf("refused order is %s with actions %v; want canceled with none", o.Status, o.Actions)
	}
	act(t, a, id, connectors.RefuseOrder{})
	wantRefused(t, a.Act(t.Context(), id, connectors.AcceptOrder{}), o, connectors.ActionAccept)
}

func testShipOrder(t *testing.T, h Harness) {
	q := quirks(h)
	cancelReason := q.cancelReason()
	a, s, os := requireActor(t, h)
	id := seedOrder(t, h, s, "SHIP-1-A", connectors.OrderNew, 1).ID
	ship := connectors.ShipOrder{Tracking: connectors.Tracking{CarrierName: "Parcel Express", Number: "PX-0001", URL: "https://track.example/PX-0001"}}
	wantURL, wantCarrier := ship.Tracking.URL, ship.Tracking.CarrierName
	if q.NoTrackingURL {
		wantURL = ""
	}
	if q.UnlistedCarrier {
		wantCarrier = ""
	}
	if q.NoTrackingURL {
		if err := a.Act(t.Context(), id, ship); !errors.Is(err, connectors.ErrInvalid) {
			t.Errorf("shipping with a tracking URL the marketplace does not take: err = %v, want ErrInvalid", err)
		}
		ship.Tracking.URL = ""
	}
	act(t, a, id, connectors.AcceptOrder{})
	// Until it can be shipped (Mirakl: until the customer paid), shipping
	// is refused.
	if o := getOrder(t, a, id); !slices.Contains(o.Actions, connectors.ActionShip) {
		wantRefused(t, a.Act(t.Context(), id, ship), o, connectors.ActionShip)
	}
	os.AdvanceOrder(t, id, connectors.OrderInProgress)
	if o := getOrder(t, a, id); !slices.Contains(o.Actions, connectors.ActionShip) {
		t.Fatalf("order ready to ship allows %v", o.Actions)
	}
	act(t, a, id, ship)
	o := getOrder(t, a, id)
	if o.Status != connectors.OrderShipped || o.TrackingNumber != "PX-0001" || o.TrackingURL != wantURL || o.Carrier != wantCarrier {
		t.Errorf("shipped order: %s, tracking %q %q by %q", o.Status, o.TrackingNumber, o.TrackingURL, o.Carrier)
	}
	act(t, a, id, ship)
	wantRefused(t, a.Act(t.Context(), id, connectors.CancelOrder{Reason: cancelReason}), o, connectors.ActionCancel)

	os.AdvanceOrder(t, id, connectors.OrderClosed)
	if o := getOrder(t, a, id); o.Status != connectors.OrderClosed || len(o.Actions) != 0 {
		t.Errorf("closed order is %s with actions %v", o.Status, o.Actions)
	}
}

func testCancelOrder(t *testing.T, h Harness) {
	q := quirks(h)
	cancelReason := q.cancelReason()
	a, s, _ := requireActor(t, h)
	id := seedOrder(t, h, s, "CAN-1-A", connectors.OrderInProgress, 2).ID
	if o := getOrder(t, a, id); !slices.Contains(o.Actions, connectors.ActionCancel) {
		t.Fatalf("order in progress allows %v, not cancel", o.Actions)
	}
	act(t, a, id, connectors.CancelOrder{Reason: cancelReason})
	o := getOrder(t, a, id)
	if o.Status != connectors.OrderCanceled || !slices.Equal(lineStatuses(o), []connectors.OrderStatus{connectors.OrderCanceled, connectors.OrderCanceled}) {
		t.Errorf("cancelled order is %s, lines %v", o.Status, lineStatuses(o))
	}
	act(t, a, id, connectors.CancelOrder{Reason: cancelReason})
	wantRefused(t, a.Act(t.Context(), id, connectors.ShipOrder{}), o, connectors.ActionShip)
}

func testCancelOrderLines(t *testing.T, h Harness) {
	q := quirks(h)
	cancelReason := q.cancelReason()
	a, s, _ := requireActor(t, h)
	o := seedOrder(t, h, s, "CAN-2-A", connectors.OrderInProgress, 2)
	first, second := o.Lines[0].ID, o.Lines[1].ID
	whole := connectors.CancelOrderLines{Reason: cancelReason, Lines: []connectors.LineCancel{{LineID: first}}}
	act(t, a, o.ID, whole)
	got := getOrder(t, a, o.ID)
	if got.Status != connectors.OrderInProgress || !slices.Equal(lineStatuses(got), []connectors.OrderStatus{connectors.OrderCanceled, connectors.OrderInProgress}) {
		t.Errorf("order %s, lines %v; want in progress with its first line cancelled", got.Status, lineStatuses(got))
	}
	act(t, a, o.ID, whole) // a whole line, cancelled again: a retry

	for _, bad := range []connectors.CancelOrderLines{
		{Lines: []connectors.LineCancel{{LineID: second}}},                                                          // no reason
		{Reason: cancelReason, Lines: []connectors.LineCancel{{LineID: second, Quantity: o.Lines[1].Quantity + 1}}}, // more than ordered
		{Reason: cancelReason, Lines: []connectors.LineCancel{{LineID: "NO-SUCH-LINE"}}},
		{Reason: cancelReason},
	} {
		if err := a.Act(t.Context(), o.ID, bad); !errors.Is(err, connectors.ErrInvalid) {
			t.Errorf("cancelling %+v: err = %v, want ErrInvalid", bad, err)
		}
	}
	// A part of a line: where lines are single units there is none.
	if !q.SingleUnitLines {
		part := connectors.CancelOrderLines{Reason: cancelReason, Lines: []connectors.LineCancel{{LineID: second, Quantity: 1}}}
		if q.WholeLinesOnly {
			if err := a.Act(t.Context(), o.ID, part); !errors.Is(err, connectors.ErrInvalid) {
				t.Errorf("cancelling a part of a line where only whole lines are: err = %v, want ErrInvalid", err)
			}
		} else {
			act(t, a, o.ID, part)
		}
		if got := getOrder(t, a, o.ID); got.Status != connectors.OrderInProgress || got.Lines[1].Status != connectors.OrderInProgress || (!q.WholeLinesOnly && got.Lines[1].Canceled != 1) {
			t.Errorf("after cancelling one unit of two: order %s, lines %v, %d units cancelled", got.Status, lineStatuses(got), got.Lines[1].Canceled)
		}
	}
	act(t, a, o.ID, connectors.CancelOrderLines{Reason: cancelReason, Lines: []connectors.LineCancel{{LineID: second}}})
	if got := getOrder(t, a, o.ID); got.Status != connectors.OrderCanceled || !slices.Equal(lineStatuses(got), []connectors.OrderStatus{connectors.OrderCanceled, connectors.OrderCanceled}) {
		t.Errorf("every line cancelled: order %s, lines %v; want canceled", got.Status, lineStatuses(got))
	}
}

// testActionsInTheWrongState tries every action on orders in every status:
// what an order does not allow is refused with an *OrderActionError and
// leaves it as it was, unless it already took effect (a retry).
func testActionsInTheWrongState(t *testing.T, h Harness) {
	q := quirks(h)
	cancelReason := q.cancelReason()
	a, s, _ := requireActor(t, h)
	// Where each action leaves an order, when it already took effect.
	after := map[connectors.OrderActionKind][]connectors.OrderStatus{
		connectors.ActionShip:        {connectors.OrderShipped, connectors.OrderClosed},
		connectors.ActionCancel:      {connectors.OrderCanceled},
		connectors.ActionCancelLines: {connectors.OrderCanceled},
		connectors.ActionRefuse:      {connectors.OrderCanceled},
	}
	for i, status := range []connectors.OrderStatus{connectors.OrderNew, connectors.OrderInProgress, connectors.OrderShipped, connectors.OrderClosed, connectors.OrderCanceled} {
		for j, action := range []connectors.OrderAction{
			connectors.AcceptOrder{}, connectors.RefuseOrder{}, connectors.ShipOrder{},
			connectors.CancelOrder{Reason: cancelReason}, connectors.CancelOrderLines{Reason: cancelReason},
		} {
			o := getOrder(t, a, seedOrder(t, h, s, fmt.Sprintf("WRONG-%d%d-A", i, j), status, 1).ID)
			id := o.ID
			if slices.Contains(o.Actions, action.Kind()) {
				continue
			}
			if cl, ok := action.(connectors.CancelOrderLines); ok {
				cl.Lines = []connectors.LineCancel{{LineID: o.Lines[0].ID}}
				action = cl
			}
			err := a.Act(t.Context(), id, action)
			if err == nil && !slices.Contains(after[action.Kind()], status) {
				t.Errorf("%s of a %s order succeeded, though it allows only %v", action.Kind(), status, o.Actions)
			} else if err != nil {
				wantRefused(t, err, o, action.Kind())
			}
			if got := getOrder(t, a, id); got.Status != o.Status || !slices.Equal(lineStatuses(got), lineStatuses(o)) {
				t.Errorf("%s of a %s order moved it to %s, lines %v", action.Kind(), status, got.Status, lineStatuses(got))
			}
		}
	}
}

// testUncertainAction shows that an action whose answer was lost can be
// made again: it took effect once, and acting again succeeds.
func testUncertainAction(t *testing.T, h Harness) {
	q := quirks(h)
	cancelReason := q.cancelReason()
	faults := requireFaults(t, h)
	a, s, _ := requireActor(t, h)
	write := q.isOrderAction

	// Refused before it reached the marketplace: nothing happened.
	id := seedOrder(t, h, s, "UNC-1-A", connectors.OrderNew, 1).ID
	faults.Push(fault.Fault{Status: http.StatusServiceUnavailable, Match: write})
	if err := a.Act(t.Context(), id, connectors.AcceptOrder{}); !connectors.IsRetryable(err) {
		t.Errorf("accept answered 503: err = %v, want retryable", err)
	}
	if o := getOrder(t, a, id); o.Status != connectors.OrderNew {
		t.Errorf("an accept answered 503 before it ran left the order %s", o.Status)
	}
	act(t, a, id, connectors.AcceptOrder{})

	// Taken, and its answer lost: uncertain, and a retry succeeds.
	id = seedOrder(t, h, s, "UNC-2-A", connectors.OrderInProgress, 1).ID
	faults.Push(fault.Fault{Status: http.StatusBadGateway, After: true, Match: write})
	err := a.Act(t.Context(), id, connectors.CancelOrder{Reason: cancelReason})
	if faults.Pending() != 0 {
		t.Fatal("cancel made no write")
	}
	if !connectors.IsRetryable(err) || !errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("cancel whose answer was lost: err = %v, want retryable and ErrUncertain", err)
	}
	act(t, a, id, connectors.CancelOrder{Reason: cancelReason})
	if o := getOrder(t, a, id); o.Status != connectors.OrderCanceled {
		t.Errorf("order is %s after a retried cancel", o.Status)
	}
}
