package mirakl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// How connectors.OrderActor maps to the seller API, and why:
//   - GetOrder is OR11 with order_ids: Mirakl deprecates OR12 for it, and
//     OR11's order is the one ListOrders already reads.
//   - AcceptOrder and RefuseOrder are OR21, which takes a decision for
//     every line: the order is read first for its line ids.
//   - ShipOrder is OR23 (when there is a tracking) then OR24. OR23 takes
//     a registered carrier by code and another by name and URL; it has no
//     shipping method, so one is refused rather than dropped.
//   - CancelOrder is OR29, which takes no reason code.
//   - CancelOrderLines is OR30, which wants the amounts to cancel: the
//     order is read first, and a part of a line's quantity cancels that
//     part of what is left of its price, shipping price and the taxes
//     Mirakl does not prorate itself (rule NONE), rounded down to the
//     currency's minor unit so that it never exceeds what is left.
//   - Mirakl answers 400 to an action its state forbids. The order is then
//     read again: if the action already took effect (a retry of a call
//     whose answer was lost), Act succeeds; if the state forbids it, the
//     refusal becomes a *connectors.OrderActionError with Mirakl's
//     message; otherwise the 400 stands as it is (ErrInvalid). The states
//     each action needs are in allowed.
//   - 5xx answers and timeouts of a write are connectors.Uncertain.

var _ connectors.OrderActor = (*Client)(nil)

// OrderStatus normalises a Mirakl order (or order line) state. STAGING is
// an order still in its fraud check, which the shop accepts next; an
// order received by its customer, or with an incident open, was shipped;
// a refunded line is done with. The deprecated WAITING_REFUND states, and
// any state Mirakl adds, are undefined.
func OrderStatus(state string) connectors.OrderStatus {
	switch state {
	case "":
		return connectors.OrderNotProvided
	case api.StateStaging, api.StateWaitingAcceptance:
		return connectors.OrderNew
	case api.StateWaitingDebit, api.StateWaitingDebitPayment, api.StateShipping:
		return connectors.OrderInProgress
	case api.StateShipped, api.StateToCollect, api.StateReceived, api.StateIncidentOpen:
		return connectors.OrderShipped
	case api.StateClosed, api.StateRefunded:
		return connectors.OrderClosed
	case api.StateRefused, api.StateCanceled:
		return connectors.OrderCanceled
	}
	return connectors.OrderUndefined
}

// allowed tells whether Mirakl takes an action on an order in state:
// OR21 only WAITING_ACCEPTANCE (the spec), OR23 and OR24 only SHIPPING
// (the spec, for OR24), OR29 and OR30 only SHIPPING (UNVERIFIED, see the
// fake's doc).
func allowed(k connectors.OrderActionKind, state string) bool {
	switch k {
	case connectors.ActionAccept, connectors.ActionRefuse:
		return state == api.StateWaitingAcceptance
	case connectors.ActionShip, connectors.ActionCancel, connectors.ActionCancelLines:
		return state == api.StateShipping
	}
	return false
}

// orderActions are the actions an order allows now. Cancelling follows
// Mirakl's own can_cancel, as Mirakl's own seller connector does.
func orderActions(o api.Order) []connectors.OrderActionKind {
	var out []connectors.OrderActionKind
	for _, k := range OrderStatus(o.OrderState).Actions() {
		ok := allowed(k, o.OrderState)
		if k == connectors.ActionCancel || k == connectors.ActionCancelLines {
			ok = o.CanCancel
		}
		if ok {
			out = append(out, k)
		}
	}
	return out
}

// GetOrder returns one of the shop's orders.
func (c *Client) GetOrder(ctx context.Context, orderID string) (connectors.Order, error) {
	o, err := c.order(ctx, orderID)
	if err != nil {
		return connectors.Order{}, fmt.Errorf("mirakl: get order %s: %w", connectors.ShortID(orderID), err)
	}
	return toOrder(o), nil
}

