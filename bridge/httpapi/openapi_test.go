package httpapi

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
)

const errorSchemaRef = "#/components/schemas/Error"

func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := LoadOpenAPI(context.Background())
	if err != nil {
		t.Fatalf("LoadOpenAPI: %v", err)
	}
	return doc
}

func newTestEngine() *gin.Engine {
	gin.SetMode(gin.TestMode) // no route dump on stdout
	return gin.New()
}

func TestOpenAPIValidates(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
}

// The event kinds are listed here because importing the packages that
// define them would be an import cycle.
func TestOpenAPIDocumentsEveryEventKind(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	event := doc.Components.Schemas["Event"].Value
	var got []string
	for kind := range event.Discriminator.Mapping {
		got = append(got, kind)
	}
	sort.Strings(got)
	want := []string{
		"delivery_survey.rated", "order.action_required", "order.action_resolved",
		"order.upserted", "return.upserted", "shipment.upserted", "support_request.upserted",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Event discriminator kinds (-want +got):\n%s", diff)
	}
	if n := len(event.OneOf); n != len(want) {
		t.Errorf("Event has %d oneOf schemas, want %d", n, len(want))
	}

	examples := doc.Paths.Value("/v1/events").Post.RequestBody.Value.Content.Get("application/json").Examples
	seen := map[string]bool{}
	for _, ex := range examples {
		kind, _ := ex.Value.Value.(map[string]any)["kind"].(string)
		seen[kind] = true
	}
	for _, kind := range want {
		if !seen[kind] {
			t.Errorf("POST /v1/events has no request example of kind %s", kind)
		}
	}
}

func TestServeOpenAPI(t *testing.T) {
	t.Parallel()
	e := newTestEngine()
	ServeOpenAPI(e)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q, want application/yaml", ct)
	}
	if rec.Body.String() != string(OpenAPI()) {
		t.Error("body is not the embedded document")
	}
}

// serveLikeTheApp mounts stub handlers on the routes cmd/bridge mounts, in
// the same way (Any for the dashboard), minus skip.
func serveLikeTheApp(e *gin.Engine, skip ...string) {
	stub := func(*gin.Context) {}
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/healthz"},
		{http.MethodGet, "/readyz"},
		{http.MethodGet, "/metrics"},
		{http.MethodGet, "/openapi.yaml"},
		{http.MethodPost, "/v1/events"},
		{http.MethodGet, "/v1/widgets/gorgias"},
		{http.MethodGet, "/v1/widgets/zendesk"},
		{http.MethodGet, "/v1/widgets/html"},
		{http.MethodGet, "/v1/widgets/gorgias/template"},
		{http.MethodPost, "/v1/widgets/helpscout/:sidebar"},
		{http.MethodGet, "/v1/widgets/actions/confirm"},
		{http.MethodPost, "/v1/widgets/actions"},
		{http.MethodPost, "/v1/widgets/gorgias/commands"},
		{http.MethodGet, "/v1/discussions"},
		{http.MethodPatch, "/v1/discussions/status"},
		{http.MethodGet, "/v1/discussions/:account/:thread"},
		{http.MethodPost, "/v1/discussions/:account/:thread/read"},
		{http.MethodPost, "/v1/discussions/:account/:thread/unread"},
		{http.MethodPut, "/v1/discussions/:account/:thread/merchant-ticket-id"},
		{http.MethodPost, "/v1/discussions/:account/:thread/resync"},
		{http.MethodPost, "/v1/discussions/:account/resync"},
		{http.MethodPost, "/v1/orders/subscriptions"},
		{http.MethodGet, "/v1/orders/subscriptions"},
		{http.MethodGet, "/v1/orders/subscriptions/:id"},
		{http.MethodDelete, "/v1/orders/subscriptions/:id"},
		{http.MethodPost, "/v1/orders/subscriptions/:id/resume"},
		{http.MethodPost, "/v1/orders/subscriptions/:id/replay"},
		{http.MethodGet, "/v1/orders"},
		{http.MethodGet, "/v1/orders.csv"},
		{http.MethodPost, "/v1/orders/:store/:order_id/actions"},
		{http.MethodGet, "/v1/orders/:store/:order_id/actions"},
		{http.MethodGet, "/v1/order-actions"},
		{http.MethodGet, "/v1/order-actions/:id"},
		{http.MethodGet, "/v1/widgets/invoice"},
		{http.MethodGet, "/v1/stores/:store/invoice-settings"},
		{http.MethodPut, "/v1/stores/:store/invoice-settings"},
		{http.MethodGet, "/v1/orders/:store/:order_id/invoice/next"},
		{http.MethodPost, "/v1/orders/:store/:order_id/invoice"},
		{http.MethodGet, "/v1/orders/:store/:order_id/invoice"},
		{http.MethodGet, "/v1/orders/:store/:order_id/invoice.pdf"},
		{http.MethodPost, "/v1/orders/:store/:order_id/credit-notes"},
		{http.MethodGet, "/v1/invoices/:store/*file"},
		{http.MethodPost, "/v1/invoices/:store/bulk"},
		{http.MethodGet, "/v1/invoices/jobs/:id"},
		{http.MethodGet, "/v1/invoices/jobs/:id/zip"},
		{http.MethodPost, "/v1/webhooks/helpdesks/:helpdesk"},
		{http.MethodGet, "/v1/files/:token"},
		{http.MethodGet, "/v1/admin/dead-letters"},
		{http.MethodPost, "/v1/admin/dead-letters/:id/replay"},
		{http.MethodGet, "/v1/admin/mail/:account/unmatched"},
		{"ANY", "/monitoring"},
		{"ANY", "/monitoring/*path"},
	} {
		switch {
		case slices.Contains(skip, r.method+" "+r.path):
		case r.method == "ANY":
			e.Any(r.path, stub)
		default:
			e.Handle(r.method, r.path, stub)
		}
	}
}

