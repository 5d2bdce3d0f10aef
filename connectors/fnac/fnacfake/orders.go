package fnacfake

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

// Error codes of orders_update. ERR_109 is real (incidents_update's
// "Order current status is not valid for refund action"); the fake
// answers it for every action an order's state forbids. The others are
// invented.
const (
	CodeOrderState   = "ERR_109"
	CodeUnknownOrder = "ERR_113"
	CodeUnknownLine  = "ERR_114"
	CodeLineInvalid  = "ERR_115"
)

// order is a stored order: the answer's order, its update time (which
// answers do not carry) and the carriers given, by line (which answers do
// not carry either).
type order struct {
	api.Order
	updated  time.Time
	carriers map[string]string
}

// stage ranks line states along Fnac's flow; the order is "in the
// earliest stage found in order lines". Refused, Cancelled and Refunded
// lines are done with and rank after every other.
var stage = map[string]int{
	api.LineToAccept: 0, api.OrderAccepted: 1, api.OrderToShip: 2, api.OrderShipped: 3,
	api.OrderNotReceived: 4, api.OrderReceived: 5,
}

// orderState is the order's state from its lines': the earliest stage of
// the lines still going; when none is, Refused if every line was refused,
// else Refunded if a line was refunded, else Cancelled.
func orderState(o api.Order) string {
	best, state := 99, ""
	var refused, refunded int
	for _, d := range o.Details {
		if s, ok := stage[d.State]; ok && s < best {
			best, state = s, d.State
		}
		switch d.State {
		case api.OrderRefused:
			refused++
		case api.OrderRefunded:
			refunded++
		}
	}
	switch {
	case len(o.Details) == 0:
		return o.State
	case state == api.LineToAccept:
		return api.OrderCreated
	case state != "":
		return state
	case refused == len(o.Details):
		return api.OrderRefused
	case refunded > 0:
		return api.OrderRefunded
	}
	return api.OrderCancelled
}

// PutOrder adds or replaces an order of a shop, last updated at updated.
// Its state is the one given, or when "" the one its lines' make.
func (s *Server) PutOrder(shopID string, o api.Order, updated time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shops[shopID]
	if sh == nil {
		return fmt.Errorf("no shop %s", shopID)
	}
	if len(o.OrderID) != api.OrderIDLen {
		return fmt.Errorf("order id %q: Fnac's are %d characters", o.OrderID, api.OrderIDLen)
	}
	o.ShopID = shopID
	o.Details = slices.Clone(o.Details)
	if o.State == "" {
		o.State = orderState(o)
	}
	stored := &order{Order: o, updated: updated, carriers: map[string]string{}}
	if i := slices.IndexFunc(sh.orders, func(x *order) bool { return x.OrderID == o.OrderID }); i >= 0 {
		sh.orders[i] = stored
	} else {
		sh.orders = append(sh.orders, stored)
	}
	return nil
}

// Order returns an order as orders_query would list it, and the carrier
// given for each shipped line.
func (s *Server) Order(shopID, id string) (api.Order, map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.shops[shopID].orders {
		if o.OrderID == id {
			out := o.Order
			out.Details = slices.Clone(o.Details)
			carriers := map[string]string{}
			for k, v := range o.carriers {
				carriers[k] = v
			}
			return out, carriers, true
		}
	}
	return api.Order{}, nil, false
}

// MoveOrder moves an order's lines in state from to state to, as Fnac,
// its customer or time would (billing: Accepted to ToShip; receipt:
// Shipped to Received), and dates the move.
func (s *Server) MoveOrder(shopID, id, from, to string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.shops[shopID].orders, func(x *order) bool { return x.OrderID == id })
	if i < 0 {
		return fmt.Errorf("no order %s", id)
	}
	o := s.shops[shopID].orders[i]
	now := s.opts.Now()
	moved := 0
	for j := range o.Details {
		d := &o.Details[j]
		if d.State != from {
			continue
		}
		d.State = to
		switch to {
		case api.OrderToShip:
			d.DebitedAt = api.FormatTime(now)
		case api.OrderReceived:
			d.ReceivedAt = api.FormatTime(now)
		}
		moved++
	}
	if moved == 0 {
		return fmt.Errorf("order %s has no line %s", id, from)
	}
	o.State, o.updated = orderState(o.Order), now
	return nil
}

var (
	orderStates = []string{
		api.OrderCreated, api.OrderAccepted, api.OrderRefused, api.OrderToShip, api.OrderShipped,
		api.OrderNotReceived, api.OrderReceived, api.OrderCancelled, api.OrderRefunded, api.OrderError,
	}
	sortTypes = []string{api.SortAsc, api.SortDesc}
)

