package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/widgets"
)

// These tests hold openapi.yaml to what the bridge really does: every
// widget answer, degraded ones and errors included, is validated against
// the response its operation documents, and the widget events against
// POST /v1/events's request schema. The widget schemas leave their
// properties optional (a sidebar's layout hides fields), so validation
// alone would not notice a renamed field: fieldDiff and
// TestOpenAPIWidgetVocabulary do.

func init() {
	// openapi3filter has no decoder for text/html bodies of its own.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// openAPI validates requests and answers against the embedded document.
type openAPI struct {
	doc    *openapi3.T
	router routers.Router
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	doc, err := httpapi.LoadOpenAPI(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &openAPI{doc: doc, router: router}
}

// schema returns a component schema; nil when the document lacks it.
func (o *openAPI) schema(name string) *openapi3.Schema {
	if ref := o.doc.Components.Schemas[name]; ref != nil {
		return ref.Value
	}
	return nil
}

// input finds the documented operation of req.
func (o *openAPI) input(req *http.Request) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := o.router.FindRoute(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: no documented operation: %w", req.Method, req.URL.Path, err)
	}
	return &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{MultiError: true, AuthenticationFunc: bearerOnly},
	}, nil
}

// bearerOnly accepts a request that carries the credential its
// operation's security scheme documents, when that is a bearer token.
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s.Type != "http" || s.Scheme != "bearer" {
		return fmt.Errorf("security scheme %s is %s %s; the test knows bearer only", in.SecuritySchemeName, s.Type, s.Scheme)
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || token == "" {
		return errors.New("no bearer token")
	}
	return nil
}

// checkRequest validates a request as a client sends it: parameters,
// body and security.
func (o *openAPI) checkRequest(req *http.Request, body []byte) error {
	in, err := o.input(req)
	if err != nil {
		return err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	return openapi3filter.ValidateRequest(context.Background(), in)
}

// checkResponse validates an answer against the response its operation
// documents for its status; an undocumented status fails.
func (o *openAPI) checkResponse(req *http.Request, resp *http.Response, body []byte) error {
	in, err := o.input(req)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotModified {
		// openapi3filter passes every 304: check what it would have.
		doc := in.Route.Operation.Responses.Status(http.StatusNotModified)
		if doc == nil {
			return errors.New("304 is not documented")
		}
		for _, name := range slices.Sorted(maps.Keys(doc.Value.Headers)) {
			if doc.Value.Headers[name].Value.Required && resp.Header.Get(name) == "" {
				return fmt.Errorf("304 without its required header %s", name)
			}
		}
		if len(body) > 0 {
			return fmt.Errorf("304 with a body: %q", body)
		}
		return nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), out)
}

// fieldDiff walks a JSON value along its schema. It returns the paths in
// v that the schema does not describe and, when every is set, the
// documented properties v lacks, but for those optional names by path.
// A oneOf with a discriminator is followed to the mapped schema.
func fieldDiff(path string, s *openapi3.Schema, v any, every bool, optional map[string]bool) (undocumented, missing []string) {
	if s == nil {
		return nil, nil
	}
	switch v := v.(type) {
	case map[string]any:
		if d := s.Discriminator; d != nil {
			kind, _ := v[d.PropertyName].(string)
			i := slices.IndexFunc(s.OneOf, func(r *openapi3.SchemaRef) bool { return r.Ref == d.Mapping[kind].Ref })
			if i < 0 {
				return []string{path + "." + d.PropertyName + "=" + kind}, nil
			}
			s = s.OneOf[i].Value
		}
		for _, k := range slices.Sorted(maps.Keys(v)) {
			prop := s.Properties[k]
			if prop == nil {
				undocumented = append(undocumented, path+"."+k)
				continue
			}
			u, m := fieldDiff(path+"."+k, prop.Value, v[k], every, optional)
			undocumented, missing = append(undocumented, u...), append(missing, m...)
		}
		if every {
			for _, k := range slices.Sorted(maps.Keys(s.Properties)) {
				if _, ok := v[k]; !ok && !optional[path+"."+k] {
					missing = append(missing, path+"."+k)
				}
			}
		}
	case []any:
		if s.Items == nil {
			return []string{path + "[]"}, nil
		}
		for _, e := range v {
			u, m := fieldDiff(path+"[]", s.Items.Value, e, every, optional)
			undocumented, missing = append(undocumented, u...), append(missing, m...)
		}
	}
	return compactSorted(undocumented), compactSorted(missing)
}

