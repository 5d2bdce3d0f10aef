package connectors

import (
	"fmt"
	"slices"
	"strings"
)

// OrderStatus is an order's (or an order line's) status, normalised across
// marketplaces. The marketplace's own state stays in Order.State.
type OrderStatus string

const (
	// OrderNew must be accepted, or refused, by the shop.
	OrderNew OrderStatus = "new"
	// OrderInProgress was accepted and is being prepared: it must be
	// shipped.
	OrderInProgress OrderStatus = "in_progress"
	// OrderShipped has left the shop, whether delivered yet or not.
	OrderShipped OrderStatus = "shipped"
	// OrderCanceled was cancelled or refused.
	OrderCanceled OrderStatus = "canceled"
	// OrderClosed is done with: terminal.
	OrderClosed OrderStatus = "closed"
	// OrderUndefined means the marketplace gave a status unknown to us.
	OrderUndefined OrderStatus = "undefined"
	// OrderNotProvided means the marketplace gave no status.
	OrderNotProvided OrderStatus = "not_provided"
)

// OrderActionKind names an action on an order.
type OrderActionKind string

const (
	ActionAccept      OrderActionKind = "accept"       // AcceptOrder
	ActionRefuse      OrderActionKind = "refuse"       // RefuseOrder
	ActionShip        OrderActionKind = "ship"         // ShipOrder
	ActionCancel      OrderActionKind = "cancel"       // CancelOrder
	ActionCancelLines OrderActionKind = "cancel_lines" // CancelOrderLines
)

// Actions lists the actions an order in status s may allow: a new order is
// accepted or refused, an order in progress is shipped or cancelled, and
// nothing is done to the others. A marketplace may allow less at a given
// moment (Mirakl ships an accepted order only once its customer paid):
// Order.Actions says what it allows now.
func (s OrderStatus) Actions() []OrderActionKind {
	switch s {
	case OrderNew:
		return []OrderActionKind{ActionAccept, ActionRefuse}
	case OrderInProgress:
		return []OrderActionKind{ActionShip, ActionCancel, ActionCancelLines}
	}
	return nil
}

// Allows tells whether an order in status s may allow action k.
func (s OrderStatus) Allows(k OrderActionKind) bool { return slices.Contains(s.Actions(), k) }

// describe is the status as a sentence takes it.
func (s OrderStatus) describe() string {
	switch s {
	case OrderInProgress:
		return "in progress"
	case OrderNotProvided, "":
		return "in a state the marketplace did not give"
	case OrderUndefined:
		return "in a state unknown to the bridge"
	}
	return string(s)
}

// anOrder names an order in status s, for statuses that allow actions.
func (s OrderStatus) anOrder() string {
	if s == OrderNew {
		return "a new order"
	}
	return "an order " + s.describe()
}

// OrderAction is one action on an order: AcceptOrder, RefuseOrder,
// ShipOrder, CancelOrder or CancelOrderLines.
type OrderAction interface {
	Kind() OrderActionKind
}

// AcceptOrder accepts a new order. The lines named in RefuseLines are
// refused and the others accepted; refusing every line refuses the order.
type AcceptOrder struct {
	RefuseLines []string
}

// RefuseOrder refuses a new order, all its lines.
type RefuseOrder struct{}

// ShipOrder confirms that an order in progress was shipped, with its
// tracking when there is one.
type ShipOrder struct {
	Tracking Tracking
}

// Tracking is how a shipment can be followed. A carrier the marketplace
// knows is given by its code, another one by its name.
type Tracking struct {
	CarrierCode string
	CarrierName string
	// ShippingMethod is the marketplace's code for how the parcel travels,
	// for marketplaces that take one; Mirakl takes none and refuses it.
	ShippingMethod string
	Number         string
	// URL follows the parcel; marketplaces build it themselves for the
	// carriers they know.
	URL string
}

// IsZero tells whether t holds nothing.
func (t Tracking) IsZero() bool { return t == Tracking{} }

// CancelOrder cancels a whole order in progress.
type CancelOrder struct {
	// Reason is the marketplace's reason code. Mirakl takes none for a
	// whole order (OR29) and ignores it.
	Reason string
}

// CancelOrderLines cancels some lines of an order in progress, or part of
// their quantity. When every line is cancelled, so is the order.
type CancelOrderLines struct {
	// Reason is the marketplace's reason code; required.
	Reason string
	Lines  []LineCancel
}

// LineCancel is what to cancel of one line.
type LineCancel struct {
	LineID string
	// Quantity is the number of units to cancel; 0 cancels all that is
	// left of the line.
	Quantity int
}

func (AcceptOrder) Kind() OrderActionKind      { return ActionAccept }
func (RefuseOrder) Kind() OrderActionKind      { return ActionRefuse }
func (ShipOrder) Kind() OrderActionKind        { return ActionShip }
func (CancelOrder) Kind() OrderActionKind      { return ActionCancel }
func (CancelOrderLines) Kind() OrderActionKind { return ActionCancelLines }

// OrderActionError is the marketplace refusing an action because of the
// order's state, such as shipping an order not accepted yet. It is
// permanent (it unwraps to ErrConflict) and its Error reads as a sentence
// an agent can be shown: it names the order, the action and the status,
// and keeps the marketplace's own message, which never carries customer
// data the bridge sent.
type OrderActionError struct {
	OrderID string
	Action  OrderActionKind
	// Status and State are the order's when it was refused; Status is
	// OrderNotProvided when the order could not be looked up.
	Status OrderStatus
	State  string
	// Message is the marketplace's, when it gave one.
	Message string
	// Err is the vendor's answer (an *APIError), if any.
	Err error
}

func (e *OrderActionError) Error() string {
	verb := map[OrderActionKind]string{ActionCancelLines: "cancel lines of"}[e.Action]
	if verb == "" {
		verb = string(e.Action)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s order %s: it is %s", verb, e.OrderID, e.Status.describe())
	if e.State != "" {
		fmt.Fprintf(&b, " (marketplace state %s)", e.State)
	}
	if allowed := e.Status.Actions(); len(allowed) > 0 && !slices.Contains(allowed, e.Action) {
		fmt.Fprintf(&b, "; %s can be: %s", e.Status.anOrder(), strings.Join(pastTense(allowed), ", "))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, "; the marketplace says: %s", e.Message)
	}
	return b.String()
}

func (e *OrderActionError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrConflict}
	}
	return []error{ErrConflict, e.Err}
}

func pastTense(ks []OrderActionKind) []string {
	words := map[OrderActionKind]string{
		ActionAccept: "accepted", ActionRefuse: "refused", ActionShip: "shipped",
		ActionCancel: "cancelled", ActionCancelLines: "partly cancelled",
	}
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = words[k]
	}
	return out
}

// ActionValue takes an action given by pointer as the same action given by
// value, so that a connector's type switch has one case for each.
func ActionValue(a OrderAction) OrderAction {
	switch p := a.(type) {
	case *AcceptOrder:
		return *p
	case *RefuseOrder:
		return *p
	case *ShipOrder:
		return *p
	case *CancelOrder:
		return *p
	case *CancelOrderLines:
		return *p
	}
	return a
}
