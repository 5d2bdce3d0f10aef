package widgets

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/orders/orderstest"
)

// TestRenderJSONSendsNoHiddenSection: a section or list whose layout is
// [] is not sent at all, as the README promises; Gorgias would otherwise
// render an empty card for it.
func TestRenderJSONSendsNoHiddenSection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		layout     config.Layout
		topKeys    []string
		orderKeys  []string
		returnKeys []string
	}{
		{
			name:       "customer hidden",
			layout:     config.Layout{Customer: []string{}},
			topKeys:    []string{"version", "status", "orders"},
			orderKeys:  config.WidgetFields["orders"],
			returnKeys: config.WidgetFields["returns"],
		},
		{
			name:       "support requests and return products hidden",
			layout:     config.Layout{SupportRequests: []string{}, ReturnProducts: []string{}},
			topKeys:    []string{"version", "status", "customer", "orders"},
			orderKeys:  []string{"id", "status", "action", "marketplace_status", "created_at", "total", "currency", "marketplace", "store", "url", "support_url", "lines", "shipments", "returns", "actions", "invoice_url"},
			returnKeys: []string{"tracking_number", "refund_method"},
		},
		{
			name:      "a list whose elements show only hidden lists",
			layout:    config.Layout{Orders: []string{"id", "returns"}, Returns: []string{"products"}, ReturnProducts: []string{}},
			topKeys:   []string{"version", "status", "customer", "orders"},
			orderKeys: []string{"id"},
		},
		{
			name:    "orders hidden",
			layout:  config.Layout{Orders: []string{}},
			topKeys: []string{"version", "status", "customer"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewView("acme", config.Sidebar{Kind: "gorgias", Stores: []string{"shop"}, Layout: tt.layout, Language: "en"})
			doc := v.Project(orderstest.SampleDocument())
			root := decodeOrderedJSON(t, RenderJSON(v, doc, Freshness{State: StateOK}))
			if diff := cmp.Diff(tt.topKeys, root.keys); diff != "" {
				t.Errorf("top-level keys (-want +got):\n%s", diff)
			}
			orders, ok := root.fields["orders"]
			if !ok {
				return
			}
			if len(orders.elems) == 0 {
				t.Fatal("the sample document has no order")
			}
			sawReturn := false
			for _, o := range orders.elems {
				if diff := cmp.Diff(tt.orderKeys, o.keys); diff != "" {
					t.Errorf("order keys (-want +got):\n%s", diff)
				}
				if rs, ok := o.fields["returns"]; ok {
					for _, r := range rs.elems {
						sawReturn = true
						if diff := cmp.Diff(tt.returnKeys, r.keys); diff != "" {
							t.Errorf("return keys (-want +got):\n%s", diff)
						}
					}
				}
			}
			if tt.returnKeys != nil && !sawReturn {
				t.Error("the sample document has no return")
			}
		})
	}
}

// TestRenderJSONHiddenCustomerIsAbsent checks the raw payload too: no
// "customer" key at all, not even an empty object.
func TestRenderJSONHiddenCustomerIsAbsent(t *testing.T) {
	t.Parallel()
	v := NewView("acme", config.Sidebar{Kind: "gorgias", Stores: []string{"shop"}, Layout: config.Layout{Customer: []string{}}})
	var got map[string]json.RawMessage
	if err := json.Unmarshal(RenderJSON(v, v.Project(orderstest.SampleDocument()), Freshness{State: StateOK}), &got); err != nil {
		t.Fatal(err)
	}
	if c, ok := got["customer"]; ok {
		t.Errorf(`customer: [] still sends "customer": %s`, c)
	}
}

// TestRenderJSONMatchesEncodingJSON: the hand-written renderer answers
// the very bytes the first one, built on encoding/json, did, for every
// state and for layouts that reorder, hide and empty sections, with
// strings that need escaping.
func TestRenderJSONMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	tricky := orderstest.SampleDocument()
	o := &tricky.Orders[0]
	o.ID = `<a href="x">&'"\` + "\x00\x1f\t\n\r\b\f\x7f"
	o.Total = "caf\u00e9 \u2028\u2029 \U0001F600 \xff\xfe broken \xe2\x82"
	o.Lines = append(o.Lines, orders.Line{Name: "Théière en fonte 1,2 L", SKU: "</script>", Quantity: -3})
	o.SupportRequests = append(o.SupportRequests, orders.SupportRequest{Subject: "no date"})
	o.CreatedAt = time.Date(2024, 3, 1, 10, 0, 0, 500, time.FixedZone("CET", 3600))
	settled := time.Date(2024, 3, 2, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	o.Action = &orders.OrderAction{ID: "act_1", Kind: orders.ActCancel, State: orders.Refused, Reason: `<already "shipped">` + "\u2028", RequestedAt: o.CreatedAt, SettledAt: &settled}
	tricky.Orders[1].Action = &orders.OrderAction{ID: "act_2", Kind: orders.ActShip, State: orders.Synchronizing}
	tricky.Orders[1].Lines, tricky.Orders[1].Shipments, tricky.Orders[1].Returns, tricky.Orders[1].SupportRequests = nil, nil, nil, []orders.SupportRequest{}
	empty := &orders.Document{Customer: orders.Customer{Email: "nobody@example.com"}, Orders: []orders.Order{}}
	layouts := map[string]config.Layout{
		"default":    {},
		"reordered":  {Sections: []string{"orders", "customer"}, Customer: []string{"last_order_at", "orders_count", "email"}, Orders: []string{"support_requests", "returns", "url", "id", "created_at", "lines"}, Lines: []string{"quantity", "name"}},
		"hidden":     {Customer: []string{}, Shipments: []string{}, ReturnProducts: []string{}},
		"lists only": {Orders: []string{"id", "returns"}, Returns: []string{"products"}, ReturnProducts: []string{}},
		"no orders":  {Orders: []string{}},
		"nothing":    {Sections: []string{}},
	}
	states := []Freshness{
		{State: StateOK},
		{State: StateStale, AsOf: time.Date(2024, 3, 1, 10, 0, 0, 0, time.FixedZone("X", -7200)), Age: 1500 * time.Millisecond},
		{State: StateUnavailable},
	}
	for name, layout := range layouts {
		for _, doc := range []*orders.Document{orderstest.SampleDocument(), tricky, empty} {
			for _, f := range states {
				v := NewView("acme", config.Sidebar{Kind: "gorgias", Stores: []string{"shop"}, Layout: layout, Language: "en"})
				p := v.Project(doc)
				want, got := renderJSONReference(v, p, f), RenderJSON(v, p, f)
				if !bytes.Equal(got, want) {
					t.Errorf("%s, %s: RenderJSON wrote\n%s\nencoding/json\n%s", name, f.State, got, want)
				}
			}
		}
	}
}

// Every field a layout may name has its number in RenderJSON: one
// missing would be sent as null.
func TestRenderJSONKnowsEveryField(t *testing.T) {
	t.Parallel()
	for section, names := range config.WidgetFields {
		if section == "sections" {
			continue
		}
		for _, n := range names {
			if jsonFieldIDs[n] == fUnknown {
				t.Errorf("%s.%s has no jsonField", section, n)
			}
		}
	}
}
