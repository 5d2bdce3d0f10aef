package widgets

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// View is one sidebar's window on a merchant's documents: the stores it
// shows and its layout, resolved. Every renderer walks Fields, so hiding
// and reordering apply the same way to JSON and HTML.
type View struct {
	Merchant string
	Sidebar  config.Sidebar
	// Fields maps each section of config.WidgetSections to the fields
	// shown, in order. "sections" lists the top-level sections.
	Fields    map[string][]string
	json      *jsonLayout // Fields as RenderJSON walks them
	maxOrders int
	stores    map[string]bool
	// fingerprint identifies the layout and store filter, so that an ETag
	// changes with them.
	fingerprint string
	// ticketKey signs the render's links (ticketKey), nil without a
	// secret: derived once here rather than at every read.
	ticketKey []byte
	// nativeField names the kept render of the sidebar's own format (see
	// renderField), made once rather than at every read.
	nativeField string
}

// NewView resolves a sidebar's configuration.
func NewView(merchant string, sb config.Sidebar) *View {
	v := &View{Merchant: merchant, Sidebar: sb, Fields: map[string][]string{}, maxOrders: sb.MaxOrders, stores: map[string]bool{}}
	lists := sb.Layout.Lists()
	for _, section := range config.WidgetSections {
		if l := lists[section]; l != nil {
			v.Fields[section] = slices.Clone(l)
		} else {
			v.Fields[section] = slices.Clone(config.WidgetFields[section])
		}
	}
	v.json = newJSONLayout(v)
	for _, s := range sb.Stores {
		v.stores[s] = true
	}
	h := sha256.New()
	for _, section := range config.WidgetSections {
		h.Write([]byte(section + "=" + strings.Join(v.Fields[section], ",") + ";"))
	}
	stores := slices.Sorted(slices.Values(sb.Stores))
	h.Write([]byte("stores=" + strings.Join(stores, ",") + ";"))
	h.Write([]byte("lang=" + sb.Language + ";max=" + strconv.Itoa(sb.MaxOrders) + ";"))
	h.Write([]byte("actions=" + strings.Join(sb.Actions, ",")))
	v.fingerprint = hex.EncodeToString(h.Sum(nil)[:8])
	v.ticketKey = ticketKey(sb)
	if f := nativeFormat(sb.Kind); f != "" {
		v.nativeField = sb.ID + "|" + f + "|" + v.fingerprint
	}
	return v
}

// Shows tells whether field of section is shown.
func (v *View) Shows(section, field string) bool {
	return slices.Contains(v.Fields[section], field)
}

// Project keeps the orders of the view's stores, at most its MaxOrders,
// and counts them in the customer summary. The document is not modified;
// the projection shares its orders when it keeps them all.
func (v *View) Project(doc *orders.Document) *orders.Document {
	// The summary comes from the shown orders only, most recent first, so
	// that no detail of another store's order leaks into it.
	out := &orders.Document{Customer: orders.Customer{Email: doc.Customer.Email}}
	shown := 0
	for i := range doc.Orders {
		if v.stores[doc.Orders[i].Store] {
			shown++
		}
	}
	switch {
	case shown == 0:
		out.Orders = []orders.Order{}
	case shown == len(doc.Orders):
		out.Orders = doc.Orders[:shown:shown]
	default:
		out.Orders = make([]orders.Order, 0, shown)
		for i := range doc.Orders {
			if v.stores[doc.Orders[i].Store] {
				out.Orders = append(out.Orders, doc.Orders[i])
			}
		}
	}
	c := &out.Customer
	for i := range out.Orders {
		o := &out.Orders[i]
		if c.LastOrderAt == nil {
			t := o.CreatedAt
			c.LastOrderAt = &t
		}
		c.Name = cmp.Or(c.Name, o.Buyer.Name)
		c.Phone = cmp.Or(c.Phone, o.Buyer.Phone)
		c.ExternalID = cmp.Or(c.ExternalID, o.Buyer.ExternalID)
	}
	out.Customer.OrdersCount = len(out.Orders)
	if v.maxOrders > 0 && len(out.Orders) > v.maxOrders {
		out.Orders = out.Orders[:v.maxOrders]
	}
	return out
}
