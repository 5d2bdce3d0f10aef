package orders

import (
	"strings"
	"time"
)

// Event kinds this package plans. Each carries one entity with its
// updated_at: the newer of two versions of an entity wins, whatever order
// they arrive in.
const (
	KindOrderUpserted          = "order.upserted"
	KindShipmentUpserted       = "shipment.upserted"
	KindReturnUpserted         = "return.upserted"
	KindSupportRequestUpserted = "support_request.upserted"
)

// OrderCustomer identifies who placed an order. Customer data: never
// logged.
type OrderCustomer struct {
	Email      string `json:"email" validate:"required,email,max=254"`
	Name       string `json:"name,omitempty" validate:"max=200"`
	Phone      string `json:"phone,omitempty" validate:"max=40"`
	ExternalID string `json:"external_id,omitempty" validate:"max=100"`
}

// OrderUpserted is the data of an order.upserted event: the whole order
// as it is now. Its lines replace the stored ones.
type OrderUpserted struct {
	Store       string        `json:"store" validate:"required,max=100"`
	OrderID     string        `json:"order_id" validate:"required,max=100,id"`
	UpdatedAt   time.Time     `json:"updated_at" validate:"required"`
	Customer    OrderCustomer `json:"customer" validate:"required"`
	Marketplace string        `json:"marketplace,omitempty" validate:"max=100"`
	// Status is normalised; it defaults to NotProvided.
	Status            string    `json:"status,omitempty" validate:"omitempty,oneof=New InProgress Shipped Canceled Closed Undefined NotProvided"`
	MarketplaceStatus string    `json:"marketplace_status,omitempty" validate:"max=100"`
	CreatedAt         time.Time `json:"created_at" validate:"required"`
	Total             string    `json:"total,omitempty" validate:"omitempty,max=40,numeric"`
	Currency          string    `json:"currency,omitempty" validate:"omitempty,len=3,alpha"`
	// URL and SupportURL override the store's order_url and support_url.
	URL        string      `json:"url,omitempty" validate:"omitempty,max=2000,http_url"`
	SupportURL string      `json:"support_url,omitempty" validate:"omitempty,max=2000,http_url"`
	Lines      []EventLine `json:"lines" validate:"max=500,dive"`
	// ShippingAddress is where the order goes; BillingAddress who pays,
	// when it differs (an invoice is addressed to it).
	ShippingAddress *Address `json:"shipping_address,omitempty"`
	BillingAddress  *Address `json:"billing_address,omitempty"`
	// ShippingPrice is what the buyer paid for delivery ("0": free), and
	// ShippingDiscount what was taken off it.
	ShippingPrice    string `json:"shipping_price,omitempty" validate:"omitempty,amount"`
	ShippingDiscount string `json:"shipping_discount,omitempty" validate:"omitempty,amount"`
}

// EventLine is one product of an order.upserted event.
type EventLine struct {
	SKU      string `json:"sku" validate:"required,max=200"`
	Name     string `json:"name,omitempty" validate:"max=500"`
	Quantity int    `json:"quantity" validate:"gte=1,lte=1000000"`
	// UnitPrice is one unit's price, Discount what was taken off the
	// whole line; invoices need them.
	UnitPrice string `json:"unit_price,omitempty" validate:"omitempty,amount"`
	Discount  string `json:"discount,omitempty" validate:"omitempty,amount"`
}

// ShipmentUpserted is the data of a shipment.upserted event.
type ShipmentUpserted struct {
	Store          string    `json:"store" validate:"required,max=100"`
	OrderID        string    `json:"order_id" validate:"required,max=100,id"`
	ShipmentID     string    `json:"shipment_id" validate:"required,max=100"`
	UpdatedAt      time.Time `json:"updated_at" validate:"required"`
	Status         string    `json:"status,omitempty" validate:"max=100"`
	Carrier        string    `json:"carrier,omitempty" validate:"max=100"`
	TrackingNumber string    `json:"tracking_number,omitempty" validate:"max=100"`
	TrackingURL    string    `json:"tracking_url,omitempty" validate:"omitempty,max=2000,http_url"`
}

// ReturnUpserted is the data of a return.upserted event.
type ReturnUpserted struct {
	Store          string               `json:"store" validate:"required,max=100"`
	OrderID        string               `json:"order_id" validate:"required,max=100,id"`
	ReturnID       string               `json:"return_id" validate:"required,max=100"`
	UpdatedAt      time.Time            `json:"updated_at" validate:"required"`
	TrackingNumber string               `json:"tracking_number,omitempty" validate:"max=100"`
	RefundMethod   string               `json:"refund_method,omitempty" validate:"max=100"`
	Products       []EventReturnProduct `json:"products" validate:"max=500,dive"`
}

// EventReturnProduct is one product of a return.upserted event.
type EventReturnProduct struct {
	SKU      string `json:"sku" validate:"required,max=200"`
	Name     string `json:"name,omitempty" validate:"max=500"`
	Quantity int    `json:"quantity" validate:"gte=1,lte=1000000"`
	Damaged  bool   `json:"damaged"`
}

// SupportRequestUpserted is the data of a support_request.upserted event.
// Its updated_at is the request's last modification.
type SupportRequestUpserted struct {
	Store     string    `json:"store" validate:"required,max=100"`
	OrderID   string    `json:"order_id" validate:"required,max=100,id"`
	RequestID string    `json:"request_id" validate:"required,max=100"`
	UpdatedAt time.Time `json:"updated_at" validate:"required"`
	Subject   string    `json:"subject" validate:"required,max=500"`
	URL       string    `json:"url,omitempty" validate:"omitempty,max=2000,http_url"`
}

// Normalize trims the customer's email, which keys their widget: a sender
// whose export leaves a space around it means the same customer.
func (o *OrderUpserted) Normalize() { o.Customer.Email = strings.TrimSpace(o.Customer.Email) }
