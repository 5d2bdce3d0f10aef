package widgets

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/orders/orderstest"
)

// Golden files regenerate with -update. Another test file of the package
// may define that flag too: register it only if nobody has (package
// variables are initialised before any init runs), and read it by name.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func gorgiasUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// gorgiasGolden is the ready-to-install template for the default layout.
const gorgiasGolden = "gorgias-widget.json"

// marshalGorgiasWidget is how the golden file is written: indented, with a
// final newline.
func marshalGorgiasWidget(t *testing.T, w GorgiasWidget) []byte {
	t.Helper()
	b, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func TestGorgiasTemplateGolden(t *testing.T) {
	v := NewView("acme", config.Sidebar{ID: "gorgias", Kind: "gorgias", Stores: []string{"shop"}, Language: "en"})
	got := marshalGorgiasWidget(t, GorgiasTemplate(v))
	if gorgiasUpdating() {
		if err := os.WriteFile(gorgiasGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(gorgiasGolden)
	if err != nil {
		t.Fatalf("%v (run go test ./widgets -run GorgiasTemplate -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is stale (-want +got); run go test ./widgets -run GorgiasTemplate -update:\n%s", gorgiasGolden, diff)
	}
}

func TestGorgiasTemplateBody(t *testing.T) {
	t.Parallel()
	v := NewView("acme", config.Sidebar{Stores: []string{"shop"}})
	w := GorgiasTemplate(v)

	var top map[string]json.RawMessage
	if err := json.Unmarshal(marshalGorgiasWidget(t, w), &top); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range top {
			if !yield(k) {
				return
			}
		}
	})
	if diff := cmp.Diff([]string{"context", "order", "template", "type"}, keys); diff != "" {
		t.Errorf("keys of the POST /api/widgets body, integration_id left to the admin (-want +got):\n%s", diff)
	}
	if w.Type != "http" || w.Context != "ticket" || w.Template.Type != GorgiasWrapper {
		t.Errorf("type %q, context %q, template type %q; want http, ticket, wrapper", w.Type, w.Context, w.Template.Type)
	}

	w.IntegrationID = 42
	var withID struct {
		IntegrationID int `json:"integration_id"`
	}
	if err := json.Unmarshal(marshalGorgiasWidget(t, w), &withID); err != nil {
		t.Fatal(err)
	}
	if withID.IntegrationID != 42 {
		t.Errorf("integration_id = %d once set, want 42", withID.IntegrationID)
	}
}

// TestGorgiasTemplatePaths renders a document with RenderJSON and checks
// that the template binds it exactly: every path resolves (arrays walked
// element by element), and each object's nodes are its keys, in order.
func TestGorgiasTemplatePaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		layout config.Layout
		lang   string
	}{
		{name: "default layout", lang: "en"},
		{name: "default layout in French", lang: "fr"},
		{
			name: "hidden and reordered",
			lang: "fr",
			layout: config.Layout{
				Sections:       []string{"orders", "customer"},
				Customer:       []string{"orders_count", "email"},
				Orders:         []string{"returns", "status", "id", "lines", "created_at", "url"},
				Lines:          []string{"quantity", "name"},
				Returns:        []string{"products", "tracking_number"},
				ReturnProducts: []string{"damaged", "name"},
			},
		},
		{
			name: "empty lists hide",
			lang: "en",
			layout: config.Layout{
				Customer:  []string{},
				Orders:    []string{"id", "lines", "shipments", "support_requests"},
				Lines:     []string{},
				Shipments: []string{"carrier", "tracking_url"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sb := config.Sidebar{ID: "g", Kind: "gorgias", Token: config.NewSecret(tokShip), Stores: []string{"shop"}, Layout: tt.layout, Language: tt.lang, Actions: []string{"ship", "cancel"}}
			v := NewView("acme", sb)
			// Orders that show an action and offer buttons, so that the
			// action object and the actions list have content to bind.
			sample := orderstest.SampleDocument()
			for i := range sample.Orders {
				sample.Orders[i].Status = orders.StatusInProgress
				sample.Orders[i].Action = &orders.OrderAction{ID: "act", Kind: orders.ActShip, State: orders.Failed, Reason: "timeout"}
			}
			doc := v.Project(sample)
			acts := (&Service{actions: newFakeActions()}).actionsFor(v, t0)
			root := decodeOrderedJSON(t, renderJSON(v, doc, Freshness{State: StateOK}, acts))

			tmpl := GorgiasTemplate(v).Template
			if tmpl.Type != GorgiasWrapper || tmpl.Path != "" {
				t.Fatalf("template root is %q at %q, want a wrapper without path", tmpl.Type, tmpl.Path)
			}
			checkGorgiasChildren(t, "$", tmpl.Widgets, root, true)
		})
	}
}

