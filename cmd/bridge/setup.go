package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
)

// runHelpdeskSetup prints, for each helpdesk account of the configuration,
// the exact tags, trigger and rule conditions and webhook settings it
// needs. They follow the account's tag_prefix and alert kinds, so that an
// admin copies them instead of working them out: a Zendesk trigger whose
// condition names a tag the bridge does not set would email buyers.
func runHelpdeskSetup(args []string, stdout, stderr io.Writer) int {
	fs := newCommand("helpdesk-setup", "[-config FILE] [-account ID]",
		"Prints, for each helpdesk account of the configuration, the tags the bridge\n"+
			"sets, the trigger and rule conditions that keep alerts from emailing the\n"+
			"buyer, and the webhook that reports agents' replies. Secrets are named by\n"+
			"their ${VAR}, never printed.", stderr)
	path := fs.String("config", envOr("BRIDGE_CONFIG", "bridge.yaml"), "configuration file ($BRIDGE_CONFIG)")
	only := fs.String("account", "", "only this helpdesk account id")
	if code, done := fs.parse(args, stdout); done {
		return code
	}
	cfg, err := config.Load(*path, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "bridge helpdesk-setup: configuration %s:\n%v\n", *path, err)
		return 1
	}
	found := false
	for i := range cfg.Merchants {
		m := &cfg.Merchants[i]
		for _, h := range m.Helpdesks {
			if *only != "" && h.ID != *only {
				continue
			}
			found = true
			writeHelpdeskSetup(stdout, cfg, m, h)
		}
	}
	if !found {
		if *only != "" {
			fmt.Fprintf(stderr, "bridge helpdesk-setup: no helpdesk account %q in %s\n", *only, *path)
		} else {
			fmt.Fprintf(stderr, "bridge helpdesk-setup: %s has no helpdesk account\n", *path)
		}
		return 1
	}
	return 0
}

