package widgets

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/orders"
)

// The action pages: a button in a sidebar links to the confirmation page
// (GET ConfirmPath?t=<ticket>), whose form posts to ActionsPath. They are
// browser pages, opened in a tab of their own: Zendesk and Help Scout
// show the widget in frames of theirs, and the plain HTML widget is
// fetched server-side, so a form inside the widget could not post.
//
// A POST needs the ticket and a one-time form token that only the
// confirmation page hands out, kept in Redis for formTokenTTL and
// consumed by the POST whose fields pass: a replayed or forged POST is
// refused, a POST refused for a field may be corrected and sent again.

// formTokenTTL is how long a confirmation page may stay open.
const formTokenTTL = 15 * time.Minute

// Bounds of the action form: a urlencoded body of a few fields, and at
// most maxFormLines lines of an order.
const (
	MaxActionBody = 64 << 10
	maxFormFields = 16
	maxFormLines  = 500
	maxAgent      = 100
)

// pageCSP lets the pages use their own inline styles and post their form
// to the bridge, and nothing else; no site may frame them.
const pageCSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// formKey is where a form token waits for its POST: under the merchant's
// tag, by the token's digest, never the token itself.
func (s *Service) formKey(merchant, token string) string {
	sum := sha256.Sum256([]byte(token))
	return s.keyPrefix + "w:{" + merchant + "}:form:" + hex.EncodeToString(sum[:16])
}

// ticketDigest binds a form token to the ticket it was given for.
func ticketDigest(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:16])
}

// confirm serves the confirmation page of a ticket's action.
func (s *Service) confirm(c *gin.Context) {
	ctx := c.Request.Context()
	if s.actions == nil {
		s.fail(c, errNoActions)
		return
	}
	raw := c.Query("t")
	v, t, err := s.checkTicket(raw)
	if err != nil {
		s.fail(c, err)
		return
	}
	o, err := s.actions.Order(ctx, v.Merchant, t.Store, t.OrderID)
	if err != nil {
		s.fail(c, err)
		return
	}
	l := actionLangOf(v.Sidebar.Language)
	if !contains(s.actions.Allowed(v.Merchant, o), t.Action) {
		if o.Action != nil && o.Action.State == orders.Synchronizing {
			s.fail(c, httpapi.Errorf(http.StatusConflict, orders.CodeActionPending, "action", "order %s waits for the marketplace to confirm its last action; try again once it shows", o.ID))
			return
		}
		s.fail(c, httpapi.Errorf(http.StatusConflict, orders.CodeActionNotAllowed, "action", "order %s cannot be asked to %s now (status %s)", o.ID, t.Action, orders.ShownStatus(o)))
		return
	}
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		s.fail(c, err)
		return
	}
	token := base64.RawURLEncoding.EncodeToString(b[:])
	if err := s.reader.rdb.Set(ctx, s.formKey(v.Merchant, token), ticketDigest(raw), formTokenTTL).Err(); err != nil {
		s.fail(c, err)
		return
	}
	status, _ := htmlLangs[l.Code].status(orders.ShownStatus(o))
	page := confirmPage{
		L: l, Verb: l.verbs[t.Action], Kind: t.Action, Order: o.ID, Store: o.Store, Marketplace: o.Marketplace, Status: status,
		Action: s.publicURL + ActionsPath, Ticket: raw, Token: token,
	}
	if t.Action == orders.ActAccept || t.Action == orders.ActCancelLines {
		for _, ln := range o.Lines {
			if ln.SKU != "" && len(page.Lines) < maxFormLines {
				page.Lines = append(page.Lines, formLine{SKU: ln.SKU, Name: ln.Name, Quantity: ln.Quantity})
			}
		}
	}
	writePage(c, http.StatusOK, "confirm", page)
}

