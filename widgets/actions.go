package widgets

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// OrderActions is what the sidebars need of the order actions service
// (orders.Actions): which actions an order allows now, the order itself,
// and asking for one.
type OrderActions interface {
	// Allowed lists the actions that may be asked for o now.
	Allowed(merchant string, o orders.Order) []string
	// Order reads one order, or fails with 404 order_not_found.
	Order(ctx context.Context, merchant, store, orderID string) (orders.Order, error)
	// Request asks for an action; its errors are *httpapi.Error.
	Request(ctx context.Context, req orders.ActionRequest) (orders.Action, error)
}

// Stable error codes of the action pages.
const (
	CodeInvalidTicket    = "invalid_ticket"
	CodeInvalidFormToken = "invalid_form_token"
	CodeInvalidOrigin    = "invalid_origin"
)

// Routes of the action pages.
const (
	ConfirmPath = "/v1/widgets/actions/confirm"
	ActionsPath = "/v1/widgets/actions"
)

// A ticket is valid from the hour its widget was rendered in until
// ticketLife after that hour began: between one and two hours. Widgets
// are cached per hour (see Service.serve), so a cached widget never
// carries an expired ticket.
const (
	ticketBucket = time.Hour
	ticketLife   = 2 * time.Hour
)

// ticket is what an action button's link carries: which sidebar offered
// which action on which order, until when. It is signed with a key of
// that sidebar's, so that only the sidebar's own widget could have made
// it, and it names no customer data beyond the order's id.
type ticket struct {
	Sidebar string `json:"s"`
	Store   string `json:"st"`
	OrderID string `json:"o"`
	Action  string `json:"a"`
	Exp     int64  `json:"exp"`
}

// ticketKey is the key a sidebar's tickets are signed with, derived from
// its own secret (its token, or Help Scout's signing secret), so that
// rotating that secret voids its tickets and no new secret is needed.
func ticketKey(sb config.Sidebar) []byte {
	secret := sb.Token.Reveal()
	if secret == "" {
		secret = sb.Secret.Reveal()
	}
	if secret == "" {
		return nil
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("order-actions"))
	return mac.Sum(nil)
}

// signTicket encodes t as base64url(JSON) "." base64url(HMAC-SHA256).
func signTicket(key []byte, t ticket) string {
	payload, _ := json.Marshal(t) // plain strings: cannot fail
	p := base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(p))
	return p + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// maxTicket bounds a ticket's length: ids are short.
const maxTicket = 2048

var errTicket = httpapi.Errorf(http.StatusForbidden, CodeInvalidTicket, "t", "t: the link is invalid or has expired; reopen the ticket in the helpdesk and follow the button again")

// ticketPayload decodes a ticket's payload without trusting it: it only
// tells which sidebar's key to check the signature with.
func ticketPayload(s string) (ticket, string, []byte, bool) {
	if len(s) > maxTicket {
		return ticket{}, "", nil, false
	}
	p, sig, ok := strings.Cut(s, ".")
	if !ok {
		return ticket{}, "", nil, false
	}
	raw, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	var t ticket
	if err1 != nil || err2 != nil || json.Unmarshal(raw, &t) != nil {
		return ticket{}, "", nil, false
	}
	return t, p, mac, true
}

// verifyTicket checks a ticket's signature with key, in constant time,
// and its expiry.
func verifyTicket(key []byte, s string, now time.Time) (ticket, error) {
	t, p, got, ok := ticketPayload(s)
	if !ok || len(key) == 0 {
		return ticket{}, errTicket
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(p))
	if !hmac.Equal(got, mac.Sum(nil)) || now.Unix() >= t.Exp {
		return ticket{}, errTicket
	}
	return t, nil
}

// bucket is the start of the hour now falls in: the tickets of widgets
// rendered in it all expire at bucket+ticketLife.
func bucket(now time.Time) time.Time { return now.UTC().Truncate(ticketBucket) }

// actionLink is one action button of an order.
type actionLink struct {
	Action string `json:"action"`
	Label  string `json:"label"`
	URL    string `json:"url"`
}

