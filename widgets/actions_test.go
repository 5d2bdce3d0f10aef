package widgets

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

func actionConfig(publicURL string) *config.Config {
	all := []string{"accept", "refuse", "ship", "cancel", "cancel_lines"}
	return &config.Config{
		Server:  config.Server{PublicURL: publicURL},
		Redis:   config.Redis{KeyPrefix: "test:"},
		Widgets: config.Widgets{LastKnown: 100},
		Merchants: []config.Merchant{{ID: "acme", Sidebars: []config.Sidebar{
			{ID: "acme-html", Kind: config.SidebarHTML, Token: config.NewSecret(tokShip), Stores: []string{"acme-fr"}, Actions: all},
			{ID: "acme-plain", Kind: config.SidebarHTML, Token: config.NewSecret(tokNone), Stores: []string{"acme-fr"}},
			{ID: "acme-gorgias", Kind: config.SidebarGorgias, Token: config.NewSecret(tokGorgias), Stores: []string{"acme-fr"}, Actions: []string{"ship", "cancel"}},
			{ID: "acme-hs", Kind: config.SidebarHelpScout, Secret: config.NewSecret(hsSecret), Stores: []string{"acme-fr"}, Actions: []string{"ship"}, Language: "fr"},
		}}},
	}
}

// actionFixture is a bridge's widget routes on a Redis of the test's own,
// with one customer whose order A is in progress and B new.
type actionFixture struct {
	svc   *Service
	eng   *gin.Engine
	rdb   *redis.Client
	acts  *fakeActions
	clock *testClock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newActionFixture(t *testing.T, publicURL string) *actionFixture {
	t.Helper()
	srv := rdbtest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = c.Close() })
	clock := &testClock{t: time.Date(2026, 11, 2, 10, 20, 0, 0, time.UTC)}
	store := orders.NewStore(c, "test:", 0, 0, time.Now)
	a := orderChange("A", "jeanne@example.com", t0, t0, orders.StatusInProgress)
	a.Order.Lines = []orders.Line{{SKU: "TENT-2", Name: `Tent <b>"2p"</b>`, Quantity: 2}, {SKU: "MAT-1", Name: "Mat", Quantity: 1}}
	b := orderChange("B", "jeanne@example.com", t0.Add(time.Hour), t0.Add(time.Hour), orders.StatusNew)
	for _, ch := range []orders.Change{a, b} {
		if _, err := store.Apply(context.Background(), ch); err != nil {
			t.Fatal(err)
		}
	}
	acts := newFakeActions(*a.Order, *b.Order)
	reader := NewReader(c, store, 5*time.Second, 100, clock.now)
	svc := NewService(actionConfig(publicURL), reader, nil, acts)
	eng := httpapi.NewEngine(zerolog.Nop(), nil)
	svc.Register(eng)
	return &actionFixture{svc: svc, eng: eng, rdb: c, acts: acts, clock: clock}
}

func (f *actionFixture) do(t *testing.T, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	f.eng.ServeHTTP(w, r)
	return w
}

// widget reads the HTML widget of a sidebar's token.
func (f *actionFixture) widget(t *testing.T, token string) string {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, "/v1/widgets/html?email=jeanne@example.com", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := f.do(t, r)
	if w.Code != http.StatusOK {
		t.Fatalf("widget: %d %s", w.Code, w.Body)
	}
	return w.Body.String()
}

var hrefRE = regexp.MustCompile(`class="hb-btn hb-btn-([a-z_]+)" href="([^"]+)"`)

// buttons maps each action button of a widget to its link.
func buttons(html string) map[string][]string {
	out := map[string][]string{}
	for _, m := range hrefRE.FindAllStringSubmatch(html, -1) {
		out[m[1]] = append(out[m[1]], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	return out
}

// ticketOf takes the ticket out of a confirmation link.
func ticketOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("t")
}

// confirmPage opens a confirmation page as a browser does.
func (f *actionFixture) confirm(t *testing.T, ticket string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, ConfirmPath+"?t="+url.QueryEscape(ticket), nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	return f.do(t, r)
}

var formTokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

func formToken(t *testing.T, page string) string {
	t.Helper()
	m := formTokenRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form token in:\n%s", page)
	}
	return m[1]
}

