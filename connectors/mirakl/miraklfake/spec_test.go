package miraklfake_test

import (
	"encoding/json"
	"errors"
	"fmt"
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
	"github.com/google/go-cmp/cmp/cmpopts"

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
		if err == nil {
			allowExampleNulls(spec.doc)
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
	"/api/orders/{order_id}",
	"/api/orders/{order_id}/accept",
	"/api/orders/{order_id}/tracking",
	"/api/orders/{order_id}/ship",
	"/api/orders/{order_id}/cancel",
	"/api/orders/cancel",
	"/api/orders/{order_id}/evaluation",
	"/api/orders/documents",
	"/api/orders/{order_id}/documents",
	"/api/documents",
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
			makeNullable(ref.Value.Properties[prop].Value)
		}
	}
	return nil
}

// allowExampleNulls is the other adaptation: a property that Mirakl's own
// example answer of an operation gives as null is made nullable, in every
// schema that answer reaches. OR12 requires its reason codes and its
// lines' dates, typed as plain strings, and its example has them null
// until they happen.
func allowExampleNulls(doc *openapi3.T) {
	var walk func(s *openapi3.Schema, v any)
	walk = func(s *openapi3.Schema, v any) {
		if s == nil {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				p := s.Properties[k]
				if p == nil || p.Value == nil {
					continue
				}
				if x == nil {
					makeNullable(p.Value)
					continue
				}
				walk(p.Value, x)
			}
		case []any:
			if s.Items != nil {
				for _, x := range v {
					walk(s.Items.Value, x)
				}
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				media := resp.Value.Content.Get("application/json")
				if media == nil || media.Schema == nil {
					continue
				}
				for _, ex := range media.Examples {
					if ex != nil && ex.Value != nil {
						walk(media.Schema.Value, ex.Value.Value)
					}
				}
			}
		}
	}
}

