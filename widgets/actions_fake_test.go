package widgets

import (
	"context"
	"net/http"
	"sync"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/orders"
)

// fakeActions stands in for orders.Actions: every order's status allows
// what StatusActions says, none while an action is pending.
type fakeActions struct {
	mu       sync.Mutex
	orders   map[string]orders.Order // by store "/" id
	requests []orders.ActionRequest
	// refuse, when set, is the marketplace's refusal of every request.
	refuse string
}

func newFakeActions(os ...orders.Order) *fakeActions {
	f := &fakeActions{orders: map[string]orders.Order{}}
	for _, o := range os {
		f.orders[o.Store+"/"+o.ID] = o
	}
	return f
}

func (f *fakeActions) Allowed(_ string, o orders.Order) []string {
	if o.Action != nil && o.Action.State == orders.Synchronizing {
		return nil
	}
	return orders.StatusActions(o.Status)
}

func (f *fakeActions) Order(_ context.Context, _, store, id string) (orders.Order, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.orders[store+"/"+id]
	if !ok {
		return orders.Order{}, httpapi.Errorf(http.StatusNotFound, orders.CodeOrderNotFound, "order_id", "order %s not found", id)
	}
	return o, nil
}

func (f *fakeActions) Request(_ context.Context, req orders.ActionRequest) (orders.Action, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, req)
	if f.refuse != "" {
		return orders.Action{}, httpapi.Errorf(http.StatusConflict, orders.CodeActionNotAllowed, "action", "%s", f.refuse)
	}
	a := orders.Action{ID: "act_1", Store: req.Store, OrderID: req.OrderID, Kind: req.Kind, Args: req.Args, State: orders.Synchronizing, By: req.By}
	o := f.orders[req.Store+"/"+req.OrderID]
	o.Action = &orders.OrderAction{ID: a.ID, Kind: a.Kind, State: a.State}
	f.orders[req.Store+"/"+req.OrderID] = o
	return a, nil
}

func (f *fakeActions) asked() []orders.ActionRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]orders.ActionRequest(nil), f.requests...)
}

// Sidebars of the action tests.
const (
	tokShip    = "ship-sidebar-token-0123456789abcdef"
	tokNone    = "none-sidebar-token-0123456789abcdef"
	tokGorgias = "gorgias-sidebar-token-0123456789abcdef"
	hsSecret   = "helpscout-secret-0123"
)