// post sends the action form; origin "" sends no Origin header.
func (f *actionFixture) post(t *testing.T, form url.Values, origin, accept string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, ActionsPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	return f.do(t, r)
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error httpapi.Error `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("not a JSON error: %d %s", w.Code, w.Body)
	}
	return body.Error.Code
}

func TestTicketSignVerify(t *testing.T) {
	t.Parallel()
	key := ticketKey(config.Sidebar{Token: config.NewSecret(tokShip)})
	now := time.Date(2026, 11, 2, 10, 20, 0, 0, time.UTC)
	tk := ticket{Sidebar: "acme-html", Store: "acme-fr", OrderID: "A", Action: "ship", Exp: bucket(now).Add(ticketLife).Unix()}
	s := signTicket(key, tk)
	got, err := verifyTicket(key, s, now)
	if err != nil || got != tk {
		t.Fatalf("verify = %+v, %v; want %+v", got, err, tk)
	}
	if _, err := verifyTicket(key, s, time.Unix(tk.Exp, 0)); err == nil {
		t.Error("an expired ticket verified")
	}
	if _, err := verifyTicket(ticketKey(config.Sidebar{Token: config.NewSecret(tokNone)}), s, now); err == nil {
		t.Error("a ticket verified with another sidebar's key")
	}
	// Another order in the payload, the signature kept.
	p, sig, _ := strings.Cut(s, ".")
	other := signTicket(key, ticket{Sidebar: "acme-html", Store: "acme-fr", OrderID: "B", Action: "ship", Exp: tk.Exp})
	op, _, _ := strings.Cut(other, ".")
	for _, bad := range []string{op + "." + sig, p + "." + sig[:len(sig)-2] + "AA", p, "", "..", strings.Repeat("A", maxTicket+1)} {
		if _, err := verifyTicket(key, bad, now); err == nil {
			t.Errorf("tampered ticket %q verified", bad)
		}
	}
	// Help Scout's key comes from its secret.
	if k := ticketKey(config.Sidebar{Secret: config.NewSecret(hsSecret)}); len(k) != 32 {
		t.Errorf("help scout key is %d bytes", len(k))
	}
}

// The widget offers the actions the sidebar and the order both allow,
// each a link opening a new tab; a sidebar without actions shows none.
func TestWidgetButtons(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "https://bridge.example.com/")
	html := f.widget(t, tokShip)
	got := buttons(html)
	for kind, n := range map[string]int{"ship": 1, "cancel": 1, "cancel_lines": 1, "accept": 1, "refuse": 1} {
		if len(got[kind]) != n {
			t.Errorf("%d %s buttons, want %d: %v", len(got[kind]), kind, n, got)
		}
	}
	for _, links := range got {
		for _, l := range links {
			if !strings.HasPrefix(l, "https://bridge.example.com"+ConfirmPath+"?t=") {
				t.Errorf("link %q is not the public confirmation page", l)
			}
		}
	}
	if !strings.Contains(html, `target="_blank" rel="noopener noreferrer">Ship</a>`) {
		t.Errorf("the ship button does not open a new tab:\n%s", html)
	}
	if plain := f.widget(t, tokNone); len(buttons(plain)) != 0 || strings.Contains(plain, `class="hb-btn`) {
		t.Errorf("a sidebar without actions shows buttons:\n%s", plain)
	}

	// Without a public URL the links are relative.
	rel := newActionFixture(t, "")
	for _, links := range buttons(rel.widget(t, tokShip)) {
		if !strings.HasPrefix(links[0], ConfirmPath+"?t=") {
			t.Errorf("relative link %q", links[0])
		}
	}
}

