package orders

import (
	"context"
	"errors"
)

// ErrNoOrder: the read model has no such order (never received, or past
// retention).
var ErrNoOrder = errors.New("orders: no such order")

// Order returns one stored order as the read model has it, with what
// widget documents leave out (prices, addresses): invoices are made from
// it. ErrNoOrder when there is none.
func (s *Store) Order(ctx context.Context, merchant, store, orderID string) (*Order, error) {
	agg, err := s.stored(ctx, merchant, store, orderID)
	if err != nil {
		return nil, err
	}
	if agg.Order == nil {
		return nil, ErrNoOrder
	}
	o := agg.view()
	return &o, nil
}

// NoteInvoice records the number of an order's invoice on the order, and
// in its customer's document, so that the sidebar links to the invoice
// without reading the invoices on each read. Noting the same number again
// writes nothing. ErrNoOrder when the read model has no such order.
func (s *Store) NoteInvoice(ctx context.Context, merchant, store, orderID, number string) error {
	_, err := s.update(ctx, merchant, store, orderID, func(_ *watchSet, agg *aggregate) (mutation, error) {
		if agg.Order == nil {
			return mutation{}, ErrNoOrder
		}
		if agg.Invoice == number {
			return mutation{}, nil
		}
		agg.Invoice = number
		return mutation{changed: true}, nil
	})
	return err
}
