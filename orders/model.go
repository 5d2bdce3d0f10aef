// Package orders is the merchants' orders as the bridge knows them: the
// read model that signed order events and marketplace order syncs feed,
// one document per customer that sidebars read, and the marketplace order
// sync.
//
// Data flows one way. An order event (order, shipment, return or support
// request upserted) or a marketplace listing becomes a Change in an asynq
// task; the Store applies each to the order it belongs to, keeping the
// newer of two versions, and rebuilds the documents of the customers it
// touches in the same Redis transaction. Widgets read those documents;
// discussions ask the Store for an order's customer. Neither knows the
// other.
package orders

import "time"

// Document is everything the bridge knows of one customer of a merchant,
// across the merchant's stores, most recent order first. It is stored as
// JSON and is also the shape of the JSON widget, before a sidebar's layout
// hides fields.
type Document struct {
	Customer Customer `json:"customer"`
	Orders   []Order  `json:"orders"`
}

// Customer is the summary at the top of the widget. Customer data: never
// logged.
type Customer struct {
	// Email is normalised: trimmed and lower-cased. A marketplace's
	// anonymised relay address is an ordinary email.
	Email       string     `json:"email"`
	Name        string     `json:"name,omitempty"`
	Phone       string     `json:"phone,omitempty"`
	ExternalID  string     `json:"external_id,omitempty"`
	OrdersCount int        `json:"orders_count"`
	LastOrderAt *time.Time `json:"last_order_at,omitempty"`
}

// Buyer is an order's customer details. Customer data: never logged.
type Buyer struct {
	Name       string `json:"name,omitempty"`
	Phone      string `json:"phone,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

// Normalised order statuses.
const (
	StatusNew         = "New"
	StatusInProgress  = "InProgress"
	StatusShipped     = "Shipped"
	StatusCanceled    = "Canceled"
	StatusClosed      = "Closed"
	StatusUndefined   = "Undefined"
	StatusNotProvided = "NotProvided"
)

// Order is one order with everything attached to it.
type Order struct {
	ID          string `json:"id"`
	Store       string `json:"store"`
	Marketplace string `json:"marketplace,omitempty"`
	// Status is normalised (see the Status constants); MarketplaceStatus is
	// the marketplace's own word for it.
	Status            string    `json:"status"`
	MarketplaceStatus string    `json:"marketplace_status,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	// Total is a decimal string, as sent: no float rounding.
	Total      string `json:"total,omitempty"`
	Currency   string `json:"currency,omitempty"`
	URL        string `json:"url,omitempty"`
	SupportURL string `json:"support_url,omitempty"`
	// Buyer is who placed the order, as that store knows them; the
	// customer summary is built from the orders a sidebar shows.
	Buyer Buyer `json:"buyer"`
	// ShippingAddress is where the order goes, when the store sent it.
	// The order list and export carry it; widget documents leave it out.
	ShippingAddress *Address `json:"shipping_address,omitempty"`
	// BillingAddress is who pays, when the store sent it apart from the
	// shipping address; an invoice is addressed to it. Not in widgets.
	BillingAddress *Address `json:"billing_address,omitempty"`
	// ShippingPrice is what the buyer paid for delivery, for all the
	// order, and ShippingDiscount what was taken off it: decimal strings
	// as sent, never floats. Empty when the store sent none; "0" is a free
	// delivery. Not in widgets (nothing shows them there).
	ShippingPrice    string           `json:"shipping_price,omitempty"`
	ShippingDiscount string           `json:"shipping_discount,omitempty"`
	Lines            []Line           `json:"lines"`
	Shipments        []Shipment       `json:"shipments"`
	Returns          []Return         `json:"returns"`
	SupportRequests  []SupportRequest `json:"support_requests"`
	// Action is the latest action an agent or integrator asked for on the
	// order, while it waits for the marketplace and once settled.
	Action *OrderAction `json:"action,omitempty"`
	// Invoice is the number of the order's invoice, once issued: the
	// sidebar links to it without reading the invoices.
	Invoice string `json:"invoice,omitempty"`
}

// Address is a postal address. Customer data: never logged.
type Address struct {
	Name       string `json:"name,omitempty" validate:"max=200"`
	Line1      string `json:"line1,omitempty" validate:"max=200"`
	Line2      string `json:"line2,omitempty" validate:"max=200"`
	PostalCode string `json:"postal_code,omitempty" validate:"max=20"`
	City       string `json:"city,omitempty" validate:"max=100"`
	Region     string `json:"region,omitempty" validate:"max=100"`
	// Country is an ISO 3166-1 alpha-2 code.
	Country string `json:"country,omitempty" validate:"omitempty,len=2,alpha"`
}

// Line is one product of an order.
type Line struct {
	Name     string `json:"name,omitempty"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	// UnitPrice is the price of one unit and Discount what was taken off
	// the line (all its units), decimal strings as sent, on the basis the
	// store's invoice settings say (including VAT for marketplaces).
	// Empty when the store sent none. Not in widgets.
	UnitPrice string `json:"unit_price,omitempty"`
	Discount  string `json:"discount,omitempty"`
	// Canceled is how many of its units a marketplace cancelled or
	// refused since it was ordered (Quantity stays as ordered): they are
	// not invoiced. Not in widgets.
	Canceled int `json:"canceled,omitempty"`
}

// Shipment is one parcel of an order.
type Shipment struct {
	Status         string `json:"status,omitempty"`
	Carrier        string `json:"carrier,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`
	TrackingURL    string `json:"tracking_url,omitempty"`
}

// Return is one return of products of an order.
type Return struct {
	TrackingNumber string          `json:"tracking_number,omitempty"`
	RefundMethod   string          `json:"refund_method,omitempty"`
	Products       []ReturnProduct `json:"products"`
}

// ReturnProduct is one product sent back.
type ReturnProduct struct {
	Name     string `json:"name,omitempty"`
	SKU      string `json:"sku"`
	Quantity int    `json:"quantity"`
	Damaged  bool   `json:"damaged"`
}

// SupportRequest is a request the buyer opened about an order.
type SupportRequest struct {
	Subject   string    `json:"subject"`
	URL       string    `json:"url,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}
