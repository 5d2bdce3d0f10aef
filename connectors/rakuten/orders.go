package rakuten

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
)

// How the order ports map to sales_ws, and why:
//   - An order is a purchase (purchaseid); its lines are its items
//     (itemid), one unit each: Rakuten sells per item, and every action
//     is on an item.
//   - ListOrders reads getnewsales (the items to confirm) and then
//     getcurrentsales page by page (nexttoken). Rakuten dates no change
//     of a sale: an order's UpdatedAt is when the connector first saw it
//     in its current state (Store.StampOrder), and UpdatedSince filters
//     on that. A purchase with items both to confirm and accepted is
//     listed twice, once from each list, with those items; GetOrder has
//     all of them.
//   - GetOrder reads getnewsales for its items to confirm and
//     getbillinginformation for the others.
//   - AcceptOrder is acceptsale, and refusesale for RefuseLines;
//     RefuseOrder refusesale; both for the items to confirm. An item the
//     shop accepted has ITEM_COMMITTED in its log, which tells a retry
//     from a decision about an order accepted otherwise.
//   - ShipOrder is settrackingpackageinfos on each item not cancelled: a
//     known carrier by its code as transporter_name, another as "Autre"
//     with its URL. Rakuten gives the tracking back nowhere the sources
//     show, so the connector keeps what it set (Store).
//   - CancelOrder and CancelOrderLines are cancelitem, with the reason as
//     its comment (sent to the buyer); an item is cancelled whole.
//   - Item statuses map to normalised ones in ItemStatus; an order's
//     status is its items': new if one is to confirm, else in progress if
//     one is, else shipped, closed, and cancelled when all are.

// ItemStatus normalises an item's itemstatus. TO_CONFIRM and ACCEPTED
// are in the samples, ON_HOLD (an item under a claim) in getiteminfos's;
// the others are UNVERIFIED names. An item on hold was accepted and is
// not done with: in progress, though not shippable.
func ItemStatus(s string) connectors.OrderStatus {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "":
		return connectors.OrderNotProvided
	case api.StatusToConfirm, api.StatusRequested, api.StatusReminded:
		return connectors.OrderNew
	case api.StatusAccepted, api.StatusCommitted, api.StatusOnHold:
		return connectors.OrderInProgress
	case api.StatusShipped:
		return connectors.OrderShipped
	case api.StatusClosed:
		return connectors.OrderClosed
	case api.StatusCancelled, api.StatusRefused:
		return connectors.OrderCanceled
	}
	return connectors.OrderUndefined
}

func orderStatus(lines []connectors.OrderLine) connectors.OrderStatus {
	for _, s := range []connectors.OrderStatus{connectors.OrderNew, connectors.OrderInProgress, connectors.OrderShipped, connectors.OrderClosed, connectors.OrderUndefined, connectors.OrderNotProvided} {
		if slices.ContainsFunc(lines, func(l connectors.OrderLine) bool { return l.Status == s }) {
			return s
		}
	}
	if len(lines) == 0 {
		return connectors.OrderNotProvided
	}
	return connectors.OrderCanceled
}

// shippable and cancellable are the item statuses settrackingpackageinfos
// and cancelitem take (the fake's conservative reading).
var (
	shippable   = []string{api.StatusAccepted, api.StatusCommitted}
	cancellable = []string{api.StatusAccepted, api.StatusCommitted, api.StatusOnHold}
)

// line is an item as a sale or a billing gives it.
type line struct {
	id, sku, title, status, price, currency string
}

