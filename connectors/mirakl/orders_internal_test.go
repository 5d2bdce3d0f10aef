package mirakl

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

func TestCancelationAmounts(t *testing.T) {
	t.Parallel()
	line := api.OrderLine{
		OrderLineID: "O-1-A-1", Quantity: 3, Price: "10.00", ShippingPrice: "3",
		Taxes: []api.Tax{
			{Code: "VAT", Amount: "2.00", CalculationRule: api.TaxRuleNone},
			{Code: "ECO", Amount: "0.30", CalculationRule: api.TaxRuleProportional},
		},
		ShippingTaxes: []api.Tax{{Code: "VAT", Amount: "0.60", CalculationRule: api.TaxRuleNone}},
	}
	eur := api.Order{CurrencyISOCode: "EUR"}
	tests := []struct {
		name  string
		order api.Order
		line  api.OrderLine
		q     int
		want  api.CancelationInput
	}{
		{"one of three, rounded down", eur, line, 1, api.CancelationInput{
			Quantity: 1, Amount: "3.33", ShippingAmount: "1",
			Taxes: []api.TaxAmount{{Code: "VAT", Amount: "0.66"}}, ShippingTaxes: []api.TaxAmount{{Code: "VAT", Amount: "0.2"}},
		}},
		{"all that is left, exactly", eur, line, 0, api.CancelationInput{
			Quantity: 3, Amount: "10", ShippingAmount: "3",
			Taxes: []api.TaxAmount{{Code: "VAT", Amount: "2"}}, ShippingTaxes: []api.TaxAmount{{Code: "VAT", Amount: "0.6"}},
		}},
		{"in yen, no decimals", api.Order{CurrencyISOCode: "JPY"}, api.OrderLine{OrderLineID: "O-1-A-1", Quantity: 3, Price: "1000", ShippingPrice: "0"}, 2,
			api.CancelationInput{Quantity: 2, Amount: "666", ShippingAmount: "0"}},
		{"in dinars, three decimals", api.Order{CurrencyISOCode: "KWD"}, api.OrderLine{OrderLineID: "O-1-A-1", Quantity: 3, Price: "1", ShippingPrice: "0"}, 1,
			api.CancelationInput{Quantity: 1, Amount: "0.333", ShippingAmount: "0"}},
		{"what is left after a cancellation", eur, func() api.OrderLine {
			l := line
			l.Cancelations = []api.Cancelation{{Quantity: 1, Amount: "3.33", ShippingAmount: "1", Taxes: []api.TaxAmount{{Code: "VAT", Amount: "0.66"}}}}
			return l
		}(), 0, api.CancelationInput{
			Quantity: 2, Amount: "6.67", ShippingAmount: "2",
			Taxes: []api.TaxAmount{{Code: "VAT", Amount: "1.34"}}, ShippingTaxes: []api.TaxAmount{{Code: "VAT", Amount: "0.6"}},
		}},
	}
	for _, tc := range tests {
		got, err := cancelation(tc.order, tc.line, tc.q, "34")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		tc.want.OrderLineID, tc.want.ReasonCode, tc.want.CurrencyISOCode = "O-1-A-1", "34", tc.order.CurrencyISOCode
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if _, err := cancelation(eur, line, 4, "34"); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("more than ordered: err = %v, want ErrInvalid", err)
	}
	spent := line
	spent.Cancelations = []api.Cancelation{{Quantity: 3, Amount: "10", ShippingAmount: "3"}}
	if _, err := cancelation(eur, spent, 0, "34"); !errors.Is(err, connectors.ErrInvalid) {
		t.Errorf("nothing left: err = %v, want ErrInvalid", err)
	}
}