// actionLinks makes an order's signed links for one render, one view,
// one hour: its action buttons (when acts is set) and the link to its
// invoice (when invoices is).
type actionLinks struct {
	acts     OrderActions
	invoices bool
	v        *View
	key      []byte
	base     string // public URL without a trailing slash, or ""
	exp      int64
	l        *actionLang
}

// links are the buttons of o: the actions both the sidebar and the order
// allow now, in orders.ActionKinds's order.
func (a *actionLinks) links(o *orders.Order) []actionLink {
	if a == nil || a.acts == nil {
		return nil
	}
	allowed := a.acts.Allowed(a.v.Merchant, *o)
	var out []actionLink
	for _, kind := range orders.ActionKinds {
		if !a.v.Sidebar.Allows(kind) || !slices.Contains(allowed, kind) {
			continue
		}
		t := signTicket(a.key, ticket{Sidebar: a.v.Sidebar.ID, Store: o.Store, OrderID: o.ID, Action: kind, Exp: a.exp})
		out = append(out, actionLink{Action: kind, Label: a.l.verbs[kind], URL: a.base + ConfirmPath + "?t=" + url.QueryEscape(t)})
	}
	return out
}

// actionsFor returns the signed links of a render of v at now, or nil
// when v shows none: no action allowed (no service, none in the sidebar,
// the field hidden) and no invoice link (no invoices, the field hidden).
func (s *Service) actionsFor(v *View, now time.Time) *actionLinks {
	acts := s.actions != nil && len(v.Sidebar.Actions) > 0 && v.Shows("orders", "actions")
	invoices := s.invoices != nil && v.Shows("orders", "invoice_url")
	if !acts && !invoices {
		return nil
	}
	key := v.ticketKey
	if key == nil {
		return nil
	}
	a := &actionLinks{invoices: invoices, v: v, key: key, base: s.publicURL, exp: bucket(now).Add(ticketLife).Unix(), l: actionLangOf(v.Sidebar.Language)}
	if acts {
		a.acts = s.actions
	}
	return a
}

// invoiceURL is the signed link to o's invoice, or "" when it has none:
// the order's document notes the invoice's number once issued, so no
// read of the invoices is needed.
func (a *actionLinks) invoiceURL(o *orders.Order) string {
	if a == nil || !a.invoices || o.Invoice == "" {
		return ""
	}
	t := signTicket(a.key, ticket{Sidebar: a.v.Sidebar.ID, Store: o.Store, OrderID: o.ID, Action: invoiceTicket, Exp: a.exp})
	return a.base + InvoicePath + "?t=" + url.QueryEscape(t)
}

// signed tells whether a render carries links that expire: its ETag then
// changes each hour. Invoice links only do for a document with an
// invoiced order.
func (a *actionLinks) signed(doc *orders.Document) bool {
	if a == nil {
		return false
	}
	if a.acts != nil {
		return true
	}
	if doc != nil {
		for i := range doc.Orders {
			if doc.Orders[i].Invoice != "" {
				return true
			}
		}
	}
	return false
}

// checkTicket verifies a ticket and that its sidebar still exists and
// still allows the action on the store.
func (s *Service) checkTicket(raw string) (*View, ticket, error) {
	t, _, _, ok := ticketPayload(raw)
	if !ok {
		return nil, ticket{}, errTicket
	}
	v, found := s.byID[t.Sidebar]
	if !found {
		return nil, ticket{}, errTicket
	}
	t, err := verifyTicket(v.ticketKey, raw, s.now())
	if err != nil {
		return nil, ticket{}, err
	}
	if !v.Sidebar.Allows(t.Action) || !v.Sidebar.TargetsStore(t.Store) {
		return nil, ticket{}, httpapi.Errorf(http.StatusForbidden, orders.CodeActionForbidden, "action", "action: this sidebar may not %s orders of this store", t.Action)
	}
	return v, t, nil
}

// errNoActions answers the action routes of a bridge without the service.
var errNoActions = httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "", "order actions are not served by this bridge")
