package widgets

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/orders"
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
//
// It writes the bytes encoding/json would (HTML characters escaped
// included), directly: a read of a customer the bridge has not rendered
// lately spent most of its time in reflection and maps.
func RenderJSON(v *View, doc *orders.Document, f Freshness) []byte {
	return renderJSON(v, doc, f, nil)
}

// renderJSON is RenderJSON with the orders' action buttons, if acts.
func renderJSON(v *View, doc *orders.Document, f Freshness, acts *actionLinks) []byte {
	b := make([]byte, 0, 256+512*len(doc.Orders))
	b = append(b, `{"version":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, f.State)
	switch f.State {
	case StateStale:
		b = append(b, `,"as_of":"`...)
		b = f.AsOf.UTC().AppendFormat(b, time.RFC3339)
		b = append(b, `","age_seconds":`...)
		b = strconv.AppendInt(b, int64(math.Round(f.Age.Seconds())), 10)
		b = append(b, `,"notice":`...)
		b = appendJSONString(b, noticeStale)
	case StateUnavailable:
		b = append(b, `,"notice":`...)
		b = appendJSONString(b, noticeUnavailable)
	}
	l := v.json
	for _, section := range l.sections {
		switch section {
		case "customer":
			b = append(b, `,"customer":`...)
			b = appendCustomer(b, l, &doc.Customer)
		case "orders":
			b = append(b, `,"orders":[`...)
			for i := range doc.Orders {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendOrder(b, l, &doc.Orders[i], acts)
			}
			b = append(b, ']')
		}
	}
	return append(b, '}')
}

// jsonLayout is a view's layout as RenderJSON walks it, worked out once
// per view: each object's fields, and their keys ready to write.
type jsonLayout struct {
	// sections are the top-level sections shown. An empty field list
	// hides a section (config.Layout): it is not sent at all, or Gorgias
	// would show an empty card.
	sections []string

	customer, orders, lines, shipments, returns, products, requests jsonFields
}

// jsonFields are an object's fields, in order.
type jsonFields struct {
	ids []jsonField
	// keys are the names as JSON object keys, with the comma before all
	// but the first: `"id":`, `,"status":`...
	keys []string
}

// jsonField is a field name of the layouts' vocabulary
// (config.WidgetFields), as a number: a name shared by several sections
// has one. A name outside it is fUnknown, sent as null.
type jsonField uint8

const (
	fUnknown jsonField = iota
	fEmail
	fName
	fPhone
	fExternalID
	fOrdersCount
	fLastOrderAt
	fID
	fStatus
	fMarketplaceStatus
	fCreatedAt
	fTotal
	fCurrency
	fMarketplace
	fStore
	fURL
	fSupportURL
	fLines
	fShipments
	fReturns
	fSupportRequests
	fSKU
	fQuantity
	fCarrier
	fTrackingNumber
	fTrackingURL
	fRefundMethod
	fProducts
	fDamaged
	fSubject
	fUpdatedAt
	fAction
	fActions
	fInvoiceURL
)

var jsonFieldIDs = map[string]jsonField{
	"email": fEmail, "name": fName, "phone": fPhone, "external_id": fExternalID,
	"orders_count": fOrdersCount, "last_order_at": fLastOrderAt,
	"id": fID, "status": fStatus, "marketplace_status": fMarketplaceStatus, "created_at": fCreatedAt,
	"total": fTotal, "currency": fCurrency, "marketplace": fMarketplace, "store": fStore,
	"url": fURL, "support_url": fSupportURL, "lines": fLines, "shipments": fShipments,
	"returns": fReturns, "support_requests": fSupportRequests,
	"sku": fSKU, "quantity": fQuantity, "carrier": fCarrier, "tracking_number": fTrackingNumber,
	"tracking_url": fTrackingURL, "refund_method": fRefundMethod, "products": fProducts,
	"damaged": fDamaged, "subject": fSubject, "updated_at": fUpdatedAt,
	"action": fAction, "actions": fActions, "invoice_url": fInvoiceURL,
}

