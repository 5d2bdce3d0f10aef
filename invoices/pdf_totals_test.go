package invoices

import (
	"regexp"
	"strings"
	"testing"

	"github.com/helpdesk-bridge/bridge/invoices/pdftest"

	"github.com/shopspring/decimal"
)

// moneyText is an amount as pdftotext reads it from a French invoice:
// "1 220,46 €", the thousands separated by a (narrow) space.
var moneyText = regexp.MustCompile(`(-?[0-9][0-9\s\x{00a0}\x{202f}]*,[0-9]{2})\s*€`)

// amountsIn reads the amounts of one line of an invoice's text.
func amountsIn(line string) []decimal.Decimal {
	var out []decimal.Decimal
	for _, m := range moneyText.FindAllStringSubmatch(line, -1) {
		s := strings.Map(func(r rune) rune {
			switch {
			case r == ',':
				return '.'
			case r == '-' || (r >= '0' && r <= '9'):
				return r
			}
			return -1
		}, m[1])
		out = append(out, decimal.RequireFromString(s))
	}
	return out
}

// The tricky orders of TestComputeRounding, rendered and read back with
// pdftotext: what the PDF shows adds up to the cent, rate by rate and in
// total, and is what Compute worked out.
func TestRenderedTotalsAddUp(t *testing.T) {
	for _, c := range roundingCases {
		t.Run(c.name, func(t *testing.T) {
			set := validSettings()
			set.ProductVAT, set.ShippingVAT, set.SKUVAT, set.PricesExcludeVAT = c.set.ProductVAT, c.set.ShippingVAT, c.set.SKUVAT, c.set.PricesExcludeVAT
			set = set.Normalize()
			tot, err := Compute(set, c.lines, c.ship)
			if err != nil {
				t.Fatal(err)
			}
			pdf, err := Render(&Invoice{
				Kind: KindInvoice, Number: "F-000007", Prefix: "F-", Seq: 7, Date: "2026-12-01", Store: "acme-fr", OrderID: "ORD-7",
				Currency: "EUR", Language: "fr", Seller: set.Seller, Buyer: Buyer{Name: "Zoé Müller"}, Totals: tot,
				PricesExcludeVAT: set.PricesExcludeVAT,
			})
			if err != nil {
				t.Fatal(err)
			}
			txt := pdftest.Text(t, pdf)
			if !strings.Contains(txt, "Facture n° F-000007") || !strings.Contains(txt, "SIREN : 732829320") {
				t.Errorf("number or legal mentions missing:\n%s", txt)
			}
			total := func(label string) decimal.Decimal {
				for _, l := range strings.Split(txt, "\n") {
					if strings.HasPrefix(strings.TrimSpace(l), label) {
						if a := amountsIn(l); len(a) == 1 {
							return a[0]
						}
					}
				}
				t.Fatalf("no %q line with one amount in\n%s", label, txt)
				return decimal.Zero
			}
			ht, tva, ttc := total("Total HT"), total("Total TVA"), total("Total TTC")
			if !ht.Add(tva).Equal(ttc) {
				t.Errorf("printed: %s HT + %s TVA != %s TTC", ht, tva, ttc)
			}
			if !ht.Equal(decimal.RequireFromString(c.want.Excl)) || !tva.Equal(decimal.RequireFromString(c.want.VAT)) || !ttc.Equal(decimal.RequireFromString(c.want.Incl)) {
				t.Errorf("printed totals %s / %s / %s, want %s / %s / %s", ht, tva, ttc, c.want.Excl, c.want.VAT, c.want.Incl)
			}
			// The VAT table: a line per rate, with its base and its VAT,
			// which add up to the totals.
			var bases, vats decimal.Decimal
			for _, r := range c.want.Rates {
				pct := langs["fr"].pct(r.Rate)
				found := false
				for _, l := range strings.Split(txt, "\n") {
					a := amountsIn(l)
					if strings.HasPrefix(strings.TrimSpace(l), pct) && len(a) == 2 {
						if a[0].Equal(decimal.RequireFromString(r.Base)) && a[1].Equal(decimal.RequireFromString(r.VAT)) {
							found = true
							bases, vats = bases.Add(a[0]), vats.Add(a[1])
						}
					}
				}
				if !found {
					t.Errorf("no VAT line %s with base %s and VAT %s in\n%s", pct, r.Base, r.VAT, txt)
				}
			}
			if !bases.Equal(ht) || !vats.Equal(tva) {
				t.Errorf("the VAT table adds up to %s HT and %s TVA; the totals say %s and %s", bases, vats, ht, tva)
			}
		})
	}
}
