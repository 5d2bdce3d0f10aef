package miraklfake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// Carrier is a carrier registered on the instance: OR23 takes it by code
// and builds its tracking URL from URL, where {trackingId} stands for the
// tracking number. A URL without it needs no tracking number.
type Carrier struct {
	Code string
	Name string
	URL  string
}

// DefaultCarriers are the carriers of an instance whose Options name none.
var DefaultCarriers = []Carrier{
	{Code: "UPS", Name: "UPS", URL: "https://www.ups.com/track?tracknum={trackingId}"},
	{Code: "DHL", Name: "DHL", URL: "https://www.dhl.com/track?tracking-id={trackingId}"},
	{Code: "COLISSIMO", Name: "Colissimo", URL: "https://www.laposte.fr/outils/suivre-vos-envois?code={trackingId}"},
}

// Error messages of the order actions: the descriptions of the error codes
// OR21 documents, which the other actions share.
const (
	msgOrderNotFound   = "The requested order does not exist"
	msgInvalidState    = "Order is not in the expected state for this operation"
	msgLineNotFound    = "The requested order line does not exist or is not associated with the order"
	msgDecisionMissing = "Some order lines are missing from the acceptance decision"
	msgDuplicateLine   = "The order lines list contains duplicate order line IDs"
	msgNullLine        = "The order lines list contains a null element"
	msgPartialDisabled = "Partial acceptance is disabled for this shop"
	msgValidation      = "Input validation failed"
)

// moves are what the operator, the customer and time do to an order,
// which the shop's API cannot: the transitions MoveOrder makes.
var moves = map[string][]string{
	// The fraud check passes, or fails.
	api.StateStaging: {api.StateWaitingAcceptance, api.StateCanceled},
	// The acceptance deadline passes, or the customer cancels.
	api.StateWaitingAcceptance: {api.StateRefused, api.StateCanceled},
	// The debit starts, succeeds, or fails.
	api.StateWaitingDebit:        {api.StateWaitingDebitPayment, api.StateShipping, api.StateCanceled},
	api.StateWaitingDebitPayment: {api.StateShipping, api.StateCanceled},
	// The parcel waits at a pickup point, is received, the order closes.
	api.StateShipped:   {api.StateToCollect, api.StateReceived},
	api.StateToCollect: {api.StateReceived},
	api.StateReceived:  {api.StateClosed},
}

// Order returns a copy of one of a shop's orders ("" for the first shop).
func (s *Server) Order(shopID, orderID string) (api.Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return api.Order{}, false
	}
	o, ok := s.orders[shop][orderID]
	if !ok {
		return api.Order{}, false
	}
	return cloneOrder(*o), true
}

// MoveOrder moves one of a shop's orders ("" for the first shop) to the
// state to, as the operator, the customer or time would: the customer's
// debit (WAITING_DEBIT to WAITING_DEBIT_PAYMENT or SHIPPING), the receipt
// (SHIPPED or TO_COLLECT to RECEIVED), the closing (RECEIVED to CLOSED),
// the acceptance deadline (WAITING_ACCEPTANCE to REFUSED) and so on (see
// moves). Its live lines follow. Other moves are refused.
func (s *Server) MoveOrder(shopID, orderID, to string) (api.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return api.Order{}, err
	}
	o, ok := s.orders[shop][orderID]
	if !ok {
		return api.Order{}, fmt.Errorf("miraklfake: no order %s", orderID)
	}
	if !slices.Contains(moves[o.OrderState], to) {
		return api.Order{}, fmt.Errorf("miraklfake: order %s cannot move from %s to %s", orderID, o.OrderState, to)
	}
	now := api.NewTime(s.opts.Now())
	o.OrderState = to
	for i := range o.OrderLines {
		if l := &o.OrderLines[i]; live(l.OrderLineState) {
			l.OrderLineState = to
			l.LastUpdatedDate = now
		}
	}
	touch(o, now)
	return cloneOrder(*o), nil
}

// live tells whether a line is still part of the order: neither refused
// nor cancelled.
func live(state string) bool { return state != api.StateRefused && state != api.StateCanceled }

// touch stamps an order's update and what Mirakl derives from its state.
func touch(o *api.Order, now api.Time) {
	o.LastUpdatedDate = now
	o.CanCancel = canCancel(o.OrderState)
}