// toOrder makes an order of a purchase's lines as read at readAt, when
// the read began.
func (c *Client) toOrder(ctx context.Context, id string, sale *api.Sale, lines []line, readAt time.Time) (connectors.Order, error) {
	o := connectors.Order{ID: id, CommercialID: id}
	if sale != nil {
		o.CreatedAt = parsed(sale.PurchaseDate)
		o.CustomerEmail = strings.TrimSpace(sale.Delivery.BuyerEmail)
		o.CustomerID = strings.TrimSpace(sale.Delivery.BuyerLogin)
		o.CustomerName = o.CustomerID
		if a := sale.Delivery.BillingAddress; a != nil && strings.TrimSpace(a.FirstName+a.LastName) != "" {
			o.CustomerName = strings.TrimSpace(strings.TrimSpace(a.FirstName) + " " + strings.TrimSpace(a.LastName))
		}
	}
	slices.SortStableFunc(lines, func(a, b line) int { return cmp.Or(cmp.Compare(len(a.id), len(b.id)), strings.Compare(a.id, b.id)) })
	var states []string
	cancel, ship := false, true
	for _, l := range lines {
		ol := connectors.OrderLine{ID: l.id, SKU: l.sku, Title: l.title, Quantity: 1, Price: l.price, Status: ItemStatus(l.status)}
		if ol.Status == connectors.OrderCanceled {
			ol.Canceled = 1
		}
		o.Lines = append(o.Lines, ol)
		o.Currency = cmp.Or(o.Currency, l.currency)
		if !slices.Contains(states, l.status) {
			states = append(states, l.status)
		}
		if slices.Contains(cancellable, l.status) {
			cancel = true
		}
		if ol.Status != connectors.OrderCanceled && !slices.Contains(shippable, l.status) {
			ship = false
		}
	}
	o.State = strings.Join(states, ",")
	o.Status = orderStatus(o.Lines)
	switch o.Status {
	case connectors.OrderNew:
		o.Actions = []connectors.OrderActionKind{connectors.ActionAccept, connectors.ActionRefuse}
	case connectors.OrderInProgress:
		if ship {
			o.Actions = append(o.Actions, connectors.ActionShip)
		}
		if cancel {
			o.Actions = append(o.Actions, connectors.ActionCancel, connectors.ActionCancelLines)
		}
	}
	t, _, err := c.store.Tracking(ctx, id)
	if err != nil {
		return o, err
	}
	o.TrackingNumber, o.TrackingURL, o.Carrier = t.Number, t.URL, cmp.Or(t.CarrierName, t.CarrierCode)
	o.UpdatedAt, err = c.store.StampOrder(ctx, id, o.State+"|"+lineStates(o)+"|"+t.Number, readAt)
	return o, err
}

func lineStates(o connectors.Order) string {
	var b strings.Builder
	for _, l := range o.Lines {
		b.WriteString(l.ID + "=" + string(l.Status) + ";")
	}
	return b.String()
}

func saleLines(s api.Sale) []line {
	var out []line
	for _, it := range s.Items {
		out = append(out, line{
			id: strings.TrimSpace(it.ItemID), sku: strings.TrimSpace(it.SKU), title: strings.TrimSpace(it.Headline),
			status: strings.TrimSpace(it.ItemStatus), price: strings.TrimSpace(it.Price.Amount), currency: strings.TrimSpace(it.Price.Currency),
		})
	}
	return out
}

// orderCursor is ListOrders's page token: the list being read (0 new
// sales, 1 current ones), its nexttoken, and how many of its page were
// returned already.
type orderCursor struct {
	List   int    `json:"p"`
	Token  string `json:"t,omitempty"`
	Offset int    `json:"o,omitempty"`
	Since  string `json:"s,omitempty"`
	Limit  int    `json:"l"`
}