func compactSorted(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// degradedOnly are the Widget fields a current answer does not carry.
var degradedOnly = map[string]bool{".as_of": true, ".age_seconds": true, ".notice": true}

// widgetCall is one request to a widget route and what it must answer.
type widgetCall struct {
	name   string
	method string // GET unless set
	path   string // with its query
	token  string
	header http.Header
	body   []byte
	status int
	// code and field, for an error.
	code, field string
	// widget is the answer's widget status (the body's, or
	// X-Widget-Status for HTML).
	widget string
	// every: the answer is a JSON widget of the default layout, which
	// shows every documented field.
	every bool
}

// do sends c and checks the answer against the document and c.
func (c widgetCall) do(t *testing.T, h *harness, oa *openAPI) (*http.Response, []byte) {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, h.url+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()

	if resp.StatusCode != c.status {
		t.Errorf("%s: status %d, want %d: %s", c.name, resp.StatusCode, c.status, body)
	}
	if err := oa.checkResponse(req, resp, body); err != nil {
		t.Errorf("%s: the answer does not match openapi.yaml: %v\n%s", c.name, err, body)
	}
	if resp.StatusCode < 400 {
		// A request the bridge serves must be one the document allows.
		if err := oa.checkRequest(req, c.body); err != nil {
			t.Errorf("%s: the request does not match openapi.yaml: %v", c.name, err)
		}
	}
	if c.code != "" {
		var e struct{ Error struct{ Code, Field string } }
		_ = json.Unmarshal(body, &e)
		if e.Error.Code != c.code || e.Error.Field != c.field {
			t.Errorf("%s: error %q on %q, want %q on %q", c.name, e.Error.Code, e.Error.Field, c.code, c.field)
		}
	}
	if c.widget != "" {
		if got := resp.Header.Get("X-Widget-Status"); got != c.widget {
			t.Errorf("%s: X-Widget-Status %q, want %q", c.name, got, c.widget)
		}
		degraded := c.widget != widgets.StateOK
		if etag := resp.Header.Get("ETag"); degraded != (etag == "") {
			t.Errorf("%s: ETag %q on a %s answer: only current answers carry one", c.name, etag, c.widget)
		}
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && resp.StatusCode == http.StatusOK {
		c.checkFields(t, oa, body)
	}
	return resp, body
}

// checkFields holds a JSON answer's fields to its schema's.
func (c widgetCall) checkFields(t *testing.T, oa *openAPI, body []byte) {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	schema := oa.schema("HelpScoutWidget")
	switch {
	case strings.HasPrefix(c.path, "/v1/widgets/gorgias/template"):
		schema = oa.schema("GorgiasWidgetTemplate")
	case strings.HasPrefix(c.path, "/v1/widgets/gorgias"):
		schema = oa.schema("Widget")
		if c.widget != "" && v["status"] != c.widget {
			t.Errorf("%s: status %v, want %s", c.name, v["status"], c.widget)
		}
	case strings.HasPrefix(c.path, "/v1/widgets/zendesk"):
		schema = oa.schema("ZendeskWidget")
	}
	optional := degradedOnly
	if c.widget == widgets.StateStale {
		optional = nil
	}
	undocumented, missing := fieldDiff("", schema, v, c.every, optional)
	if len(undocumented) > 0 {
		t.Errorf("%s: fields openapi.yaml does not document: %v\n%s", c.name, undocumented, body)
	}
	if len(missing) > 0 {
		t.Errorf("%s: documented fields the answer lacks: %v\n%s", c.name, missing, body)
	}
}

// signHelpScout signs a body as Help Scout does.
func signHelpScout(secret string, body []byte) http.Header {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return http.Header{"X-Helpscout-Signature": {base64.StdEncoding.EncodeToString(mac.Sum(nil))}}
}

// TestOpenAPIWidgetAnswers runs the bridge on the shared test database,
// so it is not parallel.
func TestOpenAPIWidgetAnswers(t *testing.T) {
	oa := loadOpenAPI(t)
	h := newHarness(t, harnessOptions{})
	h.sendAll(widgetEvents(time.Now().UTC().Truncate(time.Second)))
	h.waitWidget(sidebarToken, buyerEmail, 3)
	h.settle() // every shipment, return and request applied: the default layout shows them all

	q := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return "?" + v.Encode()
	}
	buyer := q("email", buyerEmail)
	hsBody := []byte(`{"ticket":{"id":1,"number":2,"subject":"Broken mug"},"customer":{"id":3,"fname":"Jeanne","emails":["` + buyerEmail + `"]},"user":{"id":4},"mailbox":{"id":5}}`)
	noEmail := []byte(`{"customer":{"id":3}}`)
	notJSON := []byte(`customer=jeanne`)
	tooBig := []byte(`{"customer":{"email":"` + buyerEmail + `"},"pad":"` + strings.Repeat("x", widgets.MaxHelpScoutBody) + `"}`)

	for _, c := range []widgetCall{
		{name: "json, default layout", path: "/v1/widgets/gorgias" + buyer, token: sidebarToken, status: 200, widget: "ok", every: true},
		{name: "json, compact layout", path: "/v1/widgets/gorgias" + buyer, token: compactToken, status: 200, widget: "ok"},
		{name: "json, one of the sidebar's stores", path: "/v1/widgets/gorgias" + q("email", buyerEmail, "store", "acme-de"), token: sidebarToken, status: 200, widget: "ok"},
		{name: "json, stores comma-separated", path: "/v1/widgets/gorgias" + q("email", buyerEmail, "store", "acme-fr,acme-de"), token: sidebarToken, status: 200, widget: "ok"},
		{name: "json, unknown customer", path: "/v1/widgets/gorgias" + q("email", "nobody@example.com"), token: sidebarToken, status: 200, widget: "ok"},
		{name: "zendesk, default layout", path: "/v1/widgets/zendesk" + buyer, token: sidebarToken, status: 200, widget: "ok", every: true},
		{name: "zendesk, compact layout", path: "/v1/widgets/zendesk" + buyer, token: compactToken, status: 200, widget: "ok", every: true},
		{name: "html page", path: "/v1/widgets/html" + buyer, token: sidebarToken, status: 200, widget: "ok"},
		{name: "template, default layout", path: "/v1/widgets/gorgias/template", token: sidebarToken, status: 200},
		{name: "template, compact layout", path: "/v1/widgets/gorgias/template", token: compactToken, status: 200},
		{name: "helpscout", method: http.MethodPost, path: "/v1/widgets/helpscout/acme-helpscout", header: signHelpScout(helpScoutKey, hsBody), body: hsBody, status: 200, widget: "ok", every: true},

		{name: "json, no token", path: "/v1/widgets/gorgias" + buyer, status: 401, code: "missing_token", field: "Authorization"},
		{name: "json, basic auth", path: "/v1/widgets/gorgias" + buyer, header: http.Header{"Authorization": {"Basic YWxhZGRpbjpvcGVu"}}, status: 401, code: "missing_token", field: "Authorization"},
		{name: "json, unknown token", path: "/v1/widgets/gorgias" + buyer, token: "not-a-sidebar-token-0123456789", status: 401, code: "invalid_token", field: "Authorization"},
		{name: "json, no email", path: "/v1/widgets/gorgias", token: sidebarToken, status: 400, code: "missing_email", field: "email"},
		{name: "json, not an email", path: "/v1/widgets/gorgias" + q("email", "jeanne"), token: sidebarToken, status: 400, code: "invalid_email", field: "email"},
		{name: "json, a display name", path: "/v1/widgets/gorgias" + q("email", "Jeanne <jeanne@example.com>"), token: sidebarToken, status: 400, code: "invalid_email", field: "email"},
		{name: "json, a store outside the sidebar", path: "/v1/widgets/gorgias" + q("email", buyerEmail, "store", "acme-de"), token: compactToken, status: 403, code: "store_not_allowed", field: "store"},
		{name: "json, another merchant's store", path: "/v1/widgets/gorgias" + q("email", buyerEmail, "store", "acme-fr"), token: globexToken, status: 403, code: "store_not_allowed", field: "store"},
		{name: "zendesk, no email", path: "/v1/widgets/zendesk", token: compactToken, status: 400, code: "missing_email", field: "email"},
		{name: "html, unknown token", path: "/v1/widgets/html" + buyer, token: "not-a-sidebar-token-0123456789", status: 401, code: "invalid_token", field: "Authorization"},
		{name: "template, no token", path: "/v1/widgets/gorgias/template", status: 401, code: "missing_token", field: "Authorization"},
		{name: "helpscout, no signature", method: http.MethodPost, path: "/v1/widgets/helpscout/acme-helpscout", body: hsBody, status: 401, code: "invalid_signature", field: "X-HelpScout-Signature"},
		{name: "helpscout, wrong secret", method: http.MethodPost, path: "/v1/widgets/helpscout/acme-helpscout", header: signHelpScout("another-secret-1234", hsBody), body: hsBody, status: 401, code: "invalid_signature", field: "X-HelpScout-Signature"},
		{name: "helpscout, unknown sidebar", method: http.MethodPost, path: "/v1/widgets/helpscout/nope", header: signHelpScout(helpScoutKey, hsBody), body: hsBody, status: 404, code: "unknown_sidebar", field: "sidebar"},
		{name: "helpscout, no email", method: http.MethodPost, path: "/v1/widgets/helpscout/acme-helpscout", header: signHelpScout(helpScoutKey, noEmail), body: noEmail, status: 400, code: "missing_email", field: "customer.email"},
		{name: "helpscout, not JSON", method: http.MethodPost, path: "/v1/widgets/helpscout/acme-helpscout", header: signHelpScout(helpScoutKey, notJSON), body: notJSON, status: 400, code: "malformed_body"},
		{name: "helpscout, too large", method: http.MethodPost, path: "/v1/widgets/helpscout/acme-helpscout", header: signHelpScout(helpScoutKey, tooBig), body: tooBig, status: 413, code: "body_too_large"},
	} {
		c.do(t, h, oa)
	}

	// An answer still current is a 304, for each format that has ETags.
	for _, path := range []string{"/v1/widgets/gorgias", "/v1/widgets/zendesk", "/v1/widgets/html"} {
		first, _ := widgetCall{name: path, path: path + buyer, token: sidebarToken, status: 200, widget: "ok"}.do(t, h, oa)
		widgetCall{name: path + ", If-None-Match", path: path + buyer, token: sidebarToken, status: 304, widget: "ok",
			header: http.Header{"If-None-Match": {first.Header.Get("ETag")}}}.do(t, h, oa)
	}

	// The template binds documented paths only.
	for _, token := range []string{sidebarToken, compactToken} {
		_, body := h.widget("/v1/widgets/gorgias/template", token, nil, nil)
		var tpl widgets.GorgiasWidget
		if err := json.Unmarshal(body, &tpl); err != nil {
			t.Fatal(err)
		}
		if bad := templateDiff("", tpl.Template, oa.schema("Widget")); len(bad) > 0 {
			t.Errorf("template nodes bound to paths the Widget schema does not have: %v", bad)
		}
	}
}

// templateDiff lists the nodes of a Gorgias template whose path is not a
// property of the schema they bind to, of the right kind.
func templateDiff(where string, n widgets.GorgiasNode, s *openapi3.Schema) []string {
	var bad []string
	kids := s
	if n.Path != "" {
		where += "/" + n.Path
		prop := s.Properties[n.Path]
		switch {
		case prop == nil:
			return []string{where}
		case n.Type == widgets.GorgiasList && prop.Value.Type.Is("array"):
			kids = prop.Value.Items.Value
		case n.Type == widgets.GorgiasCard && prop.Value.Type.Is("object"):
			kids = prop.Value
		case n.Type == widgets.GorgiasText && !prop.Value.Type.Includes("array") && !prop.Value.Type.Includes("object"):
		default:
			return []string{where + " (" + n.Type + ")"}
		}
	}
	for _, k := range n.Widgets {
		bad = append(bad, templateDiff(where, k, kids)...)
	}
	return bad
}

// TestOpenAPIWidgetDegradedAnswers freezes a Redis of the test's own, so
// that the bridge answers stale and unavailable widgets, and validates
// those answers.
func TestOpenAPIWidgetDegradedAnswers(t *testing.T) {
	oa := loadOpenAPI(t)
	srv := rdbtest.Start(t)
	h := newHarness(t, harnessOptions{redisURL: srv.URL()})
	// Registered after the harness, so run before it stops: a frozen
	// Redis would hold the shutdown.
	t.Cleanup(func() { srv.Signal(t, syscall.SIGCONT) })
	h.sendAll(widgetEvents(time.Now().UTC()))
	h.waitWidget(sidebarToken, buyerEmail, 3)
	h.settle()
	h.waitWidget(sidebarToken, buyerEmail, 3) // the last known data: complete

	srv.Signal(t, syscall.SIGSTOP)
	known, unknown := "?"+url.Values{"email": {buyerEmail}}.Encode(), "?"+url.Values{"email": {"first.time@example.com"}}.Encode()
	for _, c := range []widgetCall{
		{name: "json, stale", path: "/v1/widgets/gorgias" + known, token: sidebarToken, status: 200, widget: "stale", every: true},
		{name: "json, unavailable", path: "/v1/widgets/gorgias" + unknown, token: sidebarToken, status: 200, widget: "unavailable"},
		{name: "json compact, stale", path: "/v1/widgets/gorgias" + known, token: compactToken, status: 200, widget: "stale"},
		{name: "zendesk, stale", path: "/v1/widgets/zendesk" + known, token: compactToken, status: 200, widget: "stale", every: true},
		{name: "zendesk, unavailable", path: "/v1/widgets/zendesk" + unknown, token: compactToken, status: 200, widget: "unavailable", every: true},
		{name: "html, stale", path: "/v1/widgets/html" + known, token: sidebarToken, status: 200, widget: "stale"},
		{name: "html, unavailable", path: "/v1/widgets/html" + unknown, token: sidebarToken, status: 200, widget: "unavailable"},
	} {
		resp, _ := c.do(t, h, oa)
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", c.name, cc)
		}
	}
}

