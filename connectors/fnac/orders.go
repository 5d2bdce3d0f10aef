package fnac

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

// How connectors.OrderLister and connectors.OrderActor map to
// orders_query and orders_update, and why:
//   - ListOrders pages through orders_query by update date (date type
//     UpdatedAt, sort_by ASC), at most 100 a page. Answers carry no update
//     date: an order's UpdatedAt is when it was read (the request's start,
//     or a later date the order carries), so never before its real update,
//     and of two reads of one order the later one is the newer: the read
//     model keeps the order as last read, not a listing that started
//     before an action as the action's own read-back. Answers carry no total either: Total is the sum of
//     its lines' unit price × quantity and shipping price; the currency is
//     EUR (Fnac and Darty sell in euros).
//   - A line's ID is Fnac's order_detail_id, its number within its order.
//   - GetOrder is orders_query with order_fnac_id. Fnac's order ids are 13
//     characters: any other id is not found, without asking.
//   - AcceptOrder and RefuseOrder are accept_order, with a decision
//     (Accepted or Refused) for every line: the order is read first.
//   - ShipOrder is confirm_to_send, every line to ship Shipped with its
//     tracking_number and tracking_company (the carrier's code from
//     carriers_query, else its name). Fnac takes no tracking URL nor
//     shipping method: they are refused (ErrInvalid), not dropped. Which
//     of confirm_to_send and update Fnac wants is UNVERIFIED: the only
//     recorded exchange used update; the XSD documents confirm_to_send as
//     "confirm sending".
//   - CancelOrder and CancelOrderLines are refund_order, lines Refunded
//     with a refund_reason, needed. Fnac refunds whole lines: a part of a
//     line's quantity is refused (ErrInvalid). The seller's refund is
//     taken only of an order to ship (billed, not shipped): UNVERIFIED,
//     the conservative reading; refunds after shipping go through
//     incidents.
//   - Fnac answers a refused action per order (status ERROR or FATAL, an
//     error such as ERR_109 "Order current status is not valid…"). The
//     order is then read again: if the action already took effect (a
//     retry of a call whose answer was lost), Act succeeds; if its state
//     forbids the action, the refusal is a *connectors.OrderActionError
//     with Fnac's message; otherwise ErrInvalid.
//   - A write whose answer is lost (5xx, timeout, garbled) is
//     connectors.Uncertain. Every action reads the order before writing,
//     so a retry finds an action that took effect and does not repeat it.

var (
	_ connectors.OrderLister = (*Client)(nil)
	_ connectors.OrderActor  = (*Client)(nil)
)

// Currency is the currency of Fnac's and Darty's orders, which answers do
// not state.
const Currency = "EUR"

// orderStatuses normalises Fnac's order and line states (order_state and
// order_detail_state, state.xsd), the one table of the connector:
//
//	Created, ToAccept          New          waiting for the seller's approval
//	Accepted                   InProgress   approved, waiting for billing; not yet shippable
//	ToShip                     InProgress   billed: the seller ships it
//	Shipped, NotReceived       Shipped      shipped; NotReceived is the customer's claim,
//	                                        handled by Fnac's call centre
//	Received                   Closed       received and acknowledged (terminal)
//	Refused, Cancelled,        Canceled     refused by the seller, cancelled by the customer
//	Refunded                                or Fnac, refunded (terminal): no sale stands
//	Error, anything else       Undefined    "a non authorized or illogic state"
//	""                         NotProvided
var orderStatuses = map[string]connectors.OrderStatus{
	api.OrderCreated: connectors.OrderNew, api.LineToAccept: connectors.OrderNew,
	api.OrderAccepted: connectors.OrderInProgress, api.OrderToShip: connectors.OrderInProgress,
	api.OrderShipped: connectors.OrderShipped, api.OrderNotReceived: connectors.OrderShipped,
	api.OrderReceived: connectors.OrderClosed,
	api.OrderRefused:  connectors.OrderCanceled, api.OrderCancelled: connectors.OrderCanceled, api.OrderRefunded: connectors.OrderCanceled,
}

// OrderStatus normalises a Fnac order (or order line) state.
func OrderStatus(state string) connectors.OrderStatus {
	if state == "" {
		return connectors.OrderNotProvided
	}
	if s, ok := orderStatuses[state]; ok {
		return s
	}
	return connectors.OrderUndefined
}