// The widget's ETag changes with the hour when it carries tickets, so
// that neither the memo nor a browser keeps a page past its tickets.
func TestWidgetETagFollowsTheTicketHour(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	etag := func(token string) (string, string) {
		r := httptest.NewRequest(http.MethodGet, "/v1/widgets/html?email=jeanne@example.com", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := f.do(t, r)
		return w.Header().Get("ETag"), w.Body.String()
	}
	e1, b1 := etag(tokShip)
	p1, _ := etag(tokNone)
	f.clock.add(time.Hour)
	e2, b2 := etag(tokShip)
	p2, _ := etag(tokNone)
	if e1 == e2 || b1 == b2 {
		t.Errorf("an hour later the widget with actions is the same: %s", e1)
	}
	if p1 != p2 {
		t.Errorf("the widget without actions changed with the hour: %s, %s", p1, p2)
	}
	// The first hour's ticket still holds an hour later, not two.
	tk := ticketOf(t, buttons(b1)["ship"][0])
	if w := f.confirm(t, tk); w.Code != http.StatusOK {
		t.Errorf("an hour-old ticket: %d", w.Code)
	}
	f.clock.add(time.Hour)
	if w := f.confirm(t, tk); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), CodeInvalidTicket) {
		t.Errorf("a ticket past its life: %d %s", w.Code, w.Body)
	}
}

func TestConfirmPage(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	links := buttons(f.widget(t, tokShip))
	tests := []struct {
		kind   string
		want   []string
		absent []string
	}{
		{"ship", []string{`name="carrier_code"`, `name="carrier_name"`, `name="shipping_method"`, `name="tracking_number"`, `name="tracking_url"`, `name="agent"`}, []string{`name="reason"`, `name="refuse_sku"`}},
		{"cancel", []string{`name="reason"`, `name="agent"`}, []string{`name="tracking_number"`}},
		{"refuse", []string{`name="reason"`}, []string{`name="carrier_code"`}},
		{"accept", []string{`name="refuse_sku" value="SKU-B"`}, []string{`name="reason"`}},
		{"cancel_lines", []string{`name="line_sku" value="TENT-2"`, `name="line_quantity"`, `max="2"`, `name="reason"`, `Tent &lt;b&gt;&#34;2p&#34;&lt;/b&gt;`}, []string{`<b>`}},
	}
	for _, tt := range tests {
		w := f.confirm(t, ticketOf(t, links[tt.kind][0]))
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d %s", tt.kind, w.Code, body)
			continue
		}
		for _, s := range append(tt.want, `name="form_token"`, `name="t"`, `method="post"`, `action="`+ActionsPath+`"`) {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %s:\n%s", tt.kind, s, body)
			}
		}
		for _, s := range append(tt.absent, "<script") {
			if strings.Contains(body, s) {
				t.Errorf("%s: page has %s", tt.kind, s)
			}
		}
		h := w.Header()
		if h.Get("Content-Security-Policy") != pageCSP || h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", tt.kind, h)
		}
	}
	n, err := f.rdb.Keys(context.Background(), "test:w:{acme}:form:*").Result()
	if err != nil || len(n) != len(tests) {
		t.Errorf("%d form tokens stored (%v), want %d", len(n), err, len(tests))
	}
	for _, k := range n {
		if ttl := f.rdb.TTL(context.Background(), k).Val(); ttl <= 0 || ttl > formTokenTTL {
			t.Errorf("form token %s TTL %s", k, ttl)
		}
	}
}

