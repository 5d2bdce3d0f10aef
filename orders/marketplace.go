package orders

import (
	"cmp"
	"strings"

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
		Status: miraklStatus(o.State), MarketplaceStatus: o.State,
		CreatedAt: o.CreatedAt.UTC(), Total: o.Total, Currency: strings.ToUpper(o.Currency),
		Buyer: Buyer{Name: o.CustomerName, ExternalID: o.CustomerID},
		Lines: make([]Line, len(o.Lines)),
	}
	if s, ok := m.Store(store); ok {
		order.URL = s.OrderLink(o.ID)
		order.SupportURL = s.SupportLink(o.ID)
	}
	for i, l := range o.Lines {
		order.Lines[i] = Line{Name: l.Title, SKU: l.SKU, Quantity: l.Quantity}
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

// miraklStatus normalises a Mirakl order_state (the only marketplace kind
// the bridge knows). A state Mirakl adds later is Undefined; the raw state
// stays in marketplace_status.
func miraklStatus(state string) string {
	switch state {
	case "WAITING_ACCEPTANCE", "STAGING":
		return StatusNew
	case "SHIPPING":
		return StatusInProgress
	case "SHIPPED", "TO_COLLECT":
		return StatusShipped
	case "RECEIVED", "CLOSED":
		return StatusClosed
	case "REFUSED", "CANCELED":
		return StatusCanceled
	}
	// WAITING_DEBIT and WAITING_DEBIT_PAYMENT: the payment is pending.
	if strings.HasPrefix(state, "WAITING_DEBIT") {
		return StatusNew
	}
	return StatusUndefined
}