// allowed tells whether Fnac takes an action on an order in state:
// accept_order of a Created order, confirm_to_send and refund_order of
// one to ship.
func allowed(k connectors.OrderActionKind, state string) bool {
	switch k {
	case connectors.ActionAccept, connectors.ActionRefuse:
		return state == api.OrderCreated
	case connectors.ActionShip, connectors.ActionCancel, connectors.ActionCancelLines:
		return state == api.OrderToShip
	}
	return false
}

func orderActions(o api.Order) []connectors.OrderActionKind {
	var out []connectors.OrderActionKind
	for _, k := range OrderStatus(o.State).Actions() {
		if allowed(k, o.State) {
			out = append(out, k)
		}
	}
	return out
}

// orderCursor is ListOrders' page token.
type orderCursor struct {
	Orders bool   `json:"o"` // tells it from a thread listing's
	Since  string `json:"s,omitempty"`
	Limit  int    `json:"l"`
	Page   int    `json:"p"`
}

func (cur orderCursor) encode() string {
	return connectors.EncodePageToken(cur)
}

func decodeOrderCursor(s string) (orderCursor, error) {
	var cur orderCursor
	err := connectors.DecodePageToken(s, &cur)
	if err != nil || !cur.Orders || cur.Limit < 1 || cur.Limit > api.DefaultResultsCount || cur.Page < 1 {
		return orderCursor{}, invalid("not a page token of this connector's order listing")
	}
	if cur.Since != "" {
		if _, err := api.ParseTime(cur.Since); err != nil {
			return orderCursor{}, invalid("not a page token of this connector's order listing")
		}
	}
	return cur, nil
}

// ListOrders returns one page of the orders updated at or after
// q.UpdatedSince, oldest update first.
func (c *Client) ListOrders(ctx context.Context, q connectors.OrderQuery) (connectors.OrderPage, error) {
	fail := func(err error) (connectors.OrderPage, error) {
		return connectors.OrderPage{}, fmt.Errorf("fnac: list orders: %w", err)
	}
	cur := orderCursor{Orders: true, Limit: api.DefaultResultsCount, Page: 1}
	if q.PageToken != "" {
		var err error
		if cur, err = decodeOrderCursor(q.PageToken); err != nil {
			return fail(err)
		}
	} else {
		if q.Limit > 0 {
			cur.Limit = min(q.Limit, api.DefaultResultsCount)
		}
		if !q.UpdatedSince.IsZero() {
			cur.Since = api.FormatTime(q.UpdatedSince)
		}
	}
	query := api.OrdersQuery{ResultsCount: cur.Limit, Paging: cur.Page, SortBy: api.SortAsc}
	if cur.Since != "" {
		query.Date = &api.DateFilter{Type: api.DateUpdatedAt, Min: cur.Since}
	}
	read := c.now()
	resp, err := c.queryOrders(ctx, query)
	if err != nil {
		return fail(err)
	}
	page := connectors.OrderPage{Total: resp.NbTotalResult}
	for _, o := range resp.Orders {
		page.Orders = append(page.Orders, toOrder(o, read))
	}
	if len(resp.Orders) > 0 && cur.Page < resp.TotalPaging {
		cur.Page++
		page.NextPageToken = cur.encode()
	}
	return page, nil
}

func (c *Client) queryOrders(ctx context.Context, q api.OrdersQuery) (*api.OrdersQueryResponse, error) {
	var resp api.OrdersQueryResponse
	err := c.call(ctx, api.ServiceOrdersQuery, func(h api.Header) any {
		q.Header = h
		return q
	}, &resp)
	if err != nil {
		return nil, err
	}
	if len(resp.Orders) > max(q.ResultsCount, 1) {
		return nil, fmt.Errorf("%w: %d orders in a page of %d", connectors.ErrUnavailable, len(resp.Orders), q.ResultsCount)
	}
	return &resp, nil
}

// GetOrder returns one of the shop's orders.
func (c *Client) GetOrder(ctx context.Context, orderID string) (connectors.Order, error) {
	read := c.now()
	o, err := c.order(ctx, orderID)
	if err != nil {
		return connectors.Order{}, fmt.Errorf("fnac: get order %s: %w", connectors.ShortID(orderID), err)
	}
	return toOrder(o, read), nil
}