func TestActionPost(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	tk := ticketOf(t, buttons(f.widget(t, tokShip))["ship"][0])
	open := func() url.Values {
		w := f.confirm(t, tk)
		if w.Code != http.StatusOK {
			t.Fatalf("confirm: %d %s", w.Code, w.Body)
		}
		return url.Values{"t": {tk}, "form_token": {formToken(t, w.Body.String())}, "carrier_code": {"UPS"}, "tracking_number": {"1Z999"}, "agent": {"Léa"}}
	}

	// No token, and a token of no confirmation page.
	form := open()
	form.Del("form_token")
	if w := f.post(t, form, "", ""); w.Code != http.StatusForbidden || errorCode(t, w) != CodeInvalidFormToken {
		t.Errorf("without a token: %d %s", w.Code, w.Body)
	}
	form.Set("form_token", "made-up")
	if w := f.post(t, form, "", ""); w.Code != http.StatusForbidden || errorCode(t, w) != CodeInvalidFormToken {
		t.Errorf("made-up token: %d %s", w.Code, w.Body)
	}
	// Another site's page posting a real token.
	form = open()
	for _, origin := range []string{"https://evil.example", "null"} {
		if w := f.post(t, form, origin, ""); w.Code != http.StatusForbidden || errorCode(t, w) != CodeInvalidOrigin {
			t.Errorf("Origin %s: %d %s", origin, w.Code, w.Body)
		}
	}
	if n := len(f.acts.asked()); n != 0 {
		t.Fatalf("%d requests reached the service", n)
	}

	// The real thing, from the page's own origin, as a browser.
	w := f.post(t, form, "http://example.com", "text/html")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `data-state="synchronizing"`) || !strings.Contains(w.Body.String(), "until the marketplace confirms") {
		t.Fatalf("post: %d %s", w.Code, w.Body)
	}
	asked := f.acts.asked()
	want := orders.ActionRequest{Merchant: "acme", Store: "acme-fr", OrderID: "A", Kind: "ship",
		Args: orders.ActionArgs{CarrierCode: "UPS", TrackingNumber: "1Z999"}, By: orders.Actor{Source: "html", ID: "acme-html", Agent: "Léa"}}
	if len(asked) != 1 || asked[0].Merchant != want.Merchant || asked[0].OrderID != want.OrderID || asked[0].Args.CarrierCode != "UPS" || asked[0].Args.TrackingNumber != "1Z999" || asked[0].By != want.By {
		t.Errorf("asked %+v, want %+v", asked, want)
	}
	// The same token again: consumed.
	if w := f.post(t, form, "", "text/html"); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), `data-code="invalid_form_token"`) {
		t.Errorf("replayed token: %d %s", w.Code, w.Body)
	}
	// The order now waits: a new confirmation is refused.
	if w := f.confirm(t, tk); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), orders.CodeActionPending) {
		t.Errorf("confirm while pending: %d %s", w.Code, w.Body)
	}
}

func TestActionPostRefusals(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	links := buttons(f.widget(t, tokShip))
	tk := ticketOf(t, links["cancel"][0])
	page := f.confirm(t, tk).Body.String()
	form := url.Values{"t": {tk}, "form_token": {formToken(t, page)}, "reason": {"OUT_OF_STOCK"}}

	// The ticket expired while the page was open.
	f.clock.add(3 * time.Hour)
	if w := f.post(t, form, "", ""); w.Code != http.StatusForbidden || errorCode(t, w) != CodeInvalidTicket {
		t.Errorf("expired ticket: %d %s", w.Code, w.Body)
	}

	// The marketplace's refusal is shown with its reason, escaped.
	g := newActionFixture(t, "")
	g.acts.refuse = `Order <i>already</i> shipped`
	tk = ticketOf(t, buttons(g.widget(t, tokShip))["cancel"][0])
	form = url.Values{"t": {tk}, "form_token": {formToken(t, g.confirm(t, tk).Body.String())}, "reason": {"X"}}
	w := g.post(t, form, "", "text/html")
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "Order &lt;i&gt;already&lt;/i&gt; shipped") || !strings.Contains(w.Body.String(), orders.CodeActionNotAllowed) {
		t.Errorf("refused: %d %s", w.Code, w.Body)
	}
}