// writeHelpdeskSetup writes one account's instructions.
func writeHelpdeskSetup(w io.Writer, cfg *config.Config, m *config.Merchant, h config.Helpdesk) {
	p := h.TagPrefix
	marker := p + config.AlertMarker
	var kinds []string
	for _, k := range h.Alerts {
		kinds = append(kinds, p+k)
	}
	var mirrored []config.Marketplace
	for _, mk := range m.Marketplaces {
		if mk.Helpdesk == h.ID {
			mirrored = append(mirrored, mk)
		}
	}
	base := strings.TrimRight(cfg.Server.PublicURL, "/")
	if base == "" {
		base = "https://bridge.example.com"
	}
	hookURL := base + "/v1/webhooks/helpdesks/" + h.ID

	fmt.Fprintf(w, "== %s: %s account %s (merchant %s)\n\n", h.ID, h.Kind, h.BaseURL, m.ID)
	prefix := fmt.Sprintf("tag_prefix %q", p)
	if p == "" {
		prefix = "no tag_prefix: tags are unprefixed"
	}
	fmt.Fprintf(w, "Tags the bridge sets (%s):\n", prefix)
	fmt.Fprintf(w, "  every alert ticket:   %s\n", marker)
	fmt.Fprintf(w, "  and the alert's kind: %s\n", strings.Join(kinds, ", "))
	if len(mirrored) > 0 {
		names := make([]string, len(mirrored))
		for i, mk := range mirrored {
			names[i] = p + "marketplace-" + mk.Name
		}
		fmt.Fprintf(w, "  mirrored discussions: %smarketplace, %s, and %sdiscussion-order, %sdiscussion-product or %sdiscussion-other\n", p, strings.Join(names, ", "), p, p, p)
	}
	fmt.Fprintln(w)

	switch h.Kind {
	case config.KindZendesk:
		fmt.Fprintln(w, "Keep alerts from emailing the buyer. In Admin Center > Objects and rules >")
		fmt.Fprintln(w, "Business rules > Triggers, edit every trigger that emails the requester")
		fmt.Fprintln(w, "(Zendesk's default \"Notify requester and CCs of received request\" and")
		fmt.Fprintln(w, "\"Notify requester and CCs of comment update\", and any of your own), and add")
		fmt.Fprintln(w, "under \"Meet ALL of the following conditions\":")
		fmt.Fprintf(w, "  Tags | Contains none of the following | %s\n", marker)
		if len(mirrored) > 0 {
			fmt.Fprintln(w, "  Update via | Is not | Web service (API)")
			fmt.Fprintln(w, "The second keeps a mirrored customer message from being mailed back to them.")
		}
		fmt.Fprintln(w)
		if !h.WebhookSecret.IsZero() || len(mirrored) > 0 {
			fmt.Fprintln(w, "Agents' replies to mirrored discussions reach the bridge through a webhook:")
			fmt.Fprintln(w, "1. Admin Center > Apps and integrations > Webhooks > Create webhook:")
			fmt.Fprintf(w, "   endpoint URL %s, method POST, request format JSON.\n", hookURL)
			fmt.Fprintf(w, "   Put its signing secret in %s (webhook_secret).\n", secretName(h.WebhookSecret, "webhook_secret"))
			tr := zendesk.Trigger("")
			fmt.Fprintf(w, "2. A trigger %q, with under \"Meet ALL of the following conditions\":\n", tr.Title)
			fmt.Fprintln(w, "     Ticket | Is | Updated")
			fmt.Fprintln(w, "     Comment | Is | Public")
			fmt.Fprintln(w, "     Current user | Is not | (end user)")
			fmt.Fprintln(w, "     Update via | Is not | Web service (API)")
			fmt.Fprintln(w, "   and the action Notify by webhook, that webhook, with the JSON body:")
			fmt.Fprintf(w, "     %s\n", zendesk.WebhookBody)
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "Route alerts with triggers or views on their tags, for example:")
		fmt.Fprintf(w, "  Tags | Contains at least one of the following | %s\n", kinds[0])
	case config.KindGorgias:
		fmt.Fprintln(w, "Alert tickets come on the api channel with a single internal note: Gorgias")
		fmt.Fprintln(w, "sends the buyer nothing. If one of your rules answers new tickets")
		fmt.Fprintln(w, "automatically, add to it the condition:")
		fmt.Fprintf(w, "  Ticket tags | does not contain | %s\n", marker)
		fmt.Fprintln(w)
		if !h.WebhookSecret.IsZero() || len(mirrored) > 0 {
			form, _ := json.Marshal(gorgias.WebhookForm)
			fmt.Fprintln(w, "Agents' replies to mirrored discussions reach the bridge through an HTTP")
			fmt.Fprintln(w, "integration (Settings > Apps > HTTP integration > Add):")
			fmt.Fprintf(w, "  URL %s, method POST,\n", hookURL)
			fmt.Fprintln(w, "  request and response content type application/json;")
			fmt.Fprintf(w, "  header %s = the value of %s (webhook_secret);\n", gorgias.WebhookSecretHeader, secretName(h.WebhookSecret, "webhook_secret"))
			fmt.Fprintln(w, "  trigger Ticket message created only;")
			fmt.Fprintf(w, "  body %s\n", form)
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "Route alerts with rules on their tags, for example: when a ticket is created,")
		fmt.Fprintf(w, "if Ticket tags contain %s, assign it to a team.\n", kinds[0])
	}
	if (len(mirrored) > 0) && h.WebhookSecret.IsZero() {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Warning: discussions are mirrored into %s but it has no webhook_secret, so\n", h.ID)
		fmt.Fprintln(w, "agents' replies cannot reach the marketplace. Set one (at least 16 characters).")
	}
	fmt.Fprintln(w)
}

// secretName names a secret by the reference it was read from, never by
// its value.
func secretName(s config.Secret, field string) string {
	if s.Ref != "" {
		return s.Ref
	}
	return "the account's " + field
}
