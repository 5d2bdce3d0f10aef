// Package settings is a store's invoice parameters and their checks,
// apart from the invoices package so that the config can hold them
// (invoices reads the order read model, which reads the config).
package settings

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/shopspring/decimal"
)

// Settings are one store's invoice parameters. They come from the config
// and can be overridden through the API; Validate checks them and Normalize
// fills the defaults and sanitises the header and footer. An invoice keeps
// a copy of what it used, so that changing them never changes an invoice
// already issued.
type Settings struct {
	Seller Seller `json:"seller" yaml:"seller"`
	// Language of the documents: "en" or "fr" (the default).
	Language string `json:"language,omitempty" yaml:"language"`
	// ProductVAT and ShippingVAT are VAT rates in percent, as decimal
	// strings ("20", "5.5", "0"); SKUVAT overrides ProductVAT per SKU.
	ProductVAT  string            `json:"product_vat" yaml:"product_vat"`
	ShippingVAT string            `json:"shipping_vat" yaml:"shipping_vat"`
	SKUVAT      map[string]string `json:"sku_vat,omitempty" yaml:"sku_vat"`
	// PricesExcludeVAT says that order prices are given excluding VAT.
	// Marketplaces give buyers' prices including VAT (the default).
	PricesExcludeVAT bool `json:"prices_exclude_vat,omitempty" yaml:"prices_exclude_vat"`
	// Prefix and StartNumber make the invoice series: numbers are Prefix
	// followed by the sequence number, padded with zeros to Digits. A new
	// prefix (such as a year) starts a new series at StartNumber.
	Prefix      string `json:"prefix,omitempty" yaml:"prefix"`
	StartNumber int64  `json:"start_number,omitempty" yaml:"start_number"`
	Digits      int    `json:"digits,omitempty" yaml:"digits"`
	// CreditPrefix and CreditStartNumber make the credit notes' own series
	// ("AV-" and 1 by default).
	CreditPrefix      string `json:"credit_prefix,omitempty" yaml:"credit_prefix"`
	CreditStartNumber int64  `json:"credit_start_number,omitempty" yaml:"credit_start_number"`
	// HeaderHTML and FooterHTML are shown at the top of the first page and
	// at the bottom of every page. Only p, br, b, strong, i, em, u, h1, h2
	// and h3 are kept, without attributes; the rest is dropped, its text
	// kept (see richtext.go).
	HeaderHTML string `json:"header_html,omitempty" yaml:"header_html"`
	FooterHTML string `json:"footer_html,omitempty" yaml:"footer_html"`
}

// Seller is the legal identity printed on every invoice (CGI art. 242
// nonies A).
type Seller struct {
	// Name is the company name with its legal form, as registered.
	Name string `json:"name" yaml:"name"`
	// Address is the registered office, one line per line.
	Address string `json:"address" yaml:"address"`
	// SIREN (9 digits) or SIRET (14 digits), at least one; with both, the
	// SIRET starts with the SIREN.
	SIREN string `json:"siren,omitempty" yaml:"siren"`
	SIRET string `json:"siret,omitempty" yaml:"siret"`
	// VATNumber is the intra-EU VAT number. A French one is checked
	// against the SIREN.
	VATNumber string `json:"vat_number,omitempty" yaml:"vat_number"`
	// Mentions are further legal mentions, one per line: legal form and
	// share capital, RCS city, "TVA non applicable, art. 293 B du CGI"...
	Mentions string `json:"mentions,omitempty" yaml:"mentions"`
}

// FieldError is one invalid setting, named by its path.
type FieldError struct {
	Field string
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldErrors are all the invalid settings of one store.
type FieldErrors []FieldError

func (e FieldErrors) Error() string {
	s := make([]string, len(e))
	for i, f := range e {
		s[i] = f.Error()
	}
	return strings.Join(s, "; ")
}

const (
	// MaxNumber is the largest sequence number: 12 digits, exact in a
	// Lua number.
	MaxNumber    = 999_999_999_999
	maxPrefixLen = 20
)

// A prefix ends with a character that is not a digit, so that a number
// reads back as one prefix and one sequence number, and two series never
// print the same number.
var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_./-]*[A-Za-z_./-]$`)

var (
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
	vatRE    = regexp.MustCompile(`^[A-Z]{2}[0-9A-Z+*]+$`)
	rateRE   = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,2})?$`)
)

// Normalize fills the defaults and sanitises the header and footer.
func (s Settings) Normalize() Settings {
	if s.Language == "" {
		s.Language = "fr"
	}
	if s.StartNumber == 0 {
		s.StartNumber = 1
	}
	if s.CreditPrefix == "" {
		s.CreditPrefix = "AV-"
	}
	if s.CreditStartNumber == 0 {
		s.CreditStartNumber = 1
	}
	s.Seller.SIREN = strings.ReplaceAll(s.Seller.SIREN, " ", "")
	s.Seller.SIRET = strings.ReplaceAll(s.Seller.SIRET, " ", "")
	s.Seller.VATNumber = strings.ToUpper(strings.ReplaceAll(s.Seller.VATNumber, " ", ""))
	s.HeaderHTML = Sanitize(s.HeaderHTML)
	s.FooterHTML = Sanitize(s.FooterHTML)
	return s
}