// ListOrders returns one page of the new and current sales.
func (c *Client) ListOrders(ctx context.Context, q connectors.OrderQuery) (connectors.OrderPage, error) {
	fail := func(err error) (connectors.OrderPage, error) {
		return connectors.OrderPage{}, fmt.Errorf("rakuten: list orders: %w", err)
	}
	cur := orderCursor{Limit: maxThreadsPerPage}
	if q.PageToken != "" {
		err := connectors.DecodePageToken(q.PageToken, &cur)
		if err != nil || cur.Limit < 1 || cur.Limit > maxThreadsPerPage || cur.List < 0 || cur.List > 1 || cur.Offset < 0 {
			return fail(invalid("not a page token of this connector"))
		}
	} else {
		if q.Limit > 0 {
			cur.Limit = min(q.Limit, maxThreadsPerPage)
		}
		if !q.UpdatedSince.IsZero() {
			cur.Since = q.UpdatedSince.Format(time.RFC3339Nano)
		}
	}
	var sales []api.Sale
	next := ""
	readAt := c.now()
	if cur.List == 0 {
		var res api.GetNewSalesResult
		if err := c.call(ctx, api.ActionGetNewSales, nil, &res); err != nil {
			return fail(err)
		}
		sales = res.Response.Sales
	} else {
		var err error
		if sales, next, err = c.currentSales(ctx, cur.Token); err != nil {
			return fail(err)
		}
	}
	if err := c.keepSales(ctx, sales); err != nil {
		return fail(err)
	}
	page := connectors.OrderPage{Total: -1}
	end := min(cur.Offset+cur.Limit, len(sales))
	for i := min(cur.Offset, len(sales)); i < end; i++ {
		s := sales[i]
		o, err := c.toOrder(ctx, strings.TrimSpace(s.PurchaseID), &s, saleLines(s), readAt)
		if err != nil {
			return fail(err)
		}
		if since, err := time.Parse(time.RFC3339Nano, cur.Since); err == nil && o.UpdatedAt.Before(since) {
			continue
		}
		page.Orders = append(page.Orders, o)
	}
	switch {
	case end < len(sales):
		cur.Offset = end
	case cur.List == 0:
		cur.List, cur.Offset, cur.Token = 1, 0, ""
	case next != "" && next != cur.Token:
		cur.Offset, cur.Token = 0, next
	default:
		return page, nil
	}
	page.NextPageToken = connectors.EncodePageToken(cur)
	return page, nil
}

// GetOrder reads one purchase: its items to confirm from getnewsales,
// the others from getbillinginformation.
func (c *Client) GetOrder(ctx context.Context, orderID string) (connectors.Order, error) {
	o, err := c.order(ctx, orderID)
	if err != nil {
		return connectors.Order{}, fmt.Errorf("rakuten: get order %s: %w", connectors.ShortID(orderID), err)
	}
	return o, nil
}

func (c *Client) order(ctx context.Context, id string) (connectors.Order, error) {
	readAt := c.now()
	var news api.GetNewSalesResult
	if err := c.call(ctx, api.ActionGetNewSales, nil, &news); err != nil {
		return connectors.Order{}, err
	}
	if err := c.keepSales(ctx, news.Response.Sales); err != nil {
		return connectors.Order{}, err
	}
	var sale *api.Sale
	var lines []line
	for i, s := range news.Response.Sales {
		if strings.TrimSpace(s.PurchaseID) == id {
			sale = &news.Response.Sales[i]
			lines = saleLines(s)
		}
	}
	if id == "" || !itemIDShape.MatchString(id) {
		return connectors.Order{}, fmt.Errorf("%w: not an order id", connectors.ErrNotFound)
	}
	var bill api.GetBillingInformationResult
	err := c.call(ctx, api.ActionGetBillingInformation, url.Values{api.ParamPurchaseID: {id}}, &bill)
	if err != nil && !errors.Is(err, connectors.ErrNotFound) {
		return connectors.Order{}, err
	}
	for _, it := range bill.Response.Items {
		itemID := strings.TrimSpace(it.ItemID)
		if slices.ContainsFunc(lines, func(l line) bool { return l.id == itemID }) {
			continue
		}
		lines = append(lines, line{
			id: itemID, sku: strings.TrimSpace(it.SKU), title: strings.TrimSpace(it.Headline), status: strings.TrimSpace(it.ItemStatus),
			price: strings.TrimSpace(it.ItemSalePrice.Amount), currency: strings.TrimSpace(it.ItemSalePrice.Currency),
		})
	}
	if len(lines) == 0 {
		return connectors.Order{}, fmt.Errorf("%w: no such order", connectors.ErrNotFound)
	}
	o, err := c.toOrder(ctx, id, sale, lines, readAt)
	if err != nil {
		return connectors.Order{}, err
	}
	if sale == nil && len(o.Lines) > 0 {
		// The billing names no date nor buyer: the sales read before may.
		// The read-back of an action must name the customer as the
		// listing did, or the order would leave the customer's sidebar.
		if ref, ok, err := c.store.Sale(ctx, o.Lines[0].ID); err == nil && ok {
			o.CreatedAt = parsed(ref.PurchaseDate)
			o.CustomerID, o.CustomerEmail = ref.BuyerLogin, cmp.Or(o.CustomerEmail, ref.BuyerEmail)
			o.CustomerName = cmp.Or(o.CustomerName, ref.BuyerName, ref.BuyerLogin)
		}
	}
	return o, nil
}

