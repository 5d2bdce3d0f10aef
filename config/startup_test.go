package config

import (
	"strings"
	"testing"
)

// What the service would refuse at start-up, config check refuses first,
// naming the setting: the listen address, the Redis URL as the Redis
// client parses it, base URLs as the connectors take them, the admin
// username basic auth can match, the log level, and secrets that are long
// but trivial.
func TestCheckRefusesWhatStartUpRefuses(t *testing.T) {
	t.Parallel()
	const (
		notURL    = "must be an absolute http(s) URL such as https://example.com"
		withCreds = "must not hold credentials (user:password@): give them in their own settings, as ${ENV_VAR} references"
		listenMsg = "must be host:port or :port, such as :8080 or 127.0.0.1:8080"
		portMsg   = "must have a port from 0 to 65535, such as :8080"
		tlsMsg    = "has no effect with redis.url: write the url as rediss://host:port/db for TLS"
		trivial   = "must not be all spaces or one character repeated, or it can be guessed; set it to a random value such as <suggestion>"
	)
	withListen := func(l string) []string { return []string{"server:\n", "server:\n  listen: \"" + l + "\"\n"} }
	withRedis := func(lines string) []string { return []string{"server:\n", "redis:\n" + lines + "server:\n"} }
	withHelpdeskURL := func(u string) []string {
		return []string{"base_url: https://acme.gorgias.com", "base_url: \"" + u + "\""}
	}
	tests := []struct {
		name  string
		in    string // base+marketplaces when "mirakl", else base
		edits []string
		env   map[string]string
		want  Problems
	}{
		{name: "listen without a port", env: map[string]string{"BRIDGE_LISTEN": "notanaddr"},
			want: Problems{{Field: "server.listen", Message: listenMsg + " (from BRIDGE_LISTEN)"}}},
		{name: "listen port out of range", edits: withListen(":99999"),
			want: Problems{{Field: "server.listen", Line: 2, Message: portMsg}}},
		{name: "listen port by name", edits: withListen(":http"),
			want: Problems{{Field: "server.listen", Line: 2, Message: portMsg}}},
		{name: "listen host", edits: withListen("bad host:80"),
			want: Problems{{Field: "server.listen", Line: 2, Message: "must have a host name or IP address before the port, or none, such as :8080 or 127.0.0.1:8080"}}},
		{name: "redis database not a number", edits: withRedis("  url: redis://127.0.0.1:6481/abc\n"),
			want: Problems{{Field: "redis.url", Line: 2, Message: `is not a URL the Redis client takes: invalid database number: "abc"`}}},
		{name: "redis unknown option", edits: withRedis("  url: redis://127.0.0.1:6481/0?bogus=1\n"),
			want: Problems{{Field: "redis.url", Line: 2, Message: "is not a URL the Redis client takes: unexpected option: bogus"}}},
		{name: "redis password in the query", edits: withRedis("  url: redis://127.0.0.1:6481/0?password=hunter2-query\n"),
			want: Problems{{Field: "redis.url", Line: 2, Message: "must not hold a password in its query: give it in redis.password as a ${ENV_VAR} reference"}}},
		{name: "redis tls with redis://", edits: withRedis("  url: redis://cache:6379/0\n  tls: true\n"),
			want: Problems{{Field: "redis.tls", Line: 3, Message: tlsMsg}}},
		{name: "redis tls with unix://", edits: withRedis("  url: unix:///run/redis.sock\n  tls: true\n"),
			want: Problems{{Field: "redis.tls", Line: 3, Message: tlsMsg}}},
		{name: "redis tls from an overridden url", edits: withRedis("  tls: true\n"), env: map[string]string{"BRIDGE_REDIS_URL": "redis://cache:6379/0"},
			want: Problems{{Field: "redis.tls", Line: 2, Message: tlsMsg}}},
		{name: "helpdesk base_url ftp", edits: withHelpdeskURL("ftp://acme.gorgias.com"),
			want: Problems{{Field: "merchants[0].helpdesks[0].base_url", Line: 14, Message: notURL}}},
		{name: "helpdesk base_url javascript", edits: withHelpdeskURL("javascript:alert(1)"),
			want: Problems{{Field: "merchants[0].helpdesks[0].base_url", Line: 14, Message: notURL}}},
		{name: "helpdesk base_url without a host", edits: withHelpdeskURL("https:///api"),
			want: Problems{{Field: "merchants[0].helpdesks[0].base_url", Line: 14, Message: notURL}}},
		{name: "helpdesk base_url with credentials", edits: withHelpdeskURL("https://bridge:s3cret-in-url@acme.gorgias.com"),
			want: Problems{{Field: "merchants[0].helpdesks[0].base_url", Line: 14, Message: withCreds}}},
		{name: "helpdesk base_url with a query", edits: withHelpdeskURL("https://acme.gorgias.com/?x=1"),
			want: Problems{{Field: "merchants[0].helpdesks[0].base_url", Line: 14, Message: "must not have a query or a fragment"}}},
		{name: "marketplace base_url", in: "mirakl", edits: []string{"base_url: https://carrefour.mirakl.example", "base_url: ftp://carrefour.mirakl.example"},
			want: Problems{{Field: "merchants[0].marketplaces[0].base_url", Line: 28, Message: notURL}}},
		{name: "public_url", edits: []string{"server:\n", "server:\n  public_url: javascript:alert(1)\n"},
			want: Problems{{Field: "server.public_url", Line: 2, Message: notURL}}},
		{name: "admin username with a colon", env: map[string]string{"BRIDGE_ADMIN_USERNAME": "a:b"},
			want: Problems{{Field: "server.admin.username", Message: "must not contain a colon: HTTP basic auth ends the username at the first colon, so it could never match (from BRIDGE_ADMIN_USERNAME)"}}},
		{name: "log level", env: map[string]string{"BRIDGE_LOG_LEVEL": "loud"},
			want: Problems{{Message: `environment variable BRIDGE_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, panic, disabled, got "loud"`}}},
		{name: "event secret of spaces", env: map[string]string{"ACME_EVENT_SECRET": strings.Repeat(" ", 28)},
			want: Problems{{Field: "merchants[0].event_secrets[0]", Line: 7, Message: trivial}}},
		{name: "event secret of whitespace", env: map[string]string{"ACME_EVENT_SECRET": strings.Repeat(" \t\n", 10)},
			want: Problems{{Field: "merchants[0].event_secrets[0]", Line: 7, Message: trivial}}},
		{name: "event secret of one letter", env: map[string]string{"ACME_EVENT_SECRET": strings.Repeat("a", 24)},
			want: Problems{{Field: "merchants[0].event_secrets[0]", Line: 7, Message: trivial}}},
		{name: "admin password of one letter", env: map[string]string{"ADMIN_PASSWORD": strings.Repeat("é", 16)},
			want: Problems{{Field: "server.admin.password", Line: 3, Message: trivial}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := baseEnv()
			env["MIRAKL_KEY"] = "mirakl-key"
			for k, v := range tt.env {
				env[k] = v
			}
			in := base
			if tt.in == "mirakl" {
				in += marketplaces
			}
			_, err := Parse([]byte(editText(t, in, tt.edits...)), lookup(env))
			got := problemsOf(t, err)
			if len(got) != len(tt.want) || (len(got) > 0 && got[0] != tt.want[0]) {
				t.Fatalf("problems:\n%v\nwant:\n%v", got, tt.want)
			}
			// Values that could be secrets are never shown.
			for _, v := range []string{"hunter2-query", "s3cret-in-url", strings.Repeat("a", 24)} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("a problem shows %q: %v", v, err)
				}
			}
		})
	}
}

