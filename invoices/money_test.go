package invoices

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shopspring/decimal"
)

func ttc(product, shipping string, sku map[string]string) Settings {
	return Settings{ProductVAT: product, ShippingVAT: shipping, SKUVAT: sku}
}

// roundingCase is a tricky order and its amounts, to the cent.
type roundingCase struct {
	name  string
	set   Settings
	lines []Line
	ship  *Shipping
	want  Totals
}

// roundingCases are orders whose amounts are easy to get wrong: several
// VAT rates, free shipping, discounts and half-cent roundings.
var roundingCases = []roundingCase{{
	// 0.03 / 1.2 = 0.025 exactly: half up gives 0.03 excl. VAT and
	// no VAT; the buyer still paid 0.03.
	name:  "incl. VAT, half a cent excl. VAT",
	set:   ttc("20", "20", nil),
	lines: []Line{{Description: "pin", Quantity: 1, UnitPrice: "0.03"}},
	want: Totals{
		Lines: []Amounts{{Description: "pin", Quantity: 1, UnitExcl: "0.03", Rate: "20", Excl: "0.03", VAT: "0.00", Incl: "0.03"}},
		Rates: []RateTotal{{Rate: "20", Base: "0.03", VAT: "0.00"}},
		Excl:  "0.03", VAT: "0.00", Incl: "0.03",
	},
}, {
	// 0.25 × 10 % = 0.025: half up 0.03 (banker's rounding would say
	// 0.02); 0.50 × 5.5 % = 0.0275 → 0.03.
	name: "excl. VAT, half a cent of VAT, two rates",
	set:  Settings{ProductVAT: "10", ShippingVAT: "20", SKUVAT: map[string]string{"BOOK": "5.5"}, PricesExcludeVAT: true},
	lines: []Line{
		{SKU: "A", Description: "a", Quantity: 1, UnitPrice: "0.25"},
		{SKU: "BOOK", Description: "livre", Quantity: 2, UnitPrice: "0.25"},
	},
	ship: &Shipping{Description: "Colissimo", Price: "0.0125"},
	want: Totals{
		Lines: []Amounts{
			{SKU: "A", Description: "a", Quantity: 1, UnitExcl: "0.25", Rate: "10", Excl: "0.25", VAT: "0.03", Incl: "0.28"},
			{SKU: "BOOK", Description: "livre", Quantity: 2, UnitExcl: "0.25", Rate: "5.5", Excl: "0.50", VAT: "0.03", Incl: "0.53"},
		},
		// 0.0125 rounds to 0.01; 0.01 × 20 % = 0.002 → 0.00.
		Shipping: &Amounts{Description: "Colissimo", Quantity: 1, UnitExcl: "0.01", Rate: "20", Excl: "0.01", VAT: "0.00", Incl: "0.01"},
		Rates: []RateTotal{
			{Rate: "5.5", Base: "0.50", VAT: "0.03"},
			{Rate: "10", Base: "0.25", VAT: "0.03"},
			{Rate: "20", Base: "0.01", VAT: "0.00"},
		},
		Excl: "0.76", VAT: "0.06", Incl: "0.82",
	},
}, {
	// Per-SKU override, shipping with its own rate, a discount, and
	// free shipping's rate left out when nothing else uses it.
	name: "incl. VAT, override, discount, free shipping",
	set:  ttc("20", "10", map[string]string{"BOOK": "5.5"}),
	lines: []Line{
		{SKU: "TSHIRT", Description: "T-shirt été", Quantity: 3, UnitPrice: "19.99", Discount: "5.00"},
		{SKU: "BOOK", Description: "Livre", Quantity: 1, UnitPrice: "12.34"},
	},
	ship: &Shipping{Description: "Livraison", Price: "0"},
	want: Totals{
		Lines: []Amounts{
			// 54.97 / 1.2 = 45.808333 → 45.81; unit 19.99 / 1.2 = 16.658 → 16.66.
			{SKU: "TSHIRT", Description: "T-shirt été", Quantity: 3, UnitExcl: "16.66", Discount: "5.00", Rate: "20", Excl: "45.81", VAT: "9.16", Incl: "54.97"},
			// 12.34 / 1.055 = 11.6967 → 11.70.
			{SKU: "BOOK", Description: "Livre", Quantity: 1, UnitExcl: "11.70", Rate: "5.5", Excl: "11.70", VAT: "0.64", Incl: "12.34"},
		},
		Shipping: &Amounts{Description: "Livraison", Quantity: 1, UnitExcl: "0.00", Rate: "10", Excl: "0.00", VAT: "0.00", Incl: "0.00"},
		Rates: []RateTotal{
			{Rate: "5.5", Base: "11.70", VAT: "0.64"},
			{Rate: "20", Base: "45.81", VAT: "9.16"},
		},
		Excl: "57.51", VAT: "9.80", Incl: "67.31",
	},
}}

