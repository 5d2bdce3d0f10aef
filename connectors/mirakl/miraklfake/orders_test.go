package miraklfake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// put sends a JSON body (a string as is) with PUT.
func put(t *testing.T, h http.Handler, path string, body any) answer {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	r := request{method: http.MethodPut, path: path, key: key, body: raw}
	if raw != nil {
		r.contentType = "application/json"
	}
	return do(t, h, r)
}

// twoLines is an order of two lines: two mugs at 20.00 each, and a plate,
// each with its shipping price.
func twoLines(id, state string) api.Order {
	return api.Order{
		OrderID: id, OrderState: state, CurrencyISOCode: "EUR",
		OrderLines: []api.OrderLine{
			{OfferSKU: "MUG", Quantity: 2, Price: "40.00", PriceUnit: "20.00", ShippingPrice: "5.00"},
			{OfferSKU: "PLATE", Quantity: 1, Price: "12.50", PriceUnit: "12.50", ShippingPrice: "0"},
		},
	}
}

func seedOrder(t *testing.T, s *miraklfake.Server, o api.Order) api.Order {
	t.Helper()
	got, err := s.PutOrder("", o)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func mustOrder(t *testing.T, s *miraklfake.Server, id string) api.Order {
	t.Helper()
	o, ok := s.Order("", id)
	if !ok {
		t.Fatalf("no order %s", id)
	}
	return o
}

func lineStates(o api.Order) []string {
	var out []string
	for _, l := range o.OrderLines {
		out = append(out, l.OrderLineState)
	}
	return out
}

func acceptAll(o api.Order, accepted ...bool) api.AcceptInput {
	in := api.AcceptInput{}
	for i, l := range o.OrderLines {
		in.OrderLines = append(in.OrderLines, api.LineDecision{ID: l.OrderLineID, Accepted: i >= len(accepted) || accepted[i]})
	}
	return in
}

func cancelAll(o api.Order) api.CancelationsInput {
	in := api.CancelationsInput{}
	for _, l := range o.OrderLines {
		in.Cancelations = append(in.Cancelations, api.CancelationInput{
			OrderLineID: l.OrderLineID, Quantity: l.Quantity, Amount: l.Price, ShippingAmount: l.ShippingPrice, ReasonCode: "34",
		})
	}
	return in
}

// TestOrderStateMachine tries every action in every order state: each is
// taken in the states the fake's doc gives, and refused with 400 and
// Mirakl's error body, changing nothing, in the others.
func TestOrderStateMachine(t *testing.T) {
	t.Parallel()
	states := []string{
		api.StateStaging, api.StateWaitingAcceptance, api.StateWaitingDebit, api.StateWaitingDebitPayment, api.StateShipping,
		api.StateShipped, api.StateToCollect, api.StateReceived, api.StateClosed, api.StateRefused, api.StateCanceled,
	}
	actions := []struct {
		name  string
		allow []string
		send  func(s *miraklfake.Server, o api.Order) answer
	}{
		{"OR21", []string{api.StateWaitingAcceptance}, func(s *miraklfake.Server, o api.Order) answer {
			return put(t, s, "/api/orders/"+o.OrderID+"/accept", acceptAll(o))
		}},
		{"OR23", []string{api.StateShipping}, func(s *miraklfake.Server, o api.Order) answer {
			return put(t, s, "/api/orders/"+o.OrderID+"/tracking", api.TrackingInput{CarrierName: "Parcel Express", TrackingNumber: "PX-1"})
		}},
		{"OR24", []string{api.StateShipping}, func(s *miraklfake.Server, o api.Order) answer {
			return put(t, s, "/api/orders/"+o.OrderID+"/ship", nil)
		}},
		{"OR29", []string{api.StateShipping}, func(s *miraklfake.Server, o api.Order) answer {
			return put(t, s, "/api/orders/"+o.OrderID+"/cancel", nil)
		}},
		{"OR30", []string{api.StateShipping}, func(s *miraklfake.Server, o api.Order) answer {
			return put(t, s, "/api/orders/cancel", cancelAll(o))
		}},
	}
	s, _ := newFake(t, miraklfake.Options{})
	for _, state := range states {
		for _, a := range actions {
			o := seedOrder(t, s, twoLines(a.name+"-"+state, state))
			if o.CanCancel != (state == api.StateShipping) {
				t.Errorf("%s: can_cancel = %t", state, o.CanCancel)
			}
			got := a.send(s, o)
			if slices.Contains(a.allow, state) {
				if got.status != http.StatusNoContent && got.status != http.StatusOK {
					t.Errorf("%s in %s: HTTP %d %s, want it taken", a.name, state, got.status, got.raw)
				}
				continue
			}
			if got.status != http.StatusBadRequest {
				t.Errorf("%s in %s: HTTP %d, want 400", a.name, state, got.status)
				continue
			}
			got.errorBody(t)
			if diff := cmp.Diff(o, mustOrder(t, s, o.OrderID)); diff != "" {
				t.Errorf("%s refused in %s changed the order (-before +after):\n%s", a.name, state, diff)
			}
		}
	}
	// Unknown and other shops' orders are not found.
	if _, err := s.PutOrder(otherID, twoLines("THEIRS-A", api.StateShipping)); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"NOPE-A", "THEIRS-A"} {
		for _, path := range []string{"/accept", "/tracking", "/ship", "/cancel"} {
			if a := put(t, s, "/api/orders/"+id+path, `{}`); a.status != http.StatusNotFound && a.status != http.StatusBadRequest {
				t.Errorf("%s%s: HTTP %d, want 404 (or 400 for a bad body)", id, path, a.status)
			}
		}
		if a := put(t, s, "/api/orders/"+id+"/ship", nil); a.status != http.StatusNotFound {
			t.Errorf("OR24 of %s: HTTP %d, want 404", id, a.status)
		}
		if a := get(t, s, "/api/orders/"+id, nil); a.status != http.StatusNotFound {
			t.Errorf("OR12 of %s: HTTP %d, want 404", id, a.status)
		}
	}
	if a := do(t, s, request{method: http.MethodPut, path: "/api/orders/X/ship"}); a.status != http.StatusUnauthorized {
		t.Errorf("OR24 without a key: HTTP %d", a.status)
	}
}

