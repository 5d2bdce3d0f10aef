package invoices

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/invoices/pdftest"
	"github.com/helpdesk-bridge/bridge/orders"
)

func sampleInvoice(t *testing.T, lang string) *Invoice {
	t.Helper()
	set := validSettings()
	set.Language = lang
	set.ShippingVAT = "10"
	set.FooterHTML = Sanitize(`<p>Conditions : paiement à réception. <i>Merci</i> !</p>`)
	tot, err := Compute(set, []Line{
		{SKU: "TSHIRT", Description: "T-shirt « Été » brodé, coton bio", Quantity: 3, UnitPrice: "19.99", Discount: "5.00"},
		{SKU: "BOOK", Description: "Livre : Œuvres complètes de Ærø Łódź", Quantity: 1, UnitPrice: "1234.56"},
	}, &Shipping{Description: "Colissimo", Price: "4.90"})
	if err != nil {
		t.Fatal(err)
	}
	return &Invoice{
		Kind: KindInvoice, Number: "F-000042", Prefix: "F-", Seq: 42, Date: "2026-11-02", SaleDate: "2026-10-30",
		Store: "acme-fr", OrderID: "ORD-1", Currency: "EUR", Language: lang,
		Seller: set.Seller, Buyer: Buyer{Name: "Zoé Müller", Address: &orders.Address{Line1: "3 place de la Gare", PostalCode: "67000", City: "Strasbourg", Country: "FR"}},
		Totals: tot, HeaderHTML: set.HeaderHTML, FooterHTML: set.FooterHTML,
	}
}

func TestRenderSameBytes(t *testing.T) {
	inv := sampleInvoice(t, "fr")
	a, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two renders differ")
	}
	// The PDF's own dates are the issue date, not the clock's.
	if !bytes.Contains(a, []byte("D:20261102000000")) || bytes.Contains(a, []byte(time.Now().Format("D:20060102"))) && time.Now().Format("20060102") != "20261102" {
		t.Error("the PDF's creation date is not the issue date")
	}
	if len(a) > 100_000 {
		t.Errorf("PDF is %d bytes: are the fonts subset?", len(a))
	}
}

func TestRenderMentionsFrench(t *testing.T) {
	inv := sampleInvoice(t, "fr")
	pdf, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	txt := pdftest.Text(t, pdf)
	for _, want := range []string{
		"Facture n° F-000042", "Date : 02/11/2026", "Date de la vente : 30/10/2026", "Commande : ORD-1",
		// Seller identity.
		"Boutique Élodie SAS", "12 rue de l'Église", "75011 Paris", "SIREN : 732829320", "SIRET : 73282932000074",
		"N° TVA intracommunautaire : FR44732829320", "SAS au capital de 10 000 €, RCS Paris",
		// Buyer, with accents from several Latin scripts.
		"Zoé Müller", "3 place de la Gare", "67000 Strasbourg",
		"T-shirt « Été » brodé", "Œuvres complètes de Ærø Łódź",
		// Lines: unit price excl. VAT, rate, amount.
		"PU HT", "16,66 €", "20 %", "45,81 €", "1 170,20 €", "5,5 %",
		"Livraison : Colissimo", "4,45 €", "10 %",
		// VAT per rate and totals.
		"Taux de TVA", "Base HT", "Montant TVA",
		"Total HT", "1 220,46 €", "Total TVA", "73,97 €", "Total TTC", "1 294,43 €",
		// Header and footer.
		"Boutique Élodie", "Merci beaucoup", "Conditions : paiement à réception. Merci !", "Page 1/1",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("no %q in\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "alert") {
		t.Error("the header's script reached the PDF")
	}
}

func TestRenderEnglishCreditNote(t *testing.T) {
	inv := sampleInvoice(t, "en")
	inv.Kind, inv.Number, inv.Of, inv.Reason = KindCreditNote, "AV-000007", &Ref{Number: "F-000042", Date: "2026-11-02"}, "Returned item"
	inv.Date = "2026-11-20"
	pdf, err := Render(inv)
	if err != nil {
		t.Fatal(err)
	}
	txt := pdftest.Text(t, pdf)
	for _, want := range []string{
		"Credit note No. AV-000007", "Credit note for invoice F-000042 of 2 November 2026", "Reason: Returned item",
		"Unit price", "€16.66", "€1,170.20", "5.5%", "Total incl. VAT", "€1,294.43",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("no %q in\n%s", want, txt)
		}
	}
}