// order reads one order with OR11. An id with a comma would name several.
func (c *Client) order(ctx context.Context, id string) (api.Order, error) {
	if id == "" || strings.Contains(id, ",") {
		return api.Order{}, fmt.Errorf("%w: not an order id", connectors.ErrNotFound)
	}
	var list api.OrderList
	if err := c.do(ctx, call{method: http.MethodGet, path: "/api/orders", query: url.Values{"order_ids": {id}}}, &list); err != nil {
		return api.Order{}, err
	}
	for _, o := range list.Orders {
		if o.OrderID == id {
			return o, nil
		}
	}
	return api.Order{}, connectors.ErrNotFound
}

// Act performs one action on an order.
func (c *Client) Act(ctx context.Context, orderID string, action connectors.OrderAction) error {
	if err := c.act(ctx, orderID, connectors.ActionValue(action)); err != nil {
		kind := "act on"
		if action != nil {
			kind = string(action.Kind())
		}
		return fmt.Errorf("mirakl: %s order %s: %w", kind, connectors.ShortID(orderID), err)
	}
	return nil
}

func (c *Client) act(ctx context.Context, id string, action connectors.OrderAction) error {
	if id == "" {
		return fmt.Errorf("%w: no order id", connectors.ErrNotFound)
	}
	switch a := action.(type) {
	case connectors.AcceptOrder:
		return c.decide(ctx, id, connectors.ActionAccept, func(lineID string) bool { return !slices.Contains(a.RefuseLines, lineID) }, a.RefuseLines)
	case connectors.RefuseOrder:
		return c.decide(ctx, id, connectors.ActionRefuse, func(string) bool { return false }, nil)
	case connectors.ShipOrder:
		return c.ship(ctx, id, a.Tracking)
	case connectors.CancelOrder:
		err := c.do(ctx, call{method: http.MethodPut, path: orderPath(id) + "/cancel"}, nil)
		return c.settle(ctx, id, connectors.ActionCancel, err, func(o api.Order) bool { return o.OrderState == api.StateCanceled })
	case connectors.CancelOrderLines:
		return c.cancelLines(ctx, id, a)
	}
	return invalid(fmt.Sprintf("unknown order action %T", action))
}