// TestOpenAPIWidgetEvents validates the widget events the end-to-end tests
// send against POST /v1/events's request, as signed and sent.
func TestOpenAPIWidgetEvents(t *testing.T) {
	t.Parallel()
	oa := loadOpenAPI(t)
	post := func(body []byte) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, "http://bridge.test/v1/events", nil)
		stamp := strconv.FormatInt(time.Now().Unix(), 10)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(events.HeaderMerchant, "acme")
		req.Header.Set(events.HeaderTimestamp, stamp)
		req.Header.Set(events.HeaderSignature, events.SignatureHeader(acmeSecret, stamp, body))
		return req
	}
	kinds := map[string]bool{}
	for _, body := range widgetEvents(time.Now()) {
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Fatal(err)
		}
		kind, _ := ev["kind"].(string)
		kinds[kind] = true
		if err := oa.checkRequest(post(body), body); err != nil {
			t.Errorf("%s %v: does not match openapi.yaml: %v", kind, ev["id"], err)
		}
		if undocumented, _ := fieldDiff("", oa.schema("Event"), ev, false, nil); len(undocumented) > 0 {
			t.Errorf("%s %v: fields openapi.yaml does not document: %v", kind, ev["id"], undocumented)
		}
	}
	for kind := range orders.Planners(5*time.Minute, 1) {
		if !kinds[kind] {
			t.Errorf("widgetEvents sends no %s event to check", kind)
		}
	}

	// The check is not vacuous: what the bridge refuses, the document
	// refuses too.
	for name, data := range map[string]map[string]any{
		"status not normalised": {"store": "acme-fr", "order_id": "X", "updated_at": "2026-01-02T09:00:00Z", "created_at": "2026-01-02T09:00:00Z", "customer": map[string]any{"email": buyerEmail}, "status": "shipped"},
		"total not decimal":     {"store": "acme-fr", "order_id": "X", "updated_at": "2026-01-02T09:00:00Z", "created_at": "2026-01-02T09:00:00Z", "customer": map[string]any{"email": buyerEmail}, "total": "49,90"},
		"no customer":           {"store": "acme-fr", "order_id": "X", "updated_at": "2026-01-02T09:00:00Z", "created_at": "2026-01-02T09:00:00Z"},
	} {
		body := event("bad", orders.KindOrderUpserted, data)
		if err := oa.checkRequest(post(body), body); err == nil {
			t.Errorf("order.upserted with %s: the document accepts it", name)
		}
	}
}

