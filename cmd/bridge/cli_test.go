package main

import (
	"context"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/helpdesk-bridge/bridge/config"
)

// commands are every command line the binary takes, as its usage lists
// them.
var commands = [][]string{
	{"serve"}, {"api"}, {"worker"}, {"demo"}, {"config"}, {"config", "check"}, {"helpdesk-setup"},
	{"healthcheck"}, {"zendesk-app"}, {"gorgias-widget"}, {"orders"}, {"orders", "export"},
}

// bridge --help lists the commands; before, any argument starting with a
// dash went to serve, which printed its one flag.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}, {"help"}} {
		var out, errOut strings.Builder
		if code := run(args, &out, &errOut); code != 0 {
			t.Errorf("bridge %s exited %d: %s", args[0], code, errOut.String())
		}
		for _, c := range commands {
			if !strings.Contains(out.String(), "\n  "+strings.Join(c, " ")+" ") {
				t.Errorf("bridge %s does not list %q:\n%s", args[0], strings.Join(c, " "), out.String())
			}
		}
	}
}

// Every command prints its own usage on -h and --help, on stdout, and
// exits 0 without doing anything: config check does not take --help for a
// file name, serve does not start.
func TestEveryCommandPrintsItsOwnUsage(t *testing.T) {
	for _, c := range commands {
		for _, help := range []string{"-h", "--help"} {
			var out, errOut strings.Builder
			args := append(append([]string(nil), c...), help)
			if code := run(args, &out, &errOut); code != 0 {
				t.Errorf("bridge %s exited %d: %s", strings.Join(args, " "), code, errOut.String())
			}
			if want := "usage: bridge " + strings.Join(c, " "); !strings.HasPrefix(out.String(), want) {
				t.Errorf("bridge %s printed %q, want its usage (%s…)", strings.Join(args, " "), out.String(), want)
			}
		}
	}
	// help COMMAND is COMMAND -h.
	var out, errOut strings.Builder
	if code := run([]string{"help", "demo"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "-listen") {
		t.Errorf("bridge help demo exited %d: %s%s", code, out.String(), errOut.String())
	}
	// A mistake still fails, with the usage.
	out.Reset()
	errOut.Reset()
	if code := run([]string{"config", "check"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: bridge config check FILE") {
		t.Errorf("bridge config check without a file exited %d: %s%s", code, out.String(), errOut.String())
	}
}

// The demo's "address in use" says how to choose another.
func TestDemoPortInUseNamesTheListenFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out, errOut strings.Builder
	if code := runDemo(context.Background(), []string{"-listen", l.Addr().String()}, &out, &errOut); code != 1 {
		t.Fatalf("demo on a taken port exited %d", code)
	}
	if !strings.Contains(errOut.String(), "-listen") {
		t.Errorf("demo's error does not mention -listen:\n%s", errOut.String())
	}
}

const setupConfig = `
server:
  public_url: https://bridge.acme.example
merchants:
  - id: acme
    event_secrets: ["${SETUP_EVENT_SECRET}"]
    stores: [{id: acme-fr}]
    helpdesks:
      - id: acme-zendesk
        kind: zendesk
        base_url: https://acme.zendesk.com
        email: bot@acme.example
        api_key: ${SETUP_KEY}
        webhook_secret: ${SETUP_ZENDESK_HOOK}
        stores: [acme-fr]
        tag_prefix: shop-
        alerts: [action-required]
      - id: acme-gorgias
        kind: gorgias
        base_url: https://acme.gorgias.com
        email: bot@acme.example
        api_key: ${SETUP_KEY}
        webhook_secret: ${SETUP_GORGIAS_HOOK}
        stores: [acme-fr]
    marketplaces:
      - id: acme-carrefour
        kind: mirakl
        name: carrefour
        base_url: https://carrefour.example
        api_key: ${SETUP_KEY}
        store: acme-fr
        helpdesk: acme-zendesk
`

// helpdesk-setup prints each account's conditions as its configuration
// makes them: the prefix, the alert marker, the webhook URL, and the
// secrets by name only.
func TestHelpdeskSetupFollowsTheConfiguration(t *testing.T) {
	path := t.TempDir() + "/bridge.yaml"
	if err := os.WriteFile(path, []byte(setupConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	const zhook, ghook = "zendesk-hook-secret-0123456789", "gorgias-hook-secret-0123456789"
	t.Setenv("SETUP_EVENT_SECRET", "setup-event-secret-0123456789")
	t.Setenv("SETUP_KEY", "setup-api-key")
	t.Setenv("SETUP_ZENDESK_HOOK", zhook)
	t.Setenv("SETUP_GORGIAS_HOOK", ghook)

	var out, errOut strings.Builder
	if code := run([]string{"helpdesk-setup", "-config", path}, &out, &errOut); code != 0 {
		t.Fatalf("helpdesk-setup exited %d: %s", code, errOut.String())
	}
	zendeskPart, gorgiasPart, _ := strings.Cut(out.String(), "== acme-gorgias")
	for _, want := range []string{
		"Tags | Contains none of the following | shop-" + config.AlertMarker,
		"Update via | Is not | Web service (API)",
		"https://bridge.acme.example/v1/webhooks/helpdesks/acme-zendesk",
		"${SETUP_ZENDESK_HOOK}",
		`{"event":"agent_reply","ticket_id":"{{ticket.id}}","status":"{{ticket.status}}"}`,
		"shop-action-required", "shop-marketplace-carrefour",
	} {
		if !strings.Contains(zendeskPart, want) {
			t.Errorf("the Zendesk account's setup lacks %q:\n%s", want, zendeskPart)
		}
	}
	if strings.Contains(zendeskPart, "shop-bad-rating") {
		t.Errorf("the Zendesk account's setup names an alert kind it does not take:\n%s", zendeskPart)
	}
	for _, want := range []string{
		"Ticket tags | does not contain | " + config.AlertMarker + "\n",
		"X-Helpdesk-Bridge-Secret = the value of ${SETUP_GORGIAS_HOOK}",
		"https://bridge.acme.example/v1/webhooks/helpdesks/acme-gorgias",
		"no tag_prefix",
	} {
		if !strings.Contains(gorgiasPart, want) {
			t.Errorf("the Gorgias account's setup lacks %q:\n%s", want, gorgiasPart)
		}
	}
	for _, secret := range []string{zhook, ghook, "setup-api-key"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("helpdesk-setup printed a secret")
		}
	}

	out.Reset()
	if code := run([]string{"helpdesk-setup", "-config", path, "-account", "acme-gorgias"}, &out, &errOut); code != 0 || strings.Contains(out.String(), "acme-zendesk") {
		t.Errorf("helpdesk-setup -account acme-gorgias exited %d:\n%s", code, out.String())
	}
	if code := run([]string{"helpdesk-setup", "-config", path, "-account", "nope"}, &out, &errOut); code != 1 {
		t.Errorf("helpdesk-setup of an unknown account exited %d", code)
	}
	// config check points to it.
	out.Reset()
	if code := run([]string{"config", "check", path}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "bridge helpdesk-setup -config "+path) {
		t.Errorf("config check exited %d:\n%s", code, out.String())
	}
	// It takes the file with -config too, as the other commands do.
	out.Reset()
	if code := run([]string{"config", "check", "-config", path}, &out, &errOut); code != 0 || !strings.Contains(out.String(), path+": ok") {
		t.Errorf("config check -config exited %d:\n%s", code, out.String())
	}
	if code := run([]string{"config", "check", "-config", path, path}, &out, &errOut); code != 2 {
		t.Errorf("config check with -config and a file exited %d, want 2", code)
	}
}

// The README's Zendesk example and its trigger instructions agree: the
// tag the trigger excludes is the marker the example's prefix makes.
func TestReadmeZendeskTriggerMatchesItsExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Connecting a real Zendesk account")
	if !ok {
		t.Fatal("README has no Zendesk section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	m := regexp.MustCompile(`(?m)^\s+tag_prefix: (\S+)`).FindStringSubmatch(section)
	if m == nil {
		t.Fatal("the README's Zendesk example sets no tag_prefix")
	}
	if want := "`" + m[1] + config.AlertMarker + "`"; !strings.Contains(section, "Contains none of the following | "+want) && !strings.Contains(section, "contain none of "+want) {
		t.Errorf("the README's Zendesk trigger instructions do not exclude %s, the marker of its example's prefix", want)
	}
}

// The README's list of subcommands is the binary's: each one it names
// answers -h, and each command the binary has is in the list.
func TestReadmeListsTheSubcommands(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "**Subcommands**")
	if !ok {
		t.Fatal("README has no list of subcommands")
	}
	list, _, _ = strings.Cut(list, "\n\n## ")
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^- `bridge ([a-z-]+(?: check| export)?)").FindAllStringSubmatch(list, -1) {
		listed[m[1]] = true
		var out, errOut strings.Builder
		if code := run(append(strings.Fields(m[1]), "-h"), &out, &errOut); code != 0 {
			t.Errorf("README lists bridge %s, which answers -h with %d: %s", m[1], code, errOut.String())
		}
	}
	for _, m := range regexp.MustCompile("(?m)^- `bridge [a-z-]+` and `bridge ([a-z-]+)`").FindAllStringSubmatch(list, -1) {
		listed[m[1]] = true
	}
	for _, c := range commands {
		name := strings.Join(c, " ")
		if name != "config" && name != "orders" && !listed[name] { // groups of one subcommand
			t.Errorf("README does not list bridge %s", name)
		}
	}
}

// The configuration examples a newcomer starts from pass config check once
// their variables are set (to strong values, as the checks want).
func TestExampleConfigsPassConfigCheck(t *testing.T) {
	for _, file := range []string{"../../config/example.yaml", "../../config/minimal.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`).FindAllStringSubmatch(string(data), -1) {
			t.Setenv(m[1], config.SuggestSecret())
		}
		var out, errOut strings.Builder
		if code := run([]string{"config", "check", file}, &out, &errOut); code != 0 {
			t.Errorf("bridge config check %s exited %d:\n%s%s", file, code, out.String(), errOut.String())
		}
	}
	// The minimal one is what it says: one merchant, one Gorgias account.
	cfg, err := config.Load("../../config/minimal.yaml", os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Merchants) != 1 || len(cfg.Merchants[0].Helpdesks) != 1 || cfg.Merchants[0].Helpdesks[0].Kind != config.KindGorgias {
		t.Errorf("minimal.yaml: %d merchants, helpdesks %+v; want one merchant with one Gorgias account", len(cfg.Merchants), cfg.Merchants[0].Helpdesks)
	}
}