// A sidebar's ticket names an action it does not allow: refused, even
// signed with its own key. Nor does a ticket move to another sidebar.
func TestActionPermissions(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	now := f.clock.now()
	exp := bucket(now).Add(ticketLife).Unix()
	plain := config.Sidebar{Token: config.NewSecret(tokNone)}
	forged := signTicket(ticketKey(plain), ticket{Sidebar: "acme-plain", Store: "acme-fr", OrderID: "A", Action: "ship", Exp: exp})
	if w := f.confirm(t, forged); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), orders.CodeActionForbidden) {
		t.Errorf("ship from a sidebar without actions: %d %s", w.Code, w.Body)
	}
	hs := signTicket(ticketKey(config.Sidebar{Secret: config.NewSecret(hsSecret)}), ticket{Sidebar: "acme-hs", Store: "acme-fr", OrderID: "A", Action: "cancel", Exp: exp})
	if w := f.confirm(t, hs); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), orders.CodeActionForbidden) {
		t.Errorf("cancel from a sidebar allowing ship only: %d %s", w.Code, w.Body)
	}
	// Signed by one sidebar, claiming another.
	stolen := signTicket(ticketKey(plain), ticket{Sidebar: "acme-html", Store: "acme-fr", OrderID: "A", Action: "ship", Exp: exp})
	if w := f.confirm(t, stolen); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), CodeInvalidTicket) {
		t.Errorf("ticket under another sidebar's name: %d %s", w.Code, w.Body)
	}
	// A store the sidebar does not show.
	other := signTicket(ticketKey(config.Sidebar{Token: config.NewSecret(tokShip)}), ticket{Sidebar: "acme-html", Store: "acme-de", OrderID: "A", Action: "ship", Exp: exp})
	if w := f.confirm(t, other); w.Code != http.StatusForbidden {
		t.Errorf("another store: %d %s", w.Code, w.Body)
	}
	// JSON for a client that does not ask for HTML.
	r := httptest.NewRequest(http.MethodGet, ConfirmPath+"?t=x", nil)
	if w := f.do(t, r); w.Code != http.StatusForbidden || errorCode(t, w) != CodeInvalidTicket {
		t.Errorf("bad ticket as JSON: %d %s", w.Code, w.Body)
	}
}

// Without the actions service the widget has no button and the routes
// are 404.
func TestActionsOff(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	svc := NewService(actionConfig(""), f.svc.reader, nil, nil)
	eng := httpapi.NewEngine(zerolog.Nop(), nil)
	svc.Register(eng)
	r := httptest.NewRequest(http.MethodGet, "/v1/widgets/html?email=jeanne@example.com", nil)
	r.Header.Set("Authorization", "Bearer "+tokShip)
	w := httptest.NewRecorder()
	eng.ServeHTTP(w, r)
	if strings.Contains(w.Body.String(), `class="hb-btn`) {
		t.Error("buttons without the service")
	}
	for _, r := range []*http.Request{httptest.NewRequest(http.MethodGet, ConfirmPath+"?t=x", nil), httptest.NewRequest(http.MethodPost, ActionsPath, strings.NewReader("t=x"))} {
		w := httptest.NewRecorder()
		eng.ServeHTTP(w, r)
		if w.Code != http.StatusNotFound {
			t.Errorf("%s %s: %d", r.Method, r.URL.Path, w.Code)
		}
	}
}

// The JSON widget: status shows synchronizing while an action waits, and
// action and actions are always present where the layout puts them.
func TestJSONWidgetActions(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "https://bridge.example.com")
	v := f.svc.byID["acme-html"]
	req := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	doc := &orders.Document{Orders: []orders.Order{
		{ID: "A", Store: "acme-fr", Status: orders.StatusInProgress, Action: &orders.OrderAction{ID: "act_1", Kind: "ship", State: orders.Synchronizing, RequestedAt: req}},
		{ID: "B", Store: "acme-fr", Status: orders.StatusNew},
		{ID: "C", Store: "acme-fr", Status: orders.StatusInProgress, Action: &orders.OrderAction{ID: "act_2", Kind: "cancel", State: orders.Refused, Reason: "<already shipped>", RequestedAt: req}},
	}}
	var got struct {
		Orders []struct {
			Status  string              `json:"status"`
			Action  *orders.OrderAction `json:"action"`
			Actions []actionLink        `json:"actions"`
		} `json:"orders"`
	}
	raw := renderJSON(v, doc, Freshness{State: StateOK}, f.svc.actionsFor(v, f.clock.now()))
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	o := got.Orders
	if o[0].Status != "synchronizing" || o[0].Action == nil || o[0].Action.State != "synchronizing" || len(o[0].Actions) != 0 {
		t.Errorf("pending order: %+v", o[0])
	}
	if o[1].Status != orders.StatusNew || o[1].Action != nil || len(o[1].Actions) != 2 || o[1].Actions[0].Action != "accept" || o[1].Actions[0].Label != "Accept" || !strings.HasPrefix(o[1].Actions[0].URL, "https://bridge.example.com"+ConfirmPath) {
		t.Errorf("new order: %+v", o[1])
	}
	if o[2].Action == nil || o[2].Action.Reason != "<already shipped>" || len(o[2].Actions) != 3 {
		t.Errorf("refused order: %+v", o[2])
	}
	if !strings.Contains(string(raw), `"action":null`) || !strings.Contains(string(raw), `"settled_at":null`) {
		t.Errorf("absent values are not null: %s", raw)
	}
	// Hidden by the layout: not sent.
	sb := v.Sidebar
	sb.Layout.Orders = []string{"id", "status"}
	hidden := NewView("acme", sb)
	if b := renderJSON(hidden, doc, Freshness{State: StateOK}, f.svc.actionsFor(hidden, f.clock.now())); strings.Contains(string(b), `"actions"`) || strings.Contains(string(b), `"action"`) {
		t.Errorf("hidden fields sent: %s", b)
	}
	// The HTML widget says the same, escaped.
	html := string(renderHTML("fragment", v, doc, Freshness{State: StateOK}, f.svc.actionsFor(v, f.clock.now())))
	for _, want := range []string{">Synchronizing<", "Ship — waiting for the marketplace", "Cancel — refused: &lt;already shipped&gt;"} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q:\n%s", want, html)
		}
	}
}

