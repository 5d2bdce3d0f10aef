package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// marketplaces is appended to base: acme's Mirakl shops.
const marketplaces = `    marketplaces:
      - id: acme-carrefour
        kind: mirakl
        name: carrefour
        base_url: https://carrefour.mirakl.example
        api_key: ${MIRAKL_KEY}
        shop_id: "2042"
        store: acme-fr
        helpdesk: acme-gorgias
`

func TestParseMarketplaces(t *testing.T) {
	t.Parallel()
	env := baseEnv()
	env["MIRAKL_KEY"] = "mirakl-key"
	cfg, err := Parse([]byte(base+marketplaces), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	mk := cfg.Merchants[0].Marketplaces[0]
	want := Marketplace{
		ID: "acme-carrefour", Kind: KindMirakl, Name: "carrefour", BaseURL: "https://carrefour.mirakl.example",
		APIKey: secret("mirakl-key", "${MIRAKL_KEY}"), ShopID: "2042", Store: "acme-fr", Helpdesk: "acme-gorgias",
		SyncEvery: time.Minute, Overlap: 2 * time.Minute, Backfill: 30 * 24 * time.Hour, Timeout: 30 * time.Second, SettleDelay: 2 * time.Minute,
		RatingSyncEvery: time.Hour, RatingWindow: 30 * 24 * time.Hour,
		RateLimit: RateLimit{Requests: 60, Per: time.Minute},
	}
	if diff := cmp.Diff(want, mk, cmp.AllowUnexported(Secret{})); diff != "" {
		t.Errorf("marketplace (-want +got):\n%s", diff)
	}
}

func TestParseMarketplaceProblems(t *testing.T) {
	t.Parallel()
	env := baseEnv()
	env["MIRAKL_KEY"] = "mirakl-key"
	tests := []struct {
		name, old, new string
		want           Problems
	}{
		{"another merchant's store", "store: acme-fr\n        helpdesk", "store: globex-us\n        helpdesk",
			Problems{{Field: "merchants[0].marketplaces[0].store", Line: 31, Message: `"globex-us" is not a store of merchant "acme"`}}},
		{"unknown helpdesk", "helpdesk: acme-gorgias", "helpdesk: nope",
			Problems{{Field: "merchants[0].marketplaces[0].helpdesk", Line: 32, Message: `"nope" is not a helpdesk of merchant "acme"`}}},
		{"id of a helpdesk", "id: acme-carrefour", "id: acme-zendesk",
			Problems{{Field: "merchants[0].marketplaces[0].id", Line: 25, Message: `duplicate account id "acme-zendesk", first used at merchants[0].helpdesks[1].id: the shared rate limiter is keyed by account id, so marketplace and helpdesk ids are unique across merchants`}}},
		{"polls too often", "        helpdesk: acme-gorgias\n", "        helpdesk: acme-gorgias\n        sync_every: 1s\n",
			Problems{{Field: "merchants[0].marketplaces[0].sync_every", Line: 33, Message: "must be at least 10s: Mirakl advises against polling faster"}}},
		{"unknown kind", "kind: mirakl", "kind: ebay",
			Problems{{Field: "merchants[0].marketplaces[0].kind", Line: 26, Message: "must be one of: mirakl, email, fnac, rakuten"}}},
		{"rakuten account without its login", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: rakuten\n        rakuten: {}\n",
			Problems{{Field: "merchants[0].marketplaces[0].rakuten.login", Line: 27, Message: "is required"}}},
		{"rakuten account without its section or token", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n        api_key: ${MIRAKL_KEY}\n",
			"kind: rakuten\n",
			Problems{
				{Field: "merchants[0].marketplaces[0].api_key", Line: 25, Message: "is required when kind is rakuten"},
				{Field: "merchants[0].marketplaces[0].rakuten", Line: 25, Message: "is required when kind is rakuten"},
			}},
		{"rakuten section on a mirakl account", "        helpdesk: acme-gorgias\n", "        helpdesk: acme-gorgias\n        rakuten: {login: vendeur}\n",
			Problems{{Field: "merchants[0].marketplaces[0].rakuten", Line: 33, Message: "only an account of kind rakuten has a rakuten section"}}},
		{"rakuten polls too often", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: rakuten\n        rakuten: {login: vendeur}\n        sync_every: 30s\n",
			Problems{{Field: "merchants[0].marketplaces[0].sync_every", Line: 28, Message: "must be at least 1m for rakuten: each sync reads the todo list, and Rakuten's hourly quota refuses every call for the rest of the hour once spent"}}},
		{"fnac account without its shop or partner", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: fnac\n        fnac: {platform: boulanger}\n",
			Problems{
				{Field: "merchants[0].marketplaces[0].fnac.platform", Line: 27, Message: "must be one of: fnac, darty"},
				{Field: "merchants[0].marketplaces[0].fnac.partner_id", Line: 27, Message: "is required"},
			}},
		{"fnac section on a mirakl account", "        helpdesk: acme-gorgias\n", "        helpdesk: acme-gorgias\n        fnac: {platform: fnac, partner_id: P-1}\n",
			Problems{{Field: "merchants[0].marketplaces[0].fnac", Line: 33, Message: "only an account of kind fnac has a fnac section"}}},
		{"rates too often", "        helpdesk: acme-gorgias\n", "        helpdesk: acme-gorgias\n        rating_alerts: true\n        rating_sync_every: 1m\n",
			Problems{{Field: "merchants[0].marketplaces[0].rating_sync_every", Line: 34, Message: "must be at least 5m: each sync asks every order of rating_window for its evaluation"}}},
		{"auto_accept without sync_orders", "        helpdesk: acme-gorgias\n", "        helpdesk: acme-gorgias\n        auto_accept:\n          enabled: true\n          max_total: lots\n",
			Problems{
				{Field: "merchants[0].marketplaces[0].auto_accept.enabled", Line: 34, Message: "auto_accept needs sync_orders: true, whose sync finds the new orders"},
				{Field: "merchants[0].marketplaces[0].auto_accept.max_total", Line: 35, Message: "must be a decimal number such as 1000.00"},
			}},
		{"email account without its mailbox", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: email\n        name: amazon\n        sync_orders: true\n",
			Problems{
				{Field: "merchants[0].marketplaces[0].email", Line: 25, Message: "is required when kind is email"},
				{Field: "merchants[0].marketplaces[0].sync_orders", Line: 28, Message: "an email account cannot list orders; only mirakl, fnac, rakuten can, and an email account with amazon_orders"},
			}},
		{"generic relay without patterns", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: email\n        name: market\n        email:\n          profile: generic\n          from: shop@acme.example\n          imap: {addr: \"imap.acme.example:993\"}\n          smtp: {addr: \"smtp.acme.example:587\"}\n          relay:\n            relay_domains: [relay.market.example]\n            order_subject: 'Order [0-9]+'\n            case_body: '(unclosed'\n",
			Problems{
				{Field: "merchants[0].marketplaces[0].email.relay.order_subject", Line: 35, Message: "needs a group, (…), around the id"},
				{Field: "merchants[0].marketplaces[0].email.relay.case_body", Line: 36, Message: "is not a regular expression: error parsing regexp: missing closing ): `(unclosed`"},
			}},
		{"authserv_id that is no host name", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: email\n        name: amazon\n        email:\n          profile: amazon\n          from: shop@acme.example\n          imap: {addr: \"imap.acme.example:993\"}\n          smtp: {addr: \"smtp.acme.example:587\"}\n          authserv_id: 'mx acme; dkim=pass'\n",
			Problems{{Field: "merchants[0].marketplaces[0].email.authserv_id", Line: 33, Message: "must be a host name such as mx.example.com"}}},
		{"clear-text mail to another machine", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: email\n        name: amazon\n        email:\n          profile: amazon\n          from: shop@acme.example\n          imap: {addr: \"127.0.0.1:143\", tls: none}\n          smtp: {addr: \"smtp.acme.example:587\", tls: none}\n",
			Problems{{Field: "merchants[0].marketplaces[0].email.smtp.tls", Line: 32, Message: "none sends the password in clear text: only for a server on this machine (a loopback address); use starttls or implicit"}}},
		{"rating alerts of a kind without evaluations", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: fnac\n        fnac: {platform: fnac, partner_id: P-1}\n        rating_alerts: true\n",
			Problems{{Field: "merchants[0].marketplaces[0].rating_alerts", Line: 28, Message: "a fnac account cannot list order evaluations; only mirakl can"}}},
		{"invoice type code that is not one", "        helpdesk: acme-gorgias\n", "        helpdesk: acme-gorgias\n        invoice_document_type: 'CUSTOMER INVOICE'\n",
			Problems{{Field: "merchants[0].marketplaces[0].invoice_document_type", Line: 33, Message: "must be a Mirakl document type code: letters, digits and underscores, such as CUSTOMER_INVOICE"}}},
		{"invoice type code on a fnac account", "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n",
			"kind: fnac\n        fnac: {platform: fnac, partner_id: P-1}\n        invoice_document_type: CUSTOMER_INVOICE\n",
			Problems{{Field: "merchants[0].marketplaces[0].invoice_document_type", Line: 28, Message: "a fnac account keeps no order documents; only mirakl takes invoice_document_type"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(editText(t, base+marketplaces, tt.old, tt.new)), lookup(env))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAPITokensAreUnique(t *testing.T) {
	t.Parallel()
	env := baseEnv()
	env["API_TOKEN"] = "api-token-0123456789abcdefghij"
	in := base + "    api_tokens: [\"${API_TOKEN}\"]\n" + globex + "    api_tokens: [\"${API_TOKEN}\"]\n"
	_, err := Parse([]byte(in), lookup(env))
	ps := problemsOf(t, err)
	if len(ps) != 1 || ps[0].Field != "merchants[1].api_tokens[0]" || !strings.Contains(ps[0].Message, "merchants[0].api_tokens[0]") {
		t.Fatalf("problems %v, want the second use of the token refused", ps)
	}
	assertNoLeak(t, "problems", ps.Error())
	if strings.Contains(ps.Error(), env["API_TOKEN"]) {
		t.Error("the problem shows the token")
	}
}

// A Darty shop on Fnac Darty's API: the API's address and the name come
// from the defaults, the pace is the cautious one.
func TestParseFnacAccount(t *testing.T) {
	t.Parallel()
	env := baseEnv()
	env["DARTY_KEY"] = "darty-key"
	text := editText(t, base+marketplaces, "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n        api_key: ${MIRAKL_KEY}\n",
		"kind: fnac\n        api_key: ${DARTY_KEY}\n        fnac: {platform: darty, partner_id: 0A1B2C3D-0000-4000-8000-000000000001, mark_read: true}\n")
	cfg, err := Parse([]byte(text), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	mk := cfg.Merchants[0].Marketplaces[0]
	if mk.Kind != KindFnac || mk.Name != "darty" || mk.BaseURL != FnacBaseURL || mk.APIKey.Reveal() != "darty-key" || mk.ShopID != "2042" ||
		mk.Fnac == nil || !mk.Fnac.MarkRead || mk.Fnac.ArchiveWhenClosed || mk.RateLimit != (RateLimit{Requests: 60, Per: time.Minute}) {
		t.Errorf("fnac account %+v, %+v", mk, mk.Fnac)
	}
}

// A Rakuten seller: the web services' address and the name come from the
// defaults, the token is api_key, the pace the cautious one; orders can
// be synced and acted on.
func TestParseRakutenAccount(t *testing.T) {
	t.Parallel()
	env := baseEnv()
	env["RAKUTEN_TOKEN"] = "rakuten-token"
	text := editText(t, base+marketplaces, "kind: mirakl\n        name: carrefour\n        base_url: https://carrefour.mirakl.example\n        api_key: ${MIRAKL_KEY}\n",
		"kind: rakuten\n        api_key: ${RAKUTEN_TOKEN}\n        rakuten: {login: vendeur}\n        sync_orders: true\n        auto_accept: {enabled: true}\n")
	cfg, err := Parse([]byte(text), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	mk := cfg.Merchants[0].Marketplaces[0]
	if mk.Kind != KindRakuten || mk.Name != "rakuten" || mk.BaseURL != RakutenBaseURL || mk.APIKey.Reveal() != "rakuten-token" ||
		mk.Rakuten == nil || mk.Rakuten.Login != "vendeur" || mk.RateLimit != (RateLimit{Requests: 20, Per: time.Minute}) || mk.SyncEvery != time.Minute {
		t.Errorf("rakuten account %+v, %+v", mk, mk.Rakuten)
	}
}
