// Package orderstest holds sample documents shared by the tests of the
// read model and of the widgets that render it.
package orderstest

import (
	"time"

	"github.com/helpdesk-bridge/bridge/orders"
)

// SampleDocument has one of everything twice over, so that every array a
// renderer or an encoding walks has elements, and distinct ones.
func SampleDocument() *orders.Document {
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	order := func(id string) orders.Order {
		return orders.Order{
			ID: id, Store: "shop", Marketplace: "mirakl", Status: orders.StatusShipped, MarketplaceStatus: "SHIPPED",
			CreatedAt: at, Total: "42.50", Currency: "EUR", URL: "https://shop.example/o/" + id, SupportURL: "https://shop.example/s/" + id,
			Buyer:     orders.Buyer{Name: "Ada", Phone: "+33100000000", ExternalID: "c-1"},
			Lines:     []orders.Line{{Name: "Mug", SKU: "MUG-1", Quantity: 2}, {SKU: "TEE-2", Quantity: 1}},
			Shipments: []orders.Shipment{{Status: "in_transit", Carrier: "colissimo", TrackingNumber: "6A1", TrackingURL: "https://track.example/6A1"}},
			Returns: []orders.Return{{TrackingNumber: "R1", RefundMethod: "card", Products: []orders.ReturnProduct{
				{Name: "Mug", SKU: "MUG-1", Quantity: 1, Damaged: true}, {SKU: "TEE-2", Quantity: 1},
			}}},
			SupportRequests: []orders.SupportRequest{{Subject: "Where is my parcel?", URL: "https://shop.example/t/1", UpdatedAt: at}},
		}
	}
	return &orders.Document{Customer: orders.Customer{Email: "ada@example.com"}, Orders: []orders.Order{order("1001"), order("1002")}}
}