// TestOpenAPIWidgetVocabulary holds the schemas to the code's names: the
// layout's fields (the widget's paths) and the events' fields, with which
// are required.
func TestOpenAPIWidgetVocabulary(t *testing.T) {
	t.Parallel()
	oa := loadOpenAPI(t)

	sections := map[string]string{
		"sections": "Widget", "customer": "WidgetCustomer", "orders": "WidgetOrder", "lines": "WidgetLine",
		"shipments": "WidgetShipment", "returns": "WidgetReturn", "return_products": "WidgetReturnProduct",
		"support_requests": "WidgetSupportRequest",
	}
	for _, section := range config.WidgetSections {
		name, ok := sections[section]
		if !ok {
			t.Errorf("layout section %q: which schema documents it? Add it here and to openapi.yaml", section)
			continue
		}
		s := oa.schema(name)
		if s == nil {
			t.Errorf("no schema %s", name)
			continue
		}
		got := slices.Sorted(maps.Keys(s.Properties))
		if section == "sections" {
			got = slices.DeleteFunc(got, func(p string) bool { return p == "version" || p == "status" || degradedOnly["."+p] })
		}
		want := slices.Sorted(slices.Values(config.WidgetFields[section]))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s properties against config.WidgetFields[%q] (-want +got):\n%s", name, section, diff)
		}
	}

	for _, c := range []struct {
		schema string
		data   any
	}{
		{"OrderUpserted", orders.OrderUpserted{}},
		{"OrderCustomer", orders.OrderCustomer{}},
		{"EventLine", orders.EventLine{}},
		{"ShipmentUpserted", orders.ShipmentUpserted{}},
		{"ReturnUpserted", orders.ReturnUpserted{}},
		{"EventReturnProduct", orders.EventReturnProduct{}},
		{"SupportRequestUpserted", orders.SupportRequestUpserted{}},
	} {
		s := oa.schema(c.schema)
		if s == nil {
			t.Errorf("no schema %s", c.schema)
			continue
		}
		fields, required := jsonFields(reflect.TypeOf(c.data))
		if diff := cmp.Diff(fields, slices.Sorted(maps.Keys(s.Properties))); diff != "" {
			t.Errorf("%s properties against %T (-want +got):\n%s", c.schema, c.data, diff)
		}
		if diff := cmp.Diff(required, slices.Sorted(slices.Values(s.Required))); diff != "" {
			t.Errorf("%s required against %T's validate tags (-want +got):\n%s", c.schema, c.data, diff)
		}
	}

	// Every kind the bridge plans is documented, with the data of its kind.
	event := oa.schema("Event")
	var planned []string
	for _, set := range []map[string]events.Planner{alerts.Planners(1), orders.Planners(5*time.Minute, 1)} {
		planned = slices.AppendSeq(planned, maps.Keys(set))
	}
	slices.Sort(planned)
	if diff := cmp.Diff(planned, slices.Sorted(maps.Keys(event.Discriminator.Mapping))); diff != "" {
		t.Errorf("Event discriminator against the planned kinds (-want +got):\n%s", diff)
	}
	for kind, ref := range event.Discriminator.Mapping {
		i := slices.IndexFunc(event.OneOf, func(r *openapi3.SchemaRef) bool { return r.Ref == ref.Ref })
		if i < 0 {
			t.Errorf("Event maps %s to %s, which is not one of its oneOf", kind, ref.Ref)
			continue
		}
		if enum := event.OneOf[i].Value.Properties["kind"].Value.Enum; !slices.Equal(enum, []any{kind}) {
			t.Errorf("%s: kind enum %v, want [%s]", ref.Ref, enum, kind)
		}
	}
}

// jsonFields lists a struct's JSON names, sorted, and those its validate
// tag requires: by "required", or by a lower bound the zero value fails
// (quantity: gte=1).
func jsonFields(typ reflect.Type) (fields, required []string) {
	for f := range typ.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		fields = append(fields, name)
		rules := strings.Split(f.Tag.Get("validate"), ",")
		if slices.Contains(rules, "omitempty") {
			continue
		}
		if slices.ContainsFunc(rules, func(r string) bool {
			rule, param, _ := strings.Cut(r, "=")
			n, _ := strconv.Atoi(param)
			return rule == "required" || (rule == "gte" || rule == "min") && n > 0
		}) {
			required = append(required, name)
		}
	}
	slices.Sort(fields)
	slices.Sort(required)
	return fields, required
}