// Validate checks normalised settings and names every invalid field,
// under path (such as "stores.acme-fr.invoices").
func (s Settings) Validate(path string) error {
	var errs FieldErrors
	bad := func(field, format string, a ...any) {
		errs = append(errs, FieldError{Field: path + "." + field, Msg: fmt.Sprintf(format, a...)})
	}
	if strings.TrimSpace(s.Seller.Name) == "" {
		bad("seller.name", "is required")
	}
	if strings.TrimSpace(s.Seller.Address) == "" {
		bad("seller.address", "is required")
	}
	siren, siret := s.Seller.SIREN, s.Seller.SIRET
	switch {
	case siren == "" && siret == "":
		bad("seller.siren", "a SIREN or a SIRET is required")
	case siren != "" && !luhnDigits(siren, 9):
		bad("seller.siren", "is not a valid SIREN (9 digits, Luhn key)")
	case siret != "" && !luhnDigits(siret, 14) && !strings.HasPrefix(siret, "356000000"):
		// La Poste's establishments are the documented exception to the
		// Luhn key.
		bad("seller.siret", "is not a valid SIRET (14 digits, Luhn key)")
	case siren != "" && siret != "" && !strings.HasPrefix(siret, siren):
		bad("seller.siret", "does not start with the SIREN")
	}
	if v := s.Seller.VATNumber; v != "" {
		if len(v) < 4 || len(v) > 16 || !vatRE.MatchString(v) {
			bad("seller.vat_number", "is not an EU VAT number (country code and number)")
		} else if strings.HasPrefix(v, "FR") {
			sr := siren
			if sr == "" && len(siret) == 14 {
				sr = siret[:9]
			}
			if !frenchVATMatches(v, sr) {
				bad("seller.vat_number", "is not the French VAT number of the SIREN (FR, 2-digit key, SIREN)")
			}
		}
	}
	if s.Language != "en" && s.Language != "fr" {
		bad("language", "must be en or fr, not %q", s.Language)
	}
	if err := checkRate(s.ProductVAT); err != nil {
		bad("product_vat", "%v", err)
	}
	if err := checkRate(s.ShippingVAT); err != nil {
		bad("shipping_vat", "%v", err)
	}
	for sku, r := range s.SKUVAT {
		if sku == "" {
			bad("sku_vat", "has an empty SKU")
		}
		if err := checkRate(r); err != nil {
			bad("sku_vat."+sku, "%v", err)
		}
	}
	if s.Prefix != "" && (len(s.Prefix) > maxPrefixLen || !prefixRE.MatchString(s.Prefix)) {
		bad("prefix", "must be at most %d letters, digits or _ . / -, and end with one that is not a digit", maxPrefixLen)
	}
	if len(s.CreditPrefix) > maxPrefixLen || !prefixRE.MatchString(s.CreditPrefix) {
		bad("credit_prefix", "must be 1 to %d letters, digits or _ . / -, and end with one that is not a digit", maxPrefixLen)
	}
	if s.CreditPrefix == s.Prefix {
		bad("credit_prefix", "must differ from prefix: credit notes have their own series")
	}
	if s.StartNumber < 1 || s.StartNumber > MaxNumber {
		bad("start_number", "must be between 1 and %d", int64(MaxNumber))
	}
	if s.CreditStartNumber < 1 || s.CreditStartNumber > MaxNumber {
		bad("credit_start_number", "must be between 1 and %d", int64(MaxNumber))
	}
	if s.Digits < 0 || s.Digits > 12 {
		bad("digits", "must be between 0 and 12")
	}
	if len(s.HeaderHTML) > 4096 {
		bad("header_html", "is longer than 4096 bytes")
	}
	if len(s.FooterHTML) > 4096 {
		bad("footer_html", "is longer than 4096 bytes")
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// checkRate accepts a VAT rate in percent: 0 to below 100, at most two
// decimals.
func checkRate(r string) error {
	if r == "" {
		return fmt.Errorf("is required (a percentage such as 20 or 5.5)")
	}
	d, err := decimal.NewFromString(r)
	if err != nil || !rateRE.MatchString(r) {
		return fmt.Errorf("%q is not a percentage with at most two decimals", r)
	}
	if d.GreaterThanOrEqual(decimal.NewFromInt(100)) {
		return fmt.Errorf("%q is not below 100", r)
	}
	return nil
}

// luhnDigits says whether s is n digits with a valid Luhn key, as SIREN and
// SIRET numbers are.
func luhnDigits(s string, n int) bool {
	if len(s) != n || !digitsRE.MatchString(s) {
		return false
	}
	sum := 0
	for i := 0; i < n; i++ {
		d := int(s[n-1-i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// frenchVATMatches checks FR + key + SIREN, where the key is
// (12 + 3 × (SIREN mod 97)) mod 97. Without a SIREN, only the shape.
func frenchVATMatches(v, siren string) bool {
	if len(v) != 13 || !digitsRE.MatchString(v[4:]) {
		return false
	}
	if siren == "" {
		return true
	}
	if v[4:] != siren {
		return false
	}
	var n int64
	fmt.Sscan(siren, &n)
	return fmt.Sprintf("%02d", (12+3*(n%97))%97) == v[2:4]
}

// The header and footer are HTML from the merchant's editor, restricted to
// what the PDF renders faithfully: paragraphs, line breaks, bold, italic,
// underline and three heading levels, without attributes. Sanitize keeps
// exactly that (bluemonday drops every other element, keeping its text,
// and drops scripts and styles with their content); the invoices'
// renderer maps each kept element to the PDF and ignores anything else.
var policy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "b", "strong", "i", "em", "u", "h1", "h2", "h3")
	return p
}()

// Sanitize returns html restricted to the subset.
func Sanitize(s string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return strings.TrimSpace(policy.Sanitize(s))
}
