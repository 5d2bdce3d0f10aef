package amazonfake

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Order statuses (spec's OrderStatus enum).
const (
	StatusPendingAvailability = "PendingAvailability"
	StatusPending             = "Pending"
	StatusUnshipped           = "Unshipped"
	StatusPartiallyShipped    = "PartiallyShipped"
	StatusShipped             = "Shipped"
	StatusInvoiceUnconfirmed  = "InvoiceUnconfirmed"
	StatusCanceled            = "Canceled"
	StatusUnfulfillable       = "Unfulfillable"
)

// Money is an amount as Amazon writes it: a decimal string.
type Money struct {
	CurrencyCode string `json:"CurrencyCode,omitempty"`
	Amount       string `json:"Amount,omitempty"`
}

// Order is a seeded order. BuyerEmail and BuyerName are restricted data.
type Order struct {
	AmazonOrderID      string
	SellerOrderID      string
	PurchaseDate       time.Time
	LastUpdateDate     time.Time
	OrderStatus        string
	MarketplaceID      string
	FulfillmentChannel string // "MFN" or "AFN"; "" is MFN
	OrderTotal         *Money
	BuyerEmail         string
	BuyerName          string
	Items              []Item
}

// Item is one of an order's items. ItemPrice is for all its units (spec).
type Item struct {
	OrderItemID     string
	ASIN            string
	SellerSKU       string
	Title           string
	QuantityOrdered int
	QuantityShipped int
	ItemPrice       *Money
	ItemTax         *Money
	ShippingPrice   *Money
}

// PutOrder adds or replaces an order. A zero LastUpdateDate is its
// PurchaseDate; a zero PurchaseDate is now.
func (s *Server) PutOrder(o Order) {
	if o.PurchaseDate.IsZero() {
		o.PurchaseDate = s.opts.Now()
	}
	if o.LastUpdateDate.IsZero() {
		o.LastUpdateDate = o.PurchaseDate
	}
	if o.MarketplaceID == "" && len(s.opts.MarketplaceIDs) > 0 {
		o.MarketplaceID = s.opts.MarketplaceIDs[0]
	}
	o.FulfillmentChannel = cmp.Or(o.FulfillmentChannel, "MFN")
	o.OrderStatus = cmp.Or(o.OrderStatus, StatusUnshipped)
	o.Items = slices.Clone(o.Items)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.AmazonOrderID] = &o
}

// SetStatus moves an order to status, updated now, and ships its items
// when the status says they all are.
func (s *Server) SetStatus(id, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return false
	}
	o.OrderStatus = status
	o.LastUpdateDate = s.opts.Now()
	if status == StatusShipped || status == StatusInvoiceUnconfirmed {
		for i := range o.Items {
			o.Items[i].QuantityShipped = o.Items[i].QuantityOrdered
		}
	}
	return true
}

// ---- wire shapes (spec's definitions) ----

type wireOrder struct {
	AmazonOrderId          string     `json:"AmazonOrderId"`
	SellerOrderId          string     `json:"SellerOrderId,omitempty"`
	PurchaseDate           string     `json:"PurchaseDate"`
	LastUpdateDate         string     `json:"LastUpdateDate"`
	OrderStatus            string     `json:"OrderStatus"`
	FulfillmentChannel     string     `json:"FulfillmentChannel,omitempty"`
	OrderTotal             *Money     `json:"OrderTotal,omitempty"`
	NumberOfItemsShipped   int        `json:"NumberOfItemsShipped"`
	NumberOfItemsUnshipped int        `json:"NumberOfItemsUnshipped"`
	MarketplaceId          string     `json:"MarketplaceId,omitempty"`
	BuyerInfo              *buyerInfo `json:"BuyerInfo,omitempty"`
}

type buyerInfo struct {
	BuyerEmail string `json:"BuyerEmail,omitempty"`
	BuyerName  string `json:"BuyerName,omitempty"`
}

type wireItem struct {
	ASIN            string `json:"ASIN"`
	SellerSKU       string `json:"SellerSKU,omitempty"`
	OrderItemId     string `json:"OrderItemId"`
	Title           string `json:"Title,omitempty"`
	QuantityOrdered int    `json:"QuantityOrdered"`
	QuantityShipped int    `json:"QuantityShipped"`
	ItemPrice       *Money `json:"ItemPrice,omitempty"`
	ItemTax         *Money `json:"ItemTax,omitempty"`
	ShippingPrice   *Money `json:"ShippingPrice,omitempty"`
}