// What the service takes, config check takes too.
func TestCheckTakesWhatStartUpTakes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edits []string
		env   map[string]string
	}{
		{"any free port", []string{"server:\n", "server:\n  listen: \":0\"\n"}, nil},
		{"loopback", nil, map[string]string{"BRIDGE_LISTEN": "127.0.0.1:8080"}},
		{"IPv6", nil, map[string]string{"BRIDGE_LISTEN": "[::1]:8080"}},
		{"IPv6 with a zone", nil, map[string]string{"BRIDGE_LISTEN": "[fe80::1%eth0]:8080"}},
		{"host name", nil, map[string]string{"BRIDGE_LISTEN": "localhost:65535"}},
		{"redis options", []string{"server:\n", "redis:\n  url: redis://cache:6379/3?protocol=3&dial_timeout=3s\nserver:\n"}, nil},
		{"rediss with tls", []string{"server:\n", "redis:\n  url: rediss://cache:6380/0\n  tls: true\nserver:\n"}, nil},
		{"tls for addrs", []string{"server:\n", "redis:\n  addrs: [a:6379, b:6379]\n  tls: true\nserver:\n"}, nil},
		{"http base_url with a path", []string{"base_url: https://acme.gorgias.com", "base_url: http://127.0.0.1:9000/gorgias/"}, nil},
		{"log level in capitals", nil, map[string]string{"BRIDGE_LOG_LEVEL": "DEBUG"}},
		{"log level empty", nil, map[string]string{"BRIDGE_LOG_LEVEL": ""}},
		{"admin username", nil, map[string]string{"BRIDGE_ADMIN_USERNAME": "ops@acme.example"}},
		{"secret with two characters", nil, map[string]string{"ACME_EVENT_SECRET": strings.Repeat("ab", 12)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := baseEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			if _, err := Parse([]byte(edit(t, tt.edits...)), lookup(env)); err != nil {
				t.Errorf("refused:\n%v", err)
			}
		})
	}
}

// LogLevel is what the service's logger uses: info unless the variable
// names a level.
func TestLogLevel(t *testing.T) {
	t.Parallel()
	for v, ok := range map[string]bool{"": true, "warn": true, "Debug": true, "-1": true, "loud": false, "inf": false} {
		_, err := LogLevel(lookup(map[string]string{LogLevelEnv: v}))
		if (err == nil) != ok {
			t.Errorf("LogLevel(%q): %v", v, err)
		}
	}
}
