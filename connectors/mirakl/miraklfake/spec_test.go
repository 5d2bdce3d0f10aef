package miraklfake_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// These tests hold the fake's answers to Mirakl's own seller OpenAPI
// description. It lives outside the repository, in
// ../shared/reference/specs beside the repository's root; a clone has no
// such folder, and the tests skip.

const specFile = "mirakl-seller-openapi.json"

var spec struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// specPath finds the spec by walking up from the package to the
// repository's root (the folder holding go.mod), then to its sibling
// shared/reference/specs.
func specPath(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the package: cannot locate the spec")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "reference", "specs", specFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s not found beside the repository: skipping the spec checks", specFile)
	}
	return path
}

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	path := specPath(t)
	spec.once.Do(func() {
		raw, err := os.ReadFile(path)
		if err == nil {
			raw, err = extract(raw, specPaths)
		}
		if err == nil {
			spec.doc, err = openapi3.NewLoader().LoadFromData(raw)
		}
		if err == nil {
			err = allowDocumentedNulls(spec.doc, raw)
		}
		spec.err = err
	})
	if spec.err != nil {
		t.Fatalf("loading %s: %v", specFile, spec.err)
	}
	return spec.doc
}

// specPaths are the operations the bridge uses.
var specPaths = []string{
	"/api/inbox/threads",
	"/api/inbox/threads/{thread_id}",
	"/api/inbox/threads/{thread_id}/message",
	"/api/inbox/threads/{attachment_id}/download",
	"/api/orders",
}

