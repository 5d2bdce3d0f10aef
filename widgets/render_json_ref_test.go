package widgets

// This file keeps the first RenderJSON, built on encoding/json, as the
// reference the faster one is checked against.

import (
	"bytes"
	"encoding/json"
	"math"
	"time"

	"github.com/helpdesk-bridge/bridge/orders"
)

// renderJSONReference is RenderJSON as it was written first, with
// encoding/json: RenderJSON must answer the same bytes.
// It renders a projected document as the JSON widget: version and
// status first, then the view's sections, each with its fields in the
// layout's order. Every shown field is always present (an unknown value is
// "" or null), so that the paths a widget template binds to never vanish.
func renderJSONReference(v *View, doc *orders.Document, f Freshness) []byte {
	top := refObject{{"version", Version}, {"status", f.State}}
	switch f.State {
	case StateStale:
		top = append(top, refKV{"as_of", f.AsOf.UTC().Format(time.RFC3339)}, refKV{"age_seconds", int64(math.Round(f.Age.Seconds()))}, refKV{"notice", noticeStale})
	case StateUnavailable:
		top = append(top, refKV{"notice", noticeUnavailable})
	}
	for _, section := range v.Fields["sections"] {
		// An empty field list hides the section (config.Layout): it is not
		// sent at all, or Gorgias would show an empty card.
		if len(shownFields(v, section)) == 0 {
			continue
		}
		switch section {
		case "customer":
			top = append(top, refKV{"customer", refCustomerObject(v, &doc.Customer)})
		case "orders":
			orders := make([]refObject, len(doc.Orders))
			for i := range doc.Orders {
				orders[i] = refOrderObject(v, &doc.Orders[i])
			}
			top = append(top, refKV{"orders", orders})
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(top); err != nil {
		// Only strings, numbers, booleans and times are encoded.
		panic("widgets: render json: " + err.Error())
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func refCustomerObject(v *View, c *orders.Customer) refObject {
	return refFields(v.Fields["customer"], map[string]any{
		"email": c.Email, "name": c.Name, "phone": c.Phone, "external_id": c.ExternalID,
		"orders_count": c.OrdersCount, "last_order_at": refTimeOrNil(c.LastOrderAt),
	})
}

func refOrderObject(v *View, ord *orders.Order) refObject {
	lines := make([]refObject, len(ord.Lines))
	for i, l := range ord.Lines {
		lines[i] = refFields(v.Fields["lines"], map[string]any{"name": l.Name, "sku": l.SKU, "quantity": l.Quantity})
	}
	shipments := make([]refObject, len(ord.Shipments))
	for i, sh := range ord.Shipments {
		shipments[i] = refFields(v.Fields["shipments"], map[string]any{"status": sh.Status, "carrier": sh.Carrier, "tracking_number": sh.TrackingNumber, "tracking_url": sh.TrackingURL})
	}
	returns := make([]refObject, len(ord.Returns))
	for i, r := range ord.Returns {
		products := make([]refObject, len(r.Products))
		for j, p := range r.Products {
			products[j] = refFields(v.Fields["return_products"], map[string]any{"name": p.Name, "sku": p.SKU, "quantity": p.Quantity, "damaged": p.Damaged})
		}
		returns[i] = refFields(shownFields(v, "returns"), map[string]any{"tracking_number": r.TrackingNumber, "refund_method": r.RefundMethod, "products": products})
	}
	requests := make([]refObject, len(ord.SupportRequests))
	for i, sr := range ord.SupportRequests {
		requests[i] = refFields(v.Fields["support_requests"], map[string]any{"subject": sr.Subject, "url": sr.URL, "updated_at": refTimeOrNil(&sr.UpdatedAt)})
	}
	return refFields(shownFields(v, "orders"), map[string]any{
		"id": ord.ID, "status": orders.ShownStatus(*ord), "action": refAction(ord.Action), "actions": []refObject{}, "invoice_url": "", "marketplace_status": ord.MarketplaceStatus, "created_at": refTimeOrNil(&ord.CreatedAt),
		"total": ord.Total, "currency": ord.Currency, "marketplace": ord.Marketplace, "store": ord.Store,
		"url": ord.URL, "support_url": ord.SupportURL,
		"lines": lines, "shipments": shipments, "returns": returns, "support_requests": requests,
	})
}

// refAction is an order's latest action, every key present, or nil.
func refAction(a *orders.OrderAction) any {
	if a == nil {
		return nil
	}
	return refObject{{"id", a.ID}, {"action", a.Kind}, {"state", a.State}, {"reason", a.Reason}, {"requested_at", refTimeOrNil(&a.RequestedAt)}, {"settled_at", refTimeOrNil(a.SettledAt)}}
}

// fields picks names from values, in order.
func refFields(names []string, values map[string]any) refObject {
	o := make(refObject, len(names))
	for i, n := range names {
		o[i] = refKV{n, values[n]}
	}
	return o
}

func refTimeOrNil(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// refObject is a JSON object that keeps its keys in order.
type refObject []refKV

type refKV struct {
	k string
	v any
}

func (o refObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		val, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		buf.Write(val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
