package orders

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Actions on an order, as the API, the sidebars and the audit trail name
// them: the connectors' kinds.
const (
	ActAccept      = string(connectors.ActionAccept)
	ActRefuse      = string(connectors.ActionRefuse)
	ActShip        = string(connectors.ActionShip)
	ActCancel      = string(connectors.ActionCancel)
	ActCancelLines = string(connectors.ActionCancelLines)
)

// ActionKinds are every action, in the order sidebars show them.
var ActionKinds = []string{ActAccept, ActRefuse, ActShip, ActCancel, ActCancelLines}

// States of an action. An order whose latest action is Synchronizing
// shows "synchronizing" in the sidebars until the marketplace confirms
// the action by a read of the order, or refuses it.
const (
	Synchronizing = "synchronizing"
	Confirmed     = "confirmed"
	Refused       = "refused"
	// Failed is an action the marketplace could not be reached for, or
	// whose effect it did not show, within the retries: nothing is known
	// to have changed, and the agent may try again.
	Failed = "failed"
)

// Stable error codes of action requests.
const (
	CodeOrderNotFound     = "order_not_found"
	CodeActionPending     = "action_pending"
	CodeActionNotAllowed  = "action_not_allowed"
	CodeActionUnsupported = "action_unsupported"
	CodeActionForbidden   = "action_forbidden"
	CodeActionNotFound    = "action_not_found"
)

// ActionArgs are an action's arguments. Which ones an action takes:
//   - accept: RefuseLines, the lines refused (the others are accepted);
//   - refuse, cancel: Reason, the marketplace's reason code, optional;
//   - ship: the tracking (CarrierCode or CarrierName, ShippingMethod,
//     TrackingNumber, TrackingURL), all optional;
//   - cancel_lines: Lines and Reason, both required.
//
// A line is named by the marketplace's line id or by its SKU.
type ActionArgs struct {
	CarrierCode    string    `json:"carrier_code,omitempty" validate:"max=100"`
	CarrierName    string    `json:"carrier_name,omitempty" validate:"max=100"`
	ShippingMethod string    `json:"shipping_method,omitempty" validate:"max=100"`
	TrackingNumber string    `json:"tracking_number,omitempty" validate:"max=100"`
	TrackingURL    string    `json:"tracking_url,omitempty" validate:"omitempty,max=2000,http_url"`
	Reason         string    `json:"reason,omitempty" validate:"max=100"`
	RefuseLines    []LineRef `json:"refuse_lines,omitempty" validate:"max=500,dive"`
	Lines          []LineRef `json:"lines,omitempty" validate:"max=500,dive"`
}

// LineRef names one line of an order, and for cancel_lines how many of
// its units to cancel (0: all that is left).
type LineRef struct {
	LineID   string `json:"line_id,omitempty" validate:"required_without=SKU,max=100"`
	SKU      string `json:"sku,omitempty" validate:"required_without=LineID,max=200"`
	Quantity int    `json:"quantity,omitempty" validate:"gte=0,lte=1000000"`
}

// Actor is who asked for an action, as the audit trail records it.
type Actor struct {
	// Source is where from: "api", or the sidebar's kind (html, zendesk,
	// helpscout, gorgias).
	Source string `json:"source"`
	// ID is the sidebar's id, or for the API "token:" and the first 12
	// hex digits of the token's SHA-256 (never the token).
	ID string `json:"id"`
	// Agent is the person, as the helpdesk or the integrator named them;
	// the bridge cannot verify it.
	Agent string `json:"agent,omitempty"`
}

// ActionRequest asks for one action on one order.
type ActionRequest struct {
	Merchant string
	Store    string
	OrderID  string
	Kind     string
	Args     ActionArgs
	By       Actor
}

// Action is one action on an order and where it stands: what the API
// answers and the audit trail lists.
type Action struct {
	ID      string `json:"id"`
	Store   string `json:"store"`
	OrderID string `json:"order_id"`
	// Account is the marketplace account that performs it.
	Account string     `json:"account"`
	Kind    string     `json:"action"`
	Args    ActionArgs `json:"args"`
	State   string     `json:"state"`
	// Reason says why the action was refused or failed, in words an
	// agent can be shown.
	Reason string `json:"reason,omitempty"`
	// Attempt counts the requests of this same action on this order: a
	// refused or failed action asked again is its next attempt.
	Attempt     int        `json:"attempt"`
	RequestedAt time.Time  `json:"requested_at"`
	SettledAt   *time.Time `json:"settled_at,omitempty"`
	By          Actor      `json:"by"`
	// Tried is set before each call to the marketplace: an attempt that
	// finds it set may have reached it already, and looks before acting.
	Tried bool `json:"tried,omitempty"`
	// Before are the units cancelled of each line before a cancel_lines,
	// by line id, to tell whether a partial cancellation happened.
	Before map[string]int `json:"before,omitempty"`
	// Looks counts the attempts that waited for the marketplace to
	// finish or show the action.
	Looks int `json:"looks,omitempty"`
}

