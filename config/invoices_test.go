package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// invoicesOf is base with acme-fr's invoice settings.
const invoicesOf = `      - id: acme-fr
        invoices:
          seller:
            name: ACME France SAS
            address: 12 rue de la Paix, 75002 Paris
            siren: "732829320"
          product_vat: "20"
          shipping_vat: "5.5"
          sku_vat:
            BOOK: "5.5"
          prefix: F-
`

func TestParseStoreInvoices(t *testing.T) {
	t.Parallel()
	in := editText(t, base, "      - id: acme-fr\n", invoicesOf)
	cfg, err := Parse([]byte(in), lookup(baseEnv()))
	if err != nil {
		t.Fatal(err)
	}
	inv := cfg.Merchants[0].Stores[0].Invoices
	if inv == nil || inv.Seller.SIREN != "732829320" || inv.ShippingVAT != "5.5" || inv.SKUVAT["BOOK"] != "5.5" {
		t.Fatalf("invoices = %+v", inv)
	}
	if cfg.Merchants[0].Stores[1].Invoices != nil {
		t.Errorf("acme-de has invoice settings it was not given")
	}
}

func TestParseStoreInvoiceProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		old, new string
		want     Problems
	}{
		{"bad siren", `siren: "732829320"`, `siren: "732829321"`,
			Problems{{Field: "merchants[0].stores[0].invoices.seller.siren", Line: 14, Message: "is not a valid SIREN (9 digits, Luhn key)"}}},
		{"bad rate", `shipping_vat: "5.5"`, `shipping_vat: "5,5"`,
			Problems{{Field: "merchants[0].stores[0].invoices.shipping_vat", Line: 16, Message: `"5,5" is not a percentage with at most two decimals`}}},
		{"bad sku rate", `BOOK: "5.5"`, `BOOK: "100"`,
			Problems{{Field: "merchants[0].stores[0].invoices.sku_vat.BOOK", Line: 18, Message: `"100" is not below 100`}}},
		{"prefix ends with a digit", "prefix: F-", "prefix: F2026",
			Problems{{Field: "merchants[0].stores[0].invoices.prefix", Line: 19, Message: "must be at most 20 letters, digits or _ . / -, and end with one that is not a digit"}}},
		{"no seller name", "            name: ACME France SAS\n", "",
			Problems{{Field: "merchants[0].stores[0].invoices.seller.name", Line: 11, Message: "is required"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := editText(t, editText(t, base, "      - id: acme-fr\n", invoicesOf), tt.old, tt.new)
			_, err := Parse([]byte(in), lookup(baseEnv()))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