// order reads one order. An id of another shape than Fnac's is still
// checked against the session first, so that wrong credentials show as
// such.
func (c *Client) order(ctx context.Context, id string) (api.Order, error) {
	if len(id) != api.OrderIDLen {
		if _, err := c.token(ctx); err != nil {
			return api.Order{}, err
		}
		return api.Order{}, fmt.Errorf("%w: not a Fnac order id", connectors.ErrNotFound)
	}
	resp, err := c.queryOrders(ctx, api.OrdersQuery{ResultsCount: 1, Paging: 1, OrderID: id})
	if err != nil {
		return api.Order{}, err
	}
	for _, o := range resp.Orders {
		if o.OrderID == id {
			return o, nil
		}
	}
	return api.Order{}, fmt.Errorf("%w: no such order", connectors.ErrNotFound)
}

// toOrder maps an order read at read.
func toOrder(o api.Order, read time.Time) connectors.Order {
	out := connectors.Order{
		ID: o.OrderID, CommercialID: o.OrderID, State: o.State, Status: OrderStatus(o.State), Actions: orderActions(o),
		CreatedAt: parsed(o.CreatedAt), CustomerEmail: strings.TrimSpace(o.ClientEmail),
		CustomerName: strings.TrimSpace(strings.TrimSpace(o.ClientFirstname) + " " + strings.TrimSpace(o.ClientLastname)),
		CustomerID:   o.ClientID, Currency: Currency,
	}
	out.UpdatedAt = out.CreatedAt
	later := func(s string) {
		if t, err := api.ParseTime(s); err == nil && t.After(out.UpdatedAt) {
			out.UpdatedAt = t
		}
	}
	if read.After(out.UpdatedAt) {
		out.UpdatedAt = read.UTC()
	}
	total, totalOK := new(big.Rat), len(o.Details) > 0
	shipping, shippingOK := new(big.Rat), len(o.Details) > 0
	for _, d := range o.Details {
		for _, s := range []string{d.CreatedAt, d.DebitedAt, d.ReceivedAt, d.RefusedAt} {
			later(s)
		}
		line := connectors.OrderLine{
			ID: d.ID, SKU: d.OfferSellerID, Title: strings.TrimSpace(d.ProductName), Quantity: d.Quantity,
			Status: OrderStatus(d.State),
		}
		unit, ok := new(big.Rat).SetString(strings.TrimSpace(d.Price))
		if ok {
			price := new(big.Rat).Mul(unit, big.NewRat(int64(d.Quantity), 1))
			line.Price = price.FloatString(2)
			total.Add(total, price)
		} else {
			totalOK = false
		}
		if s := strings.TrimSpace(d.ShippingPrice); s != "" {
			if ship, ok := new(big.Rat).SetString(s); ok {
				total.Add(total, ship)
				shipping.Add(shipping, ship)
			} else {
				totalOK, shippingOK = false, false
			}
		} else {
			shippingOK = false
		}
		if out.TrackingNumber == "" {
			out.TrackingNumber = strings.TrimSpace(d.TrackingNumber)
		}
		out.Lines = append(out.Lines, line)
	}
	if totalOK {
		out.Total = total.FloatString(2)
	}
	if shippingOK {
		out.ShippingPrice = shipping.FloatString(2)
	}
	return out
}

// Act performs one action on an order.
func (c *Client) Act(ctx context.Context, orderID string, action connectors.OrderAction) error {
	if err := c.act(ctx, orderID, connectors.ActionValue(action)); err != nil {
		kind := "act on"
		if action != nil {
			kind = string(action.Kind())
		}
		return fmt.Errorf("fnac: %s order %s: %w", kind, connectors.ShortID(orderID), err)
	}
	return nil
}

func (c *Client) act(ctx context.Context, id string, action connectors.OrderAction) error {
	switch a := action.(type) {
	case connectors.AcceptOrder:
		return c.decide(ctx, id, connectors.ActionAccept, a.RefuseLines, false)
	case connectors.RefuseOrder:
		return c.decide(ctx, id, connectors.ActionRefuse, nil, true)
	case connectors.ShipOrder:
		return c.ship(ctx, id, a.Tracking)
	case connectors.CancelOrder:
		return c.refund(ctx, id, connectors.ActionCancel, a.Reason, nil)
	case connectors.CancelOrderLines:
		if len(a.Lines) == 0 {
			if err := checkReason(a.Reason); err != nil {
				return err
			}
			return invalid("no line to cancel")
		}
		return c.refund(ctx, id, connectors.ActionCancelLines, a.Reason, a.Lines)
	}
	return invalid(fmt.Sprintf("unknown order action %T", action))
}