// The form is bounded: its size, its fields, the values of one field.
func TestActionPostBounds(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	tk := ticketOf(t, buttons(f.widget(t, tokShip))["cancel_lines"][0])
	token := formToken(t, f.confirm(t, tk).Body.String())
	base := func() url.Values { return url.Values{"t": {tk}, "form_token": {token}, "reason": {"R"}} }

	big := base()
	big.Set("agent", strings.Repeat("x", MaxActionBody))
	if w := f.post(t, big, "", ""); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over %d bytes: %d %s", MaxActionBody, w.Code, w.Body)
	}
	many := base()
	for i := range maxFormFields {
		many.Set("f"+string(rune('a'+i)), "1")
	}
	if w := f.post(t, many, "", ""); w.Code != http.StatusBadRequest || errorCode(t, w) != httpapi.CodeMalformedBody {
		t.Errorf("%d fields: %d %s", len(many), w.Code, w.Body)
	}
	lines := base()
	for range maxFormLines + 1 {
		lines.Add("line_sku", "S")
		lines.Add("line_quantity", "1")
	}
	if w := f.post(t, lines, "", ""); w.Code != http.StatusBadRequest || errorCode(t, w) != httpapi.CodeMalformedBody {
		t.Errorf("%d lines: %d %s", maxFormLines+1, w.Code, w.Body)
	}
	if n := len(f.acts.asked()); n != 0 {
		t.Errorf("%d actions asked", n)
	}
	// None of these consumed the token: the real form still goes through.
	ok := base()
	ok["line_sku"], ok["line_quantity"] = []string{"TENT-2", "MAT-1"}, []string{"1", "0"}
	if w := f.post(t, ok, "", ""); w.Code != http.StatusOK {
		t.Fatalf("the form: %d %s", w.Code, w.Body)
	}
	if a := f.acts.asked(); len(a) != 1 || len(a[0].Args.Lines) != 1 || a[0].Args.Lines[0] != (orders.LineRef{SKU: "TENT-2", Quantity: 1}) || a[0].Args.Reason != "R" {
		t.Errorf("asked %+v", a)
	}
}