// checkGorgiasChildren checks that nodes bind obj's keys, in order, and
// each node what its key holds. A key whose value shows nothing (a section
// or list whose fields are all hidden) must not be sent at all, and at the
// top the payload's own keys (version, status...) have no node.
func checkGorgiasChildren(t *testing.T, where string, nodes []GorgiasNode, obj *orderedJSON, top bool) {
	t.Helper()
	if obj.kind != '{' {
		t.Errorf("%s: bound to a JSON %c, want an object", where, obj.kind)
		return
	}
	var want []string
	for _, k := range obj.keys {
		if top && slices.Contains([]string{"version", "status", "as_of", "age_seconds", "notice"}, k) {
			continue
		}
		if obj.fields[k].hollow() {
			t.Errorf("%s.%s: sent, but shows nothing; a hidden section or list must not be sent", where, k)
			continue
		}
		want = append(want, k)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.Path)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: node paths are not the JSON keys (-want +got):\n%s", where, diff)
	}
	for _, n := range nodes {
		val, ok := obj.fields[n.Path]
		at := where + "." + n.Path
		if !ok {
			t.Errorf("%s: path does not resolve", at)
			continue
		}
		if n.Title == "" || n.Title == n.Path {
			t.Errorf("%s: title %q, want a human one", at, n.Title)
		}
		switch n.Type {
		case GorgiasText:
			if val.kind == '{' || val.kind == '[' || len(n.Widgets) > 0 {
				t.Errorf("%s: a text node bound to a JSON %c with %d children", at, val.kind, len(n.Widgets))
			}
		case GorgiasCard:
			checkGorgiasChildren(t, at, n.Widgets, val, false)
		case GorgiasList:
			if val.kind != '[' || len(val.elems) == 0 {
				t.Errorf("%s: a list bound to a JSON %c of %d elements; the sample needs a non-empty array", at, val.kind, len(val.elems))
				continue
			}
			if len(n.Widgets) != 1 || n.Widgets[0].Type != GorgiasCard || n.Widgets[0].Path != "" || n.Widgets[0].Title == "" {
				t.Errorf("%s: a list holds %+v, want one titled card without path", at, n.Widgets)
				continue
			}
			for i, e := range val.elems {
				checkGorgiasChildren(t, at+"["+strconv.Itoa(i)+"]", n.Widgets[0].Widgets, e, false)
			}
		default:
			t.Errorf("%s: node type %q", at, n.Type)
		}
	}
}

// TestGorgiasTitles checks that every field of the layout vocabulary has
// its own title in both languages, not its JSON name.
func TestGorgiasTitles(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "fr"} {
		for section, fields := range config.WidgetFields {
			if section == "sections" {
				continue
			}
			for _, f := range fields {
				if got := gorgiasTitle(lang, section, f); got == f || got == "" {
					t.Errorf("%s: %s.%s has no title", lang, section, f)
				}
			}
		}
		for _, section := range []string{"orders", "lines", "shipments", "returns", "return_products", "support_requests"} {
			if got := gorgiasTitle(lang, "item", section); got == section {
				t.Errorf("%s: the card of one element of %s has no title", lang, section)
			}
		}
		if got := gorgiasTitle(lang, "", "customer"); got == "customer" {
			t.Errorf("%s: the customer card has no title", lang)
		}
	}
	if en, fr := gorgiasTitle("en", "orders", "created_at"), gorgiasTitle("fr", "orders", "created_at"); en == fr {
		t.Errorf("French title of created_at = %q, the English one", fr)
	}
}

// orderedJSON is a decoded JSON value that keeps its object keys in order,
// which encoding/json's maps lose.
type orderedJSON struct {
	kind   byte // '{', '[' or 0 for a scalar
	keys   []string
	fields map[string]*orderedJSON
	elems  []*orderedJSON
}

// hollow tells whether the value shows nothing: an object without keys,
// or an array of such objects.
func (o *orderedJSON) hollow() bool {
	switch o.kind {
	case '{':
		return len(o.keys) == 0
	case '[':
		return len(o.elems) > 0 && !slices.ContainsFunc(o.elems, func(e *orderedJSON) bool { return !e.hollow() })
	}
	return false
}

func decodeOrderedJSON(t *testing.T, b []byte) *orderedJSON {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	v, err := decodeOrderedJSONValue(dec)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("trailing data after the JSON value: %v", err)
	}
	return v
}

func decodeOrderedJSONValue(dec *json.Decoder) (*orderedJSON, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &orderedJSON{kind: '{', fields: map[string]*orderedJSON{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeOrderedJSONValue(dec)
			if err != nil {
				return nil, err
			}
			o.keys = append(o.keys, k.(string))
			o.fields[k.(string)] = v
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		o := &orderedJSON{kind: '['}
		for dec.More() {
			v, err := decodeOrderedJSONValue(dec)
			if err != nil {
				return nil, err
			}
			o.elems = append(o.elems, v)
		}
		_, err := dec.Token()
		return o, err
	}
	return &orderedJSON{}, nil
}
