package invoices

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// CreditError is a credit note that would give back more than its
// invoice charged: a product the invoice does not have, more units of it
// than were invoiced, more money for it than is left once earlier credit
// notes are counted, more shipping than was paid, or a whole cancellation
// of an invoice credited in part already. Units are bounded per credit
// note, not across them: goodwill gestures on one unit (a few euros,
// then a few more) each name that unit; money is what adds up. Field
// names the request's field.
type CreditError struct {
	Field, Msg string
}

func (e *CreditError) Error() string { return e.Field + ": " + e.Msg }

// errCreditsMoved: another credit note on the same invoice was issued
// while this one was checked; the check runs again.
var errCreditsMoved = errors.New("invoices: the invoice's credit notes changed meanwhile")

// left is what one product of an invoice has left to credit.
type left struct {
	name string // as the messages name it
	qty  int
	incl decimal.Decimal
	// lines counts the credit note lines of the product: on prices
	// excluding VAT, each may round its VAT up where the invoice rounded
	// the units together, so each is allowed a cent more.
	lines int
}

// over tells whether asked exceeds what is left, beyond slack for each
// credited line.
func over(asked, left, slack decimal.Decimal, lines int) bool {
	return asked.GreaterThan(left.Add(slack.Mul(decimal.NewFromInt(int64(lines)))))
}

// creditKey matches a credit note's line with the invoice's: by SKU, or
// by description for a line without one.
func creditKey(a Amounts) string {
	if a.SKU != "" {
		return "sku:" + a.SKU
	}
	return "desc:" + a.Description
}

func amount(s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero // amounts the bridge computed: always decimals
	}
	return d
}

// checkCredit tells whether tot can be credited on orig, given the credit
// notes already issued on it. whole is a cancellation of the whole
// invoice, asked without lines.
func checkCredit(orig *Invoice, prior []*Invoice, tot Totals, whole bool) error {
	if whole && len(prior) > 0 {
		numbers := make([]string, len(prior))
		for i, p := range prior {
			numbers[i] = p.Number
		}
		return &CreditError{Field: "lines", Msg: fmt.Sprintf("invoice %s has credit notes already (%s): name the lines and the shipping left to credit instead of cancelling it whole",
			orig.Number, strings.Join(numbers, ", "))}
	}
	products := map[string]*left{}
	for _, l := range orig.Totals.Lines {
		k := creditKey(l)
		p := products[k]
		if p == nil {
			name := l.SKU
			if name == "" {
				name = fmt.Sprintf("%q", l.Description)
			}
			p = &left{name: name}
			products[k] = p
		}
		p.qty += l.Quantity
		p.incl = p.incl.Add(amount(l.Incl))
	}
	var shipping, total decimal.Decimal
	lines, shippings := 0, 0
	slack := decimal.Zero // prices including VAT: amounts are as given
	if orig.PricesExcludeVAT {
		slack = decimal.New(1, -2)
	}
	if orig.Totals.Shipping != nil {
		shipping = amount(orig.Totals.Shipping.Incl)
	}
	total = amount(orig.Totals.Incl)
	for _, cn := range prior {
		for _, l := range cn.Totals.Lines {
			if p := products[creditKey(l)]; p != nil {
				p.incl = p.incl.Sub(amount(l.Incl))
				p.lines++
			}
			lines++
		}
		if cn.Totals.Shipping != nil {
			shipping = shipping.Sub(amount(cn.Totals.Shipping.Incl))
			shippings++
		}
		total = total.Sub(amount(cn.Totals.Incl))
	}
	// Lines of one product add up before they are compared with what is
	// left of it; an error names the first line of the product.
	asked := map[string]*left{}
	first := map[string]int{}
	for i, l := range tot.Lines {
		k := creditKey(l)
		p := products[k]
		if p == nil {
			field, what := fmt.Sprintf("lines[%d].sku", i), "SKU "+l.SKU
			if l.SKU == "" {
				field, what = fmt.Sprintf("lines[%d].description", i), fmt.Sprintf("%q", l.Description)
			}
			return &CreditError{Field: field, Msg: fmt.Sprintf("invoice %s has no line for %s", orig.Number, what)}
		}
		a := asked[k]
		if a == nil {
			a = &left{}
			asked[k], first[k] = a, i
		}
		a.qty += l.Quantity
		a.incl = a.incl.Add(amount(l.Incl))
		a.lines++
		lines++
	}
	for i, l := range tot.Lines {
		k := creditKey(l)
		if first[k] != i {
			continue
		}
		p, a := products[k], asked[k]
		if a.qty > p.qty {
			return &CreditError{Field: fmt.Sprintf("lines[%d].quantity", i), Msg: fmt.Sprintf("credits %d of %s where invoice %s has %d", a.qty, p.name, orig.Number, p.qty)}
		}
		if over(a.incl, p.incl, slack, p.lines+a.lines) {
			return &CreditError{Field: fmt.Sprintf("lines[%d].unit_price", i), Msg: fmt.Sprintf("credits %s of %s where invoice %s has %s left to credit, VAT included", a.incl.StringFixed(2), p.name, orig.Number, decimal.Max(p.incl, decimal.Zero).StringFixed(2))}
		}
	}
	if tot.Shipping != nil {
		if s := amount(tot.Shipping.Incl); over(s, shipping, slack, shippings) {
			return &CreditError{Field: "shipping.price", Msg: fmt.Sprintf("credits %s of shipping where invoice %s has %s left to credit, VAT included", s.StringFixed(2), orig.Number, decimal.Max(shipping, decimal.Zero).StringFixed(2))}
		}
	}
	if t := amount(tot.Incl); over(t, total, slack, lines+shippings) {
		return &CreditError{Field: "lines", Msg: fmt.Sprintf("credits %s where invoice %s has %s left to credit, VAT included", t.StringFixed(2), orig.Number, decimal.Max(total, decimal.Zero).StringFixed(2))}
	}
	return nil
}