func TestAcceptOrder(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	o := seedOrder(t, s, twoLines("ACC-1-A", api.StateWaitingAcceptance))
	clk.Advance(time.Minute)
	if a := put(t, s, "/api/orders/ACC-1-A/accept", acceptAll(o, true, false)); a.status != http.StatusNoContent {
		t.Fatalf("OR21: HTTP %d %s", a.status, a.raw)
	}
	got := mustOrder(t, s, o.OrderID)
	if got.OrderState != api.StateWaitingDebit || !slices.Equal(lineStates(got), []string{api.StateWaitingDebit, api.StateRefused}) {
		t.Errorf("after a partial acceptance: %s, lines %v", got.OrderState, lineStates(got))
	}
	if got.AcceptanceDecision == nil || !got.AcceptanceDecision.Equal(clk.Now()) || !got.LastUpdatedDate.Equal(clk.Now()) || got.CanCancel {
		t.Errorf("acceptance_decision_date %v, last_updated_date %s, can_cancel %t", got.AcceptanceDecision, got.LastUpdatedDate, got.CanCancel)
	}
	// Deciding again: the order is no longer waiting for acceptance.
	if a := put(t, s, "/api/orders/ACC-1-A/accept", acceptAll(o)); a.status != http.StatusBadRequest {
		t.Errorf("OR21 again: HTTP %d", a.status)
	}

	refused := seedOrder(t, s, twoLines("ACC-2-A", api.StateWaitingAcceptance))
	put(t, s, "/api/orders/ACC-2-A/accept", acceptAll(refused, false, false))
	if got := mustOrder(t, s, "ACC-2-A"); got.OrderState != api.StateRefused || !slices.Equal(lineStates(got), []string{api.StateRefused, api.StateRefused}) {
		t.Errorf("every line refused: %s, lines %v", got.OrderState, lineStates(got))
	}

	w := seedOrder(t, s, twoLines("ACC-3-A", api.StateWaitingAcceptance))
	l1, l2 := w.OrderLines[0].OrderLineID, w.OrderLines[1].OrderLineID
	for name, body := range map[string]string{
		"no order_lines":   `{}`,
		"a missing line":   fmt.Sprintf(`{"order_lines": [{"id": %q, "accepted": true}]}`, l1),
		"a duplicate line": fmt.Sprintf(`{"order_lines": [{"id": %q, "accepted": true}, {"id": %q, "accepted": true}, {"id": %q, "accepted": true}]}`, l1, l2, l1),
		"a null element":   fmt.Sprintf(`{"order_lines": [{"id": %q, "accepted": true}, null]}`, l1),
		"an unknown line":  fmt.Sprintf(`{"order_lines": [{"id": %q, "accepted": true}, {"id": "nope", "accepted": true}]}`, l1),
		"no accepted":      fmt.Sprintf(`{"order_lines": [{"id": %q, "accepted": true}, {"id": %q}]}`, l1, l2),
		"an unknown field": fmt.Sprintf(`{"order_lines": [{"id": %q, "accepted": true}, {"id": %q, "accepted": true, "reason": "x"}]}`, l1, l2),
		"not json":         `order_lines=all`,
	} {
		if a := put(t, s, "/api/orders/ACC-3-A/accept", body); a.status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, a.status)
		} else {
			a.errorBody(t)
		}
	}
	if a := do(t, s, request{method: http.MethodPut, path: "/api/orders/ACC-3-A/accept", key: key, contentType: "text/plain", body: []byte(`{}`)}); a.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: HTTP %d, want 415", a.status)
	}
	if got := mustOrder(t, s, "ACC-3-A"); got.OrderState != api.StateWaitingAcceptance {
		t.Errorf("refused decisions changed the order to %s", got.OrderState)
	}

	strict, _ := newFake(t, miraklfake.Options{NoPartialAcceptance: true})
	p := seedOrder(t, strict, twoLines("ACC-4-A", api.StateWaitingAcceptance))
	if a := put(t, strict, "/api/orders/ACC-4-A/accept", acceptAll(p, true, false)); a.status != http.StatusBadRequest {
		t.Errorf("partial acceptance disabled: HTTP %d, want 400", a.status)
	}
	if a := put(t, strict, "/api/orders/ACC-4-A/accept", acceptAll(p)); a.status != http.StatusNoContent {
		t.Errorf("full acceptance with partial acceptance disabled: HTTP %d", a.status)
	}
}

