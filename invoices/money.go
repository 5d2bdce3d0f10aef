package invoices

import (
	"fmt"
	"slices"

	"github.com/shopspring/decimal"
)

// Amounts are computed in exact decimal arithmetic, never floats, in the
// order's currency with two decimals. The rounding rule, per line:
//
//   - Prices including VAT (marketplaces, the default): the line's amount
//     including VAT is quantity × unit price − discount, exact to the cent
//     as the buyer paid it. Its amount excluding VAT is that divided by
//     (1 + rate), rounded half up to the cent; its VAT is the difference.
//   - Prices excluding VAT: the line's amount excluding VAT is quantity ×
//     unit price − discount, rounded half up to the cent; its VAT is that
//     times the rate, rounded half up to the cent; the amount including
//     VAT is their sum.
//
// Shipping is one more line at its own rate. Per rate, the base and the VAT
// are the sums of the lines'; the totals are the sums of the rates'. So
// every total adds up to the cent, and with prices including VAT the total
// is exactly what the buyer paid. The unit price excluding VAT is printed
// rounded half up to the cent from the unit price (unit price ÷ (1 + rate)
// when prices include VAT): quantity × that may differ by a cent or so from
// the line's amount, which is the one that counts.

// Line is one product as invoiced. Prices are decimal strings in the
// order's currency, including or excluding VAT as the settings say.
type Line struct {
	SKU         string `json:"sku,omitempty"`
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
	UnitPrice   string `json:"unit_price"`
	// Discount is the amount taken off the line (all its units), on the
	// same basis as UnitPrice. An order-wide discount must be spread over
	// the lines by the caller: each VAT rate needs its own base.
	Discount string `json:"discount,omitempty"`
}

// Shipping is what the buyer paid for delivery; a free delivery is "0".
type Shipping struct {
	Description string `json:"description,omitempty"`
	Price       string `json:"price"`
	Discount    string `json:"discount,omitempty"`
}

// Amounts are the computed amounts of one line, as decimal strings with
// two decimals.
type Amounts struct {
	SKU         string `json:"sku,omitempty"`
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
	// UnitExcl is the unit price excluding VAT, rounded to the cent.
	UnitExcl string `json:"unit_excl"`
	Discount string `json:"discount,omitempty"`
	Rate     string `json:"rate"`
	Excl     string `json:"excl"`
	VAT      string `json:"vat"`
	Incl     string `json:"incl"`
}

// RateTotal is the base and the VAT of one rate.
type RateTotal struct {
	Rate string `json:"rate"`
	Base string `json:"base"`
	VAT  string `json:"vat"`
}

// Totals are an invoice's computed amounts.
type Totals struct {
	Lines    []Amounts   `json:"lines"`
	Shipping *Amounts    `json:"shipping,omitempty"`
	Rates    []RateTotal `json:"rates"`
	Excl     string      `json:"excl"`
	VAT      string      `json:"vat"`
	Incl     string      `json:"incl"`
}

var hundred = decimal.NewFromInt(100)

// parseAmount reads a non-negative decimal string; empty is zero.
func parseAmount(field, s string) (decimal.Decimal, error) {
	if s == "" {
		return decimal.Zero, nil
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return d, fmt.Errorf("%s: %q is not a decimal amount", field, s)
	}
	if d.IsNegative() {
		return d, fmt.Errorf("%s: %q is negative", field, s)
	}
	if d.Exponent() < -6 {
		return d, fmt.Errorf("%s: %q has more than 6 decimals", field, s)
	}
	return d, nil
}

// Compute applies the rounding rule above to lines and shipping (nil when
// the order has none), with the settings' rates.
func Compute(set Settings, lines []Line, ship *Shipping) (Totals, error) {
	var t Totals
	type sums struct{ base, vat decimal.Decimal }
	byRate := map[string]*sums{}
	rateOf := map[string]decimal.Decimal{}
	var excl, vat decimal.Decimal
	add := func(field, sku, desc string, qty int, unit, disc, rate string) (Amounts, error) {
		r, err := decimal.NewFromString(rate)
		if err != nil {
			return Amounts{}, fmt.Errorf("%s: VAT rate %q: %w", field, rate, err)
		}
		u, err := parseAmount(field+".unit_price", unit)
		if err != nil {
			return Amounts{}, err
		}
		d, err := parseAmount(field+".discount", disc)
		if err != nil {
			return Amounts{}, err
		}
		if qty < 1 {
			return Amounts{}, fmt.Errorf("%s: quantity %d is below 1", field, qty)
		}
		gross := u.Mul(decimal.NewFromInt(int64(qty))).Sub(d)
		if gross.IsNegative() {
			return Amounts{}, fmt.Errorf("%s: the discount is more than the line", field)
		}
		factor := hundred.Add(r) // (1 + rate) × 100
		var a Amounts
		var lx, lv, unitExcl decimal.Decimal
		if set.PricesExcludeVAT {
			lx = gross.Round(2)
			lv = lx.Mul(r).DivRound(hundred, 2)
			unitExcl = u.Round(2)
		} else {
			li := gross.Round(2)
			lx = li.Mul(hundred).DivRound(factor, 2)
			lv = li.Sub(lx)
			unitExcl = u.Mul(hundred).DivRound(factor, 2)
		}
		a = Amounts{SKU: sku, Description: desc, Quantity: qty, UnitExcl: unitExcl.StringFixed(2),
			Rate: r.String(), Excl: lx.StringFixed(2), VAT: lv.StringFixed(2), Incl: lx.Add(lv).StringFixed(2)}
		if !d.IsZero() {
			a.Discount = d.StringFixed(2)
		}
		key := r.String()
		if byRate[key] == nil {
			byRate[key] = &sums{}
			rateOf[key] = r
		}
		byRate[key].base = byRate[key].base.Add(lx)
		byRate[key].vat = byRate[key].vat.Add(lv)
		excl, vat = excl.Add(lx), vat.Add(lv)
		return a, nil
	}
	// A credit note may give back the shipping alone; an invoice has lines
	// (checkOrder).
	if len(lines) == 0 && ship == nil {
		return t, fmt.Errorf("lines: a document needs at least one line")
	}
	for i, l := range lines {
		rate := set.ProductVAT
		if r, ok := set.SKUVAT[l.SKU]; ok && l.SKU != "" {
			rate = r
		}
		a, err := add(fmt.Sprintf("lines[%d]", i), l.SKU, l.Description, l.Quantity, l.UnitPrice, l.Discount, rate)
		if err != nil {
			return Totals{}, err
		}
		t.Lines = append(t.Lines, a)
	}
	if ship != nil {
		a, err := add("shipping", "", ship.Description, 1, ship.Price, ship.Discount, set.ShippingVAT)
		if err != nil {
			return Totals{}, err
		}
		t.Shipping = &a
	}
	keys := make([]string, 0, len(byRate))
	for k, s := range byRate {
		// A rate with nothing on it (free shipping) has nothing to declare.
		if s.base.IsZero() && s.vat.IsZero() {
			continue
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return rateOf[a].Cmp(rateOf[b]) })
	for _, k := range keys {
		t.Rates = append(t.Rates, RateTotal{Rate: k, Base: byRate[k].base.StringFixed(2), VAT: byRate[k].vat.StringFixed(2)})
	}
	t.Excl, t.VAT, t.Incl = excl.StringFixed(2), vat.StringFixed(2), excl.Add(vat).StringFixed(2)
	return t, nil
}