// A field the action does not take is refused as the API refuses it,
// not dropped; so is a field no form has. The form's own fields are not
// arguments.
func TestActionPostRefusesFieldsOfOtherActions(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	links := buttons(f.widget(t, tokShip))
	tests := []struct {
		kind, field, value, msg string
	}{
		{"accept", "carrier_code", "UPS", "carrier_code: only ship takes a tracking"},
		{"accept", "line_sku", "TENT-2", "line_sku: only cancel_lines takes lines"},
		{"ship", "reason", "34", "reason: only refuse, cancel and cancel_lines take a reason"},
		{"ship", "refuse_sku", "TENT-2", "refuse_sku: only accept takes lines to refuse"},
		{"cancel", "tracking_url", "https://track.example/1", "tracking_url: only ship takes a tracking"},
		{"refuse", "colour", "blue", "colour: no field of the refuse form"},
	}
	for _, tt := range tests {
		tk := ticketOf(t, links[tt.kind][0])
		form := url.Values{"t": {tk}, "form_token": {formToken(t, f.confirm(t, tk).Body.String())}, "agent": {"Léa"}, tt.field: {tt.value}}
		w := f.post(t, form, "", "")
		var body struct {
			Error httpapi.Error `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusUnprocessableEntity || body.Error.Code != httpapi.CodeInvalidField || body.Error.Field != tt.field || body.Error.Message != tt.msg {
			t.Errorf("%s with %s: %d %s", tt.kind, tt.field, w.Code, w.Body)
		}
		// A browser gets the page, with the way back to the form.
		w = f.post(t, form, "", "text/html")
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), `data-code="invalid_field"`) || !strings.Contains(w.Body.String(), ConfirmPath) {
			t.Errorf("%s with %s, as a browser: %d %s", tt.kind, tt.field, w.Code, w.Body)
		}
	}
	if a := f.acts.asked(); len(a) != 0 {
		t.Errorf("asked %+v", a)
	}
}

// A refused field does not spend the form token: the agent corrects it
// and sends the same page again. Two sends of one token still ask once.
func TestActionPostKeepsTheTokenOfARefusedForm(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	tk := ticketOf(t, buttons(f.widget(t, tokShip))["ship"][0])
	form := url.Values{"t": {tk}, "form_token": {formToken(t, f.confirm(t, tk).Body.String())}, "carrier_code": {"UPS"}, "agent": {strings.Repeat("x", 200)}}
	if w := f.post(t, form, "", ""); w.Code != http.StatusUnprocessableEntity || errorCode(t, w) != httpapi.CodeInvalidField {
		t.Fatalf("a long agent: %d %s", w.Code, w.Body)
	}
	form.Set("tracking_url", "ftp://x")
	form.Set("agent", "Léa")
	if w := f.post(t, form, "", ""); w.Code != http.StatusUnprocessableEntity || errorCode(t, w) != httpapi.CodeInvalidField {
		t.Fatalf("an ftp tracking URL: %d %s", w.Code, w.Body)
	}
	form.Del("tracking_url")
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = f.post(t, form, "", "").Code
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, c := range codes {
		switch c {
		case http.StatusOK:
			ok++
		case http.StatusForbidden:
			refused++
		}
	}
	if ok != 1 || refused != len(codes)-1 {
		t.Errorf("the corrected form sent %d times: %v", len(codes), codes)
	}
	if a := f.acts.asked(); len(a) != 1 || a[0].Args.CarrierCode != "UPS" || a[0].By.Agent != "Léa" {
		t.Errorf("asked %+v", a)
	}
}

// The form is urlencoded: another body is a malformed one, whatever it
// holds.
func TestActionPostContentType(t *testing.T) {
	t.Parallel()
	f := newActionFixture(t, "")
	tk := ticketOf(t, buttons(f.widget(t, tokShip))["ship"][0])
	token := formToken(t, f.confirm(t, tk).Body.String())
	for _, ct := range []string{"application/json", "", "multipart/form-data; boundary=x", "text/plain"} {
		body := url.Values{"t": {tk}, "form_token": {token}}.Encode()
		if ct == "application/json" {
			b, _ := json.Marshal(map[string]string{"t": tk, "form_token": token})
			body = string(b)
		}
		r := httptest.NewRequest(http.MethodPost, ActionsPath, strings.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := f.do(t, r)
		var got struct {
			Error httpapi.Error `json:"error"`
		}
		_ = json.Unmarshal(w.Body.Bytes(), &got)
		if w.Code != http.StatusBadRequest || got.Error.Code != httpapi.CodeMalformedBody || got.Error.Field != "Content-Type" || !strings.Contains(got.Error.Message, "Content-Type") {
			t.Errorf("Content-Type %q: %d %s", ct, w.Code, w.Body)
		}
	}
	// With its charset it is the form.
	r := httptest.NewRequest(http.MethodPost, ActionsPath, strings.NewReader(url.Values{"t": {tk}, "form_token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	if w := f.do(t, r); w.Code != http.StatusOK {
		t.Errorf("urlencoded with a charset: %d %s", w.Code, w.Body)
	}
}