// act takes the confirmation page's form and asks for the action.
func (s *Service) act(c *gin.Context) {
	ctx := c.Request.Context()
	if s.actions == nil {
		s.fail(c, errNoActions)
		return
	}
	if !s.sameOrigin(c.Request) {
		s.fail(c, httpapi.Errorf(http.StatusForbidden, CodeInvalidOrigin, "Origin", "Origin: the form was not sent from the bridge's confirmation page"))
		return
	}
	// ParseForm reads urlencoded bodies only: another type would leave
	// the form empty and be refused for its missing ticket instead.
	if ct, _, _ := mime.ParseMediaType(c.ContentType()); ct != "application/x-www-form-urlencoded" {
		s.fail(c, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "Content-Type", "Content-Type: the form is sent as application/x-www-form-urlencoded"))
		return
	}
	if err := c.Request.ParseForm(); err != nil {
		s.fail(c, unwrapForm(err))
		return
	}
	form := c.Request.PostForm
	if len(form) > maxFormFields {
		s.fail(c, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "", "the form has more than %d fields", maxFormFields))
		return
	}
	for name, vals := range form {
		if len(vals) > maxFormLines {
			s.fail(c, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, name, "%s: more than %d values", name, maxFormLines))
			return
		}
	}
	raw := form.Get("t")
	v, t, err := s.checkTicket(raw)
	if err != nil {
		s.fail(c, err)
		return
	}
	token := form.Get("form_token")
	errToken := httpapi.Errorf(http.StatusForbidden, CodeInvalidFormToken, "form_token", "form_token: missing, expired or already used; open the confirmation page again")
	if token == "" || len(token) > 100 {
		s.fail(c, errToken)
		return
	}
	// The fields are checked before the token is spent, so that an agent
	// who corrects one may send the same page again.
	args, err := formArgs(t.Action, form)
	if err != nil {
		s.failBack(c, err, raw)
		return
	}
	agent := strings.TrimSpace(form.Get("agent"))
	if len([]rune(agent)) > maxAgent || strings.IndexFunc(agent, unicode.IsControl) >= 0 {
		s.failBack(c, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "agent", "agent: at most %d characters, on one line", maxAgent), raw)
		return
	}
	req := orders.ActionRequest{
		Merchant: v.Merchant, Store: t.Store, OrderID: t.OrderID, Kind: t.Action, Args: args,
		By: orders.Actor{Source: v.Sidebar.Kind, ID: v.Sidebar.ID, Agent: agent},
	}
	if err := req.Check(); err != nil {
		s.failBack(c, err, raw)
		return
	}
	// GETDEL: of two POSTs with one token, one only finds it.
	bound, err := s.reader.rdb.GetDel(ctx, s.formKey(v.Merchant, token)).Result()
	switch {
	case errors.Is(err, redis.Nil):
		s.fail(c, errToken)
		return
	case err != nil:
		s.fail(c, err)
		return
	case bound != ticketDigest(raw):
		s.fail(c, errToken)
		return
	}
	a, err := s.actions.Request(ctx, req)
	if err != nil {
		s.failBack(c, err, raw)
		return
	}
	l := actionLangOf(v.Sidebar.Language)
	page := resultPage{L: l, Verb: l.verbs[a.Kind], Order: t.OrderID, State: a.State, StateText: l.states[a.State], Reason: a.Reason}
	writePage(c, http.StatusOK, "result", page)
}

// formOwn are the fields of every action's form, which are not the
// action's arguments.
var formOwn = []string{"t", "form_token", "agent"}

// formArgs reads the action's arguments from the form; the orders
// service checks their values. A field the action does not take is
// refused, as the API refuses it, rather than dropped: the tracking
// fields and the reason go to that check, the form's line fields are
// refused here under their own names.
func formArgs(kind string, form url.Values) (orders.ActionArgs, error) {
	var a orders.ActionArgs
	invalid := func(field, format string, v ...any) error {
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, field, format, v...)
	}
	names := make([]string, 0, len(form))
	for name := range form {
		names = append(names, name)
	}
	slices.Sort(names) // the same form names the same field
	for _, name := range names {
		val := form.Get(name)
		switch name {
		case "carrier_code":
			a.CarrierCode = val
		case "carrier_name":
			a.CarrierName = val
		case "shipping_method":
			a.ShippingMethod = val
		case "tracking_number":
			a.TrackingNumber = val
		case "tracking_url":
			a.TrackingURL = val
		case "reason":
			a.Reason = val
		case "refuse_sku":
			if kind != orders.ActAccept {
				return a, invalid(name, "%s: only accept takes lines to refuse", name)
			}
		case "line_sku", "line_quantity":
			if kind != orders.ActCancelLines {
				return a, invalid(name, "%s: only cancel_lines takes lines", name)
			}
		default:
			if !slices.Contains(formOwn, name) {
				return a, invalid(name, "%s: no field of the %s form", name, kind)
			}
		}
	}
	switch kind {
	case orders.ActAccept:
		for _, sku := range form["refuse_sku"] {
			a.RefuseLines = append(a.RefuseLines, orders.LineRef{SKU: sku})
		}
	case orders.ActCancelLines:
		skus, qtys := form["line_sku"], form["line_quantity"]
		if len(skus) != len(qtys) {
			return a, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "line_quantity", "line_quantity: one per line_sku")
		}
		for i, sku := range skus {
			q := strings.TrimSpace(qtys[i])
			if q == "" || q == "0" {
				continue // a line left at 0 is not cancelled
			}
			n, err := strconv.Atoi(q)
			if err != nil || n < 0 {
				return a, invalid("line_quantity", "line_quantity: %q is not a quantity", q)
			}
			a.Lines = append(a.Lines, orders.LineRef{SKU: sku, Quantity: n})
		}
		if len(a.Lines) == 0 {
			return a, invalid("line_quantity", "line_quantity: cancel_lines needs at least one line with a quantity")
		}
	}
	return a, nil
}

