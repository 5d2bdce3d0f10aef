package widgets

import (
	"bytes"
	"encoding/json"
	"math"
	"time"
)

// Notices shown with a degraded answer.
const (
	noticeStale       = "Order data could not be refreshed; showing the last known data."
	noticeUnavailable = "Order data is temporarily unavailable. Reload the ticket in a minute."
)

// RenderJSON renders a projected document as the JSON widget: version and
// status first, then the view's sections, each with its fields in the
// layout's order. Every shown field is always present (an unknown value is
// "" or null), so that the paths a widget template binds to never vanish.
func RenderJSON(v *View, doc *Document, f Freshness) []byte {
	top := object{{"version", Version}, {"status", f.State}}
	switch f.State {
	case StateStale:
		top = append(top, kv{"as_of", f.AsOf.UTC().Format(time.RFC3339)}, kv{"age_seconds", int64(math.Round(f.Age.Seconds()))}, kv{"notice", noticeStale})
	case StateUnavailable:
		top = append(top, kv{"notice", noticeUnavailable})
	}
	for _, section := range v.Fields["sections"] {
		switch section {
		case "customer":
			top = append(top, kv{"customer", customerObject(v, &doc.Customer)})
		case "orders":
			orders := make([]object, len(doc.Orders))
			for i := range doc.Orders {
				orders[i] = orderObject(v, &doc.Orders[i])
			}
			top = append(top, kv{"orders", orders})
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

func customerObject(v *View, c *Customer) object {
	return fields(v.Fields["customer"], map[string]any{
		"email": c.Email, "name": c.Name, "phone": c.Phone, "external_id": c.ExternalID,
		"orders_count": c.OrdersCount, "last_order_at": timeOrNil(c.LastOrderAt),
	})
}

func orderObject(v *View, ord *Order) object {
	o := make(object, 0, len(v.Fields["orders"]))
	for _, f := range v.Fields["orders"] {
		var val any
		switch f {
		case "id":
			val = ord.ID
		case "status":
			val = ord.Status
		case "marketplace_status":
			val = ord.MarketplaceStatus
		case "created_at":
			val = timeOrNil(&ord.CreatedAt)
		case "total":
			val = ord.Total
		case "currency":
			val = ord.Currency
		case "marketplace":
			val = ord.Marketplace
		case "store":
			val = ord.Store
		case "url":
			val = ord.URL
		case "support_url":
			val = ord.SupportURL
		case "lines":
			l := make([]object, len(ord.Lines))
			for i, line := range ord.Lines {
				l[i] = fields(v.Fields["lines"], map[string]any{"name": line.Name, "sku": line.SKU, "quantity": line.Quantity})
			}
			val = l
		case "shipments":
			l := make([]object, len(ord.Shipments))
			for i, s := range ord.Shipments {
				l[i] = fields(v.Fields["shipments"], map[string]any{"status": s.Status, "carrier": s.Carrier, "tracking_number": s.TrackingNumber, "tracking_url": s.TrackingURL})
			}
			val = l
		case "returns":
			l := make([]object, len(ord.Returns))
			for i, r := range ord.Returns {
				products := make([]object, len(r.Products))
				for j, p := range r.Products {
					products[j] = fields(v.Fields["return_products"], map[string]any{"name": p.Name, "sku": p.SKU, "quantity": p.Quantity, "damaged": p.Damaged})
				}
				l[i] = fields(v.Fields["returns"], map[string]any{"tracking_number": r.TrackingNumber, "refund_method": r.RefundMethod, "products": products})
			}
			val = l
		case "support_requests":
			l := make([]object, len(ord.SupportRequests))
			for i, s := range ord.SupportRequests {
				l[i] = fields(v.Fields["support_requests"], map[string]any{"subject": s.Subject, "url": s.URL, "updated_at": timeOrNil(&s.UpdatedAt)})
			}
			val = l
		}
		o = append(o, kv{f, val})
	}
	return o
}

// fields picks names from values, in order.
func fields(names []string, values map[string]any) object {
	o := make(object, len(names))
	for i, n := range names {
		o[i] = kv{n, values[n]}
	}
	return o
}

func timeOrNil(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

// object is a JSON object that keeps its keys in order.
type object []kv

type kv struct {
	k string
	v any
}

func (o object) MarshalJSON() ([]byte, error) {
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