func makeNullable(v *openapi3.Schema) {
	v.Nullable = true
	if v.Type != nil && !v.Type.IncludesNull() {
		types := append(slices.Clone(*v.Type), openapi3.TypeNull)
		v.Type = &types
	}
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

	// The order actions: OR21, OR23, OR24 answer 204, OR30 its
	// cancellations; then OR11 and OR12 show an order that went through
	// them, with cancellations and taxes.
	o := seedOrder(t, s, twoLines("O-3-A", api.StateWaitingAcceptance))
	// Shipped orders show their addresses (OR11: "Null before shipping").
	addr := &api.Address{Lastname: "Doe", Street1: "1 rue de la Paix", City: "Paris", Country: "France", CountryISOCode: "FRA"}
	o.Customer.BillingAddress, o.Customer.ShippingAddress = addr, addr
	o.OrderLines[0].Taxes = []api.Tax{{Code: "VAT", Amount: "6.67", Rate: "20", CalculationRule: api.TaxRuleNone}}
	o.OrderLines[0].ShippingTaxes = []api.Tax{{Code: "VAT", Amount: "0.83", Rate: "20", CalculationRule: api.TaxRuleProportional}}
	seedOrder(t, s, o)
	for _, a := range []answer{
		put(t, s, "/api/orders/O-3-A/accept", acceptAll(o)),
		func() answer {
			if _, err := s.MoveOrder("", "O-3-A", api.StateShipping); err != nil {
				t.Fatal(err)
			}
			return put(t, s, "/api/orders/O-3-A/tracking", api.TrackingInput{CarrierCode: "UPS", TrackingNumber: "1Z"})
		}(),
	} {
		if a.status != http.StatusNoContent || response(t, doc, http.MethodPut, "/api/orders/{order_id}/accept", a.status) == nil {
			t.Errorf("HTTP %d %s", a.status, a.raw)
		}
	}
	cancel := api.CancelationsInput{Cancelations: []api.CancelationInput{{
		OrderLineID: o.OrderLines[0].OrderLineID, Quantity: 1, Amount: "20", ShippingAmount: "0", ReasonCode: "34",
		Taxes: []api.TaxAmount{{Code: "VAT", Amount: "3.33"}},
	}}}
	checkJSON(t, doc, http.MethodPut, "/api/orders/cancel", put(t, s, "/api/orders/cancel", cancel))
	for _, op := range []string{"tracking", "ship"} {
		response(t, doc, http.MethodPut, "/api/orders/{order_id}/"+op, http.StatusNoContent)
	}
	if a := put(t, s, "/api/orders/O-3-A/ship", nil); a.status != http.StatusNoContent {
		t.Errorf("OR24: HTTP %d", a.status)
	}
	checkJSON(t, doc, http.MethodGet, "/api/orders", get(t, s, "/api/orders", url.Values{"order_ids": {"O-3-A"}}))
	// OR12 requires acceptance_decision_date, typed as a plain date unlike
	// OR11's ("Null when ..."): only an order with a decision matches it.
	checkJSON(t, doc, http.MethodGet, "/api/orders/{order_id}", get(t, s, "/api/orders/O-3-A", nil))
	response(t, doc, http.MethodPut, "/api/orders/{order_id}/cancel", http.StatusNoContent)

	// OR51, with everything an evaluation can carry: received, answered.
	if _, err := s.MoveOrder("", "O-1-A", api.StateReceived); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutEvaluation("", "O-1-A", miraklfake.EvaluationSeed{
		Grade: 2, Comment: "Late and damaged",
		Assessments: []api.Assessment{{Code: "3", Label: "Delivery deadline respected", Response: "false"}},
		Reply:       &api.EvaluationReply{Comment: "We are sorry.", Date: api.NewTime(time.Now()), Type: api.ReplyShop},
	}); err != nil {
		t.Fatal(err)
	}
	checkJSON(t, doc, http.MethodGet, "/api/orders/{order_id}/evaluation", get(t, s, "/api/orders/O-1-A/evaluation", nil))
	if _, err := s.PutEvaluation("", "O-1-A", miraklfake.EvaluationSeed{Grade: 5, Hidden: true}); err != nil {
		t.Fatal(err)
	}
	checkJSON(t, doc, http.MethodGet, "/api/orders/{order_id}/evaluation", get(t, s, "/api/orders/O-1-A/evaluation", nil))

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
		{http.MethodGet, "/api/orders/{order_id}"},
		{http.MethodPut, "/api/orders/{order_id}/accept"},
		{http.MethodPut, "/api/orders/{order_id}/tracking"},
		{http.MethodPut, "/api/orders/{order_id}/ship"},
		{http.MethodPut, "/api/orders/{order_id}/cancel"},
		{http.MethodPut, "/api/orders/cancel"},
		{http.MethodGet, "/api/orders/{order_id}/evaluation"},
		{http.MethodGet, "/api/orders/documents"},
		{http.MethodPost, "/api/orders/{order_id}/documents"},
		{http.MethodGet, "/api/documents"},
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
		get(t, s, "/api/orders/nope", nil),
		put(t, s, "/api/orders/O-2-A/ship", nil),
		put(t, s, "/api/orders/cancel", `{"cancelations": [null]}`),
		get(t, s, "/api/orders/O-2-A/evaluation", nil),
		get(t, s, "/api/orders/documents", nil),
		upload(t, s, "nope", docForm{docs: docs(invoiceDoc("a.pdf")), files: []docFile{{"a.pdf", "x"}}}),
		upload(t, s, "O-1-A", docForm{files: []docFile{{"a.pdf", "x"}}}),
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

// TestRequestsMatchTheSpec holds the bodies the client sends (the api
// request types, every field set) to the spec's request schemas: each
// field is one the spec names, and the whole validates.
func TestRequestsMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	for _, tc := range []struct {
		path string
		body any
	}{
		{"/api/orders/{order_id}/accept", api.AcceptInput{OrderLines: []api.LineDecision{{ID: "O-1-A-1", Accepted: true}}}},
		{"/api/orders/{order_id}/tracking", api.TrackingInput{CarrierCode: "UPS", CarrierName: "UPS", CarrierStandardCode: "UPS", CarrierURL: "https://ups.example", TrackingNumber: "1Z"}},
		{"/api/orders/cancel", api.CancelationsInput{OrderTaxMode: "TAX_INCLUDED", Cancelations: []api.CancelationInput{{
			OrderLineID: "O-1-A-1", Quantity: 1, Amount: "1.5", ShippingAmount: "0", ReasonCode: "34", CurrencyISOCode: "EUR",
			Taxes: []api.TaxAmount{{Code: "VAT", Amount: "0.25"}}, ShippingTaxes: []api.TaxAmount{{Code: "VAT", Amount: "0"}},
		}}}},
	} {
		media := doc.Paths.Find(tc.path).Put.RequestBody.Value.Content.Get("application/json")
		raw, err := json.Marshal(tc.body)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		if err := media.Schema.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			t.Errorf("PUT %s: %s does not match the spec:\n%v", tc.path, raw, err)
		}
		var unknown func(s *openapi3.Schema, v any, at string)
		unknown = func(s *openapi3.Schema, v any, at string) {
			switch v := v.(type) {
			case map[string]any:
				for k, x := range v {
					if p := s.Properties[k]; p == nil {
						t.Errorf("PUT %s: the spec has no field %s%s", tc.path, at, k)
					} else {
						unknown(p.Value, x, at+k+".")
					}
				}
			case []any:
				for _, x := range v {
					unknown(s.Items.Value, x, at)
				}
			}
		}
		unknown(media.Schema.Value, v, "")
	}
	// OR24 and OR29 take no body.
	for _, path := range []string{"/api/orders/{order_id}/ship", "/api/orders/{order_id}/cancel"} {
		if rb := doc.Paths.Find(path).Put.RequestBody; rb != nil {
			t.Errorf("PUT %s now documents a body", path)
		}
	}
}