func hasLine(o api.Order, id string) bool {
	return slices.ContainsFunc(o.Details, func(d api.OrderDetail) bool { return d.ID == id })
}

// decide accepts an order, refusing the lines named (refuseAll: every
// line).
func (c *Client) decide(ctx context.Context, id string, kind connectors.OrderActionKind, refuse []string, refuseAll bool) error {
	o, err := c.order(ctx, id)
	if err != nil {
		return err
	}
	for _, lineID := range refuse {
		if !hasLine(o, lineID) {
			return invalid(fmt.Sprintf("the order has no line %s", connectors.ShortID(lineID)))
		}
	}
	refused := func(lineID string) bool { return refuseAll || slices.Contains(refuse, lineID) }
	// Taken already: the order is still as the decision left it, Accepted
	// (or Refused when every line was). Answers date no decision, so an
	// order gone further (billed, shipped) cannot be told from one
	// accepted by other means: the action is then refused.
	done := func(o api.Order) bool {
		if o.State != api.OrderAccepted && o.State != api.OrderRefused {
			return false
		}
		for _, d := range o.Details {
			if refused(d.ID) != (d.State == api.OrderRefused) {
				return false
			}
		}
		return true
	}
	if o.State != api.OrderCreated {
		if done(o) {
			return nil
		}
		return refusal(o, kind, "", nil)
	}
	in := api.OrderUpdate{OrderID: id, Action: api.ActionAcceptOrder}
	for _, d := range o.Details {
		action := api.LineAccepted
		if refused(d.ID) {
			action = api.LineRefused
		}
		in.Details = append(in.Details, api.OrderDetailUpdate{ID: d.ID, Action: action})
	}
	return c.updateOrder(ctx, in, kind, done)
}

// ship confirms the shipment of every line to ship, with its tracking.
func (c *Client) ship(ctx context.Context, id string, t connectors.Tracking) error {
	company := strings.TrimSpace(t.CarrierCode)
	if company == "" {
		company = strings.TrimSpace(t.CarrierName)
	}
	number := strings.TrimSpace(t.Number)
	switch {
	case t.ShippingMethod != "":
		return invalid("Fnac takes no shipping method: the order keeps the one its customer chose")
	case t.URL != "":
		return invalid("Fnac takes no tracking URL, only the carrier and the tracking number")
	case utf8.RuneCountInString(number) > api.MaxTrackingNumber:
		return invalid(fmt.Sprintf("Fnac takes tracking numbers of at most %d characters", api.MaxTrackingNumber))
	case utf8.RuneCountInString(company) > api.MaxTrackingCompany:
		return invalid(fmt.Sprintf("Fnac takes carrier names of at most %d characters", api.MaxTrackingCompany))
	}
	o, err := c.order(ctx, id)
	if err != nil {
		return err
	}
	done := func(o api.Order) bool {
		switch o.State {
		case api.OrderShipped, api.OrderNotReceived, api.OrderReceived:
		default:
			return false
		}
		return number == "" || slices.ContainsFunc(o.Details, func(d api.OrderDetail) bool { return strings.TrimSpace(d.TrackingNumber) == number })
	}
	if o.State != api.OrderToShip {
		if done(o) {
			return nil
		}
		return refusal(o, connectors.ActionShip, "", nil)
	}
	in := api.OrderUpdate{OrderID: id, Action: api.ActionConfirmToSend}
	for _, d := range o.Details {
		if d.State == api.OrderToShip {
			in.Details = append(in.Details, api.OrderDetailUpdate{ID: d.ID, Action: api.LineShipped, TrackingNumber: number, TrackingCompany: company})
		}
	}
	return c.updateOrder(ctx, in, connectors.ActionShip, done)
}

func checkReason(reason string) error {
	if !slices.Contains(api.RefundReasons, reason) {
		return invalid("cancelling a Fnac order needs a refund reason, one of " + strings.Join(api.RefundReasons, ", "))
	}
	return nil
}

// canceled tells whether a line state is done with, without a sale.
func canceled(state string) bool { return OrderStatus(state) == connectors.OrderCanceled }

