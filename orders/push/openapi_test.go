package push_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

// TestOpenAPISnippet merges openapi-snippet.yaml into the bridge's
// document as its header says, validates the result with its examples,
// and checks that it documents exactly the routes Register serves.
func TestOpenAPISnippet(t *testing.T) {
	var doc, snip map[string]any
	if err := yaml.Unmarshal(httpapi.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("openapi-snippet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &snip); err != nil {
		t.Fatal(err)
	}
	into := func(dst, src map[string]any, where string) {
		for k, v := range src {
			if _, taken := dst[k]; taken {
				t.Errorf("%s.%s is in the bridge's document already", where, k)
			}
			dst[k] = v
		}
	}
	into(doc["paths"].(map[string]any), snip["paths"].(map[string]any), "paths")
	for section, v := range snip["components"].(map[string]any) {
		comps := doc["components"].(map[string]any)
		if comps[section] == nil {
			comps[section] = map[string]any{}
		}
		into(comps[section].(map[string]any), v.(map[string]any), "components."+section)
	}
	doc["tags"] = append(doc["tags"].([]any), snip["tags"].([]any)...)
	code := doc["components"].(map[string]any)["schemas"].(map[string]any)["ErrorBody"].(map[string]any)["properties"].(map[string]any)["code"].(map[string]any)
	code["enum"] = append(code["enum"].([]any), snip["x-merge-error-codes"].([]any)...)
	merged, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	d, err := openapi3.NewLoader().LoadFromData(merged)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(context.Background(), openapi3.EnableMultiError(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("the merged document is not valid: %v", err)
	}

	// Each route served is documented, and each documented one served.
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	push.New(push.Options{Config: &config.Config{}}).Register(e)
	served := map[string]bool{}
	param := regexp.MustCompile(`:([a-z_]+)`)
	for _, r := range e.Routes() {
		served[r.Method+" "+param.ReplaceAllString(r.Path, "{$1}")] = true
	}
	documented := map[string]bool{}
	for path, item := range snip["paths"].(map[string]any) {
		for method := range item.(map[string]any) {
			if method != "parameters" {
				documented[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("%s is served but not documented", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("%s is documented but not served", r)
		}
	}
}