// decide accepts or refuses every line of an order (OR21): accept tells
// which lines to accept, named the lines the caller refuses.
func (c *Client) decide(ctx context.Context, id string, kind connectors.OrderActionKind, accept func(string) bool, named []string) error {
	o, err := c.order(ctx, id)
	if err != nil {
		return err
	}
	in := api.AcceptInput{OrderLines: []api.LineDecision{}}
	for _, l := range o.OrderLines {
		in.OrderLines = append(in.OrderLines, api.LineDecision{ID: l.OrderLineID, Accepted: accept(l.OrderLineID)})
	}
	for _, lineID := range named {
		if !slices.ContainsFunc(o.OrderLines, func(l api.OrderLine) bool { return l.OrderLineID == lineID }) {
			return invalid(fmt.Sprintf("the order has no line %s", connectors.ShortID(lineID)))
		}
	}
	done := func(o api.Order) bool {
		allRefused := !slices.ContainsFunc(o.OrderLines, func(l api.OrderLine) bool { return accept(l.OrderLineID) })
		// The shop's decision is dated: an order cancelled before any
		// decision was not accepted. A refusal is a refusal, the shop's or
		// the acceptance deadline's.
		if o.AcceptanceDecision == nil && !allRefused {
			return false
		}
		if o.OrderState == api.StateStaging || o.OrderState == api.StateWaitingAcceptance {
			return false
		}
		for _, l := range o.OrderLines {
			if accept(l.OrderLineID) == (l.OrderLineState == api.StateRefused) {
				return false
			}
		}
		return true
	}
	if o.OrderState != api.StateWaitingAcceptance {
		if done(o) {
			return nil
		}
		return refusal(o, kind, nil)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	err = c.do(ctx, call{method: http.MethodPut, path: orderPath(id) + "/accept", body: body, contentType: "application/json"}, nil)
	return c.settle(ctx, id, kind, err, done)
}

// ship sends the tracking (OR23), if any, then confirms the shipment
// (OR24).
func (c *Client) ship(ctx context.Context, id string, t connectors.Tracking) error {
	switch {
	case t.ShippingMethod != "":
		return invalid("Mirakl takes no shipping method: the order keeps the one its customer chose")
	case !t.IsZero() && t.CarrierCode == "" && t.CarrierName == "":
		return invalid("a tracking needs its carrier, by code or by name")
	}
	done := func(o api.Order) bool {
		shipped := slices.Contains([]string{api.StateShipped, api.StateToCollect, api.StateReceived, api.StateClosed}, o.OrderState)
		return shipped && (t.Number == "" || o.ShippingTracking == t.Number)
	}
	if !t.IsZero() {
		body, err := json.Marshal(api.TrackingInput{
			CarrierCode: t.CarrierCode, CarrierName: t.CarrierName, CarrierURL: t.URL, TrackingNumber: t.Number,
		})
		if err != nil {
			return err
		}
		err = c.do(ctx, call{method: http.MethodPut, path: orderPath(id) + "/tracking", body: body, contentType: "application/json"}, nil)
		if err != nil {
			return c.settle(ctx, id, connectors.ActionShip, err, done)
		}
	}
	err := c.do(ctx, call{method: http.MethodPut, path: orderPath(id) + "/ship"}, nil)
	return c.settle(ctx, id, connectors.ActionShip, err, done)
}

// cancelLines cancels quantities of lines (OR30), with the amounts they
// stand for.
func (c *Client) cancelLines(ctx context.Context, id string, a connectors.CancelOrderLines) error {
	switch {
	case strings.TrimSpace(a.Reason) == "":
		return invalid("cancelling order lines needs a reason code")
	case len(a.Lines) == 0:
		return invalid("no line to cancel")
	}
	o, err := c.order(ctx, id)
	if err != nil {
		return err
	}
	in := api.CancelationsInput{OrderTaxMode: o.OrderTaxMode}
	seen := map[string]bool{}
	for _, lc := range a.Lines {
		i := slices.IndexFunc(o.OrderLines, func(l api.OrderLine) bool { return l.OrderLineID == lc.LineID })
		switch {
		case i < 0:
			return invalid(fmt.Sprintf("the order has no line %s", connectors.ShortID(lc.LineID)))
		case seen[lc.LineID]:
			return invalid(fmt.Sprintf("line %s is named twice", connectors.ShortID(lc.LineID)))
		case lc.Quantity < 0:
			return invalid("a quantity to cancel cannot be negative")
		}
		seen[lc.LineID] = true
		l := o.OrderLines[i]
		if lc.Quantity == 0 && l.OrderLineState == api.StateCanceled {
			continue // cancelled already: nothing to send
		}
		ci, err := cancelation(o, l, lc.Quantity, a.Reason)
		if err != nil {
			return err
		}
		in.Cancelations = append(in.Cancelations, ci)
	}
	if len(in.Cancelations) == 0 {
		return nil
	}
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	var created api.CancelationsCreated
	err = c.do(ctx, call{method: http.MethodPut, path: "/api/orders/cancel", body: body, contentType: "application/json"}, &created)
	return c.settle(ctx, id, connectors.ActionCancelLines, err, func(o api.Order) bool {
		// Only whole lines can be seen to be cancelled already.
		for _, lc := range a.Lines {
			i := slices.IndexFunc(o.OrderLines, func(l api.OrderLine) bool { return l.OrderLineID == lc.LineID })
			if lc.Quantity != 0 || i < 0 || o.OrderLines[i].OrderLineState != api.StateCanceled {
				return false
			}
		}
		return true
	})
}

// cancelation is OR30's cancellation of q units of l (0: all that is
// left).
func cancelation(o api.Order, l api.OrderLine, q int, reason string) (api.CancelationInput, error) {
	left, err := api.LineLeft(l)
	if err != nil {
		return api.CancelationInput{}, fmt.Errorf("%w: line %s: %w", connectors.ErrUnavailable, connectors.ShortID(l.OrderLineID), err)
	}
	if left.Quantity <= 0 {
		return api.CancelationInput{}, invalid(fmt.Sprintf("nothing is left of line %s to cancel", connectors.ShortID(l.OrderLineID)))
	}
	if q == 0 {
		q = left.Quantity
	}
	if q > left.Quantity {
		return api.CancelationInput{}, invalid(fmt.Sprintf("line %s has %d units left to cancel, not %d", connectors.ShortID(l.OrderLineID), left.Quantity, q))
	}
	d := minorUnit(o.CurrencyISOCode)
	part := func(total *big.Rat) json.Number { return prorate(total, q, left.Quantity, d) }
	ci := api.CancelationInput{
		OrderLineID: l.OrderLineID, Quantity: q, ReasonCode: reason, CurrencyISOCode: o.CurrencyISOCode,
		Amount: part(left.Amount), ShippingAmount: part(left.Shipping),
	}
	// Mirakl prorates the taxes whose rule says so; the others are given.
	for _, t := range l.Taxes {
		if t.CalculationRule == api.TaxRuleNone && !slices.ContainsFunc(ci.Taxes, func(x api.TaxAmount) bool { return x.Code == t.Code }) {
			ci.Taxes = append(ci.Taxes, api.TaxAmount{Code: t.Code, Amount: part(left.Taxes[t.Code])})
		}
	}
	for _, t := range l.ShippingTaxes {
		if t.CalculationRule == api.TaxRuleNone && !slices.ContainsFunc(ci.ShippingTaxes, func(x api.TaxAmount) bool { return x.Code == t.Code }) {
			ci.ShippingTaxes = append(ci.ShippingTaxes, api.TaxAmount{Code: t.Code, Amount: part(left.ShippingTaxes[t.Code])})
		}
	}
	return ci, nil
}

// prorate is q/of of total, rounded down to d decimals (exact when q is
// all of it).
func prorate(total *big.Rat, q, of, d int) json.Number {
	if q == of {
		return api.FormatAmount(total)
	}
	r := new(big.Rat).Mul(total, big.NewRat(int64(q), int64(of)))
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil)
	n := new(big.Int).Mul(r.Num(), scale)
	n.Div(n, r.Denom()) // Euclidean: rounds down for the non-negative amounts here
	return api.FormatAmount(new(big.Rat).SetFrac(n, scale))
}