// refund cancels (refunds) the lines named, or all lines when none is.
func (c *Client) refund(ctx context.Context, id string, kind connectors.OrderActionKind, reason string, lines []connectors.LineCancel) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	o, err := c.order(ctx, id)
	if err != nil {
		return err
	}
	var named []string
	for _, lc := range lines {
		i := slices.IndexFunc(o.Details, func(d api.OrderDetail) bool { return d.ID == lc.LineID })
		switch {
		case i < 0:
			return invalid(fmt.Sprintf("the order has no line %s", connectors.ShortID(lc.LineID)))
		case slices.Contains(named, lc.LineID):
			return invalid(fmt.Sprintf("line %s is named twice", connectors.ShortID(lc.LineID)))
		case lc.Quantity < 0:
			return invalid("a quantity to cancel cannot be negative")
		case lc.Quantity > o.Details[i].Quantity:
			return invalid(fmt.Sprintf("line %s has %d units, not %d", connectors.ShortID(lc.LineID), o.Details[i].Quantity, lc.Quantity))
		case lc.Quantity > 0 && lc.Quantity < o.Details[i].Quantity && !canceled(o.Details[i].State):
			return invalid(fmt.Sprintf("Fnac cancels whole lines only: line %s has %d units", connectors.ShortID(lc.LineID), o.Details[i].Quantity))
		}
		named = append(named, lc.LineID)
	}
	target := func(d api.OrderDetail) bool { return len(named) == 0 || slices.Contains(named, d.ID) }
	done := func(o api.Order) bool {
		for _, d := range o.Details {
			if target(d) && !canceled(d.State) {
				return false
			}
		}
		return len(o.Details) > 0 || canceled(o.State)
	}
	if done(o) {
		return nil // cancelled already: nothing to send
	}
	if o.State != api.OrderToShip {
		return refusal(o, kind, "", nil)
	}
	in := api.OrderUpdate{OrderID: id, Action: api.ActionRefundOrder}
	for _, d := range o.Details {
		if target(d) && !canceled(d.State) {
			if d.State != api.OrderToShip {
				return refusal(o, kind, "", nil)
			}
			in.Details = append(in.Details, api.OrderDetailUpdate{ID: d.ID, Action: api.LineRefunded, RefundReason: reason})
		}
	}
	return c.updateOrder(ctx, in, kind, done)
}

// updateOrder sends one order's update and settles its answer: done tells
// whether the action took effect, for an answer refusing it.
func (c *Client) updateOrder(ctx context.Context, in api.OrderUpdate, kind connectors.OrderActionKind, done func(api.Order) bool) error {
	var resp api.OrdersUpdateResponse
	err := c.call(ctx, api.ServiceOrdersUpdate, func(h api.Header) any {
		return api.OrdersUpdate{Header: h, Orders: []api.OrderUpdate{in}}
	}, &resp)
	if err != nil {
		if errors.Is(err, connectors.ErrInvalid) || errors.Is(err, connectors.ErrConflict) || errors.Is(err, connectors.ErrUnauthorized) {
			return err // refused as a whole: nothing happened
		}
		return connectors.Uncertain(err)
	}
	i := slices.IndexFunc(resp.Orders, func(o api.OrderStatus) bool { return o.OrderID == in.OrderID })
	if i < 0 {
		return connectors.Uncertain(fmt.Errorf("%w: the answer does not report on the order", connectors.ErrUnavailable))
	}
	st := resp.Orders[i]
	if st.Status == api.StatusOK || st.Status == api.StatusWarning {
		return nil
	}
	errs := slices.Clone(st.Errors)
	for _, d := range st.Details {
		errs = append(errs, d.Errors...)
	}
	msg := strings.TrimPrefix(errorText(errs), ": ")
	o, getErr := c.order(ctx, in.OrderID)
	switch {
	case getErr != nil:
		return fmt.Errorf("%w: Fnac refused: %s; and reading the order back failed: %w", connectors.ErrInvalid, msg, getErr)
	case done(o):
		return nil
	case !allowed(kind, o.State) || st.Status == api.StatusFatal:
		return refusal(o, kind, msg, nil)
	}
	return &connectors.APIError{Status: 200, Message: msg, Kind: connectors.ErrInvalid}
}

// refusal is an action the order's state forbids, with Fnac's message
// when it gave one.
func refusal(o api.Order, kind connectors.OrderActionKind, msg string, err error) error {
	return &connectors.OrderActionError{
		OrderID: o.OrderID, Action: kind, Status: OrderStatus(o.State), State: o.State, Message: msg, Err: err,
	}
}