func (s *Server) serveOrdersQuery(w http.ResponseWriter, sh *shopState, q api.OrdersQuery) {
	const service = api.ServiceOrdersQuery
	var min, max time.Time
	if d := q.Date; d != nil {
		if !slices.Contains(dateTypes, d.Type) {
			s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration'] date type")
			return
		}
		if d.Type != api.DateCreatedAt && d.Type != api.DateUpdatedAt {
			s.fail(w, service, api.StatusFatal, CodeValidation, "date type "+d.Type+" is not supported by the fake")
			return
		}
		var err1, err2 error
		if d.Min != "" {
			min, err1 = api.ParseTime(d.Min)
		}
		if d.Max != "" {
			max, err2 = api.ParseTime(d.Max)
		}
		if err1 != nil || err2 != nil {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: date is not an xs:dateTime")
			return
		}
	}
	if !enumOK(q.State, orderStates) || !enumOK(q.SortBy, sortTypes) {
		s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration']")
		return
	}
	var ids []string
	if q.OrderID != "" {
		ids = append(ids, q.OrderID)
	}
	if q.OrderIDs != nil {
		if len(q.OrderIDs.IDs) > api.MaxOrdersFnacIDs {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: Element orders_fnac_id: too many order_fnac_id")
			return
		}
		ids = append(ids, q.OrderIDs.IDs...)
	}
	for _, id := range ids {
		if len(id) != api.OrderIDLen {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: Element order_fnac_id: [facet 'length'] The value has a length other than 13")
			return
		}
	}
	count := cmp.Or(q.ResultsCount, api.DefaultResultsCount)
	if count > maxResultsCount {
		s.fail(w, service, api.StatusError, CodeLimit, "The limit of requested elements is reached by the service.")
		return
	}
	page := max1(q.Paging)
	byCreation := q.Date != nil && q.Date.Type == api.DateCreatedAt

	s.mu.Lock()
	var hits []*order
	for _, o := range sh.orders {
		date := o.updated
		if byCreation {
			date, _ = api.ParseTime(o.CreatedAt)
		}
		switch {
		case !min.IsZero() && date.Before(min), !max.IsZero() && date.After(max),
			q.State != "" && o.State != q.State,
			len(ids) > 0 && !slices.Contains(ids, o.OrderID):
			continue
		}
		hits = append(hits, o)
	}
	slices.SortStableFunc(hits, func(a, b *order) int {
		ta, tb := a.updated, b.updated
		if byCreation {
			ta, _ = api.ParseTime(a.CreatedAt)
			tb, _ = api.ParseTime(b.CreatedAt)
		}
		c := cmp.Or(ta.Compare(tb), strings.Compare(a.OrderID, b.OrderID))
		if q.SortBy != api.SortAsc {
			return -c
		}
		return c
	})
	resp := api.OrdersQueryResponse{
		Status: api.StatusOK, Page: page, TotalPaging: max1((len(hits) + count - 1) / count),
		NbTotalPerPage: count, NbTotalResult: len(hits),
	}
	for _, o := range hits[min2((page-1)*count, len(hits)):min2(page*count, len(hits))] {
		listed := o.Order
		listed.Details = slices.Clone(o.Details)
		resp.Orders = append(resp.Orders, listed)
	}
	s.mu.Unlock()
	s.writeXML(w, resp)
}

func (s *Server) serveOrdersUpdate(w http.ResponseWriter, sh *shopState, u api.OrdersUpdate) {
	const service = api.ServiceOrdersUpdate
	if len(u.Orders) == 0 {
		s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: Element orders_update: Missing child element(s)")
		return
	}
	if len(u.Orders) > api.MaxOrdersPerUpdate {
		s.fail(w, service, api.StatusError, CodeLimit, "The limit of requested elements is reached by the service.")
		return
	}
	for _, o := range u.Orders {
		if !slices.Contains(api.OrderUpdateActions, o.Action) {
			s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration'] order action")
			return
		}
		if len(o.OrderID) != api.OrderIDLen || len(o.Details) == 0 {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: Element order: order_id of 13 characters and order_detail required")
			return
		}
		for _, d := range o.Details {
			if !slices.Contains(api.LineActions, d.Action) || !enumOK(d.RefundReason, api.RefundReasons) {
				s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration'] order_detail")
				return
			}
			if utf8.RuneCountInString(d.TrackingNumber) > api.MaxTrackingNumber || utf8.RuneCountInString(d.TrackingCompany) > api.MaxTrackingCompany {
				s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: [facet 'maxLength'] tracking")
				return
			}
		}
	}
	s.mu.Lock()
	resp := api.OrdersUpdateResponse{Status: api.StatusOK}
	now := s.opts.Now()
	for _, in := range u.Orders {
		st := s.applyOrder(sh, in, now)
		if st.Status != api.StatusOK {
			resp.Status = api.StatusError
		}
		resp.Orders = append(resp.Orders, st)
	}
	s.mu.Unlock()
	s.writeXML(w, resp)
}

// lineRule is what a line action needs of a line under an order action,
// and the state it leaves the line in ("" keeps it).
type lineRule struct {
	from []string
	to   string
}