// amazonTime is how Amazon writes dates: ISO 8601 in UTC, to the second.
func amazonTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// wire renders o; buyer tells whether the call may see BuyerInfo.
func (o *Order) wire(buyer bool) wireOrder {
	w := wireOrder{
		AmazonOrderId: o.AmazonOrderID, SellerOrderId: o.SellerOrderID,
		PurchaseDate: amazonTime(o.PurchaseDate), LastUpdateDate: amazonTime(o.LastUpdateDate),
		OrderStatus: o.OrderStatus, FulfillmentChannel: o.FulfillmentChannel, OrderTotal: o.OrderTotal,
		MarketplaceId: o.MarketplaceID,
	}
	for _, it := range o.Items {
		w.NumberOfItemsShipped += it.QuantityShipped
		w.NumberOfItemsUnshipped += it.QuantityOrdered - it.QuantityShipped
	}
	if buyer {
		bi := &buyerInfo{BuyerName: o.BuyerName}
		switch o.OrderStatus {
		case StatusUnshipped, StatusPartiallyShipped, StatusShipped, StatusInvoiceUnconfirmed:
			bi.BuyerEmail = o.BuyerEmail
		}
		if *bi != (buyerInfo{}) {
			w.BuyerInfo = bi
		}
	}
	return w
}

// ---- getOrders ----

// listing is what a NextToken continues.
type listing struct {
	marketplaces []string
	dateParam    string // "CreatedAfter" or "LastUpdatedAfter"
	after        string // as sent
	ids          []string
	offset       int
	pageSize     int
}

// listParam reads a list parameter, comma-separated or repeated.
func listParam(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (s *Server) getOrders(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	mps := listParam(q, "MarketplaceIds")
	if len(mps) == 0 {
		invalid(w, "Missing required 'MarketplaceIds'.", "")
		return
	}
	if len(mps) > 50 {
		invalid(w, "Too many 'MarketplaceIds'.", "")
		return
	}
	for _, m := range mps {
		if !slices.Contains(s.opts.MarketplaceIDs, m) {
			invalid(w, "Invalid Input", "Invalid MarketplaceId: "+m)
			return
		}
	}
	buyer := c.restricted(http.MethodGet, "/orders/v0/orders", "buyerInfo")
	if tok := q.Get("NextToken"); tok != "" {
		s.mu.Lock()
		l, ok := s.listings[tok]
		s.mu.Unlock()
		if !ok {
			invalid(w, "Invalid Input", "Invalid NextToken.")
			return
		}
		for _, p := range []string{"CreatedAfter", "LastUpdatedAfter"} {
			if v := q.Get(p); v != "" && (p != l.dateParam || v != l.after) {
				invalid(w, "Invalid Input", p+" differs from the request that issued the NextToken.")
				return
			}
		}
		if !slices.Equal(mps, l.marketplaces) {
			invalid(w, "Invalid Input", "MarketplaceIds differ from the request that issued the NextToken.")
			return
		}
		s.writeOrderPage(w, tok, l, buyer, nil)
		return
	}
	ca, ua := q.Get("CreatedAfter"), q.Get("LastUpdatedAfter")
	cb, ub := q.Get("CreatedBefore"), q.Get("LastUpdatedBefore")
	switch {
	case ca == "" && ua == "":
		invalid(w, "Either 'CreatedAfter' or 'LastUpdatedAfter' must be specified.", "")
		return
	case ca != "" && (ua != "" || ub != ""):
		invalid(w, "'LastUpdatedAfter' and 'LastUpdatedBefore' cannot be set when 'CreatedAfter' is set.", "")
		return
	case ua != "" && cb != "":
		invalid(w, "'CreatedAfter' or 'CreatedBefore' cannot be set when 'LastUpdatedAfter' is set.", "")
		return
	}
	param, after, before := "CreatedAfter", ca, cb
	if ua != "" {
		param, after, before = "LastUpdatedAfter", ua, ub
	}
	from, ok := parseDate(after)
	if !ok {
		invalid(w, "Invalid Input", param+" is not a valid ISO 8601 date.")
		return
	}
	now := s.opts.Now()
	to := now.Add(-s.opts.ListingDelay)
	if before != "" {
		b, ok := parseDate(before)
		if !ok {
			invalid(w, "Invalid Input", strings.Replace(param, "After", "Before", 1)+" is not a valid ISO 8601 date.")
			return
		}
		if b.Before(from) || b.After(now.Add(-2*time.Minute)) {
			invalid(w, "Invalid Input", strings.Replace(param, "After", "Before", 1)+" must be after "+param+" and at least two minutes before now.")
			return
		}
		to = b
	}
	if from.After(to) {
		// Nothing can match yet; Amazon's answer here is UNVERIFIED.
		from = to
	}
	size := 100
	if v := q.Get("MaxResultsPerPage"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			invalid(w, "Invalid Input", "MaxResultsPerPage must be between 1 and 100.")
			return
		}
		size = n
	}
	date := func(o *Order) time.Time {
		if param == "CreatedAfter" {
			return o.PurchaseDate
		}
		return o.LastUpdateDate
	}
	s.mu.Lock()
	var match []*Order
	for _, o := range s.orders {
		if d := date(o); !d.Before(from) && !d.After(to) && slices.Contains(mps, o.MarketplaceID) {
			match = append(match, o)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(match, func(a, b *Order) int {
		return cmp.Or(date(a).Compare(date(b)), strings.Compare(a.AmazonOrderID, b.AmazonOrderID))
	})
	l := &listing{marketplaces: mps, dateParam: param, after: after, pageSize: size}
	for _, o := range match {
		l.ids = append(l.ids, o.AmazonOrderID)
	}
	bound := map[string]string{}
	if param == "CreatedAfter" {
		bound["CreatedBefore"] = amazonTime(to)
	} else {
		bound["LastUpdatedBefore"] = amazonTime(to)
	}
	s.writeOrderPage(w, "", l, buyer, bound)
}

// writeOrderPage answers the page of l at its offset, issuing a token for
// the next one; tok is the token this page was asked with, if any.
func (s *Server) writeOrderPage(w http.ResponseWriter, tok string, l *listing, buyer bool, bound map[string]string) {
	s.mu.Lock()
	end := min(l.offset+l.pageSize, len(l.ids))
	orders := []wireOrder{}
	for _, id := range l.ids[l.offset:end] {
		if o, ok := s.orders[id]; ok {
			orders = append(orders, o.wire(buyer))
		}
	}
	payload := map[string]any{"Orders": orders}
	for k, v := range bound {
		payload[k] = v
	}
	if end < len(l.ids) {
		next := *l
		next.offset = end
		nt := randomID() + randomID()
		s.listings[nt] = &next
		payload["NextToken"] = nt
	}
	s.mu.Unlock()
	_ = tok // a token may be used again (a retried page): UNVERIFIED, lenient
	writeJSON(w, http.StatusOK, map[string]any{"payload": payload})
}

// ---- getOrder, getOrderItems ----

// lookup finds a seeded order, or answers 404. Ids are not held to
// Amazon's 3-7-7 form, so that tests may seed readable ones.
func (s *Server) lookup(w http.ResponseWriter, id string) (*Order, bool) {
	s.mu.Lock()
	o, ok := s.orders[id]
	s.mu.Unlock()
	if !ok {
		writeErrors(w, http.StatusNotFound, "NotFound", "Order not found.", "")
	}
	return o, ok
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("orderId")
	o, ok := s.lookup(w, id)
	if !ok {
		return
	}
	buyer := c.restricted(http.MethodGet, "/orders/v0/orders/"+id, "buyerInfo")
	s.mu.Lock()
	wo := o.wire(buyer)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"payload": wo})
}