func TestComputeRounding(t *testing.T) {
	for _, c := range roundingCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Compute(c.set, c.lines, c.ship)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
			checkAddsUp(t, got)
		})
	}
}

// checkAddsUp checks that the totals add up to the cent: lines to rates,
// rates to totals, excl. + VAT to incl.
func checkAddsUp(t *testing.T, tot Totals) {
	t.Helper()
	d := decimal.RequireFromString
	all := append([]Amounts{}, tot.Lines...)
	if tot.Shipping != nil {
		all = append(all, *tot.Shipping)
	}
	var lx, lv decimal.Decimal
	for _, a := range all {
		if !d(a.Excl).Add(d(a.VAT)).Equal(d(a.Incl)) {
			t.Errorf("line %q: %s + %s != %s", a.Description, a.Excl, a.VAT, a.Incl)
		}
		lx, lv = lx.Add(d(a.Excl)), lv.Add(d(a.VAT))
	}
	var rx, rv decimal.Decimal
	for _, r := range tot.Rates {
		rx, rv = rx.Add(d(r.Base)), rv.Add(d(r.VAT))
	}
	if !lx.Equal(d(tot.Excl)) || !rx.Equal(d(tot.Excl)) {
		t.Errorf("excl.: lines %s, rates %s, total %s", lx, rx, tot.Excl)
	}
	if !lv.Equal(d(tot.VAT)) || !rv.Equal(d(tot.VAT)) {
		t.Errorf("VAT: lines %s, rates %s, total %s", lv, rv, tot.VAT)
	}
	if !d(tot.Excl).Add(d(tot.VAT)).Equal(d(tot.Incl)) {
		t.Errorf("%s + %s != %s", tot.Excl, tot.VAT, tot.Incl)
	}
}

// With prices including VAT, the total is what the buyer paid, however
// the lines round.
func TestComputeInclMatchesPaid(t *testing.T) {
	set := ttc("20", "5.5", map[string]string{"X": "2.1"})
	var lines []Line
	paid := decimal.Zero
	for i := 1; i <= 40; i++ {
		// 0.01 to 0.40, which float arithmetic gets wrong in sums.
		u := decimal.New(int64(i), -2)
		sku := ""
		if i%3 == 0 {
			sku = "X"
		}
		lines = append(lines, Line{SKU: sku, Description: "x", Quantity: i%4 + 1, UnitPrice: u.String()})
		paid = paid.Add(u.Mul(decimal.NewFromInt(int64(i%4 + 1))))
	}
	ship := &Shipping{Price: "4.99", Discount: "0.005"}
	paid = paid.Add(decimal.RequireFromString("4.985").Round(2))
	tot, err := Compute(set, lines, ship)
	if err != nil {
		t.Fatal(err)
	}
	checkAddsUp(t, tot)
	if tot.Incl != paid.StringFixed(2) {
		t.Errorf("incl. %s, paid %s", tot.Incl, paid.StringFixed(2))
	}
	if len(tot.Rates) != 3 {
		t.Errorf("rates %+v", tot.Rates)
	}
}

func TestComputeRefuses(t *testing.T) {
	set := ttc("20", "20", nil)
	for name, l := range map[string]Line{
		"negative":    {Quantity: 1, UnitPrice: "-1"},
		"float":       {Quantity: 1, UnitPrice: "1e3x"},
		"no units":    {Quantity: 0, UnitPrice: "1"},
		"over-disc":   {Quantity: 1, UnitPrice: "1", Discount: "1.01"},
		"too precise": {Quantity: 1, UnitPrice: "0.0000001"},
	} {
		if _, err := Compute(set, []Line{l}, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Compute(set, nil, nil); err == nil {
		t.Error("no lines: accepted")
	}
}