func TestTrackingAndShipping(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("SHIP-1-A", api.StateShipping))
	tracking := func(in any) int { t.Helper(); return put(t, s, "/api/orders/SHIP-1-A/tracking", in).status }

	for name, in := range map[string]any{
		"no carrier":                    api.TrackingInput{TrackingNumber: "1Z"},
		"an unknown carrier code":       api.TrackingInput{CarrierCode: "PIGEON", TrackingNumber: "1Z"},
		"a registered carrier, no code": api.TrackingInput{CarrierCode: "UPS"},
		"an unknown field":              `{"carrier_name": "X", "shipping_method": "express"}`,
	} {
		if got := tracking(in); got != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, got)
		}
	}
	// A registered carrier: its name and URL are Mirakl's, not the shop's.
	if got := tracking(api.TrackingInput{CarrierCode: "UPS", CarrierURL: "https://ignored.example", TrackingNumber: "1Z 99"}); got != http.StatusNoContent {
		t.Fatalf("OR23 with UPS: HTTP %d", got)
	}
	o := mustOrder(t, s, "SHIP-1-A")
	if o.ShippingCarrierCode != "UPS" || o.ShippingCompany != "UPS" || o.ShippingTracking != "1Z 99" || o.ShippingTrackingURL != "https://www.ups.com/track?tracknum=1Z+99" {
		t.Errorf("registered carrier: %q %q %q %q", o.ShippingCarrierCode, o.ShippingCompany, o.ShippingTracking, o.ShippingTrackingURL)
	}
	// Another carrier, by name, replaces it.
	tracking(api.TrackingInput{CarrierName: "Parcel Express", CarrierURL: "https://px.example/PX-1", TrackingNumber: "PX-1"})
	o = mustOrder(t, s, "SHIP-1-A")
	if o.ShippingCarrierCode != "" || o.ShippingCompany != "Parcel Express" || o.ShippingTrackingURL != "https://px.example/PX-1" || o.OrderState != api.StateShipping {
		t.Errorf("unregistered carrier: %+v", o)
	}

	clk.Advance(time.Hour)
	if a := put(t, s, "/api/orders/SHIP-1-A/ship", nil); a.status != http.StatusNoContent {
		t.Fatalf("OR24: HTTP %d", a.status)
	}
	o = mustOrder(t, s, "SHIP-1-A")
	if o.OrderState != api.StateShipped || !slices.Equal(lineStates(o), []string{api.StateShipped, api.StateShipped}) {
		t.Errorf("shipped: %s, lines %v", o.OrderState, lineStates(o))
	}
	if sd := o.OrderLines[0].ShippedDate; sd == nil || !sd.Equal(clk.Now()) {
		t.Errorf("shipped_date = %v", sd)
	}
	if got := tracking(api.TrackingInput{CarrierName: "Parcel Express", TrackingNumber: "PX-2"}); got != http.StatusBadRequest {
		t.Errorf("OR23 once shipped: HTTP %d, want 400 (UNVERIFIED, conservative)", got)
	}
	if a := put(t, s, "/api/orders/SHIP-1-A/ship", nil); a.status != http.StatusBadRequest {
		t.Errorf("OR24 again: HTTP %d, want 400", a.status)
	}
}