// sameOrigin refuses a POST whose Origin is another site's (or "null",
// as from a sandboxed frame): a browser sends Origin with every POST, so
// a form of another page is caught before its token is even looked at.
// A client that sends none (not a browser) still needs the form token.
func (s *Service) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	// Behind a proxy that rewrites Host, the public URL is the origin.
	if pub, err := url.Parse(s.publicURL); err == nil && pub.Host != "" {
		return strings.EqualFold(u.Scheme+"://"+u.Host, pub.Scheme+"://"+pub.Host)
	}
	return false
}

// unwrapForm turns a form parse failure into the API's error: too large
// a body (LimitBody) or a malformed one.
func unwrapForm(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "", "the form could not be read")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fail answers err as an HTML page to a browser (Accept prefers
// text/html) and as the API's JSON error to anything else.
func (s *Service) fail(c *gin.Context, err error) { s.failBack(c, err, "") }

// failBack is fail with a link back to the confirmation page of ticket
// when the agent may correct the form and try again.
func (s *Service) failBack(c *gin.Context, err error, ticket string) {
	if c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) != gin.MIMEHTML {
		httpapi.Fail(c, err)
		return
	}
	e := httpapi.AsError(err)
	if e.Status >= 500 {
		zerolog.Ctx(c.Request.Context()).Error().Err(err).Msg("request failed")
	}
	l := actionLangEN
	if strings.HasPrefix(c.GetHeader("Accept-Language"), "fr") {
		l = actionLangFR
	}
	page := errorPage{L: l, Status: e.Status, Code: e.Code, Message: e.Message}
	if ticket != "" && e.Status == http.StatusUnprocessableEntity {
		page.Back = s.publicURL + ConfirmPath + "?t=" + url.QueryEscape(ticket)
	}
	writePage(c, e.Status, "error", page)
	c.Abort()
}