func newJSONLayout(v *View) *jsonLayout {
	l := &jsonLayout{
		customer: newJSONFields(v.Fields["customer"]), orders: newJSONFields(shownFields(v, "orders")),
		lines: newJSONFields(v.Fields["lines"]), shipments: newJSONFields(v.Fields["shipments"]),
		returns: newJSONFields(shownFields(v, "returns")), products: newJSONFields(v.Fields["return_products"]),
		requests: newJSONFields(v.Fields["support_requests"]),
	}
	for _, section := range v.Fields["sections"] {
		if len(shownFields(v, section)) > 0 {
			l.sections = append(l.sections, section)
		}
	}
	return l
}

func newJSONFields(names []string) jsonFields {
	f := jsonFields{ids: make([]jsonField, len(names)), keys: make([]string, len(names))}
	for i, n := range names {
		f.ids[i] = jsonFieldIDs[n]
		var k []byte
		if i > 0 {
			k = append(k, ',')
		}
		k = appendJSONString(k, n)
		f.keys[i] = string(append(k, ':'))
	}
	return f
}

func appendCustomer(b []byte, l *jsonLayout, c *orders.Customer) []byte {
	b = append(b, '{')
	for i, id := range l.customer.ids {
		b = append(b, l.customer.keys[i]...)
		switch id {
		case fEmail:
			b = appendJSONString(b, c.Email)
		case fName:
			b = appendJSONString(b, c.Name)
		case fPhone:
			b = appendJSONString(b, c.Phone)
		case fExternalID:
			b = appendJSONString(b, c.ExternalID)
		case fOrdersCount:
			b = strconv.AppendInt(b, int64(c.OrdersCount), 10)
		case fLastOrderAt:
			b = appendTimeOrNull(b, c.LastOrderAt)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendOrder(b []byte, l *jsonLayout, o *orders.Order, acts *actionLinks) []byte {
	b = append(b, '{')
	for i, id := range l.orders.ids {
		b = append(b, l.orders.keys[i]...)
		switch id {
		case fID:
			b = appendJSONString(b, o.ID)
		case fStatus:
			// "synchronizing" while an action waits for the marketplace.
			b = appendJSONString(b, orders.ShownStatus(*o))
		case fAction:
			b = appendOrderAction(b, o.Action)
		case fActions:
			b = append(b, '[')
			for j, a := range acts.links(o) {
				if j > 0 {
					b = append(b, ',')
				}
				b = append(b, `{"action":`...)
				b = appendJSONString(b, a.Action)
				b = append(b, `,"label":`...)
				b = appendJSONString(b, a.Label)
				b = append(b, `,"url":`...)
				b = appendJSONString(b, a.URL)
				b = append(b, '}')
			}
			b = append(b, ']')
		case fInvoiceURL:
			b = appendJSONString(b, acts.invoiceURL(o))
		case fMarketplaceStatus:
			b = appendJSONString(b, o.MarketplaceStatus)
		case fCreatedAt:
			b = appendTimeOrNull(b, &o.CreatedAt)
		case fTotal:
			b = appendJSONString(b, o.Total)
		case fCurrency:
			b = appendJSONString(b, o.Currency)
		case fMarketplace:
			b = appendJSONString(b, o.Marketplace)
		case fStore:
			b = appendJSONString(b, o.Store)
		case fURL:
			b = appendJSONString(b, o.URL)
		case fSupportURL:
			b = appendJSONString(b, o.SupportURL)
		case fLines:
			b = append(b, '[')
			for j := range o.Lines {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendLine(b, l, &o.Lines[j])
			}
			b = append(b, ']')
		case fShipments:
			b = append(b, '[')
			for j := range o.Shipments {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendShipment(b, l, &o.Shipments[j])
			}
			b = append(b, ']')
		case fReturns:
			b = append(b, '[')
			for j := range o.Returns {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendReturn(b, l, &o.Returns[j])
			}
			b = append(b, ']')
		case fSupportRequests:
			b = append(b, '[')
			for j := range o.SupportRequests {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendSupportRequest(b, l, &o.SupportRequests[j])
			}
			b = append(b, ']')
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendLine(b []byte, l *jsonLayout, ln *orders.Line) []byte {
	b = append(b, '{')
	for i, id := range l.lines.ids {
		b = append(b, l.lines.keys[i]...)
		switch id {
		case fName:
			b = appendJSONString(b, ln.Name)
		case fSKU:
			b = appendJSONString(b, ln.SKU)
		case fQuantity:
			b = strconv.AppendInt(b, int64(ln.Quantity), 10)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendShipment(b []byte, l *jsonLayout, s *orders.Shipment) []byte {
	b = append(b, '{')
	for i, id := range l.shipments.ids {
		b = append(b, l.shipments.keys[i]...)
		switch id {
		case fStatus:
			b = appendJSONString(b, s.Status)
		case fCarrier:
			b = appendJSONString(b, s.Carrier)
		case fTrackingNumber:
			b = appendJSONString(b, s.TrackingNumber)
		case fTrackingURL:
			b = appendJSONString(b, s.TrackingURL)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendReturn(b []byte, l *jsonLayout, r *orders.Return) []byte {
	b = append(b, '{')
	for i, id := range l.returns.ids {
		b = append(b, l.returns.keys[i]...)
		switch id {
		case fTrackingNumber:
			b = appendJSONString(b, r.TrackingNumber)
		case fRefundMethod:
			b = appendJSONString(b, r.RefundMethod)
		case fProducts:
			b = append(b, '[')
			for j := range r.Products {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendReturnProduct(b, l, &r.Products[j])
			}
			b = append(b, ']')
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendReturnProduct(b []byte, l *jsonLayout, p *orders.ReturnProduct) []byte {
	b = append(b, '{')
	for i, id := range l.products.ids {
		b = append(b, l.products.keys[i]...)
		switch id {
		case fName:
			b = appendJSONString(b, p.Name)
		case fSKU:
			b = appendJSONString(b, p.SKU)
		case fQuantity:
			b = strconv.AppendInt(b, int64(p.Quantity), 10)
		case fDamaged:
			b = strconv.AppendBool(b, p.Damaged)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
}

func appendSupportRequest(b []byte, l *jsonLayout, s *orders.SupportRequest) []byte {
	b = append(b, '{')
	for i, id := range l.requests.ids {
		b = append(b, l.requests.keys[i]...)
		switch id {
		case fSubject:
			b = appendJSONString(b, s.Subject)
		case fURL:
			b = appendJSONString(b, s.URL)
		case fUpdatedAt:
			b = appendTimeOrNull(b, &s.UpdatedAt)
		default:
			b = append(b, "null"...)
		}
	}
	return append(b, '}')
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

// appendOrderAction writes an order's latest action, every key always
// present, or null for none.
func appendOrderAction(b []byte, a *orders.OrderAction) []byte {
	if a == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"action":`...)
	b = appendJSONString(b, a.Kind)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, a.State)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, a.Reason)
	b = append(b, `,"requested_at":`...)
	b = appendTimeOrNull(b, &a.RequestedAt)
	b = append(b, `,"settled_at":`...)
	b = appendTimeOrNull(b, a.SettledAt)
	return append(b, '}')
}

// appendTimeOrNull writes a time in UTC to the second, or null for none.
func appendTimeOrNull(b []byte, t *time.Time) []byte {
	if t == nil || t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendJSONString writes s as encoding/json does, HTML characters
// (<, >, &) escaped, invalid UTF-8 replaced, and U+2028 and U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonSafe tells the ASCII bytes written as they are in a JSON string.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()
