package widgets

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Project keeps the view's stores' orders, at most MaxOrders of them, and
// sums up the customer from the kept orders only; the document itself is
// never changed, whether its orders are copied or shared.
func TestProject(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	order := func(id, store, name string, created time.Time) orders.Order {
		return orders.Order{ID: id, Store: store, CreatedAt: created, Buyer: orders.Buyer{Name: name, Phone: "+33 " + id}}
	}
	doc := &orders.Document{Customer: orders.Customer{Email: "ada@example.com"}, Orders: []orders.Order{
		order("3", "fr", "", at), order("2", "de", "Ada DE", at.Add(-time.Hour)), order("1", "fr", "Ada FR", at.Add(-2*time.Hour)),
	}}
	before := *doc
	before.Orders = append([]orders.Order(nil), doc.Orders...)
	tests := []struct {
		name      string
		stores    []string
		maxOrders int
		ids       []string
		count     int
		buyer     string
	}{
		{"one store", []string{"fr"}, 0, []string{"3", "1"}, 2, "Ada FR"},
		{"every store", []string{"fr", "de"}, 0, []string{"3", "2", "1"}, 3, "Ada DE"},
		{"every store, fewer shown", []string{"fr", "de"}, 1, []string{"3"}, 3, "Ada DE"},
		{"no store of theirs", []string{"it"}, 0, []string{}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := NewView("acme", config.Sidebar{Kind: "gorgias", Stores: tt.stores, MaxOrders: tt.maxOrders})
			p := v.Project(doc)
			ids := []string{}
			for _, o := range p.Orders {
				ids = append(ids, o.ID)
			}
			if diff := cmp.Diff(tt.ids, ids); diff != "" {
				t.Errorf("orders (-want +got):\n%s", diff)
			}
			c := p.Customer
			if c.OrdersCount != tt.count || c.Name != tt.buyer || c.Email != "ada@example.com" {
				t.Errorf("customer %+v, want %d orders and name %q", c, tt.count, tt.buyer)
			}
			if tt.count > 0 && (c.LastOrderAt == nil || !c.LastOrderAt.Equal(at)) {
				t.Errorf("last order at %v, want %v", c.LastOrderAt, at)
			}
			if diff := cmp.Diff(&before, doc); diff != "" {
				t.Errorf("the document changed (-before +after):\n%s", diff)
			}
		})
	}
}