// TestOrderRulesMatchTheSpec ties the fake's states and rules to what the
// spec says of them.
func TestOrderRulesMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	for path, want := range map[string][]string{
		"/api/orders/{order_id}/accept": {
			"Accept or refuse order lines in the <code>WAITING_ACCEPTANCE</code> status",
			"ORDER_INVALID_STATE", "ORDER_LINE_ACCEPTANCE_DECISION_MISSING", "ORDER_PARTIAL_ACCEPTANCE_DISABLED",
		},
		"/api/orders/{order_id}/ship":     {"Validate the shipment of an order in the <code>SHIPPING</code> status"},
		"/api/orders/{order_id}/tracking": {"If the carrier is not registered, the complete tracking url can be provided"},
	} {
		desc := doc.Paths.Find(path).Put.Description
		for _, w := range want {
			if !strings.Contains(desc, w) {
				t.Errorf("PUT %s no longer says %q", path, w)
			}
		}
	}
	if op := doc.Paths.Find("/api/orders/{order_id}").Get; !op.Deprecated || !strings.Contains(op.Description, "use OR11 with the query parameter 'order_ids'") {
		t.Error("OR12 is no longer deprecated for OR11 with order_ids: the client may use it again")
	}
	known := []string{
		api.StateStaging, api.StateWaitingAcceptance, api.StateWaitingDebit, api.StateWaitingDebitPayment, api.StateShipping,
		api.StateShipped, api.StateToCollect, api.StateReceived, api.StateClosed, api.StateRefused, api.StateCanceled,
	}
	var enum []string
	for _, v := range doc.Paths.Find("/api/orders").Get.Parameters.GetByInAndName("query", "order_state_codes").Schema.Value.Enum {
		enum = append(enum, v.(string))
	}
	if diff := cmp.Diff(known, enum, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("order states (-ours +spec):\n%s", diff)
	}
	rule := doc.Components.Schemas["OR11_Response_200_Orders_OrderLines_Taxes"].Value.Properties["tax_calculation_rule"].Value.Description
	for _, r := range []string{api.TaxRuleNone, api.TaxRuleProportional} {
		if !strings.Contains(rule, `"`+r+`"`) {
			t.Errorf("tax_calculation_rule no longer lists %s", r)
		}
	}
}

// TestEvaluationsMatchTheSpec ties OR51 to what the spec says of it: it
// reads one order's evaluation and lists nothing, so the client lists
// orders and asks each; the day the seller API takes a date or a page,
// this fails and the client can list evaluations directly.
func TestEvaluationsMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	op := doc.Paths.Find("/api/orders/{order_id}/evaluation").Get
	if op == nil || op.OperationID != "OR51" {
		t.Fatal("OR51 is no longer GET /api/orders/{order_id}/evaluation")
	}
	var params []string
	for _, p := range op.Parameters {
		params = append(params, p.Value.In+" "+p.Value.Name)
	}
	if diff := cmp.Diff([]string{"path order_id", "query shop_id"}, params, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("OR51's parameters (-ours +spec):\n%s", diff)
	}
	schema := doc.Components.Schemas["OR51_Response_200"].Value
	// What api.Evaluation always writes: every field but comment and reply.
	want := []string{"assessments", "customer_id", "date", "firstname", "grade", "last_updated_date", "lastname", "visible"}
	if diff := cmp.Diff(want, schema.Required, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("OR51's required fields (-ours +spec):\n%s", diff)
	}
	if g := schema.Properties["grade"].Value; g.Min != nil || g.Max != nil {
		t.Errorf("OR51 now states a grade range [%v, %v]: check api.MinGrade and api.MaxGrade", g.Min, g.Max)
	}
	kind := doc.Components.Schemas["OR51_Response_200_Reply"].Value.Properties["type"].Value.Description
	for _, k := range []string{api.ReplyOperator, api.ReplyShop} {
		if !strings.Contains(kind, `"`+k+`"`) {
			t.Errorf("an evaluation's reply type no longer lists %s", k)
		}
	}
}

