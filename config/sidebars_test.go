package config

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// sidebars is appended to base: acme's sidebars.
const sidebars = `    sidebars:
      - id: acme-gorgias-sidebar
        kind: gorgias
        token: ${SIDEBAR_TOKEN}
        stores: [acme-fr]
      - id: acme-helpscout
        kind: helpscout
        secret: ${HELPSCOUT_SECRET}
        stores: [acme-fr, acme-de]
        language: fr
        layout:
          sections: [orders]
          orders: [id, status, shipments]
          shipments: []
`

func sidebarEnv() map[string]string {
	env := baseEnv()
	env["SIDEBAR_TOKEN"] = "sidebar-token-0123456789abcdef"
	env["OTHER_TOKEN"] = "other-token-0123456789abcdef01"
	env["HELPSCOUT_SECRET"] = "helpscout-secret-1234"
	return env
}

func TestParseSidebars(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(base+sidebars), lookup(sidebarEnv()))
	if err != nil {
		t.Fatal(err)
	}
	sb := cfg.Merchants[0].Sidebars
	if len(sb) != 2 || sb[0].Language != "en" || sb[1].Language != "fr" {
		t.Fatalf("sidebars = %+v", sb)
	}
	if diff := cmp.Diff([]string{"id", "status", "shipments"}, sb[1].Layout.Orders); diff != "" {
		t.Errorf("layout (-want +got):\n%s", diff)
	}
	// An empty list is kept apart from a list left out: it hides.
	if sb[1].Layout.Shipments == nil || len(sb[1].Layout.Shipments) != 0 || sb[1].Layout.Lines != nil {
		t.Errorf("shipments = %#v, lines = %#v: want [] and nil", sb[1].Layout.Shipments, sb[1].Layout.Lines)
	}
	if cfg.Widgets.Budget == 0 || cfg.Widgets.Retention == 0 || cfg.Widgets.MaxOrders == 0 {
		t.Errorf("widgets defaults not applied: %+v", cfg.Widgets)
	}
}

func TestParseSidebarProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		old, new string
		want     Problems
	}{
		{"unknown field", "orders: [id, status, shipments]", "orders: [id, state]",
			Problems{{Field: "merchants[0].sidebars[1].layout.orders[1]", Line: 36, Message: `unknown field "state"; orders has: id, status, action, marketplace_status, created_at, total, currency, marketplace, store, url, support_url, lines, shipments, returns, support_requests, actions, invoice_url`}}},
		{"field twice", "sections: [orders]", "sections: [orders, orders]",
			Problems{{Field: "merchants[0].sidebars[1].layout.sections[1]", Line: 35, Message: `"orders" is listed twice`}}},
		{"no token", "        token: ${SIDEBAR_TOKEN}\n", "",
			Problems{{Field: "merchants[0].sidebars[0].token", Line: 25, Message: "is required: the helpdesk sends it as a bearer token"}}},
		{"no helpscout secret", "        secret: ${HELPSCOUT_SECRET}\n", "",
			Problems{{Field: "merchants[0].sidebars[1].secret", Line: 29, Message: "is required for a helpscout sidebar: it verifies X-HelpScout-Signature"}}},
		{"short token", "token: ${SIDEBAR_TOKEN}", "token: ${ACME_GORGIAS_KEY}",
			Problems{{Field: "merchants[0].sidebars[0].token", Line: 27, Message: "must be at least 24 characters long, or it can be guessed; set it to a random value such as <suggestion>"}}},
		{"store of no one", "        stores: [acme-fr]\n      - id: acme-helpscout", "        stores: [acme-fr, globex-us]\n      - id: acme-helpscout",
			Problems{{Field: "merchants[0].sidebars[0].stores[1]", Line: 28, Message: `"globex-us" is not a store of merchant "acme"`}}},
		{"unknown kind", "kind: helpscout", "kind: freshdesk",
			Problems{{Field: "merchants[0].sidebars[1].kind", Line: 30, Message: "must be one of: gorgias, zendesk, html, helpscout"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := editText(t, base+sidebars, tt.old, tt.new)
			_, err := Parse([]byte(in), lookup(sidebarEnv()))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseSidebarTokensAreUniqueAndNeverShown(t *testing.T) {
	t.Parallel()
	in := base + sidebars + `      - id: acme-html
        kind: html
        token: ${SIDEBAR_TOKEN}
        stores: [acme-de]
`
	_, err := Parse([]byte(in), lookup(sidebarEnv()))
	ps := problemsOf(t, err)
	want := Problems{{Field: "merchants[0].sidebars[2].token", Line: 40, Message: "is the same token as merchants[0].sidebars[0].token; each sidebar needs its own"}}
	if diff := cmp.Diff(want, ps); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	assertNoLeak(t, "problems", ps.Error())
}