// minorUnit is a currency's number of decimals (ISO 4217), for the
// currencies of Mirakl's list that do not have two.
func minorUnit(currency string) int {
	switch currency {
	case "CLP", "JPY", "KRW", "VND":
		return 0
	case "BHD", "IQD", "JOD", "KWD", "OMR", "TND":
		return 3
	}
	return 2
}

// settle finishes an action whose write answered err. A refusal (400 or
// 409) is looked into: the action may have taken effect already (done),
// or the order's state may forbid it. Other failures of the write are
// uncertain: it may have happened.
func (c *Client) settle(ctx context.Context, id string, kind connectors.OrderActionKind, err error, done func(api.Order) bool) error {
	if err == nil {
		return nil
	}
	if !errors.Is(err, connectors.ErrInvalid) && !errors.Is(err, connectors.ErrConflict) {
		return connectors.Uncertain(err)
	}
	o, getErr := c.order(ctx, id)
	switch {
	case getErr != nil:
		return fmt.Errorf("%w; and reading the order back failed: %w", err, getErr)
	case done(o):
		return nil
	case !allowed(kind, o.OrderState):
		return refusal(o, kind, err)
	}
	return err
}

// refusal is an action the order's state forbids, with Mirakl's message
// when it answered one.
func refusal(o api.Order, kind connectors.OrderActionKind, err error) error {
	e := &connectors.OrderActionError{
		OrderID: o.OrderID, Action: kind, Status: OrderStatus(o.OrderState), State: o.OrderState, Err: err,
	}
	var apiErr *connectors.APIError
	if errors.As(err, &apiErr) {
		e.Message = apiErr.Message
	}
	return e
}

func orderPath(id string) string { return "/api/orders/" + url.PathEscape(id) }
