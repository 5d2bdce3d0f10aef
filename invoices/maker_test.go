package invoices

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// newTestMaker is a maker on a Redis of the test's own, for acme's store
// acme-fr (with settings in the config) and acme-de (without).
func newTestMaker(t *testing.T) (*Maker, *orders.Store) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: rdbtest.Start(t).Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	rdb.AddHook(rdbtest.NewSlotCheck(t, rdb))
	set := validSettings()
	cfg := &config.Config{Merchants: []config.Merchant{{ID: "acme", Stores: []config.Store{{ID: "acme-fr", Invoices: &set}, {ID: "acme-de"}}}}}
	now := func() time.Time { return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) }
	st := orders.NewStore(rdb, "test:", 0, 0, now)
	svc := NewService(rdb, "test:", NewRedisFiles(rdb, "test:", 0), now)
	return NewMaker(svc, st, cfg), st
}

func putOrder(t *testing.T, st *orders.Store, store, id string, edit func(o *orders.Order)) {
	t.Helper()
	o := &orders.Order{
		ID: id, Store: store, Status: orders.StatusShipped, CreatedAt: time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC), Currency: "EUR",
		Buyer:           orders.Buyer{Name: "Zoé Müller"},
		ShippingAddress: &orders.Address{Name: "Zoé Müller", Line1: "3 place de la Gare", PostalCode: "67000", City: "Strasbourg", Country: "FR"},
		ShippingPrice:   "4.90",
		Lines: []orders.Line{
			{SKU: "TSHIRT", Name: "T-shirt", Quantity: 2, UnitPrice: "19.99"},
			{SKU: "BOOK", Name: "Livre", Quantity: 1, UnitPrice: "12.34", Discount: "2.34"},
		},
	}
	if edit != nil {
		edit(o)
	}
	if _, err := st.Apply(context.Background(), orders.Change{Merchant: "acme", Store: store, OrderID: id, Email: "zoe@example.com", Order: o, UpdatedAt: o.CreatedAt}); err != nil {
		t.Fatal(err)
	}
}

// The same call twice is the same invoice; its number is noted on the
// order; the buyer is the billing address's when there is one.
func TestMakerInvoicesAnOrderOnce(t *testing.T) {
	m, st := newTestMaker(t)
	ctx := context.Background()
	putOrder(t, st, "acme-fr", "O-1", nil)
	putOrder(t, st, "acme-fr", "O-2", func(o *orders.Order) {
		o.BillingAddress = &orders.Address{Name: "ACME Corp", Line1: "1 rue du Commerce", PostalCode: "75015", City: "Paris", Country: "FR"}
	})

	seq, number, err := m.Next(ctx, "acme", "acme-fr")
	if err != nil || seq != 1 || number != "F-000001" {
		t.Fatalf("Next = %d %q %v; want 1 F-000001", seq, number, err)
	}
	inv, pdf, err := m.Invoice(ctx, "acme", "acme-fr", "O-1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.Number != "F-000001" || inv.Incl != "54.88" || inv.Buyer.Name != "Zoé Müller" || inv.Buyer.Address.City != "Strasbourg" || inv.SaleDate != "2026-10-30" {
		t.Fatalf("invoice = %+v", inv)
	}
	again, pdf2, err := m.Invoice(ctx, "acme", "acme-fr", "O-1", Options{Number: 7})
	if err != nil || again.Number != inv.Number || !bytes.Equal(pdf, pdf2) {
		t.Fatalf("again: %v, %v, same PDF %v", again.Number, err, bytes.Equal(pdf, pdf2))
	}
	if o, _ := st.Order(ctx, "acme", "acme-fr", "O-1"); o.Invoice != "F-000001" {
		t.Errorf("the order notes invoice %q; want F-000001", o.Invoice)
	}
	// Cancelled units are not invoiced; a wholly cancelled line is left out.
	putOrder(t, st, "acme-fr", "O-3", func(o *orders.Order) { o.Lines[0].Canceled, o.Lines[1].Canceled = 1, 1 })
	if inv3, _, err := m.Issue(ctx, "acme", "acme-fr", "O-3", Options{}); err != nil || len(inv3.Lines) != 1 || inv3.Lines[0].Quantity != 1 || inv3.Incl != "24.89" {
		t.Fatalf("invoice of an order with cancelled units: %+v, %v", inv3, err)
	}
	inv2, _, err := m.Invoice(ctx, "acme", "acme-fr", "O-2", Options{})
	if err != nil || inv2.Number != "F-000003" || inv2.Buyer.Name != "ACME Corp" || inv2.Buyer.Address.City != "Paris" {
		t.Fatalf("second invoice = %+v, %v", inv2, err)
	}
}