// Act performs one action on a purchase, item by item.
func (c *Client) Act(ctx context.Context, orderID string, action connectors.OrderAction) error {
	if err := c.act(ctx, orderID, action); err != nil {
		kind := "act on"
		if action != nil {
			kind = string(action.Kind())
		}
		return fmt.Errorf("rakuten: %s order %s: %w", kind, connectors.ShortID(orderID), err)
	}
	return nil
}

func refusal(o connectors.Order, k connectors.OrderActionKind) error {
	return &connectors.OrderActionError{OrderID: o.ID, Action: k, Status: o.Status, State: o.State}
}

func (c *Client) act(ctx context.Context, id string, action connectors.OrderAction) error {
	o, err := c.order(ctx, id)
	if err != nil {
		return err
	}
	switch a := connectors.ActionValue(action).(type) {
	case connectors.AcceptOrder:
		return c.decide(ctx, o, connectors.ActionAccept, a.RefuseLines)
	case connectors.RefuseOrder:
		return c.decide(ctx, o, connectors.ActionRefuse, nil)
	case connectors.ShipOrder:
		return c.ship(ctx, o, a.Tracking)
	case connectors.CancelOrder:
		return c.cancel(ctx, o, connectors.ActionCancel, a.Reason, nil)
	case connectors.CancelOrderLines:
		return c.cancelLines(ctx, o, a)
	}
	return invalid(fmt.Sprintf("unknown order action %T", action))
}

// decide accepts the items to confirm but those refused, and refuses
// those; RefuseOrder refuses all.
func (c *Client) decide(ctx context.Context, o connectors.Order, k connectors.OrderActionKind, refused []string) error {
	for _, id := range refused {
		if !slices.ContainsFunc(o.Lines, func(l connectors.OrderLine) bool { return l.ID == id }) {
			return invalid(fmt.Sprintf("the order has no line %s", connectors.ShortID(id)))
		}
	}
	accept := func(lineID string) bool { return k == connectors.ActionAccept && !slices.Contains(refused, lineID) }
	// A line decided otherwise than asked makes this another decision.
	for _, l := range o.Lines {
		if l.Status == connectors.OrderNew {
			continue
		}
		if accept(l.ID) {
			if l.Status != connectors.OrderInProgress {
				return refusal(o, k)
			}
			committed, err := c.committed(ctx, l.ID)
			if err != nil {
				return err
			}
			if !committed {
				return refusal(o, k) // accepted before, not by the shop: not a retry
			}
		} else if l.Status != connectors.OrderCanceled {
			return refusal(o, k)
		}
	}
	for _, l := range o.Lines {
		if l.Status != connectors.OrderNew {
			continue
		}
		action := api.ActionRefuseSale
		if accept(l.ID) {
			action = api.ActionAcceptSale
		}
		var res api.StatusResult
		if err := c.call(ctx, action, url.Values{api.ParamItemID: {l.ID}}, &res); err != nil {
			return connectors.Uncertain(err)
		}
	}
	return nil
}

// committed tells whether the shop accepted the item (ITEM_COMMITTED in
// its log). getiteminfos marks its messages read: itemInfo keeps them.
func (c *Client) committed(ctx context.Context, itemID string) (bool, error) {
	info, err := c.itemInfo(ctx, itemID)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(info.Logs, func(l api.ItemLog) bool { return strings.TrimSpace(l.Code) == api.LogItemCommitted }), nil
}

