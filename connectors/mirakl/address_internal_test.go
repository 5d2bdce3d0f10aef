package mirakl

import (
	"testing"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// An order's addresses reach the read model for its invoice, the country
// as alpha-2; an address Mirakl leaves null (before acceptance) is none.
func TestToAddress(t *testing.T) {
	got := toAddress(&api.Address{Firstname: " Zoé", Lastname: "Müller ", Street1: "3 place de la Gare", ZipCode: "67000", City: "Strasbourg", CountryISOCode: "fra"})
	want := connectors.Address{Name: "Zoé Müller", Line1: "3 place de la Gare", PostalCode: "67000", City: "Strasbourg", Country: "FR"}
	if got == nil || *got != want {
		t.Errorf("toAddress = %+v; want %+v", got, want)
	}
	if got := toAddress(&api.Address{Lastname: "X", CountryISOCode: "XYZ"}); got == nil || got.Country != "" {
		t.Errorf("an unknown country: %+v; want no country", got)
	}
	if toAddress(nil) != nil || toAddress(&api.Address{}) != nil {
		t.Error("no address mapped to one")
	}
	o := toOrder(api.Order{OrderID: "O-1", Customer: api.Customer{BillingAddress: &api.Address{Lastname: "Corp", City: "Paris", CountryISOCode: "FRA"}}})
	if o.BillingAddress == nil || o.BillingAddress.City != "Paris" || o.ShippingAddress != nil {
		t.Errorf("toOrder addresses: %+v, %+v", o.BillingAddress, o.ShippingAddress)
	}
}
