package invoices

import (
	"errors"
	"strings"
	"testing"
)

// validSettings are a real-looking French seller: SIREN 732 829 320 has a
// valid Luhn key, and FR44732829320 is its VAT number.
func validSettings() Settings {
	return Settings{
		Seller: Seller{
			Name:      "Boutique Élodie SAS",
			Address:   "12 rue de l'Église\n75011 Paris",
			SIREN:     "732 829 320",
			SIRET:     "73282932000074",
			VATNumber: "FR44 732829320",
			Mentions:  "SAS au capital de 10 000 €, RCS Paris",
		},
		ProductVAT:  "20",
		ShippingVAT: "20",
		SKUVAT:      map[string]string{"BOOK": "5.5"},
		Prefix:      "F-",
		Digits:      6,
		HeaderHTML:  `<h1>Boutique Élodie</h1><p onclick="x()">Merci <b>beaucoup</b><script>alert(1)</script></p>`,
	}.Normalize()
}

func TestSettingsValid(t *testing.T) {
	s := validSettings()
	if err := s.Validate("stores.acme-fr.invoices"); err != nil {
		t.Fatal(err)
	}
	if s.Language != "fr" || s.CreditPrefix != "AV-" || s.StartNumber != 1 {
		t.Errorf("defaults: %+v", s)
	}
	if strings.Contains(s.HeaderHTML, "script") || strings.Contains(s.HeaderHTML, "onclick") || !strings.Contains(s.HeaderHTML, "<b>beaucoup</b>") {
		t.Errorf("header not sanitised: %s", s.HeaderHTML)
	}
}

func TestSettingsErrorsNameFields(t *testing.T) {
	s := validSettings()
	s.Seller.Name = ""
	s.Seller.SIREN = "732829321"
	s.Seller.SIRET = ""
	s.Seller.VATNumber = "FR00732829320"
	s.Language = "de"
	s.ProductVAT = "19.999"
	s.SKUVAT["BAD"] = "100"
	s.Prefix = "2024"
	s.CreditPrefix = "2024"
	s.StartNumber = 0
	err := s.Validate("stores.x.invoices")
	var fe FieldErrors
	if !errors.As(err, &fe) {
		t.Fatalf("%T %v", err, err)
	}
	got := map[string]bool{}
	for _, f := range fe {
		got[strings.TrimPrefix(f.Field, "stores.x.invoices.")] = true
	}
	for _, f := range []string{"seller.name", "seller.siren", "seller.vat_number", "language", "product_vat", "sku_vat.BAD", "prefix", "credit_prefix", "start_number"} {
		if !got[f] {
			t.Errorf("no error for %s in %v", f, err)
		}
	}
}

func TestSettingsSIRETMustStartWithSIREN(t *testing.T) {
	s := validSettings()
	s.Seller.SIRET = "40483304800022" // valid Luhn, another company
	err := s.Validate("x")
	if err == nil || !strings.Contains(err.Error(), "x.seller.siret") {
		t.Fatalf("%v", err)
	}
}