// What serve would refuse, config check refuses first, and serve refuses
// it as it loads the configuration, naming the same setting: the audit's
// cases, each once passed by config check and refused only later, or run
// with silently.
func TestConfigCheckRefusesWhatServeRefuses(t *testing.T) {
	// A Redis that refuses connections: a check that lets a case through
	// makes serve fail later, in its log, not in its configuration.
	good := setupConfig + "redis:\n  url: redis://127.0.0.1:1/0\n"
	t.Setenv("SETUP_EVENT_SECRET", "setup-event-secret-0123456789")
	t.Setenv("SETUP_KEY", "setup-api-key")
	t.Setenv("SETUP_ZENDESK_HOOK", "zendesk-hook-secret-0123456789")
	t.Setenv("SETUP_GORGIAS_HOOK", "gorgias-hook-secret-0123456789")
	cases := []struct {
		name, old, new, env, value, names string
	}{
		{name: "listen", env: "BRIDGE_LISTEN", value: "notanaddr", names: "server.listen"},
		{name: "listen port", old: "server:\n", new: "server:\n  listen: \":99999\"\n", names: "server.listen"},
		{name: "redis database", old: "redis://127.0.0.1:1/0", new: "redis://127.0.0.1:1/abc", names: "redis.url"},
		{name: "redis option", old: "redis://127.0.0.1:1/0", new: "redis://127.0.0.1:1/0?bogus=1", names: "redis.url"},
		{name: "redis password option", old: "redis://127.0.0.1:1/0", new: "redis://127.0.0.1:1/0?password=hunter2", names: "redis.url"},
		{name: "redis tls", old: "redis://127.0.0.1:1/0\n", new: "redis://127.0.0.1:1/0\n  tls: true\n", names: "redis.tls"},
		{name: "helpdesk base_url", old: "https://acme.gorgias.com", new: "ftp://acme.gorgias.com", names: "helpdesks[1].base_url"},
		{name: "marketplace base_url", old: "https://carrefour.example", new: "javascript:alert(1)", names: "marketplaces[0].base_url"},
		{name: "admin username", env: "BRIDGE_ADMIN_USERNAME", value: "a:b", names: "server.admin.username"},
		{name: "log level", env: "BRIDGE_LOG_LEVEL", value: "loud", names: "BRIDGE_LOG_LEVEL"},
		{name: "trivial secret", env: "SETUP_EVENT_SECRET", value: strings.Repeat(" ", 28), names: "event_secrets[0]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			yml := good
			if c.old != "" {
				if strings.Count(yml, c.old) != 1 {
					t.Fatalf("%q is not once in the configuration", c.old)
				}
				yml = strings.Replace(yml, c.old, c.new, 1)
			}
			if c.env != "" {
				t.Setenv(c.env, c.value)
			}
			path := t.TempDir() + "/bridge.yaml"
			if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut strings.Builder
			if code := run([]string{"config", "check", path}, &out, &errOut); code != 1 || !strings.Contains(out.String(), c.names) {
				t.Errorf("config check exited %d, want 1 naming %s:\n%s%s", code, c.names, out.String(), errOut.String())
			}
			out.Reset()
			errOut.Reset()
			if code := run([]string{"serve", "-config", path}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "configuration") || !strings.Contains(errOut.String(), c.names) {
				t.Errorf("serve exited %d, want 1 with a configuration problem naming %s:\n%s", code, c.names, errOut.String())
			}
			if strings.Contains(out.String()+errOut.String(), "hunter2") {
				t.Errorf("a password was printed")
			}
		})
	}
	// The same configuration, good, passes.
	path := t.TempDir() + "/bridge.yaml"
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run([]string{"config", "check", path}, &out, &errOut); code != 0 {
		t.Errorf("config check of the good configuration exited %d:\n%s%s", code, out.String(), errOut.String())
	}
}