// canCancel is where OR29 and OR30 are allowed: an order accepted, paid
// and not shipped yet (see the package doc: UNVERIFIED for the states
// before the debit).
func canCancel(state string) bool { return state == api.StateShipping }

// orderFromPath finds the shop's order named by the path, or answers 404.
func (s *Server) orderFromPath(w http.ResponseWriter, r *http.Request) *api.Order {
	o, ok := s.orders[shopOf(r)][r.PathValue("order_id")]
	if !ok {
		writeError(w, http.StatusNotFound, msgOrderNotFound)
		return nil
	}
	return o
}

// refuseState answers 400 when the order is not in one of the states the
// action needs.
func refuseState(w http.ResponseWriter, o *api.Order, want ...string) bool {
	if slices.Contains(want, o.OrderState) {
		return false
	}
	writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: order %s is %s", msgInvalidState, o.OrderID, o.OrderState))
	return true
}

// readJSON decodes a JSON body strictly into v, answering 415, 413 or 400
// when it cannot.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content type must be application/json")
		return false
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "Request too large")
		} else {
			writeError(w, http.StatusBadRequest, msgValidation+": malformed JSON body")
		}
		return false
	}
	return true
}

// decodeItem decodes one item of a list strictly, checking first that it
// is not null and has the required fields, which Go would otherwise read
// as zero values. It returns the refusal, or "".
func decodeItem(raw json.RawMessage, v any, required ...string) string {
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return msgNullLine
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return msgValidation + ": malformed item"
	}
	for _, f := range required {
		if v, ok := fields[f]; !ok || bytes.Equal(v, []byte("null")) {
			return fmt.Sprintf("%s: %s is required", msgValidation, f)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if dec.Decode(v) != nil {
		return msgValidation + ": malformed item"
	}
	return ""
}

// OR12: one order (deprecated by Mirakl for OR11 with order_ids).
func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil {
		return
	}
	c := cloneOrder(*o)
	d := api.OrderDetail{Order: c, AcceptanceDecision: c.AcceptanceDecision, OrderLines: []api.OrderLineDetail{}}
	for _, l := range c.OrderLines {
		// The first unit carries the line's whole shipping price.
		d.OrderLines = append(d.OrderLines, api.OrderLineDetail{
			OrderLine: l, ShippedDate: l.ShippedDate,
			ShippingPriceUnit: l.ShippingPrice, ShippingPriceAdditionalUnit: "0",
		})
	}
	writeJSON(w, http.StatusOK, d)
}