// TestDocumentsMatchTheSpec holds OR72, OR74 and DO01 to the spec: their
// answers, the order_documents part the client sends, and the rules the
// fake enforces, as OR74's description states them.
func TestDocumentsMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("S-1-A", api.StateShipped))
	if _, err := s.PutDocument("", "S-1-A", "delivery.pdf", api.DocDeliveryBill, []byte("bill")); err != nil {
		t.Fatal(err)
	}
	ok := upload(t, s, "S-1-A", docForm{docs: docs(invoiceDoc("invoice.pdf")), files: []docFile{{"invoice.pdf", "%PDF"}}})
	checkJSON(t, doc, http.MethodPost, "/api/orders/{order_id}/documents", ok)
	failed := upload(t, s, "S-1-A", docForm{
		docs:  docs(api.DocumentInput{FileName: "r.pdf", TypeCode: "SYSTEM_RETURN_LABEL", Entity: &api.DocumentEntity{ID: "c0703388", Type: "RETURN"}}),
		files: []docFile{{"r.pdf", "x"}},
	})
	checkJSON(t, doc, http.MethodPost, "/api/orders/{order_id}/documents", failed)
	checkJSON(t, doc, http.MethodGet, "/api/orders/documents", get(t, s, "/api/orders/documents", url.Values{"order_ids": {"S-1-A"}}))
	checkJSON(t, doc, http.MethodGet, "/api/documents", get(t, s, "/api/documents", nil))

	// The order_documents part, every field set, as the client sends it.
	media := doc.Paths.Find("/api/orders/{order_id}/documents").Post.RequestBody.Value.Content.Get("multipart/form-data")
	body := media.Schema.Value
	if diff := cmp.Diff([]string{"files", "order_documents"}, body.Required, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("OR74's required parts (-ours +spec):\n%s", diff)
	}
	raw, _ := json.Marshal(api.DocumentsInput{OrderDocuments: []api.DocumentInput{{FileName: "a.pdf", TypeCode: api.DocCustomerInvoice, Entity: &api.DocumentEntity{ID: "r1", Type: "RETURN"}}}})
	var v any
	_ = json.Unmarshal(raw, &v)
	if err := body.Properties["order_documents"].Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
		t.Errorf("order_documents %s does not match the spec:\n%v", raw, err)
	}
	if !strings.Contains(body.Properties["files"].Value.Description, "only US-ASCII characters") {
		t.Error("OR74's files no longer need US-ASCII names")
	}

	or74 := doc.Paths.Find("/api/orders/{order_id}/documents").Post.Description
	for _, want := range []string{
		"Documents filenames must be distinct",
		"Only documents of the following types are supported: " + strings.Join(api.DocumentExtensions, ", ") + ".",
		fmt.Sprintf("An order can have a maximum of %d documents", api.MaxDocumentsPerOrder),
		"In the API output we include only documents with errors",
		"<code>" + api.DocDeliveryBill + "/" + api.DocShipmentDeliveryBill + "</code> : restricted to operator role",
		"<code>" + api.DocMessageAttachment + "</code> : cannot be directly uploaded to an order",
	} {
		if !strings.Contains(or74, want) {
			t.Errorf("OR74's description no longer says %q", want)
		}
	}
	// The spec's example of a failed document is the fake's own error.
	ex := doc.Paths.Find("/api/orders/{order_id}/documents").Post.Responses.Status(http.StatusOK).Value.Content.Get("application/json").Examples["application/json-0"].Value.Value
	exRaw, _ := json.Marshal(ex)
	var exBody api.DocumentsUploaded
	if err := json.Unmarshal(exRaw, &exBody); err != nil || len(exBody.OrderDocuments) != 1 {
		t.Fatalf("OR74's example: %v %s", err, exRaw)
	}
	var got api.DocumentsUploaded
	failed.decode(t, &got)
	if diff := cmp.Diff(exBody.OrderDocuments[0].Errors, got.OrderDocuments[0].Errors); diff != "" {
		t.Errorf("unknown type error (-spec +fake):\n%s", diff)
	}
	if p := doc.Paths.Find("/api/orders/documents").Get.Parameters.GetByInAndName("query", "order_ids"); p == nil || !p.Required || p.Schema.Value.Max == nil || *p.Schema.Value.Max != api.MaxDocumentOrders {
		t.Errorf("OR72's order_ids is no longer required with at most %d ids", api.MaxDocumentOrders)
	}
}
