package orders

import (
	"cmp"
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
)

// Planners returns the event kinds this package handles, for events.Intake.
// An entity's updated_at may be at most maxFutureSkew ahead of the time
// the event was received (config's widgets.max_future_skew): the later
// version of an entity wins, so one dated in the future would freeze it.
func Planners(maxFutureSkew time.Duration, shards jobs.Shards) map[string]events.Planner {
	return map[string]events.Planner{
		KindOrderUpserted:          planner(maxFutureSkew, shards, changeOfOrder),
		KindShipmentUpserted:       planner(maxFutureSkew, shards, changeOfShipment),
		KindReturnUpserted:         planner(maxFutureSkew, shards, changeOfReturn),
		KindSupportRequestUpserted: planner(maxFutureSkew, shards, changeOfSupportRequest),
	}
}

// planner decodes and validates an event's data as D, turns it into a
// change, and wraps that in one task.
func planner[D any](maxFutureSkew time.Duration, shards jobs.Shards, change func(m *config.Merchant, d *D) Change) events.Planner {
	return events.PlanFunc(func(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
		var d D
		if err := httpapi.DecodeJSON("data", ev.Data, &d); err != nil {
			return nil, err
		}
		c := change(ev.Merchant, &d)
		if ahead := c.UpdatedAt.Sub(ev.ReceivedAt); ahead > maxFutureSkew {
			return nil, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "data.updated_at",
				"data.updated_at is %s ahead of the bridge's clock; at most %s is allowed", ahead.Round(time.Second), maxFutureSkew)
		}
		if _, ok := ev.Merchant.Store(c.Store); !ok {
			return nil, httpapi.Errorf(http.StatusUnprocessableEntity, CodeUnknownStore, "data.store", "data.store: %q is not a store of merchant %q", c.Store, ev.Merchant.ID)
		}
		c.Merchant = ev.Merchant.ID
		t, err := NewApplyTask(ev.Merchant.ID, ev.ID, c, shards)
		if err != nil {
			return nil, err
		}
		return []*asynq.Task{t}, nil
	})
}

// CodeUnknownStore is the error code of an event naming a store its
// merchant does not have.
const CodeUnknownStore = "unknown_store"

func changeOfOrder(m *config.Merchant, d *OrderUpserted) Change {
	o := &Order{
		ID: d.OrderID, Store: d.Store, Marketplace: d.Marketplace,
		Status: cmp.Or(d.Status, StatusNotProvided), MarketplaceStatus: d.MarketplaceStatus,
		CreatedAt: d.CreatedAt.UTC(), Total: d.Total, Currency: strings.ToUpper(d.Currency),
		URL: d.URL, SupportURL: d.SupportURL,
		Buyer: Buyer{Name: d.Customer.Name, Phone: d.Customer.Phone, ExternalID: d.Customer.ExternalID},
		Lines: make([]Line, len(d.Lines)),
	}
	if a := d.ShippingAddress; a != nil && *a != (Address{}) {
		addr := *a
		addr.Country = strings.ToUpper(addr.Country)
		o.ShippingAddress = &addr
	}
	if a := d.BillingAddress; a != nil && *a != (Address{}) {
		addr := *a
		addr.Country = strings.ToUpper(addr.Country)
		o.BillingAddress = &addr
	}
	o.ShippingPrice, o.ShippingDiscount = d.ShippingPrice, d.ShippingDiscount
	if s, ok := m.Store(d.Store); ok {
		o.URL = cmp.Or(o.URL, s.OrderLink(d.OrderID))
		o.SupportURL = cmp.Or(o.SupportURL, s.SupportLink(d.OrderID))
	}
	for i, l := range d.Lines {
		o.Lines[i] = Line{Name: l.Name, SKU: l.SKU, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Discount: l.Discount}
	}
	return Change{Store: d.Store, OrderID: d.OrderID, Email: NormalizeEmail(d.Customer.Email), Order: o, UpdatedAt: d.UpdatedAt}
}

func changeOfShipment(_ *config.Merchant, d *ShipmentUpserted) Change {
	return Change{Store: d.Store, OrderID: d.OrderID, ShipmentID: d.ShipmentID, UpdatedAt: d.UpdatedAt, Shipment: &Shipment{
		Status: d.Status, Carrier: d.Carrier, TrackingNumber: d.TrackingNumber, TrackingURL: d.TrackingURL,
	}}
}

func changeOfReturn(_ *config.Merchant, d *ReturnUpserted) Change {
	r := &Return{TrackingNumber: d.TrackingNumber, RefundMethod: d.RefundMethod, Products: make([]ReturnProduct, len(d.Products))}
	for i, p := range d.Products {
		r.Products[i] = ReturnProduct{Name: p.Name, SKU: p.SKU, Quantity: p.Quantity, Damaged: p.Damaged}
	}
	return Change{Store: d.Store, OrderID: d.OrderID, ReturnID: d.ReturnID, UpdatedAt: d.UpdatedAt, Return: r}
}

func changeOfSupportRequest(_ *config.Merchant, d *SupportRequestUpserted) Change {
	return Change{Store: d.Store, OrderID: d.OrderID, RequestID: d.RequestID, UpdatedAt: d.UpdatedAt, SupportRequest: &SupportRequest{
		Subject: d.Subject, URL: d.URL, UpdatedAt: d.UpdatedAt.UTC(),
	}}
}
