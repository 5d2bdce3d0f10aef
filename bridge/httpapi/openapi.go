package httpapi

import (
	"context"
	_ "embed"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
)

// The document ships inside the binary so that what a running bridge
// serves is always the document of that build.
//
//go:embed openapi.yaml
var openAPIDoc []byte

// Path-item extensions that tie the document to gin's routes.
const (
	// extAnyMethod marks a path served with gin's Any: every method reaches
	// the handler, though the document lists only those meant for clients.
	extAnyMethod = "x-bridge-any-method"
	// extCatchAll marks a path whose last parameter is a gin catch-all
	// (*name): it spans the rest of the URL, slashes included, which an
	// OpenAPI path parameter cannot say by itself.
	extCatchAll = "x-bridge-catch-all"
)

// OpenAPI returns the OpenAPI 3.0 document of the bridge's HTTP API, as
// YAML. The caller must not modify it.
func OpenAPI() []byte { return openAPIDoc }

// LoadOpenAPI parses the embedded document and validates it, examples
// included, reporting every problem at once.
func LoadOpenAPI(ctx context.Context) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIDoc)
	if err != nil {
		return nil, fmt.Errorf("httpapi: load openapi.yaml: %w", err)
	}
	if err := doc.Validate(ctx, openapi3.EnableMultiError(), openapi3.EnableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("httpapi: validate openapi.yaml: %w", err)
	}
	return doc, nil
}

// ServeOpenAPI mounts GET /openapi.yaml, which serves the document.
func ServeOpenAPI(r gin.IRouter) {
	r.GET("/openapi.yaml", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/yaml", openAPIDoc)
	})
}

// UndocumentedRoutes lists the routes gin serves that the document does
// not describe, as "METHOD /gin/path", sorted. Pass it engine.Routes().
//
// A route is documented when the document has its path, written with
// {name} for gin's :name and *name, and either an operation for its method
// or the x-bridge-any-method extension on the path item; and the path
// item carries x-bridge-catch-all exactly when the route ends in a
// catch-all (*name), since {name} alone promises a single path segment.
//
// It panics if the embedded document does not load, as that is a defect
// of the build, which this package's tests catch.
func UndocumentedRoutes(routes gin.RoutesInfo) []string {
	undocumented, _ := compareRoutes(mustLoad(), routes)
	return undocumented
}

// UnservedPaths lists the operations the document describes that gin does
// not serve, as "METHOD /openapi/{path}", sorted, by the same rule as
// UndocumentedRoutes. Pass it engine.Routes() of an engine built with every
// feature on (admin routes are only mounted with an admin password).
//
// It panics if the embedded document does not load, as UndocumentedRoutes.
func UnservedPaths(routes gin.RoutesInfo) []string {
	_, unserved := compareRoutes(mustLoad(), routes)
	return unserved
}

// loadedDoc is the embedded document, parsed and validated once: it never
// changes, and the comparisons only read it.
var loadedDoc = sync.OnceValues(func() (*openapi3.T, error) { return LoadOpenAPI(context.Background()) })

func mustLoad() *openapi3.T {
	doc, err := loadedDoc()
	if err != nil {
		panic(err)
	}
	return doc
}

// compareRoutes is UndocumentedRoutes and UnservedPaths against any
// document.
func compareRoutes(doc *openapi3.T, routes gin.RoutesInfo) (undocumented, unserved []string) {
	served := make(map[string]bool, len(routes))
	for _, r := range routes {
		path, catchAll := openAPIPath(r.Path)
		served[r.Method+" "+path] = true
		item := doc.Paths.Value(path)
		switch {
		case item == nil,
			catchAll != isTrue(item.Extensions[extCatchAll]),
			item.GetOperation(r.Method) == nil && !isTrue(item.Extensions[extAnyMethod]):
			undocumented = append(undocumented, r.Method+" "+r.Path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				unserved = append(unserved, method+" "+path)
			}
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unserved)
	return undocumented, unserved
}

// openAPIPath writes a gin path in OpenAPI's template form: /a/:id/*rest
// becomes /a/{id}/{rest}. catchAll reports a *rest.
func openAPIPath(ginPath string) (path string, catchAll bool) {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		j := strings.IndexAny(s, ":*")
		if j < 0 {
			continue
		}
		catchAll = catchAll || s[j] == '*'
		segs[i] = s[:j] + "{" + s[j+1:] + "}"
	}
	return strings.Join(segs, "/"), catchAll
}

// isTrue reads a boolean extension; the loader decodes it as JSON.
func isTrue(v any) bool {
	b, ok := v.(bool)
	return ok && b
}