type itemPage struct {
	orderID string
	offset  int
}

func (s *Server) getOrderItems(w http.ResponseWriter, r *http.Request, c caller) {
	id := r.PathValue("orderId")
	o, ok := s.lookup(w, id)
	if !ok {
		return
	}
	offset := 0
	if tok := r.URL.Query().Get("NextToken"); tok != "" {
		s.mu.Lock()
		p, ok := s.itemPages[tok]
		s.mu.Unlock()
		if !ok || p.orderID != id {
			invalid(w, "Invalid Input", "Invalid NextToken.")
			return
		}
		offset = p.offset
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end := min(offset+s.opts.ItemsPageSize, len(o.Items))
	items := []wireItem{}
	for _, it := range o.Items[min(offset, len(o.Items)):end] {
		wi := wireItem{
			ASIN: it.ASIN, SellerSKU: it.SellerSKU, OrderItemId: it.OrderItemID, Title: it.Title,
			QuantityOrdered: it.QuantityOrdered, QuantityShipped: it.QuantityShipped,
		}
		// A Pending order's items carry no pricing (spec).
		if o.OrderStatus != StatusPending && o.OrderStatus != StatusPendingAvailability {
			wi.ItemPrice, wi.ItemTax, wi.ShippingPrice = it.ItemPrice, it.ItemTax, it.ShippingPrice
		}
		items = append(items, wi)
	}
	payload := map[string]any{"AmazonOrderId": o.AmazonOrderID, "OrderItems": items}
	if end < len(o.Items) {
		nt := randomID()
		s.itemPages[nt] = itemPage{orderID: id, offset: end}
		payload["NextToken"] = nt
	}
	writeJSON(w, http.StatusOK, map[string]any{"payload": payload})
}