func TestRouteComparison(t *testing.T) {
	t.Parallel()
	stub := func(*gin.Context) {}
	tests := []struct {
		name             string
		serve            func(e *gin.Engine)
		wantUndocumented []string
		wantUnserved     []string
	}{
		{
			name:  "served like the app",
			serve: func(e *gin.Engine) { serveLikeTheApp(e) },
		},
		{
			name:         "documented route not served",
			serve:        func(e *gin.Engine) { serveLikeTheApp(e, "POST /v1/admin/dead-letters/:id/replay") },
			wantUnserved: []string{"POST /v1/admin/dead-letters/{id}/replay"},
		},
		{
			name: "served route not documented",
			serve: func(e *gin.Engine) {
				serveLikeTheApp(e)
				e.GET("/v1/admin/debug", stub)
			},
			wantUndocumented: []string{"GET /v1/admin/debug"},
		},
		{
			name: "served with another method",
			serve: func(e *gin.Engine) {
				serveLikeTheApp(e, "POST /v1/events")
				e.PUT("/v1/events", stub)
			},
			wantUndocumented: []string{"PUT /v1/events"},
			wantUnserved:     []string{"POST /v1/events"},
		},
		{
			name: "path parameter renamed",
			serve: func(e *gin.Engine) {
				serveLikeTheApp(e, "POST /v1/admin/dead-letters/:id/replay")
				e.POST("/v1/admin/dead-letters/:letter/replay", stub)
			},
			wantUndocumented: []string{"POST /v1/admin/dead-letters/:letter/replay"},
			wantUnserved:     []string{"POST /v1/admin/dead-letters/{id}/replay"},
		},
		{
			name: "documented catch-all served as one segment",
			serve: func(e *gin.Engine) {
				serveLikeTheApp(e, "ANY /monitoring/*path")
				e.GET("/monitoring/:path", stub)
			},
			wantUndocumented: []string{"GET /monitoring/:path"},
		},
		{
			name: "method outside the document on a path without any-method",
			serve: func(e *gin.Engine) {
				serveLikeTheApp(e)
				e.HEAD("/healthz", stub)
			},
			wantUndocumented: []string{"HEAD /healthz"},
		},
		{
			name: "admin routes not mounted",
			serve: func(e *gin.Engine) {
				serveLikeTheApp(e, "GET /v1/admin/dead-letters", "POST /v1/admin/dead-letters/:id/replay",
					"GET /v1/admin/mail/:account/unmatched", "ANY /monitoring", "ANY /monitoring/*path")
			},
			wantUnserved: []string{
				"GET /monitoring", "GET /monitoring/{path}",
				"GET /v1/admin/dead-letters", "GET /v1/admin/mail/{account}/unmatched",
				"POST /v1/admin/dead-letters/{id}/replay",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEngine()
			tt.serve(e)
			if diff := cmp.Diff(tt.wantUndocumented, UndocumentedRoutes(e.Routes())); diff != "" {
				t.Errorf("UndocumentedRoutes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUnserved, UnservedPaths(e.Routes())); diff != "" {
				t.Errorf("UnservedPaths (-want +got):\n%s", diff)
			}
		})
	}
}

// A catch-all is covered only by a path item that says so: the embedded
// document has no such mistake to test against.
func TestRouteComparisonCatchAllNeedsExtension(t *testing.T) {
	t.Parallel()
	const spec = `
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /files/{rest}:
    get:
      parameters: [{name: rest, in: path, required: true, schema: {type: string}}]
      responses: {"200": {description: ok}}
`
	doc, err := openapi3.NewLoader().LoadFromData([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	e := newTestEngine()
	e.GET("/files/*rest", func(*gin.Context) {})
	undocumented, unserved := compareRoutes(doc, e.Routes())
	if diff := cmp.Diff([]string{"GET /files/*rest"}, undocumented); diff != "" {
		t.Errorf("undocumented (-want +got):\n%s", diff)
	}
	if len(unserved) != 0 {
		t.Errorf("unserved = %v, want none", unserved)
	}
}

func TestOpenAPIAdminRoutesNeedBasicAuth(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	for path, item := range doc.Paths.Map() {
		admin := strings.HasPrefix(path, "/v1/admin/") || path == "/monitoring" || strings.HasPrefix(path, "/monitoring/")
		for method, op := range item.Operations() {
			var got []string
			if op.Security != nil {
				for _, req := range *op.Security {
					for name := range req {
						got = append(got, name)
					}
				}
			}
			var want []string
			switch {
			case admin:
				want = []string{"adminBasic"}
			case strings.HasPrefix(path, "/v1/widgets/actions") || path == "/v1/widgets/invoice":
				// A browser tab: the signed ticket and the form token
				// authenticate, never a bearer token.
				want = nil
			case strings.HasPrefix(path, "/v1/widgets/") && !strings.HasPrefix(path, "/v1/widgets/helpscout/"):
				// Help Scout signs its requests instead.
				want = []string{"sidebarBearer"}
			case path == "/v1/discussions" || strings.HasPrefix(path, "/v1/discussions/") || path == "/v1/orders" || path == "/v1/orders.csv" || strings.HasPrefix(path, "/v1/orders/") || strings.HasPrefix(path, "/v1/order-actions") ||
				strings.HasPrefix(path, "/v1/stores/") || strings.HasPrefix(path, "/v1/invoices/"):
				// A merchant's integrators: the token decides the merchant.
				want = []string{"merchantBearer"}
			}
			if op.Security == nil {
				t.Errorf("%s %s: no security stated; say [] for a public route", method, path)
			} else if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s %s security (-want +got):\n%s", method, path, diff)
			}
		}
	}
}

func TestOpenAPIErrorResponsesUseTheErrorSchema(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	used := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, resp := range op.Responses.Map() {
				if status != "default" && status[0] != '4' && status[0] != '5' {
					continue
				}
				where := method + " " + path + " " + status
				content := resp.Value.Content
				if len(content) != 1 || content.Get("application/json") == nil {
					t.Errorf("%s: content types %v, want only application/json", where, slices.Sorted(maps.Keys(content)))
					continue
				}
				mt := content.Get("application/json")
				if mt.Schema == nil || mt.Schema.Ref != errorSchemaRef {
					t.Errorf("%s: schema is not %s", where, errorSchemaRef)
				}
				if len(mt.Examples) == 0 {
					t.Errorf("%s: no example names the codes it carries", where)
				}
				for _, ex := range mt.Examples {
					used[exampleCode(ex.Value.Value)] = true
				}
			}
		}
	}

	codes := doc.Components.Schemas["ErrorBody"].Value.Properties["code"].Value.Enum
	for _, c := range codes {
		// The router answers it on any path; info.description says so.
		if c == "method_not_allowed" {
			continue
		}
		if !used[c.(string)] {
			t.Errorf("code %q is in ErrorBody.code but in no response's examples", c)
		}
	}
	for _, c := range []string{CodeMalformedBody, CodeInvalidField, CodeBodyTooLarge, CodeNotFound, CodeUnauthorized, CodeInternal, CodeUnavailable} {
		if !slices.Contains(codes, any(c)) {
			t.Errorf("code %q is missing from ErrorBody.code", c)
		}
	}
}

func exampleCode(v any) string {
	body, _ := v.(map[string]any)["error"].(map[string]any)
	code, _ := body["code"].(string)
	return code
}

// What the error middleware writes must match what the document promises.
func TestOpenAPIErrorSchemaMatchesErrorMiddleware(t *testing.T) {
	t.Parallel()
	schema := loadDoc(t).Components.Schemas["Error"].Value
	for _, apiErr := range []*Error{
		Errorf(http.StatusUnprocessableEntity, CodeInvalidField, "data.score", "data.score must be at most 5"),
		Errorf(http.StatusInternalServerError, CodeInternal, "", "internal error"),
	} {
		e := newTestEngine()
		e.Use(ErrorMiddleware())
		e.GET("/fail", func(c *gin.Context) { Fail(c, apiErr) })
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/fail", nil))
		var got any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%s: body %q: %v", apiErr.Code, rec.Body, err)
		}
		if err := schema.VisitJSON(got); err != nil {
			t.Errorf("%s: body %s does not match the Error schema: %v", apiErr.Code, rec.Body, err)
		}
	}
}
