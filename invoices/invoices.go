// Package invoices issues a store's invoices and credit notes from its
// orders: numbered without gaps in Redis, amounts in exact decimals, and a
// PDF with every mention French law asks for, the same bytes for the same
// invoice.
//
// An invoice is issued in two steps. Generate computes the amounts and
// commits the invoice's record together with its number in one Redis
// script (store.go); only then is the PDF rendered from the record
// (pdf.go) and kept (files.go). The record is the invoice: a crash between
// the two leaves a record whose PDF the next Generate or PDF call renders,
// to the same bytes.
package invoices

import (
	"fmt"
	"time"

	"github.com/helpdesk-bridge/bridge/orders"
)

// Kind is what a document is, each in its own numbering series.
type Kind string

const (
	KindInvoice    Kind = "invoice"
	KindCreditNote Kind = "credit_note"
)

// Buyer is who the invoice is addressed to. Customer data: never logged.
type Buyer struct {
	Name    string          `json:"name"`
	Address *orders.Address `json:"address,omitempty"`
	// VATNumber and SIREN, for a business buyer (B2B mentions).
	VATNumber string `json:"vat_number,omitempty"`
	SIREN     string `json:"siren,omitempty"`
}

// Order is what an invoice is made from. The order read model has no
// prices yet: the caller (the API or the marketplace connector) gives the
// order's lines with their prices.
type Order struct {
	Store    string    `json:"store"`
	ID       string    `json:"id"`
	Date     time.Time `json:"date"`
	Currency string    `json:"currency"`
	Buyer    Buyer     `json:"buyer"`
	Lines    []Line    `json:"lines"`
	Shipping *Shipping `json:"shipping,omitempty"`
}

// Ref names an issued document, as a credit note cites its invoice.
type Ref struct {
	Number string `json:"number"`
	Date   string `json:"date"`
}

// Invoice is an issued invoice or credit note: everything its PDF shows,
// kept as it was issued.
type Invoice struct {
	Kind Kind `json:"kind"`
	// Number is Prefix and Seq as printed; unique in the store.
	Number string `json:"number"`
	Prefix string `json:"prefix"`
	Seq    int64  `json:"seq"`
	// Date is the issue date, YYYY-MM-DD; SaleDate the order's, printed
	// when it differs.
	Date     string `json:"date"`
	SaleDate string `json:"sale_date,omitempty"`
	Store    string `json:"store"`
	OrderID  string `json:"order_id"`
	Currency string `json:"currency"`
	Language string `json:"language"`
	Seller   Seller `json:"seller"`
	Buyer    Buyer  `json:"buyer"`
	Totals
	// PricesExcludeVAT is the basis of the discounts, as the settings were.
	PricesExcludeVAT bool   `json:"prices_exclude_vat,omitempty"`
	HeaderHTML       string `json:"header_html,omitempty"`
	FooterHTML       string `json:"footer_html,omitempty"`
	// Of is the invoice a credit note corrects; Reason why.
	Of     *Ref   `json:"of,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// Ref returns the invoice's number and date, as a credit note cites them.
func (inv *Invoice) Ref() Ref { return Ref{Number: inv.Number, Date: inv.Date} }

// formatNumber prints a sequence number in its series.
func formatNumber(prefix string, digits int, seq int64) string {
	return fmt.Sprintf("%s%0*d", prefix, digits, seq)
}

func checkOrder(o Order) error {
	if o.Store == "" || o.ID == "" {
		return fmt.Errorf("invoices: the order's store and id are required")
	}
	if len(o.Currency) != 3 {
		return fmt.Errorf("invoices: order %s: currency %q is not an ISO 4217 code", o.ID, o.Currency)
	}
	if o.Buyer.Name == "" {
		return fmt.Errorf("invoices: order %s: the buyer's name is required", o.ID)
	}
	if len(o.Lines) == 0 {
		return fmt.Errorf("invoices: order %s: lines: an invoice needs at least one line", o.ID)
	}
	return nil
}