// extract keeps, of the whole seller spec (2.6 MB, slow to load under the
// race detector), the given paths and the component schemas they reach,
// unchanged.
func extract(raw []byte, paths []string) ([]byte, error) {
	var full map[string]json.RawMessage
	if err := json.Unmarshal(raw, &full); err != nil {
		return nil, err
	}
	var all struct {
		Paths      map[string]json.RawMessage
		Components struct {
			Schemas         map[string]json.RawMessage `json:"schemas"`
			SecuritySchemes json.RawMessage            `json:"securitySchemes"`
		}
	}
	if err := json.Unmarshal(full["paths"], &all.Paths); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(full["components"], &all.Components); err != nil {
		return nil, err
	}
	keptPaths := map[string]json.RawMessage{}
	schemas := map[string]json.RawMessage{}
	refs := regexp.MustCompile(`"#/components/schemas/([^"]+)"`)
	var reach func(b []byte) error
	reach = func(b []byte) error {
		for _, m := range refs.FindAllSubmatch(b, -1) {
			name := string(m[1])
			if _, done := schemas[name]; done {
				continue
			}
			s, ok := all.Components.Schemas[name]
			if !ok {
				return errors.New("the spec references a missing schema " + name)
			}
			schemas[name] = s
			if err := reach(s); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range paths {
		item, ok := all.Paths[p]
		if !ok {
			return nil, errors.New("the spec has no path " + p)
		}
		keptPaths[p] = item
		if err := reach(item); err != nil {
			return nil, err
		}
	}
	out := map[string]any{
		"openapi":    full["openapi"],
		"info":       full["info"],
		"paths":      keptPaths,
		"components": map[string]any{"schemas": schemas, "securitySchemes": all.Components.SecuritySchemes},
	}
	return json.Marshal(out)
}

// nullable matches the descriptions of properties the spec types as plain
// (required) strings or objects but documents as null at times:
// shop_reply_needed_since ("Null when the shop has replied", and null in
// the spec's own examples) and the customer's addresses ("Null before
// shipping").
var nullable = regexp.MustCompile(`\bNull (when|before)\b`)

// allowDocumentedNulls is the one adaptation made to the spec: a property
// its description says may be null is made nullable (type [T, "null"],
// as OpenAPI 3.1 writes it).
func allowDocumentedNulls(doc *openapi3.T, raw []byte) error {
	var file struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Description string `json:"description"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		return err
	}
	for name, s := range file.Components.Schemas {
		for prop, p := range s.Properties {
			if !nullable.MatchString(p.Description) {
				continue
			}
			ref := doc.Components.Schemas[name]
			if ref == nil || ref.Value == nil || ref.Value.Properties[prop] == nil {
				return errors.New("schema " + name + "." + prop + " not loaded")
			}
			v := ref.Value.Properties[prop].Value
			v.Nullable = true
			if v.Type != nil && !v.Type.IncludesNull() {
				types := append(slices.Clone(*v.Type), openapi3.TypeNull)
				v.Type = &types
			}
		}
	}
	return nil
}

// response returns the documented response of an operation.
func response(t *testing.T, doc *openapi3.T, method, path string, status int) *openapi3.Response {
	t.Helper()
	item := doc.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not in the spec", method, path)
	}
	ref := item.GetOperation(method).Responses.Status(status)
	if ref == nil {
		t.Fatalf("%s %s: HTTP %d is not documented", method, path, status)
	}
	return ref.Value
}

// checkJSON validates a JSON answer against its documented schema.
func checkJSON(t *testing.T, doc *openapi3.T, method, path string, a answer) {
	t.Helper()
	media := response(t, doc, method, path, a.status).Content.Get("application/json")
	if media == nil || media.Schema == nil {
		t.Fatalf("%s %s: HTTP %d documents no JSON body", method, path, a.status)
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	var v any
	if err := json.Unmarshal(a.raw, &v); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if err := media.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("%s %s: HTTP %d answer does not match the spec:\n%v", method, path, a.status, err)
	}
}

// richFake holds every shape the answers can take: threads about an order
// and about nothing, messages from the customer, the operator and the
// shop, attachments, and orders before and after shipping.
func richFake(t *testing.T) (*miraklfake.Server, api.Thread, api.ReplyCreated) {
	t.Helper()
	s, clk := newFake(t, miraklfake.Options{})
	th, err := s.AddThread(miraklfake.ThreadSeed{
		EntityType: api.EntityOrder, EntityID: "O-1-A", EntityLabel: "O-1", Topic: "Damaged item",
		CustomerID: "cust-1", CustomerName: "Jane Doe",
		Message: miraklfake.MessageSeed{Body: "It arrived broken.", Attachments: []miraklfake.FileSeed{{Name: "photo.jpg", Content: []byte("jpeg")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := s.AddMessage(th.ID, miraklfake.MessageSeed{From: api.SenderOperator, Body: "The operator follows this.", To: []string{api.ParticipantShop, api.ParticipantCustomer}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddThread(miraklfake.ThreadSeed{Message: miraklfake.MessageSeed{Body: "About your commission"}}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	a := reply(t, s, th.ID, form{input: input("Sorry! A new one is on its way.", api.ParticipantCustomer), files: []miraklfake.FileSeed{{Name: "label.pdf", Content: []byte("pdf")}}})
	if a.status != http.StatusCreated {
		t.Fatalf("M12: HTTP %d: %s", a.status, a.raw)
	}
	var created api.ReplyCreated
	a.decode(t, &created)

	shipped := api.Order{
		OrderID: "O-1-A", CommercialID: "O-1", OrderState: "SHIPPED", CustomerNotificationEmail: "x7f3@relay.example",
		Customer: api.Customer{
			CustomerID: "cust-1", Firstname: "Jane", Lastname: "Doe", Locale: "fr_FR",
			ShippingAddress: &api.Address{Lastname: "Doe", Street1: "1 rue de la Paix", City: "Paris", ZipCode: "75002", Country: "France", CountryISOCode: "FRA"},
			BillingAddress:  &api.Address{Lastname: "Doe", Street1: "1 rue de la Paix", City: "Paris", Country: "France", CountryISOCode: "FRA"},
		},
		ShippingCompany: "Colissimo", ShippingTracking: "6A123", ShippingTrackingURL: "https://track.example/6A123",
		Price: "39.90", ShippingPrice: "4.90", TotalPrice: "44.80",
		OrderLines: []api.OrderLine{{OfferSKU: "MUG-1", ProductTitle: "Mug", Quantity: 2, Price: "39.90", PriceUnit: "19.95"}},
	}
	waiting := api.Order{OrderID: "O-2-A", OrderState: "WAITING_ACCEPTANCE", Customer: api.Customer{Firstname: "Max", Lastname: "Muster"}}
	for _, o := range []api.Order{shipped, waiting} {
		if _, err := s.PutOrder("", o); err != nil {
			t.Fatal(err)
		}
	}
	return s, th, created
}

func TestAnswersMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	s, th, _ := richFake(t)

	for _, q := range []url.Values{{"with_messages": {"true"}, "limit": {"1"}}, nil} {
		a := get(t, s, "/api/inbox/threads", q)
		checkJSON(t, doc, http.MethodGet, "/api/inbox/threads", a)
		var page api.ThreadList
		a.decode(t, &page)
		if page.NextPageToken != "" {
			checkJSON(t, doc, http.MethodGet, "/api/inbox/threads", get(t, s, "/api/inbox/threads", url.Values{"page_token": {page.NextPageToken}}))
		}
	}
	checkJSON(t, doc, http.MethodGet, "/api/inbox/threads/{thread_id}", get(t, s, "/api/inbox/threads/"+th.ID, nil))
	a := reply(t, s, th.ID, form{input: input("And a second message.", api.ParticipantCustomer, api.ParticipantOperator)})
	checkJSON(t, doc, http.MethodPost, "/api/inbox/threads/{thread_id}/message", a)
	checkJSON(t, doc, http.MethodGet, "/api/orders", get(t, s, "/api/orders", nil))

	dl := get(t, s, "/api/inbox/threads/"+th.Messages[0].Attachments[0].ID+"/download", nil)
	if dl.status != http.StatusOK || response(t, doc, http.MethodGet, "/api/inbox/threads/{attachment_id}/download", dl.status).Content.Get(dl.header.Get("Content-Type")) == nil {
		t.Errorf("M13: HTTP %d, Content-Type %q not documented", dl.status, dl.header.Get("Content-Type"))
	}
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	// The spec documents no error answer for these operations: the day it
	// does, this fails, and the fake's error body (from the Java SDK's
	// MiraklErrorResponseBean) must be checked against it.
	for _, op := range []struct{ method, path string }{
		{http.MethodGet, "/api/inbox/threads"},
		{http.MethodGet, "/api/inbox/threads/{thread_id}"},
		{http.MethodPost, "/api/inbox/threads/{thread_id}/message"},
		{http.MethodGet, "/api/inbox/threads/{attachment_id}/download"},
		{http.MethodGet, "/api/orders"},
	} {
		for code := range doc.Paths.Find(op.path).GetOperation(op.method).Responses.Map() {
			if code >= "4" || code == "default" {
				t.Errorf("%s %s now documents HTTP %s: check the fake's error body against it", op.method, op.path, code)
			}
		}
	}
	s, _, _ := richFake(t)
	for _, a := range []answer{
		do(t, s, request{method: http.MethodGet, path: "/api/inbox/threads"}),
		get(t, s, "/api/inbox/threads", url.Values{"entity_id": {"O-1-A"}}),
		get(t, s, "/api/inbox/threads/nope", nil),
	} {
		var body map[string]any
		a.decode(t, &body)
		if diff := cmp.Diff([]string{"message", "status"}, slices.Sorted(maps.Keys(body))); diff != "" {
			t.Errorf("HTTP %d error body %s: fields (-want +got):\n%s", a.status, a.raw, diff)
		}
		a.errorBody(t)
	}
}

// TestLimitsMatchTheSpec ties the limits the fake and the client enforce
// to the spec's schema of message_input.
func TestLimitsMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	input := doc.Components.Schemas["M12_Request_MultipartFormData_MessageInput"].Value
	body := input.Properties["body"].Value
	if body.MinLength != api.MinBodyChars || body.MaxLength == nil || *body.MaxLength != api.MaxBodyChars {
		t.Errorf("spec body length %d..%v; api has %d..%d", body.MinLength, body.MaxLength, api.MinBodyChars, api.MaxBodyChars)
	}
	if diff := cmp.Diff([]string{"body", "to"}, input.Required); diff != "" {
		t.Errorf("required message_input fields (-ours +spec):\n%s", diff)
	}
	for name, min := range map[string]int{"FreeText": api.MinFreeTextTopic, "ReasonCode": api.MinReasonCodeTopic} {
		v := doc.Components.Schemas["M12_Request_MultipartFormData_MessageInput_Topic_"+name].Value.Properties["value"].Value
		if v.MinLength != uint64(min) || v.MaxLength == nil || *v.MaxLength != api.MaxTopicChars {
			t.Errorf("spec %s topic length %d..%v; api has %d..%d", name, v.MinLength, v.MaxLength, min, api.MaxTopicChars)
		}
	}
	m12 := doc.Paths.Find("/api/inbox/threads/{thread_id}/message").Post
	for _, want := range []string{"Maximum of 1000 messages on a thread"} {
		if !strings.Contains(m12.Description, want) {
			t.Errorf("M12's description no longer says %q", want)
		}
	}
	files := m12.RequestBody.Value.Content.Get("multipart/form-data").Schema.Value.Properties["files"].Value
	if !strings.Contains(files.Description, "Maximum 50 across all threads of the same entity") {
		t.Errorf("M12's files no longer say 50 per entity: %q", files.Description)
	}
	m11 := doc.Paths.Find("/api/inbox/threads").Get
	if !strings.Contains(m11.Description, "The default value for parameter <code>limit</code> is 50") {
		t.Error("M11's description no longer gives a default limit of 50")
	}
	if wm := m11.Parameters.GetByInAndName("query", "with_messages"); wm == nil || !strings.Contains(wm.Description, "last 100 messages") {
		t.Error("M11's with_messages no longer says the last 100 messages")
	}
}
