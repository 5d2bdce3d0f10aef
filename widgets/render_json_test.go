package widgets

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/config"
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
			orderKeys:  []string{"id", "status", "marketplace_status", "created_at", "total", "currency", "marketplace", "store", "url", "support_url", "lines", "shipments", "returns"},
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
			doc := v.Project(gorgiasSampleDocument())
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
	if err := json.Unmarshal(RenderJSON(v, v.Project(gorgiasSampleDocument()), Freshness{State: StateOK}), &got); err != nil {
		t.Fatal(err)
	}
	if c, ok := got["customer"]; ok {
		t.Errorf(`customer: [] still sends "customer": %s`, c)
	}
}