// Settled tells whether the marketplace's answer is known.
func (a Action) Settled() bool { return a.State != Synchronizing }

// OrderAction is an order's latest action, as the order shows it.
type OrderAction struct {
	ID          string     `json:"id"`
	Kind        string     `json:"action"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	SettledAt   *time.Time `json:"settled_at,omitempty"`
}

// summary is what the order shows of a.
func (a Action) summary() *OrderAction {
	return &OrderAction{ID: a.ID, Kind: a.Kind, State: a.State, Reason: a.Reason, RequestedAt: a.RequestedAt, SettledAt: a.SettledAt}
}

// ShownStatus is the status a sidebar shows for o: "synchronizing" while
// an action waits for the marketplace, else the normalised status.
func ShownStatus(o Order) string {
	if o.Action != nil && o.Action.State == Synchronizing {
		return Synchronizing
	}
	return o.Status
}

// StatusActions are the actions an order in a normalised status may
// allow; the marketplace may still refuse one at a given moment (Mirakl
// ships an accepted order only once it is paid).
func StatusActions(status string) []string {
	switch status {
	case StatusNew:
		return []string{ActAccept, ActRefuse}
	case StatusInProgress:
		return []string{ActShip, ActCancel, ActCancelLines}
	}
	return nil
}

// actionID names an action by its order and arguments: the same action
// asked twice, from anywhere, is one action.
func actionID(merchant, store, orderID, kind string, args ActionArgs) string {
	b, _ := json.Marshal(args) // plain data: cannot fail
	sum := sha256.Sum256([]byte(merchant + "\x00" + store + "\x00" + orderID + "\x00" + kind + "\x00" + string(b)))
	return "act_" + hex.EncodeToString(sum[:12])
}

// normalize trims the arguments and checks that they suit the action,
// naming the field at fault. Arguments an action does not take are
// refused rather than ignored, so that a caller never believes a tracking
// number was sent with a cancellation.
func (r *ActionRequest) normalize() error {
	if !slices.Contains(ActionKinds, r.Kind) {
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "action", "action must be one of %s", strings.Join(ActionKinds, ", "))
	}
	a := &r.Args
	for _, s := range []*string{&a.CarrierCode, &a.CarrierName, &a.ShippingMethod, &a.TrackingNumber, &a.TrackingURL, &a.Reason} {
		*s = strings.TrimSpace(*s)
	}
	if err := httpapi.Validate("", a); err != nil {
		return err
	}
	tracking := a.CarrierCode != "" || a.CarrierName != "" || a.ShippingMethod != "" || a.TrackingNumber != "" || a.TrackingURL != ""
	invalid := func(field, format string, v ...any) error {
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, field, format, v...)
	}
	switch {
	case tracking && r.Kind != ActShip:
		return invalid(firstSet(a), "%s: only ship takes a tracking", firstSet(a))
	case len(a.RefuseLines) > 0 && r.Kind != ActAccept:
		return invalid("refuse_lines", "refuse_lines: only accept takes lines to refuse")
	case len(a.Lines) > 0 && r.Kind != ActCancelLines:
		return invalid("lines", "lines: only cancel_lines takes lines")
	case r.Kind == ActCancelLines && len(a.Lines) == 0:
		return invalid("lines", "lines: cancel_lines needs at least one line")
	case r.Kind == ActCancelLines && a.Reason == "":
		return invalid("reason", "reason: cancel_lines needs the marketplace's reason code")
	case a.Reason != "" && r.Kind != ActRefuse && r.Kind != ActCancel && r.Kind != ActCancelLines:
		return invalid("reason", "reason: only refuse, cancel and cancel_lines take a reason")
	case a.CarrierCode != "" && a.CarrierName != "":
		return invalid("carrier_name", "carrier_name: give carrier_code for a carrier the marketplace knows, or carrier_name for another, not both")
	}
	for i, l := range a.RefuseLines {
		if l.Quantity != 0 {
			return invalid(fmt.Sprintf("refuse_lines[%d].quantity", i), "refuse_lines[%d].quantity: a line is refused whole", i)
		}
	}
	if a.TrackingURL != "" {
		if u, err := url.Parse(a.TrackingURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return invalid("tracking_url", "tracking_url must be an http or https URL")
		}
	}
	return nil
}

// Check trims the arguments and checks that they suit the action, as
// Request does first, without asking for anything: a form can then
// refuse a field before it spends its one-time token.
func (r *ActionRequest) Check() error { return r.normalize() }

func firstSet(a *ActionArgs) string {
	for _, f := range []struct{ name, v string }{
		{"carrier_code", a.CarrierCode}, {"carrier_name", a.CarrierName}, {"shipping_method", a.ShippingMethod},
		{"tracking_number", a.TrackingNumber}, {"tracking_url", a.TrackingURL},
	} {
		if f.v != "" {
			return f.name
		}
	}
	return "tracking_number"
}