// OR21: accept or refuse every line of an order waiting for acceptance.
func (s *Server) acceptOrder(w http.ResponseWriter, r *http.Request) {
	var in struct {
		OrderLines []json.RawMessage `json:"order_lines"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.OrderLines == nil {
		writeError(w, http.StatusBadRequest, msgValidation+": order_lines is required")
		return
	}
	decisions := map[string]bool{}
	for _, raw := range in.OrderLines {
		var d api.LineDecision
		if reason := decodeItem(raw, &d, "accepted", "id"); reason != "" {
			writeError(w, http.StatusBadRequest, reason)
			return
		}
		if _, dup := decisions[d.ID]; dup {
			writeError(w, http.StatusBadRequest, msgDuplicateLine)
			return
		}
		decisions[d.ID] = d.Accepted
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil || refuseState(w, o, api.StateWaitingAcceptance) {
		return
	}
	accepted := 0
	for id, ok := range decisions {
		if !slices.ContainsFunc(o.OrderLines, func(l api.OrderLine) bool { return l.OrderLineID == id }) {
			writeError(w, http.StatusBadRequest, msgLineNotFound)
			return
		}
		if ok {
			accepted++
		}
	}
	switch {
	case len(decisions) < len(o.OrderLines):
		writeError(w, http.StatusBadRequest, msgDecisionMissing)
		return
	case s.opts.NoPartialAcceptance && accepted > 0 && accepted < len(decisions):
		writeError(w, http.StatusBadRequest, msgPartialDisabled)
		return
	}
	now := api.NewTime(s.opts.Now())
	o.OrderState = api.StateRefused
	if accepted > 0 {
		o.OrderState = api.StateWaitingDebit
	}
	for i := range o.OrderLines {
		l := &o.OrderLines[i]
		l.OrderLineState = api.StateRefused
		if decisions[l.OrderLineID] {
			l.OrderLineState = api.StateWaitingDebit
		}
		l.LastUpdatedDate = now
	}
	o.AcceptanceDecision = now.Ptr()
	touch(o, now)
	w.WriteHeader(http.StatusNoContent)
}

// OR23: the carrier and tracking of an order being shipped.
func (s *Server) updateTracking(w http.ResponseWriter, r *http.Request) {
	var in api.TrackingInput
	if !readJSON(w, r, &in) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil || refuseState(w, o, api.StateShipping) {
		return
	}
	code, company, link := "", in.CarrierName, in.CarrierURL
	switch {
	case in.CarrierCode != "":
		i := slices.IndexFunc(s.carriers, func(c Carrier) bool { return c.Code == in.CarrierCode })
		if i < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: unknown carrier_code %s", msgValidation, in.CarrierCode))
			return
		}
		c := s.carriers[i]
		if strings.Contains(c.URL, "{trackingId}") && in.TrackingNumber == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: carrier %s needs a tracking_number", msgValidation, c.Code))
			return
		}
		// A registered carrier's URL is Mirakl's own: carrier_url is unused.
		code, company = c.Code, c.Name
		link = strings.ReplaceAll(c.URL, "{trackingId}", url.QueryEscape(in.TrackingNumber))
	case in.CarrierName == "":
		writeError(w, http.StatusBadRequest, msgValidation+": carrier_code or carrier_name is required")
		return
	}
	o.ShippingCarrierCode, o.ShippingCompany, o.ShippingTrackingURL = code, company, link
	o.ShippingTracking = in.TrackingNumber
	touch(o, api.NewTime(s.opts.Now()))
	w.WriteHeader(http.StatusNoContent)
}

// OR24: the shop confirms the shipment.
func (s *Server) shipOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil || refuseState(w, o, api.StateShipping) {
		return
	}
	now := api.NewTime(s.opts.Now())
	o.OrderState = api.StateShipped
	for i := range o.OrderLines {
		if l := &o.OrderLines[i]; l.OrderLineState == api.StateShipping {
			l.OrderLineState = api.StateShipped
			l.ShippedDate = now.Ptr()
			l.LastUpdatedDate = now
		}
	}
	touch(o, now)
	w.WriteHeader(http.StatusNoContent)
}

// OR29: the shop cancels a whole order. What is left of each line is
// recorded as cancelled, as OR30 would.
func (s *Server) cancelOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil || refuseState(w, o, api.StateShipping) {
		return
	}
	now := api.NewTime(s.opts.Now())
	for i := range o.OrderLines {
		l := &o.OrderLines[i]
		if !live(l.OrderLineState) {
			continue
		}
		left, err := api.LineLeft(*l)
		if err != nil {
			writeError(w, http.StatusInternalServerError, "Corrupt order line amounts")
			return
		}
		l.Cancelations = append(l.Cancelations, cancelation(left, now))
		l.OrderLineState = api.StateCanceled
		l.LastUpdatedDate = now
	}
	o.OrderState = api.StateCanceled
	touch(o, now)
	w.WriteHeader(http.StatusNoContent)
}

// cancelation records all that is left of a line as cancelled.
func cancelation(left api.Left, now api.Time) api.Cancelation {
	return api.Cancelation{
		ID: newID(), Quantity: left.Quantity, Amount: api.FormatAmount(left.Amount), ShippingAmount: api.FormatAmount(left.Shipping),
		CreatedDate: now, CommissionAmount: "0", CommissionTaxes: []api.Empty{}, CommissionTotalAmount: "0",
	}
}

// OR30: the shop cancels quantities and amounts of order lines, of any of
// its orders. The request is taken whole or refused whole.
func (s *Server) cancelLines(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Cancelations []json.RawMessage `json:"cancelations"`
		OrderTaxMode string            `json:"order_tax_mode"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if len(in.Cancelations) == 0 {
		writeError(w, http.StatusBadRequest, msgValidation+": cancelations is required")
		return
	}
	if !slices.Contains([]string{"", "TAX_INCLUDED", "TAX_EXCLUDED"}, in.OrderTaxMode) {
		writeError(w, http.StatusBadRequest, msgValidation+": invalid order_tax_mode")
		return
	}
	cs := make([]api.CancelationInput, len(in.Cancelations))
	for i, raw := range in.Cancelations {
		if reason := decodeItem(raw, &cs[i], "amount", "order_line_id", "quantity", "reason_code", "shipping_amount"); reason != "" {
			writeError(w, http.StatusBadRequest, reason)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	targets := map[string]*lineTarget{}
	for _, c := range cs {
		t := targets[c.OrderLineID]
		if t == nil {
			t = s.lineLocked(shopOf(r), c.OrderLineID)
			if t == nil {
				writeError(w, http.StatusBadRequest, msgLineNotFound)
				return
			}
			targets[c.OrderLineID] = t
		}
		if t.order.OrderState != api.StateShipping || t.line.OrderLineState != api.StateShipping {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: order line %s is %s", msgInvalidState, c.OrderLineID, t.line.OrderLineState))
			return
		}
		amount, err1 := api.ParseAmount(c.Amount)
		shipping, err2 := api.ParseAmount(c.ShippingAmount)
		switch {
		case err1 != nil || err2 != nil || amount.Sign() < 0 || shipping.Sign() < 0 || c.Quantity < 0 || c.ReasonCode == "":
			writeError(w, http.StatusBadRequest, msgValidation+": invalid cancelation")
			return
		case c.CurrencyISOCode != "" && c.CurrencyISOCode != t.order.CurrencyISOCode:
			writeError(w, http.StatusBadRequest, msgValidation+": currency_iso_code is not the order's")
			return
		}
		t.left.Quantity -= c.Quantity
		t.left.Amount.Sub(t.left.Amount, amount)
		t.left.Shipping.Sub(t.left.Shipping, shipping)
		if t.left.Quantity < 0 || t.left.Amount.Sign() < 0 || t.left.Shipping.Sign() < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: the cancelation exceeds what is left of order line %s", msgValidation, c.OrderLineID))
			return
		}
	}

	now := api.NewTime(s.opts.Now())
	out := api.CancelationsCreated{Cancelations: []api.CancelationCreated{}}
	for _, c := range cs {
		t := targets[c.OrderLineID]
		rec := api.Cancelation{
			ID: newID(), Quantity: c.Quantity, Amount: c.Amount, ShippingAmount: c.ShippingAmount, ReasonCode: c.ReasonCode,
			CreatedDate: now, CommissionAmount: "0", CommissionTaxes: []api.Empty{}, CommissionTotalAmount: "0",
			Taxes: slices.Clone(c.Taxes), ShippingTaxes: slices.Clone(c.ShippingTaxes),
		}
		t.line.Cancelations = append(t.line.Cancelations, rec)
		t.line.LastUpdatedDate = now
		if t.left.Quantity == 0 {
			t.line.OrderLineState = api.StateCanceled
		}
		if !slices.ContainsFunc(t.order.OrderLines, func(l api.OrderLine) bool { return live(l.OrderLineState) }) {
			t.order.OrderState = api.StateCanceled
		}
		touch(t.order, now)
		out.OrderTaxMode = cmp.Or(in.OrderTaxMode, t.order.OrderTaxMode)
		out.Cancelations = append(out.Cancelations, api.CancelationCreated{
			CancelationID: rec.ID, OrderLineID: c.OrderLineID, Quantity: c.Quantity, Amount: c.Amount,
			ShippingAmount: c.ShippingAmount, ReasonCode: c.ReasonCode, CurrencyISOCode: t.order.CurrencyISOCode,
			Taxes: slices.Clone(c.Taxes), ShippingTaxes: slices.Clone(c.ShippingTaxes),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// lineTarget is an order line a cancellation applies to, with its order
// and what is left of it.
type lineTarget struct {
	order *api.Order
	line  *api.OrderLine
	left  api.Left
}

// lineLocked finds one of the shop's order lines by id.
func (s *Server) lineLocked(shop, lineID string) *lineTarget {
	for _, o := range s.orders[shop] {
		for i := range o.OrderLines {
			if l := &o.OrderLines[i]; l.OrderLineID == lineID {
				left, err := api.LineLeft(*l)
				if err != nil {
					return nil
				}
				return &lineTarget{order: o, line: l, left: left}
			}
		}
	}
	return nil
}
