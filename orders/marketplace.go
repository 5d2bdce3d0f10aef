package orders

import (
	"cmp"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// ChangesFromMarketplaceOrder turns an order a marketplace account listed
// (Mirakl's OR11) into the changes that upsert it into the read model, as
// an order.upserted event would: the order, then its shipment when the
// marketplace gives a tracking. An order without a customer email has no
// sidebar to show in: ok is false and nothing is to be applied.
//
// The merchant's store, when it has this id, fills the order's links from
// its order_url and support_url, as it does for events.
func ChangesFromMarketplaceOrder(m *config.Merchant, store, marketplace string, o connectors.Order) (changes []Change, ok bool) {
	email := NormalizeEmail(o.CustomerEmail)
	if email == "" || o.ID == "" {
		return nil, false
	}
	// Mirakl always dates an update; an order that was never updated
	// takes its creation date.
	updated := cmp.Or(o.UpdatedAt, o.CreatedAt)
	order := &Order{
		ID: o.ID, Store: store, Marketplace: marketplace,
		Status: statusOf(o), MarketplaceStatus: o.State,
		CreatedAt: o.CreatedAt.UTC(), Total: o.Total, Currency: strings.ToUpper(o.Currency),
		Buyer:         Buyer{Name: o.CustomerName, ExternalID: o.CustomerID},
		Lines:         make([]Line, len(o.Lines)),
		ShippingPrice: amountOrEmpty(o.ShippingPrice),
	}
	order.BillingAddress, order.ShippingAddress = addressOf(o.BillingAddress), addressOf(o.ShippingAddress)
	if s, ok := m.Store(store); ok {
		order.URL = s.OrderLink(o.ID)
		order.SupportURL = s.SupportLink(o.ID)
	}
	for i, l := range o.Lines {
		order.Lines[i] = Line{Name: l.Title, SKU: l.SKU, Quantity: l.Quantity, Canceled: min(max(l.Canceled, 0), l.Quantity)}
		order.Lines[i].UnitPrice, order.Lines[i].Discount = unitPrice(l.Price, l.Discount, l.Quantity)
	}
	changes = append(changes, Change{Merchant: m.ID, Store: store, OrderID: o.ID, Email: email, Order: order, UpdatedAt: updated})
	if o.TrackingNumber != "" || o.TrackingURL != "" {
		// OR11 carries one tracking per order and no shipment id: the
		// shipment is the marketplace's, replaced when its tracking is.
		// Its status is the order's, shown on the order.
		changes = append(changes, Change{
			Merchant: m.ID, Store: store, OrderID: o.ID, ShipmentID: "marketplace-" + marketplace, UpdatedAt: updated,
			Shipment: &Shipment{Carrier: o.Carrier, TrackingNumber: o.TrackingNumber, TrackingURL: o.TrackingURL},
		})
	}
	return changes, true
}

// unitPrice splits a marketplace line's price, for all its units, into
// a unit price and a discount such that quantity × unit − discount is
// exactly the line's price less its own discount: the unit price is the
// line's divided by the quantity, rounded up to the cent when it does not
// fall on one, and the rounding is a discount of a cent or so. Empty when
// the price is missing or unreadable.
func unitPrice(price, discount string, quantity int) (unit, off string) {
	p, err := decimal.NewFromString(strings.TrimSpace(price))
	if err != nil || p.IsNegative() || quantity < 1 {
		return "", ""
	}
	d := decimal.Zero
	if discount = strings.TrimSpace(discount); discount != "" {
		if d, err = decimal.NewFromString(discount); err != nil || d.IsNegative() {
			return "", ""
		}
	}
	q := decimal.NewFromInt(int64(quantity))
	u := p.Div(q)
	if !u.Equal(u.Truncate(2)) {
		u = u.RoundCeil(2)
	}
	d = d.Add(u.Mul(q).Sub(p))
	unit = u.StringFixed(2)
	if !d.IsZero() {
		off = d.StringFixed(max(2, -d.Exponent()))
	}
	return unit, off
}

func addressOf(a *connectors.Address) *Address {
	if a == nil {
		return nil
	}
	return &Address{Name: a.Name, Line1: a.Line1, Line2: a.Line2, PostalCode: a.PostalCode, City: a.City, Country: a.Country}
}

// amountOrEmpty keeps a marketplace amount that reads as one.
func amountOrEmpty(s string) string {
	s = strings.TrimSpace(s)
	if d, err := decimal.NewFromString(s); err != nil || d.IsNegative() {
		return ""
	}
	return s
}

// statusOf is the read model's name of a connector's normalised status:
// one mapping of each marketplace's states, the connector's. A connector
// that gives none leaves Undefined, or NotProvided without a state.
func statusOf(o connectors.Order) string {
	switch o.Status {
	case connectors.OrderNew:
		return StatusNew
	case connectors.OrderInProgress:
		return StatusInProgress
	case connectors.OrderShipped:
		return StatusShipped
	case connectors.OrderCanceled:
		return StatusCanceled
	case connectors.OrderClosed:
		return StatusClosed
	case connectors.OrderNotProvided:
		return StatusNotProvided
	}
	if o.State == "" {
		return StatusNotProvided
	}
	return StatusUndefined
}
