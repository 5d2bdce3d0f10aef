package config

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// example.yaml says it documents every setting: each key the decoder
// knows is either set in it or shown in a comment (as "# key:").
func TestExampleDocumentsEverySetting(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	examplePaths(root.Content[0], "", set)
	commented := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)#\s*([a-z0-9_]+):`).FindAllStringSubmatch(string(data), -1) {
		commented[m[1]] = true
	}
	var missing []string
	for _, p := range settingPaths(reflect.TypeFor[Config](), "") {
		leaf := p[strings.LastIndexAny(p, ".]")+1:]
		if !set[p] && !commented[leaf] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("example.yaml neither sets nor mentions:\n  %s", strings.Join(missing, "\n  "))
	}

	// Each helpdesk kind's webhook secret is shown: they differ (a header
	// for Gorgias, a signing secret for Zendesk).
	cfg, err := Load("example.yaml", lookup(exampleEnv()))
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{KindGorgias, KindZendesk} {
		found := false
		for _, h := range cfg.Merchants[0].Helpdesks {
			found = found || (h.Kind == kind && !h.WebhookSecret.IsZero())
		}
		if !found {
			t.Errorf("example.yaml shows no webhook_secret of a %s account", kind)
		}
	}
}

// settingPaths lists the YAML paths of every setting of t, a list's items
// written as [].
func settingPaths(t reflect.Type, path string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := join(path, name)
		ft := f.Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && ft.Elem() != secretType {
			out = append(out, p)
			out = append(out, settingPaths(ft.Elem(), p+"[]")...)
			continue
		}
		if ft.Kind() == reflect.Struct && ft != secretType && ft != durationType {
			out = append(out, p)
			out = append(out, settingPaths(ft, p)...)
			continue
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func examplePaths(n *yaml.Node, path string, out map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := join(path, n.Content[i].Value)
			out[p] = true
			examplePaths(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			examplePaths(item, path+"[]", out)
		}
	}
}
