package invoices

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Maker issues an order's invoice from what the bridge knows: the order
// in the read model and the store's settings. It is what the API, the
// "Invoice: attach" reply command and the bulk job call.
//
// A store's settings are its config's stores[].invoices, unless the API
// stored an override, which replaces them as a whole, at
//
//	P inv:{<merchant>}:settings:<store>   the override, as JSON
type Maker struct {
	svc    *Service
	orders *orders.Store
	cfg    *config.Config
	rdb    redis.UniversalClient
	prefix string
}

// NewMaker returns the maker of cfg's merchants' invoices, kept by svc,
// from the orders in store.
func NewMaker(svc *Service, store *orders.Store, cfg *config.Config) *Maker {
	return &Maker{svc: svc, orders: store, cfg: cfg, rdb: svc.rdb, prefix: svc.prefix}
}

// Service is where the maker keeps invoices.
func (m *Maker) Service() *Service { return m.svc }

// Errors of the maker, besides the Service's.
var (
	// ErrNoSettings: the store has no invoice settings, neither in the
	// config nor through the API.
	ErrNoSettings = errors.New("invoices: the store has no invoice settings")
	// ErrUnknownStore: the merchant has no such store.
	ErrUnknownStore = errors.New("invoices: no such store")
)

// NotInvoiceableError is an order that lacks what its invoice needs,
// such as a line's unit price: Field names it, as the order's JSON does.
type NotInvoiceableError struct {
	OrderID string
	Field   string
	Msg     string
}

func (e *NotInvoiceableError) Error() string {
	return fmt.Sprintf("invoices: order %s cannot be invoiced: %s %s", e.OrderID, e.Field, e.Msg)
}

func (m *Maker) settingsKey(merchant, store string) string {
	return m.prefix + "inv:{" + merchant + "}:settings:" + store
}

// Settings returns the store's settings as invoices use them (normalised),
// and whether they are the API's override.
func (m *Maker) Settings(ctx context.Context, merchant, store string) (Settings, bool, error) {
	st, ok := m.store(merchant, store)
	if !ok {
		return Settings{}, false, ErrUnknownStore
	}
	b, err := m.rdb.Get(ctx, m.settingsKey(merchant, store)).Bytes()
	switch {
	case err == nil:
		var s Settings
		if err := json.Unmarshal(b, &s); err != nil {
			return Settings{}, false, fmt.Errorf("invoices: stored settings of %s: %w", store, err)
		}
		return s.Normalize(), true, nil
	case !errors.Is(err, redis.Nil):
		return Settings{}, false, fmt.Errorf("invoices: read settings: %w", err)
	case st.Invoices == nil:
		return Settings{}, false, ErrNoSettings
	}
	return st.Invoices.Normalize(), false, nil
}

// PutSettings stores the API's override of a store's settings, after
// checking them (FieldErrors name each bad field, without a prefix).
// Invoices already issued keep the settings they were issued with.
func (m *Maker) PutSettings(ctx context.Context, merchant, store string, s Settings) (Settings, error) {
	if _, ok := m.store(merchant, store); !ok {
		return Settings{}, ErrUnknownStore
	}
	s = s.Normalize()
	if err := s.Validate(""); err != nil {
		var fes FieldErrors
		if errors.As(err, &fes) {
			for i := range fes {
				fes[i].Field = strings.TrimPrefix(fes[i].Field, ".")
			}
			return Settings{}, fes
		}
		return Settings{}, err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return Settings{}, err
	}
	if err := m.rdb.Set(ctx, m.settingsKey(merchant, store), b, 0).Err(); err != nil {
		return Settings{}, fmt.Errorf("invoices: keep settings: %w", err)
	}
	return s, nil
}

func (m *Maker) store(merchant, store string) (*config.Store, bool) {
	mc, ok := m.cfg.Merchant(merchant)
	if !ok {
		return nil, false
	}
	return mc.Store(store)
}

// Next returns the number the store's next invoice would take, for the
// confirmation step.
func (m *Maker) Next(ctx context.Context, merchant, store string) (int64, string, error) {
	set, _, err := m.Settings(ctx, merchant, store)
	if err != nil {
		return 0, "", err
	}
	return m.svc.Next(ctx, merchant, set, store, KindInvoice)
}

// Existing returns the order's invoice without issuing one, or
// ErrNotFound.
func (m *Maker) Existing(ctx context.Context, merchant, store, orderID string) (*Invoice, error) {
	return m.svc.ForOrder(ctx, merchant, store, orderID)
}

// Invoice issues the order's invoice, or returns the one it has, with its
// PDF: the same invoice and number however often and wherever it is
// asked. The order is read from the read model (orders.ErrNoOrder when it
// is not there); one without the prices an invoice needs is a
// *NotInvoiceableError. Once issued, the number is noted on the order, so
// that the sidebar links to it.
func (m *Maker) Invoice(ctx context.Context, merchant, store, orderID string, opt Options) (*Invoice, []byte, error) {
	inv, _, err := m.Issue(ctx, merchant, store, orderID, opt)
	if err != nil {
		return nil, nil, err
	}
	pdf, err := m.svc.PDF(ctx, merchant, inv)
	return inv, pdf, err
}