// Each thing an invoice needs and an order lacks is named.
func TestMakerRefusesOrdersWithoutPrices(t *testing.T) {
	m, st := newTestMaker(t)
	ctx := context.Background()
	for _, tc := range []struct {
		id    string
		edit  func(o *orders.Order)
		field string
	}{
		{"NO-UNIT", func(o *orders.Order) { o.Lines[1].UnitPrice = "" }, "lines[1].unit_price"},
		{"NO-SHIP", func(o *orders.Order) { o.ShippingPrice = "" }, "shipping_price"},
		{"NO-CUR", func(o *orders.Order) { o.Currency = "" }, "currency"},
		{"NO-NAME", func(o *orders.Order) { o.Buyer.Name, o.ShippingAddress = "", nil }, "buyer.name"},
		{"BIG-DISC", func(o *orders.Order) { o.Lines[1].Discount = "99" }, "lines[1]"},
		{"ALL-CANCELED", func(o *orders.Order) { o.Lines[0].Canceled, o.Lines[1].Canceled = 2, 1 }, "lines"},
		{"CANCELED-DISC", func(o *orders.Order) { o.Lines[1].Quantity, o.Lines[1].Canceled = 2, 1 }, "lines[1].discount"},
	} {
		putOrder(t, st, "acme-fr", tc.id, tc.edit)
		_, _, err := m.Invoice(ctx, "acme", "acme-fr", tc.id, Options{})
		var ni *NotInvoiceableError
		if !errors.As(err, &ni) || ni.Field != tc.field {
			t.Errorf("%s: %v; want order_not_invoiceable naming %s", tc.id, err, tc.field)
		}
	}
	// Nothing was numbered.
	if seq, _, _ := m.Next(ctx, "acme", "acme-fr"); seq != 1 {
		t.Errorf("next number %d after refusals; want 1", seq)
	}
	if _, _, err := m.Invoice(ctx, "acme", "acme-fr", "NONE", Options{}); !errors.Is(err, orders.ErrNoOrder) {
		t.Errorf("unknown order: %v", err)
	}
	putOrder(t, st, "acme-de", "DE-1", nil)
	if _, _, err := m.Invoice(ctx, "acme", "acme-de", "DE-1", Options{}); !errors.Is(err, ErrNoSettings) {
		t.Errorf("store without settings: %v", err)
	}
	if _, _, err := m.Invoice(ctx, "acme", "acme-xx", "DE-1", Options{}); !errors.Is(err, ErrUnknownStore) {
		t.Errorf("unknown store: %v", err)
	}
}

// The API's settings replace the config's; bad ones are refused by field.
func TestMakerSettingsOverride(t *testing.T) {
	m, st := newTestMaker(t)
	ctx := context.Background()
	if s, override, err := m.Settings(ctx, "acme", "acme-fr"); err != nil || override || s.Prefix != "F-" {
		t.Fatalf("config settings: %+v %v %v", s, override, err)
	}
	bad := validSettings()
	bad.ProductVAT, bad.Seller.SIREN = "120", "123"
	_, err := m.PutSettings(ctx, "acme", "acme-de", bad)
	var fes FieldErrors
	if !errors.As(err, &fes) || len(fes) < 2 || fes[0].Field != "seller.siren" {
		t.Fatalf("bad settings: %v", err)
	}
	good := validSettings()
	good.Prefix, good.Digits = "DE-", 4
	if _, err := m.PutSettings(ctx, "acme", "acme-de", good); err != nil {
		t.Fatal(err)
	}
	if s, override, err := m.Settings(ctx, "acme", "acme-de"); err != nil || !override || s.Prefix != "DE-" {
		t.Fatalf("override: %+v %v %v", s, override, err)
	}
	putOrder(t, st, "acme-de", "DE-1", nil)
	if inv, _, err := m.Invoice(ctx, "acme", "acme-de", "DE-1", Options{Number: 100}); err != nil || inv.Number != "DE-0100" {
		t.Fatalf("invoice with the override: %+v %v", inv, err)
	}
}
