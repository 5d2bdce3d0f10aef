package config

import (
	"errors"
	"strings"
	"testing"
)

// Every secret the bridge checks callers against has a minimum length, and
// the problem suggests a fresh random value that would pass, without ever
// showing the weak one.
func TestWeakSecretsAreRefusedWithASuggestion(t *testing.T) {
	t.Parallel()
	full := base + `    api_tokens: ["${API_TOKEN}"]
` + sidebars
	full = editText(t, full, "        api_key: ${ACME_GORGIAS_KEY}\n", "        api_key: ${ACME_GORGIAS_KEY}\n        webhook_secret: ${HOOK_SECRET}\n")
	strong := func() map[string]string {
		env := sidebarEnv()
		env["API_TOKEN"] = "api-token-0123456789abcdef0123"
		env["HOOK_SECRET"] = "webhook-secret-0123"
		return env
	}
	if _, err := Parse([]byte(full), lookup(strong())); err != nil {
		t.Fatalf("strong secrets refused:\n%v", err)
	}
	cases := []struct {
		name, env, weak, field string
		min                    string
	}{
		{"event secret", "ACME_EVENT_SECRET", "a", "merchants[0].event_secrets[0]", "24"},
		{"event secret one short", "ACME_EVENT_SECRET", strings.Repeat("e", 23), "merchants[0].event_secrets[0]", "24"},
		{"admin password", "ADMIN_PASSWORD", "x", "server.admin.password", "16"},
		{"admin password from the environment", "BRIDGE_ADMIN_PASSWORD", "hunter2", "server.admin.password", "16"},
		{"webhook secret", "HOOK_SECRET", "hook", "merchants[0].helpdesks[0].webhook_secret", "16"},
		{"API token", "API_TOKEN", "token-123", "merchants[0].api_tokens[0]", "24"},
		{"sidebar token", "SIDEBAR_TOKEN", "sidebar", "merchants[0].sidebars[0].token", "24"},
		{"Help Scout secret", "HELPSCOUT_SECRET", "hs-secret", "merchants[0].sidebars[1].secret", "16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := strong()
			env[tc.env] = tc.weak
			_, err := Parse([]byte(full), lookup(env))
			var ps Problems
			if !errors.As(err, &ps) || len(ps) != 1 || ps[0].Field != tc.field {
				t.Fatalf("problems = %v, want one for %s", err, tc.field)
			}
			msg := ps[0].Message
			if !strings.HasPrefix(msg, "must be at least "+tc.min+" characters long") {
				t.Errorf("message %q does not give the minimum, %s", msg, tc.min)
			}
			if len(tc.weak) > 2 && strings.Contains(msg, tc.weak) {
				t.Errorf("message %q shows the weak secret", msg)
			}
			// The suggestion is fresh, and passes in the same place.
			suggestion := suggested.FindString(msg)
			if suggestion == "" {
				t.Fatalf("message %q suggests no value", msg)
			}
			_, again := Parse([]byte(full), lookup(env))
			if suggested.FindString(again.Error()) == suggestion {
				t.Errorf("the same value %s was suggested twice", suggestion)
			}
			env[tc.env] = suggestion
			if _, err := Parse([]byte(full), lookup(env)); err != nil {
				t.Errorf("the suggested value is refused:\n%v", err)
			}
		})
	}
}