func writePage(c *gin.Context, status int, name string, data any) {
	var buf bytes.Buffer
	if err := actionPages.ExecuteTemplate(&buf, name, data); err != nil {
		panic("widgets: render " + name + ": " + err.Error())
	}
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin rather than no-referrer: under no-referrer a browser
	// sends "Origin: null" with the form's POST, which sameOrigin must
	// refuse; no other site is told anything either way.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

type confirmPage struct {
	L                                 *actionLang
	Verb, Kind                        string
	Order, Store, Marketplace, Status string
	Action, Ticket, Token             string
	Lines                             []formLine
}

type formLine struct {
	SKU, Name string
	Quantity  int
}

type resultPage struct {
	L                                     *actionLang
	Verb, Order, State, StateText, Reason string
}

type errorPage struct {
	L             *actionLang
	Status        int
	Code, Message string
	Back          string
}

const pageCSS = `body{margin:0;padding:16px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#f6f8fa}
main{max-width:560px;margin:0 auto;padding:16px 20px;background:#fff;border:1px solid #d1d9e0;border-radius:8px;overflow-wrap:anywhere}
h1{margin:0 0 12px;font-size:18px}
dl{display:grid;grid-template-columns:8em 1fr;gap:2px 12px;margin:0 0 16px}
dt{color:#59636e}dd{margin:0}
label{display:block;margin:10px 0 2px;font-weight:600}
input[type=text],input[type=url],input[type=number]{box-sizing:border-box;width:100%;padding:6px 8px;border:1px solid #d1d9e0;border-radius:6px;font:inherit}
input[type=number]{width:6em}
fieldset{margin:10px 0;border:1px solid #d1d9e0;border-radius:6px}
.hint{margin:2px 0;color:#59636e;font-size:12px}
button{margin-top:16px;padding:8px 16px;border:0;border-radius:6px;background:#1f883d;color:#fff;font:inherit;font-weight:600}
.ok{padding:8px 10px;border-radius:6px;background:#dafbe1}
.ko{padding:8px 10px;border-radius:6px;background:#ffebe9}
code{font-size:12px}`

// The pages: html/template escapes every value for where it lands.
var actionPages = template.Must(template.New("pages").Funcs(template.FuncMap{
	"title": func(l *actionLang, title string) pageHead { return pageHead{L: l, Title: title} },
}).Parse(`
{{- define "head"}}<!DOCTYPE html>
<html lang="{{.L.Code}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex"><title>{{.Title}}</title><style>` + pageCSS + `</style></head>
<body><main>{{end}}

{{- define "confirm"}}{{template "head" (title .L .L.ConfirmTitle)}}
<h1>{{.Verb}} — {{.L.Order}} {{.Order}}</h1>
<dl><dt>{{.L.Order}}</dt><dd id="order">{{.Order}}</dd><dt>{{.L.Store}}</dt><dd>{{.Store}}</dd>{{with .Marketplace}}<dt>{{$.L.Marketplace}}</dt><dd>{{.}}</dd>{{end}}<dt>{{.L.Status}}</dt><dd>{{.Status}}</dd></dl>
<form method="post" action="{{.Action}}">
<input type="hidden" name="t" value="{{.Ticket}}"><input type="hidden" name="form_token" value="{{.Token}}">
{{- if eq .Kind "ship"}}
<label for="carrier_code">{{.L.CarrierCode}}</label><input type="text" id="carrier_code" name="carrier_code" maxlength="100">
<label for="carrier_name">{{.L.CarrierName}}</label><input type="text" id="carrier_name" name="carrier_name" maxlength="100">
<p class="hint">{{.L.CarrierHint}}</p>
<label for="shipping_method">{{.L.ShippingMethod}}</label><input type="text" id="shipping_method" name="shipping_method" maxlength="100">
<label for="tracking_number">{{.L.TrackingNumber}}</label><input type="text" id="tracking_number" name="tracking_number" maxlength="100">
<label for="tracking_url">{{.L.TrackingURL}}</label><input type="url" id="tracking_url" name="tracking_url" maxlength="2000">
{{- else if eq .Kind "accept"}}{{with .Lines}}
<fieldset><legend>{{$.L.RefuseLines}}</legend><p class="hint">{{$.L.RefuseLinesHint}}</p>
{{- range $i, $l := .}}<label><input type="checkbox" name="refuse_sku" value="{{$l.SKU}}"> {{$l.Name}} <code>{{$l.SKU}}</code> × {{$l.Quantity}}</label>{{end}}</fieldset>{{end}}
{{- else if eq .Kind "cancel_lines"}}
<fieldset><legend>{{.L.CancelQty}}</legend>
{{- range $i, $l := .Lines}}<input type="hidden" name="line_sku" value="{{$l.SKU}}"><label for="q{{$i}}">{{$l.Name}} <code>{{$l.SKU}}</code></label><input type="number" id="q{{$i}}" name="line_quantity" min="0" max="{{$l.Quantity}}" value="0"> {{$.L.QuantityOf}} {{$l.Quantity}}{{end}}</fieldset>
{{- end}}
{{- if or (eq .Kind "refuse") (eq .Kind "cancel") (eq .Kind "cancel_lines")}}
<label for="reason">{{.L.Reason}}</label><input type="text" id="reason" name="reason" maxlength="100"{{if eq .Kind "cancel_lines"}} required{{end}}>
<p class="hint">{{.L.ReasonHint}}</p>
{{- end}}
<label for="agent">{{.L.Agent}}</label><input type="text" id="agent" name="agent" maxlength="100">
<p class="hint">{{.L.AgentHint}}</p>
<button type="submit" id="submit">{{.L.Submit}}: {{.Verb}}</button>
<p class="hint">{{.L.CancelHint}}</p>
</form>
</main></body></html>
{{end}}

{{- define "result"}}{{template "head" (title .L .L.Requested)}}
{{- if eq .State "refused" "failed"}}<h1>{{.L.RefusedTitle}}</h1><p class="ko" id="result" data-state="{{.State}}">{{.Verb}} — {{.L.Order}} {{.Order}}: {{.StateText}}{{with .Reason}}: {{.}}{{end}}</p>
{{- else}}<h1>{{.L.Requested}}</h1><p class="ok" id="result" data-state="{{.State}}">{{.Verb}} — {{.L.Order}} {{.Order}}: {{.StateText}}</p>
{{- if eq .State "synchronizing"}}<p>{{.L.RequestedHint}}</p>{{end}}{{end}}
</main></body></html>
{{end}}

{{- define "error"}}{{template "head" (title .L .L.ErrorTitle)}}
<h1>{{.L.ErrorTitle}}</h1><p class="ko" id="error" data-code="{{.Code}}">{{.Message}}</p><p class="hint">{{.Status}} <code>{{.Code}}</code></p>
{{- with .Back}}<p><a href="{{.}}">{{$.L.Back}}</a></p>{{end}}
</main></body></html>
{{end}}`))

type pageHead struct {
	L     *actionLang
	Title string
}