func TestCancelOrder(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	o := twoLines("CAN-1-A", api.StateShipping)
	o.OrderLines[1].OrderLineState = api.StateRefused
	seedOrder(t, s, o)
	if a := put(t, s, "/api/orders/CAN-1-A/cancel", nil); a.status != http.StatusNoContent {
		t.Fatalf("OR29: HTTP %d %s", a.status, a.raw)
	}
	got := mustOrder(t, s, "CAN-1-A")
	if got.OrderState != api.StateCanceled || !slices.Equal(lineStates(got), []string{api.StateCanceled, api.StateRefused}) || got.CanCancel {
		t.Errorf("cancelled: %s, lines %v, can_cancel %t", got.OrderState, lineStates(got), got.CanCancel)
	}
	c := got.OrderLines[0].Cancelations
	if len(c) != 1 || c[0].Quantity != 2 || c[0].Amount != "40" || c[0].ShippingAmount != "5" || c[0].ID == "" {
		t.Errorf("cancelations = %+v, want all of the line", c)
	}
	if n := len(got.OrderLines[1].Cancelations); n != 0 {
		t.Errorf("the refused line got %d cancelations", n)
	}
}

func TestCancelOrderLines(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	o := seedOrder(t, s, twoLines("CAN-2-A", api.StateShipping))
	mug, plate := o.OrderLines[0].OrderLineID, o.OrderLines[1].OrderLineID
	cancel := func(cs ...api.CancelationInput) answer {
		t.Helper()
		return put(t, s, "/api/orders/cancel", api.CancelationsInput{Cancelations: cs, OrderTaxMode: "TAX_INCLUDED"})
	}
	one := api.CancelationInput{OrderLineID: mug, Quantity: 1, Amount: "20.00", ShippingAmount: "2.5", ReasonCode: "34", CurrencyISOCode: "EUR"}

	a := cancel(one)
	if a.status != http.StatusOK {
		t.Fatalf("OR30: HTTP %d %s", a.status, a.raw)
	}
	var created api.CancelationsCreated
	a.decode(t, &created)
	if len(created.Cancelations) != 1 || created.Cancelations[0].CancelationID == "" || created.Cancelations[0].Quantity != 1 || created.OrderTaxMode != "TAX_INCLUDED" {
		t.Errorf("OR30 answer: %s", a.raw)
	}
	got := mustOrder(t, s, "CAN-2-A")
	if got.OrderState != api.StateShipping || !slices.Equal(lineStates(got), []string{api.StateShipping, api.StateShipping}) || len(got.OrderLines[0].Cancelations) != 1 {
		t.Errorf("one mug of two cancelled: %s, lines %v", got.OrderState, lineStates(got))
	}

	// Refused whole: what is left of the mug is one, at 20.00 and 2.50.
	bad := []struct {
		name string
		cs   []api.CancelationInput
	}{
		{"more units than left", []api.CancelationInput{{OrderLineID: mug, Quantity: 2, Amount: "0", ShippingAmount: "0", ReasonCode: "34"}}},
		{"more than left, over two", []api.CancelationInput{one, one}},
		{"more money than left", []api.CancelationInput{{OrderLineID: mug, Quantity: 1, Amount: "20.01", ShippingAmount: "0", ReasonCode: "34"}}},
		{"a negative amount", []api.CancelationInput{{OrderLineID: mug, Quantity: 0, Amount: "-1", ShippingAmount: "0", ReasonCode: "34"}}},
		{"no reason", []api.CancelationInput{{OrderLineID: plate, Quantity: 1, Amount: "12.50", ShippingAmount: "0", ReasonCode: ""}}},
		{"another currency", []api.CancelationInput{{OrderLineID: plate, Quantity: 1, Amount: "12.50", ShippingAmount: "0", ReasonCode: "34", CurrencyISOCode: "USD"}}},
		{"an unknown line", []api.CancelationInput{{OrderLineID: "nope", Quantity: 1, Amount: "1", ShippingAmount: "0", ReasonCode: "34"}}},
		{"a good one and a bad one", []api.CancelationInput{{OrderLineID: plate, Quantity: 1, Amount: "12.50", ShippingAmount: "0", ReasonCode: "34"}, {OrderLineID: "nope", Quantity: 1, Amount: "1", ShippingAmount: "0", ReasonCode: "34"}}},
		{"none", nil},
	}
	for _, tc := range bad {
		if a := cancel(tc.cs...); a.status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", tc.name, a.status)
		}
	}
	for name, body := range map[string]string{
		"no quantity":      fmt.Sprintf(`{"cancelations": [{"order_line_id": %q, "amount": 1, "shipping_amount": 0, "reason_code": "34"}]}`, plate),
		"a null element":   `{"cancelations": [null]}`,
		"a bad tax mode":   fmt.Sprintf(`{"order_tax_mode": "TAX_FREE", "cancelations": [{"order_line_id": %q, "quantity": 1, "amount": 1, "shipping_amount": 0, "reason_code": "34"}]}`, plate),
		"a word amount":    fmt.Sprintf(`{"cancelations": [{"order_line_id": %q, "quantity": 1, "amount": "one", "shipping_amount": 0, "reason_code": "34"}]}`, plate),
		"an unknown field": fmt.Sprintf(`{"cancelations": [{"order_line_id": %q, "quantity": 1, "amount": 1, "shipping_amount": 0, "reason_code": "34", "refund": true}]}`, plate),
	} {
		if a := put(t, s, "/api/orders/cancel", body); a.status != http.StatusBadRequest {
			t.Errorf("%s: HTTP %d, want 400", name, a.status)
		}
	}
	if diff := cmp.Diff(got, mustOrder(t, s, "CAN-2-A")); diff != "" {
		t.Errorf("refused cancelations changed the order (-before +after):\n%s", diff)
	}
	// Another shop's line does not exist for this one.
	if _, err := s.PutOrder(otherID, twoLines("THEIRS-A", api.StateShipping)); err != nil {
		t.Fatal(err)
	}
	if a := cancel(api.CancelationInput{OrderLineID: "THEIRS-A-1", Quantity: 1, Amount: "0", ShippingAmount: "0", ReasonCode: "34"}); a.status != http.StatusBadRequest {
		t.Errorf("another shop's line: HTTP %d, want 400", a.status)
	}

	// The rest of the mug, then the plate: the order is cancelled.
	if a := cancel(one); a.status != http.StatusOK {
		t.Fatalf("the last mug: HTTP %d %s", a.status, a.raw)
	}
	if got := mustOrder(t, s, "CAN-2-A"); got.OrderState != api.StateShipping || got.OrderLines[0].OrderLineState != api.StateCanceled {
		t.Errorf("mug line cancelled: %s, lines %v", got.OrderState, lineStates(got))
	}
	if a := cancel(api.CancelationInput{OrderLineID: plate, Quantity: 1, Amount: "12.50", ShippingAmount: "0", ReasonCode: "34"}); a.status != http.StatusOK {
		t.Fatalf("the plate: HTTP %d %s", a.status, a.raw)
	}
	if got := mustOrder(t, s, "CAN-2-A"); got.OrderState != api.StateCanceled || got.CanCancel {
		t.Errorf("every line cancelled: %s, can_cancel %t", got.OrderState, got.CanCancel)
	}
}