// Issue is Invoice without the PDF (see Service.Issue): the number and
// the record, in a few milliseconds.
func (m *Maker) Issue(ctx context.Context, merchant, store, orderID string, opt Options) (_ *Invoice, created bool, _ error) {
	if _, ok := m.store(merchant, store); !ok {
		return nil, false, ErrUnknownStore
	}
	o, err := m.orders.Order(ctx, merchant, store, orderID)
	if err != nil {
		return nil, false, err
	}
	inv, err := m.svc.ForOrder(ctx, merchant, store, orderID)
	switch {
	case err == nil:
		if inv.Number != o.Invoice {
			// Issued by a call that stopped before noting it.
			if err := m.orders.NoteInvoice(ctx, merchant, store, orderID, inv.Number); err != nil {
				return nil, false, err
			}
		}
		return inv, false, nil
	case !errors.Is(err, ErrNotFound):
		return nil, false, err
	}
	set, _, err := m.Settings(ctx, merchant, store)
	if err != nil {
		return nil, false, err
	}
	order, err := InvoiceOrder(o)
	if err != nil {
		return nil, false, err
	}
	if _, err := Compute(set, order.Lines, order.Shipping); err != nil {
		field, msg, _ := strings.Cut(err.Error(), ": ")
		return nil, false, &NotInvoiceableError{OrderID: orderID, Field: field, Msg: msg}
	}
	inv, created, err = m.svc.Issue(ctx, merchant, set, order, opt)
	if err != nil {
		return nil, false, err
	}
	if err := m.orders.NoteInvoice(ctx, merchant, store, orderID, inv.Number); err != nil {
		return nil, false, err
	}
	return inv, created, nil
}

// InvoiceOrder is what an invoice is made from a read model's order: the
// buyer at the billing address, or the shipping one, every line at its
// unit price, and the shipping. An order that lacks any of them is a
// *NotInvoiceableError naming the field.
func InvoiceOrder(o *orders.Order) (Order, error) {
	bad := func(field, msg string) (Order, error) {
		return Order{}, &NotInvoiceableError{OrderID: o.ID, Field: field, Msg: msg}
	}
	if len(o.Currency) != 3 {
		return bad("currency", "is required (an ISO 4217 code)")
	}
	if len(o.Lines) == 0 {
		return bad("lines", "has no line")
	}
	if o.ShippingPrice == "" {
		return bad("shipping_price", `is required ("0" for a free delivery)`)
	}
	addr := o.BillingAddress
	if addr == nil {
		addr = o.ShippingAddress
	}
	var name string
	if addr != nil {
		name = addr.Name
		a := *addr
		addr = &a
	}
	name = strings.TrimSpace(cmp.Or(name, o.Buyer.Name))
	if name == "" {
		return bad("buyer.name", "is required (or the billing or shipping address's name)")
	}
	out := Order{
		Store: o.Store, ID: o.ID, Date: o.CreatedAt, Currency: o.Currency,
		Buyer:    Buyer{Name: name, Address: addr},
		Lines:    make([]Line, len(o.Lines)),
		Shipping: &Shipping{Price: o.ShippingPrice, Discount: o.ShippingDiscount},
	}
	out.Lines = out.Lines[:0]
	for i, l := range o.Lines {
		qty := l.Quantity - l.Canceled
		if qty <= 0 {
			continue // cancelled or refused: nothing sold
		}
		if l.UnitPrice == "" {
			return bad(fmt.Sprintf("lines[%d].unit_price", i), "is required")
		}
		disc := l.Discount
		if l.Canceled > 0 && disc != "" {
			// A line's discount is for all its units; which part of it
			// the cancelled ones took is not known.
			return bad(fmt.Sprintf("lines[%d].discount", i), "is for all the units ordered, some of which were cancelled")
		}
		out.Lines = append(out.Lines, Line{SKU: l.SKU, Description: cmp.Or(l.Name, l.SKU), Quantity: qty, UnitPrice: l.UnitPrice, Discount: disc})
	}
	if len(out.Lines) == 0 {
		return bad("lines", "has every unit cancelled")
	}
	return out, nil
}

// CreditNote issues a credit note against one of the store's invoices
// (see Service.CreditNote), with the store's settings.
func (m *Maker) CreditNote(ctx context.Context, merchant, store, invoiceNumber string, c Credit) (*Invoice, []byte, error) {
	set, _, err := m.Settings(ctx, merchant, store)
	if err != nil {
		return nil, nil, err
	}
	return m.svc.CreditNote(ctx, merchant, set, store, invoiceNumber, c)
}

// Document returns an issued invoice or credit note by its number, with
// its PDF.
func (m *Maker) Document(ctx context.Context, merchant, store, number string) (*Invoice, []byte, error) {
	inv, err := m.svc.Get(ctx, merchant, store, number)
	if err != nil {
		return nil, nil, err
	}
	pdf, err := m.svc.PDF(ctx, merchant, inv)
	return inv, pdf, err
}
