package api

import (
	"encoding/json"
	"fmt"
	"math/big"
)

// ParseAmount reads an amount exactly as Mirakl wrote it; "" is zero.
func ParseAmount(n json.Number) (*big.Rat, error) {
	if n == "" {
		return new(big.Rat), nil
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok {
		return nil, fmt.Errorf("amount %q is not a number", string(n))
	}
	return r, nil
}

// FormatAmount writes a decimal amount exactly, with no more decimals than
// it has (and at most 12: amounts read with ParseAmount have fewer).
func FormatAmount(r *big.Rat) json.Number {
	scale := big.NewInt(1)
	ten := big.NewInt(10)
	for n := 0; n < 12; n++ {
		if new(big.Int).Mod(new(big.Int).Mul(r.Num(), scale), r.Denom()).Sign() == 0 {
			return json.Number(r.FloatString(n))
		}
		scale.Mul(scale, ten)
	}
	return json.Number(r.FloatString(12))
}

// Left is what remains of an order line to cancel: its quantity, its price
// and shipping price, and its taxes by code, less its cancellations.
// UNVERIFIED: Mirakl does not say whether a line's quantity and prices
// shrink as it is cancelled. They are read as ordered and its
// cancellations taken off, which never cancels more than is left.
type Left struct {
	Quantity      int
	Amount        *big.Rat
	Shipping      *big.Rat
	Taxes         map[string]*big.Rat
	ShippingTaxes map[string]*big.Rat
}

// LineLeft returns what remains of l to cancel.
func LineLeft(l OrderLine) (Left, error) {
	out := Left{Quantity: l.Quantity, Taxes: map[string]*big.Rat{}, ShippingTaxes: map[string]*big.Rat{}}
	var err error
	if out.Amount, err = ParseAmount(l.Price); err != nil {
		return Left{}, err
	}
	if out.Shipping, err = ParseAmount(l.ShippingPrice); err != nil {
		return Left{}, err
	}
	add := func(into map[string]*big.Rat, code string, n json.Number, sign int) error {
		a, err := ParseAmount(n)
		if err != nil {
			return err
		}
		if into[code] == nil {
			into[code] = new(big.Rat)
		}
		if sign < 0 {
			a.Neg(a)
		}
		into[code].Add(into[code], a)
		return nil
	}
	for _, t := range l.Taxes {
		if err := add(out.Taxes, t.Code, t.Amount, 1); err != nil {
			return Left{}, err
		}
	}
	for _, t := range l.ShippingTaxes {
		if err := add(out.ShippingTaxes, t.Code, t.Amount, 1); err != nil {
			return Left{}, err
		}
	}
	for _, c := range l.Cancelations {
		a, err := ParseAmount(c.Amount)
		if err != nil {
			return Left{}, err
		}
		sh, err := ParseAmount(c.ShippingAmount)
		if err != nil {
			return Left{}, err
		}
		out.Quantity -= c.Quantity
		out.Amount.Sub(out.Amount, a)
		out.Shipping.Sub(out.Shipping, sh)
		for _, t := range c.Taxes {
			if err := add(out.Taxes, t.Code, t.Amount, -1); err != nil {
				return Left{}, err
			}
		}
		for _, t := range c.ShippingTaxes {
			if err := add(out.ShippingTaxes, t.Code, t.Amount, -1); err != nil {
				return Left{}, err
			}
		}
	}
	return out, nil
}