func TestMoveOrder(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{})
	o := twoLines("MOVE-1-A", api.StateWaitingAcceptance)
	seedOrder(t, s, o)
	put(t, s, "/api/orders/MOVE-1-A/accept", acceptAll(mustOrder(t, s, "MOVE-1-A"), true, false))
	clk.Advance(time.Hour)
	for _, to := range []string{api.StateWaitingDebitPayment, api.StateShipping} {
		got, err := s.MoveOrder("", "MOVE-1-A", to)
		if err != nil {
			t.Fatal(err)
		}
		if got.OrderState != to || !slices.Equal(lineStates(got), []string{to, api.StateRefused}) || !got.LastUpdatedDate.Equal(clk.Now()) {
			t.Errorf("moved to %s: %s, lines %v, updated %s", to, got.OrderState, lineStates(got), got.LastUpdatedDate)
		}
	}
	if got := mustOrder(t, s, "MOVE-1-A"); !got.CanCancel {
		t.Error("an order being shipped cannot be cancelled")
	}
	// The shop ships; the operator and time do the rest.
	put(t, s, "/api/orders/MOVE-1-A/ship", nil)
	for _, to := range []string{api.StateToCollect, api.StateReceived, api.StateClosed} {
		if _, err := s.MoveOrder("", "MOVE-1-A", to); err != nil {
			t.Errorf("to %s: %v", to, err)
		}
	}
	for _, tc := range []struct{ from, to string }{
		{api.StateWaitingAcceptance, api.StateShipping}, // the shop accepts with OR21
		{api.StateShipping, api.StateShipped},           // the shop ships with OR24
		{api.StateShipped, api.StateClosed},             // received first
		{api.StateClosed, api.StateReceived},
		{api.StateCanceled, api.StateShipping},
		{api.StateWaitingDebit, "PAID"},
	} {
		seedOrder(t, s, twoLines("MOVE-2-A", tc.from))
		if _, err := s.MoveOrder("", "MOVE-2-A", tc.to); err == nil {
			t.Errorf("moved %s to %s", tc.from, tc.to)
		}
	}
	if _, err := s.MoveOrder("", "NOPE-A", api.StateClosed); err == nil {
		t.Error("moved an unknown order")
	}
}

func TestGetOrderOR12(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("GET-1-A", api.StateWaitingAcceptance))
	a := get(t, s, "/api/orders/GET-1-A", nil)
	if a.status != http.StatusOK {
		t.Fatalf("OR12: HTTP %d %s", a.status, a.raw)
	}
	var body map[string]any
	a.decode(t, &body)
	for _, field := range []string{"acceptance_decision_date", "order_state_reason_code", "order_state_reason_label"} {
		if v, ok := body[field]; !ok || v != nil {
			t.Errorf("%s = %v, %t; want present and null", field, v, ok)
		}
	}
	var o api.OrderDetail
	a.decode(t, &o)
	if o.OrderID != "GET-1-A" || len(o.OrderLines) != 2 || o.OrderLines[0].ShippingPriceUnit != "5.00" || o.OrderLines[0].ShippingPriceAdditionalUnit != "0" {
		t.Errorf("OR12 order: %s", a.raw)
	}
}