func (c *Client) ship(ctx context.Context, o connectors.Order, t connectors.Tracking) error {
	if o.Status == connectors.OrderShipped || o.Status == connectors.OrderClosed {
		if t.Number == "" || o.TrackingNumber == t.Number {
			return nil // shipped already: a retry
		}
		return refusal(o, connectors.ActionShip)
	}
	if !slices.Contains(o.Actions, connectors.ActionShip) {
		return refusal(o, connectors.ActionShip)
	}
	transporter := strings.TrimSpace(t.CarrierCode)
	switch {
	case t.ShippingMethod != "":
		return invalid("Rakuten takes no shipping method")
	case t.Number == "":
		return invalid("Rakuten confirms a shipment with its tracking number")
	case transporter == "" && t.CarrierName == "":
		return invalid("a tracking needs its carrier, by code or by name")
	case transporter == "" && t.URL == "":
		return invalid("a carrier Rakuten does not list (Autre) needs the tracking URL")
	}
	if transporter == "" {
		transporter = api.TransporterOther
	}
	// Kept first: an uncertain call must still show its tracking.
	if err := c.store.SaveTracking(ctx, o.ID, t); err != nil {
		return err
	}
	for _, l := range o.Lines {
		if l.Status == connectors.OrderCanceled {
			continue
		}
		params := url.Values{api.ParamItemID: {l.ID}, api.ParamTransporter: {transporter}, api.ParamTrackingNumber: {t.Number}}
		if t.URL != "" {
			params.Set(api.ParamTrackingURL, t.URL)
		}
		var res api.StatusResult
		if err := c.call(ctx, api.ActionSetTrackingPackage, params, &res); err != nil {
			return connectors.Uncertain(err)
		}
	}
	return nil
}

// cancel cancels the named lines, or all that can be when lines is nil.
func (c *Client) cancel(ctx context.Context, o connectors.Order, k connectors.OrderActionKind, reason string, lines []string) error {
	if o.Status == connectors.OrderCanceled {
		return nil // a retry
	}
	if !slices.Contains(o.Actions, k) {
		return refusal(o, k)
	}
	if strings.TrimSpace(reason) == "" {
		return invalid("Rakuten's cancelitem needs a comment for the buyer: give it as the reason")
	}
	for _, l := range o.Lines {
		if l.Status == connectors.OrderCanceled || (lines != nil && !slices.Contains(lines, l.ID)) {
			continue
		}
		if l.Status != connectors.OrderInProgress {
			return refusal(o, k)
		}
	}
	for _, l := range o.Lines {
		if l.Status == connectors.OrderCanceled || (lines != nil && !slices.Contains(lines, l.ID)) {
			continue
		}
		var res api.StatusResult
		if err := c.call(ctx, api.ActionCancelItem, url.Values{api.ParamItemID: {l.ID}, api.ParamComment: {reason}}, &res); err != nil {
			return connectors.Uncertain(err)
		}
	}
	return nil
}

func (c *Client) cancelLines(ctx context.Context, o connectors.Order, a connectors.CancelOrderLines) error {
	var ids []string
	for _, lc := range a.Lines {
		i := slices.IndexFunc(o.Lines, func(l connectors.OrderLine) bool { return l.ID == lc.LineID })
		switch {
		case i < 0:
			return invalid(fmt.Sprintf("the order has no line %s", connectors.ShortID(lc.LineID)))
		case lc.Quantity < 0 || lc.Quantity > 1:
			return invalid("a Rakuten line is one item: it is cancelled whole")
		}
		ids = append(ids, lc.LineID)
	}
	if len(ids) == 0 {
		return invalid("no line to cancel")
	}
	if strings.TrimSpace(a.Reason) == "" {
		return invalid("Rakuten's cancelitem needs a comment for the buyer: give it as the reason")
	}
	if !slices.ContainsFunc(o.Lines, func(l connectors.OrderLine) bool {
		return slices.Contains(ids, l.ID) && l.Status != connectors.OrderCanceled
	}) {
		return nil // every line named is cancelled already: a retry
	}
	return c.cancel(ctx, o, connectors.ActionCancelLines, a.Reason, ids)
}
