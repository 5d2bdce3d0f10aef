package orders

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Prices and the billing address reach the read model, and its one-order
// read, but not the widget documents, which show none of them; the
// invoice number noted on an order reaches both.
func TestOrderKeepsPricesOutOfTheDocument(t *testing.T) {
	s, _ := newTestStore(t, 0, 0)
	ctx := context.Background()
	c := orderChange("P-1", "buyer@example.com", t0, t0, StatusShipped)
	c.Order.Lines[0].UnitPrice, c.Order.Lines[0].Discount = "19.90", "2.00"
	c.Order.ShippingPrice, c.Order.ShippingDiscount = "4.90", "4.90"
	c.Order.BillingAddress = &Address{Name: "Jeanne Martin", Line1: "1 rue de la Paix", PostalCode: "75002", City: "Paris", Country: "FR"}
	mustApply(t, s, c)

	o, err := s.Order(ctx, "acme", "acme-fr", "P-1")
	if err != nil {
		t.Fatal(err)
	}
	if l := o.Lines[0]; l.UnitPrice != "19.90" || l.Discount != "2.00" || o.ShippingPrice != "4.90" || o.ShippingDiscount != "4.90" || o.BillingAddress == nil || o.BillingAddress.City != "Paris" {
		t.Fatalf("stored order = %+v", o)
	}
	doc := stored(t, s, "buyer@example.com")
	if l := doc.Orders[0].Lines[0]; l.UnitPrice != "" || doc.Orders[0].ShippingPrice != "" || doc.Orders[0].BillingAddress != nil {
		t.Errorf("the widget document carries prices or the billing address: %+v", doc.Orders[0])
	}
	if _, err := s.Order(ctx, "acme", "acme-fr", "NONE"); !errors.Is(err, ErrNoOrder) {
		t.Errorf("Order of an unknown order = %v; want ErrNoOrder", err)
	}

	if err := s.NoteInvoice(ctx, "acme", "acme-fr", "P-1", "F-000001"); err != nil {
		t.Fatal(err)
	}
	if doc := stored(t, s, "buyer@example.com"); doc.Orders[0].Invoice != "F-000001" {
		t.Errorf("document's invoice = %q; want F-000001", doc.Orders[0].Invoice)
	}
	// A later version of the order, as a marketplace re-reads it, keeps
	// the invoice noted beside it.
	c2 := orderChange("P-1", "buyer@example.com", t0, t0.Add(time.Hour), StatusClosed)
	mustApply(t, s, c2)
	if o, _ := s.Order(ctx, "acme", "acme-fr", "P-1"); o.Invoice != "F-000001" || o.Status != StatusClosed {
		t.Errorf("after an update: invoice %q, status %s; want F-000001, Closed", o.Invoice, o.Status)
	}
	if err := s.NoteInvoice(ctx, "acme", "acme-fr", "NONE", "F-000002"); !errors.Is(err, ErrNoOrder) {
		t.Errorf("NoteInvoice of an unknown order = %v; want ErrNoOrder", err)
	}
}

// An order.upserted event's prices are exact decimal strings, not
// negative, bounded; each bad one is named.
func TestOrderUpsertedPrices(t *testing.T) {
	t.Parallel()
	received := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	merchant := &config.Merchant{ID: "acme", Stores: []config.Store{{ID: "acme-fr"}}}
	plan := Planners(time.Minute, 1)[KindOrderUpserted]
	event := func(edit func(d map[string]any)) error {
		d := map[string]any{"store": "acme-fr", "order_id": "O-1", "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-23T12:00:00Z",
			"customer": map[string]any{"email": "buyer@example.com"}, "shipping_price": "4.90",
			"lines": []any{map[string]any{"sku": "MUG", "quantity": 2, "unit_price": "19.90", "discount": "1.5"}}}
		edit(d)
		raw, _ := json.Marshal(d)
		_, err := plan.Plan(context.Background(), events.Event{ID: "e-1", Kind: KindOrderUpserted, Data: raw, Merchant: merchant, ReceivedAt: received})
		return err
	}
	if err := event(func(map[string]any) {}); err != nil {
		t.Fatalf("valid prices refused: %v", err)
	}
	line := func(k string, v any) func(d map[string]any) {
		return func(d map[string]any) { d["lines"].([]any)[0].(map[string]any)[k] = v }
	}
	for _, tc := range []struct {
		name  string
		edit  func(d map[string]any)
		field string
	}{
		{"negative unit price", line("unit_price", "-1.00"), "data.lines[0].unit_price"},
		{"comma", line("unit_price", "19,90"), "data.lines[0].unit_price"},
		{"float syntax", line("discount", "1e3"), "data.lines[0].discount"},
		{"too many decimals", line("unit_price", "1.00001"), "data.lines[0].unit_price"},
		{"too large", func(d map[string]any) { d["shipping_price"] = "1000000000000" }, "data.shipping_price"},
		{"shipping discount", func(d map[string]any) { d["shipping_discount"] = "free" }, "data.shipping_discount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var apiErr *httpapi.Error
			if err := event(tc.edit); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnprocessableEntity || apiErr.Field != tc.field {
				t.Fatalf("Plan error = %v; want 422 naming %s", err, tc.field)
			}
		})
	}
}

// A marketplace line's price is for all its units: the read model keeps a
// unit price and, when the division does not fall on a cent, the
// rounding as a discount, so that quantity × unit − discount is exactly
// what the buyer paid.
func TestMarketplaceLinePrices(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		price, discount string
		qty             int
		unit, off       string
	}{
		{"40.00", "", 2, "20.00", ""},
		{"10.00", "", 3, "3.34", "0.02"},
		{"10.00", "1.00", 3, "3.34", "1.02"},
		{"12.5", "", 1, "12.50", ""},
		{"", "", 1, "", ""},
		{"abc", "", 1, "", ""},
		{"-3", "", 1, "", ""},
	} {
		unit, off := unitPrice(tc.price, tc.discount, tc.qty)
		if unit != tc.unit || off != tc.off {
			t.Errorf("unitPrice(%q, %q, %d) = %q, %q; want %q, %q", tc.price, tc.discount, tc.qty, unit, off, tc.unit, tc.off)
		}
	}
	m := &config.Merchant{ID: "acme", Stores: []config.Store{{ID: "acme-fr"}}}
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	changes, ok := ChangesFromMarketplaceOrder(m, "acme-fr", "mirakl", connectors.Order{
		ID: "M-1", CreatedAt: at, CustomerEmail: "b@example.com", Currency: "EUR", ShippingPrice: "4.90",
		Lines:          []connectors.OrderLine{{SKU: "MUG", Quantity: 3, Price: "10.00", Canceled: 1}},
		BillingAddress: &connectors.Address{Name: "ACME Corp", City: "Paris", Country: "FR"},
	})
	if !ok || changes[0].Order.ShippingPrice != "4.90" || changes[0].Order.Lines[0].UnitPrice != "3.34" || changes[0].Order.Lines[0].Discount != "0.02" || changes[0].Order.Lines[0].Canceled != 1 {
		t.Fatalf("changes = %+v", changes[0].Order)
	}
	if a := changes[0].Order.BillingAddress; a == nil || a.Name != "ACME Corp" || changes[0].Order.ShippingAddress != nil {
		t.Errorf("addresses: %+v, %+v", a, changes[0].Order.ShippingAddress)
	}
}
