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
		// An empty field list hides the section (config.Layout): it is not
		// sent at all, or Gorgias would show an empty card.
		if len(shownFields(v, section)) == 0 {
			continue
		}
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
	lines := make([]object, len(ord.Lines))
	for i, l := range ord.Lines {
		lines[i] = fields(v.Fields["lines"], map[string]any{"name": l.Name, "sku": l.SKU, "quantity": l.Quantity})
	}
	shipments := make([]object, len(ord.Shipments))
	for i, sh := range ord.Shipments {
		shipments[i] = fields(v.Fields["shipments"], map[string]any{"status": sh.Status, "carrier": sh.Carrier, "tracking_number": sh.TrackingNumber, "tracking_url": sh.TrackingURL})
	}
	returns := make([]object, len(ord.Returns))
	for i, r := range ord.Returns {
		products := make([]object, len(r.Products))
		for j, p := range r.Products {
			products[j] = fields(v.Fields["return_products"], map[string]any{"name": p.Name, "sku": p.SKU, "quantity": p.Quantity, "damaged": p.Damaged})
		}
		returns[i] = fields(shownFields(v, "returns"), map[string]any{"tracking_number": r.TrackingNumber, "refund_method": r.RefundMethod, "products": products})
	}
	requests := make([]object, len(ord.SupportRequests))
	for i, sr := range ord.SupportRequests {
		requests[i] = fields(v.Fields["support_requests"], map[string]any{"subject": sr.Subject, "url": sr.URL, "updated_at": timeOrNil(&sr.UpdatedAt)})
	}
	return fields(shownFields(v, "orders"), map[string]any{
		"id": ord.ID, "status": ord.Status, "marketplace_status": ord.MarketplaceStatus, "created_at": timeOrNil(&ord.CreatedAt),
		"total": ord.Total, "currency": ord.Currency, "marketplace": ord.Marketplace, "store": ord.Store,
		"url": ord.URL, "support_url": ord.SupportURL,
		"lines": lines, "shipments": shipments, "returns": returns, "support_requests": requests,
	})
}

// fields picks names from values, in order.
func fields(names []string, values map[string]any) object {
	o := make(object, len(names))
	for i, n := range names {
		o[i] = kv{n, values[n]}
	}
	return o
}

// listSections names the section whose fields the elements of a list
// field show.
var listSections = map[string]string{
	"lines": "lines", "shipments": "shipments", "returns": "returns",
	"support_requests": "support_requests", "products": "return_products",
}

// shownFields is a section's field list without the list fields whose
// elements would show nothing: a hidden list is not sent, where it would
// otherwise be an array of empty objects.
func shownFields(v *View, section string) []string {
	names := v.Fields[section]
	out := make([]string, 0, len(names))
	for _, n := range names {
		if sub, ok := listSections[n]; ok && len(shownFields(v, sub)) == 0 {
			continue
		}
		out = append(out, n)
	}
	return out
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