// rules are the order actions the fake performs, by line action. An order
// action not here, or a line action not under it, is refused.
var rules = map[string]map[string]lineRule{
	api.ActionAcceptOrder: {
		api.LineAccepted: {from: []string{api.LineToAccept}, to: api.OrderAccepted},
		api.LineRefused:  {from: []string{api.LineToAccept}, to: api.OrderRefused},
	},
	api.ActionConfirmToSend: {
		api.LineShipped: {from: []string{api.OrderToShip}, to: api.OrderShipped},
	},
	// The recorded sample ships with update; update also changes the
	// tracking of a shipped line.
	api.ActionUpdate: {
		api.LineShipped: {from: []string{api.OrderToShip, api.OrderShipped}, to: api.OrderShipped},
		api.LineUpdated: {from: []string{api.OrderShipped}},
	},
	api.ActionRefundOrder: {
		api.LineRefunded: {from: []string{api.OrderToShip}, to: api.OrderRefunded},
	},
}

// applyOrder performs one order's update, under s.mu: all of it, or
// nothing when a line refuses.
func (s *Server) applyOrder(sh *shopState, in api.OrderUpdate, now time.Time) api.OrderStatus {
	fail := func(st api.OrderStatus, status, code, text string) api.OrderStatus {
		st.Status = status
		st.Errors = append(st.Errors, api.Error{Severity: api.StatusError, Code: code, Text: text})
		return st
	}
	st := api.OrderStatus{Status: api.StatusOK, OrderID: in.OrderID}
	i := slices.IndexFunc(sh.orders, func(o *order) bool { return o.OrderID == in.OrderID })
	if i < 0 {
		return fail(st, api.StatusError, CodeUnknownOrder, "Order not found")
	}
	o := sh.orders[i]
	st.State = o.State
	byAction := rules[in.Action]
	if byAction == nil {
		return fail(st, api.StatusFatal, CodeOrderState, "Action "+in.Action+" is not supported by the fake")
	}
	// Check every line first: a refusal changes nothing.
	type change struct {
		at   int
		in   api.OrderDetailUpdate
		rule lineRule
	}
	var changes []change
	stateRefused, lineFailed := false, false
	seen := map[string]bool{}
	for _, d := range in.Details {
		ds := api.OrderDetailStatus{ID: d.ID, Status: api.StatusOK}
		j := slices.IndexFunc(o.Details, func(x api.OrderDetail) bool { return x.ID == d.ID })
		rule, ok := byAction[d.Action]
		switch {
		case d.ID == "" || j < 0 || seen[d.ID]:
			ds.Status, lineFailed = api.StatusError, true
			ds.Errors = []api.Error{{Severity: api.StatusError, Code: CodeUnknownLine, Text: "Order detail not found"}}
		case !ok:
			ds.Status, stateRefused = api.StatusFatal, true
			ds.State = o.Details[j].State
		case !slices.Contains(rule.from, o.Details[j].State):
			ds.Status, stateRefused = api.StatusFatal, true
			ds.State = o.Details[j].State
		case d.Action == api.LineRefunded && d.RefundReason == "":
			ds.Status, lineFailed = api.StatusError, true
			ds.Errors = []api.Error{{Severity: api.StatusError, Code: CodeLineInvalid, Text: "refund_reason is required to refund"}}
		default:
			changes = append(changes, change{at: j, in: d, rule: rule})
			ds.State = cmp.Or(rule.to, o.Details[j].State)
		}
		seen[d.ID] = true
		st.Details = append(st.Details, ds)
	}
	// Deciding on some lines only: UNVERIFIED whether Fnac allows it; the
	// fake wants every line decided.
	if in.Action == api.ActionAcceptOrder && !stateRefused && !lineFailed {
		for _, d := range o.Details {
			if d.State == api.LineToAccept && !seen[d.ID] {
				return fail(st, api.StatusError, CodeLineInvalid, "Every order detail waiting for acceptance must be accepted or refused")
			}
		}
	}
	switch {
	case stateRefused:
		// As the recorded ERR_109 answer: the order FATAL with the error,
		// its lines FATAL without.
		for k := range st.Details {
			if st.Details[k].Status == api.StatusOK {
				st.Details[k].Status = api.StatusFatal
			}
		}
		return fail(st, api.StatusFatal, CodeOrderState, "Order current status is not valid for "+in.Action+" action")
	case lineFailed:
		st.Status = api.StatusError
		return st
	}
	for _, c := range changes {
		d := &o.Details[c.at]
		if c.rule.to != "" {
			d.State = c.rule.to
		}
		if c.rule.to == api.OrderRefused {
			d.RefusedAt = api.FormatTime(now)
		}
		if c.in.TrackingNumber != "" || c.in.TrackingCompany != "" {
			d.TrackingNumber = c.in.TrackingNumber
			o.carriers[d.ID] = c.in.TrackingCompany
		}
	}
	o.State, o.updated = orderState(o.Order), now
	st.State = o.State
	return st
}
