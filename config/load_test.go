package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"
)

// base is a small valid configuration that the cases edit.
const base = `server:
  admin:
    password: ${ADMIN_PASSWORD}
merchants:
  - id: acme
    event_secrets:
      - ${ACME_EVENT_SECRET}
    stores:
      - id: acme-fr
      - id: acme-de
    helpdesks:
      - id: acme-gorgias
        kind: gorgias
        base_url: https://acme.gorgias.com
        email: bridge@acme.example
        api_key: ${ACME_GORGIAS_KEY}
        stores: [acme-fr]
      - id: acme-zendesk
        kind: zendesk
        base_url: https://acme.zendesk.com
        email: bridge@acme.example
        api_key: ${ACME_ZENDESK_TOKEN}
        stores: [acme-fr, acme-de]
`

// globex is a second merchant to append to base.
const globex = `  - id: globex
    event_secrets:
      - ${ACME_EVENT_SECRET}
    stores:
      - id: globex-us
`

func baseEnv() map[string]string {
	return map[string]string{
		"ADMIN_PASSWORD":     "admin-password-0123",
		"ACME_EVENT_SECRET":  "event-secret-0123456789abcdef",
		"ACME_GORGIAS_KEY":   "gorgias-key",
		"ACME_ZENDESK_TOKEN": "zendesk-token",
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// edit replaces each old text of base, which must occur exactly once, by
// its new text.
func edit(t *testing.T, oldNew ...string) string {
	t.Helper()
	return editText(t, base, oldNew...)
}

// editText is edit on any text.
func editText(t *testing.T, s string, oldNew ...string) string {
	t.Helper()
	for i := 0; i+1 < len(oldNew); i += 2 {
		if n := strings.Count(s, oldNew[i]); n != 1 {
			t.Fatalf("edit: %q occurs %d times, want 1", oldNew[i], n)
		}
		s = strings.Replace(s, oldNew[i], oldNew[i+1], 1)
	}
	return s
}

func secret(value, ref string) Secret { return Secret{value: value, Ref: ref} }

func problemsOf(t *testing.T, err error) Problems {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, want Problems: %v", err, err)
	}
	// A suggested secret is fresh each time: compare the words around it.
	for i := range ps {
		ps[i].Message = suggested.ReplaceAllString(ps[i].Message, "<suggestion>")
	}
	return ps
}

var suggested = regexp.MustCompile(`\b[0-9a-f]{40}\b`)

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(base), lookup(baseEnv()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := &Config{
		Server: Server{
			Listen:          ":8080",
			Admin:           Admin{Username: "admin", Password: secret("admin-password-0123", "${ADMIN_PASSWORD}")},
			ShutdownTimeout: 30 * time.Second,
		},
		Redis:        Redis{ReplicaAckTimeout: time.Second},
		Worker:       Worker{Concurrency: 10, MaxRetry: 25, TaskRetention: 24 * time.Hour},
		Events:       Events{ReplayWindow: 5 * time.Minute, DedupeTTL: 168 * time.Hour},
		Widgets:      Widgets{Retention: 365 * 24 * time.Hour, Budget: 300 * time.Millisecond, MaxOrders: 50, LastKnown: 10000, MaxFutureSkew: 5 * time.Minute},
		InvoiceFiles: InvoiceFiles{Kind: InvoiceFilesRedis},
		Merchants: []Merchant{{
			ID:                 "acme",
			EventSecrets:       []Secret{secret("event-secret-0123456789abcdef", "${ACME_EVENT_SECRET}")},
			BadRatingThreshold: ptr(2),
			Stores:             []Store{{ID: "acme-fr"}, {ID: "acme-de"}},
			Helpdesks: []Helpdesk{
				{
					ID: "acme-gorgias", Kind: KindGorgias, BaseURL: "https://acme.gorgias.com", Email: "bridge@acme.example",
					APIKey: secret("gorgias-key", "${ACME_GORGIAS_KEY}"), Stores: []string{"acme-fr"},
					Alerts:   []string{AlertActionRequired, AlertBadRatingWithComment, AlertBadRatingNoComment},
					Language: "en", RateLimit: RateLimit{Requests: 40, Per: 20 * time.Second}, Timeout: 10 * time.Second, SettleDelay: 2 * time.Minute,
				},
				{
					ID: "acme-zendesk", Kind: KindZendesk, BaseURL: "https://acme.zendesk.com", Email: "bridge@acme.example",
					APIKey: secret("zendesk-token", "${ACME_ZENDESK_TOKEN}"), Stores: []string{"acme-fr", "acme-de"},
					Alerts:   []string{AlertActionRequired, AlertBadRatingWithComment, AlertBadRatingNoComment},
					Language: "en", RateLimit: RateLimit{Requests: 180, Per: time.Minute}, UpdateRateLimit: RateLimit{Requests: 90, Per: time.Minute}, Timeout: 10 * time.Second, SettleDelay: 2 * time.Minute,
				},
			},
		}},
	}
	if diff := cmp.Diff(want, cfg, cmp.AllowUnexported(Secret{})); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if !cfg.Redis.Embedded() {
		t.Errorf("Redis.Embedded() = false, want true without url and addrs")
	}
}

func TestParseKeepsSetValues(t *testing.T) {
	t.Parallel()
	in := edit(t,
		"server:\n", "server:\n  listen: 127.0.0.1:9000\n  shutdown_timeout: 1m\n",
		"    stores:\n      - id: acme-fr\n", "    bad_rating_threshold: 3\n    stores:\n      - id: acme-fr\n",
		"        stores: [acme-fr]\n", "        stores: [acme-fr]\n        alerts: [action-required]\n        language: fr\n        rate_limit: {requests: 5, per: 1s}\n        timeout: 3s\n",
	) + "worker:\n  concurrency: 4\n  max_retry: 3\n  task_retention: 1h\nevents:\n  replay_window: 1m\n  dedupe_ttl: 2h\n"
	cfg, err := Parse([]byte(in), lookup(baseEnv()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	h := cfg.Merchants[0].Helpdesks[0]
	got := []any{cfg.Server.Listen, cfg.Server.ShutdownTimeout, cfg.Worker, cfg.Events,
		*cfg.Merchants[0].BadRatingThreshold, h.Alerts, h.Language, h.RateLimit, h.Timeout}
	want := []any{"127.0.0.1:9000", time.Minute, Worker{Concurrency: 4, MaxRetry: 3, TaskRetention: time.Hour},
		Events{ReplayWindow: time.Minute, DedupeTTL: 2 * time.Hour},
		3, []string{AlertActionRequired}, "fr", RateLimit{Requests: 5, Per: time.Second}, 3 * time.Second}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("set values (-want +got):\n%s", diff)
	}
	if !h.AlertEnabled(AlertActionRequired) || h.AlertEnabled(AlertBadRatingNoComment) {
		t.Errorf("AlertEnabled does not follow alerts %v", h.Alerts)
	}
}

func TestParseExpandsReferences(t *testing.T) {
	t.Parallel()
	env := baseEnv()
	env["DOMAIN"] = "acme"
	env["TIMEOUT"] = "7s"
	in := edit(t,
		"base_url: https://acme.gorgias.com\n", "base_url: https://${DOMAIN}.gorgias.com\n        timeout: ${TIMEOUT}\n",
	)
	cfg, err := Parse([]byte(in), lookup(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	h := cfg.Merchants[0].Helpdesks[0]
	if diff := cmp.Diff([]any{"https://acme.gorgias.com", 7 * time.Second}, []any{h.BaseURL, h.Timeout}); diff != "" {
		t.Errorf("expanded values (-want +got):\n%s", diff)
	}
}

func TestParseEnvOverrides(t *testing.T) {
	t.Parallel()
	withRedis := edit(t, "server:\n  admin:\n", "redis:\n  url: redis://file:6379/0\n  key_prefix: file\nserver:\n  listen: :7000\n  admin:\n    username: root\n")
	// Overrides reach settings the file does not have.
	bare := base

	tests := []struct {
		name string
		in   string
		env  map[string]string
		got  func(*Config) any
		want any
	}{
		{
			name: "listen over the file",
			in:   withRedis,
			env:  map[string]string{"BRIDGE_LISTEN": ":9999"},
			got:  func(c *Config) any { return c.Server.Listen },
			want: ":9999",
		},
		{
			name: "listen absent from the file",
			in:   bare,
			env:  map[string]string{"BRIDGE_LISTEN": ":9999"},
			got:  func(c *Config) any { return c.Server.Listen },
			want: ":9999",
		},
		{
			name: "empty override is ignored",
			in:   withRedis,
			env:  map[string]string{"BRIDGE_LISTEN": ""},
			got:  func(c *Config) any { return c.Server.Listen },
			want: ":7000",
		},
		{
			name: "admin username and password",
			in:   withRedis,
			env:  map[string]string{"BRIDGE_ADMIN_USERNAME": "ops", "BRIDGE_ADMIN_PASSWORD": "from-env-password-42"},
			got:  func(c *Config) any { return c.Server.Admin },
			want: Admin{Username: "ops", Password: secret("from-env-password-42", "${BRIDGE_ADMIN_PASSWORD}")},
		},
		{
			name: "redis settings with no redis section",
			in:   bare,
			env: map[string]string{
				"BRIDGE_REDIS_URL": "rediss://cache.internal:6380/2", "BRIDGE_REDIS_PASSWORD": "redis-pw",
				"BRIDGE_REDIS_KEY_PREFIX": "eu:",
			},
			got:  func(c *Config) any { return c.Redis },
			want: Redis{URL: "rediss://cache.internal:6380/2", Password: secret("redis-pw", "${BRIDGE_REDIS_PASSWORD}"), KeyPrefix: "eu:", ReplicaAckTimeout: time.Second},
		},
		{
			name: "redis url over the file",
			in:   withRedis,
			env:  map[string]string{"BRIDGE_REDIS_URL": "redis://env:6379/1"},
			got:  func(c *Config) any { return c.Redis.URL },
			want: "redis://env:6379/1",
		},
		{
			name: "password in the redis url moves to redis.password",
			in:   bare,
			env:  map[string]string{"BRIDGE_REDIS_URL": "redis://bridge:url-pw@cache:6379/0"},
			got:  func(c *Config) any { return c.Redis },
			want: Redis{URL: "redis://bridge@cache:6379/0", Password: secret("url-pw", "${BRIDGE_REDIS_URL}"), ReplicaAckTimeout: time.Second},
		},
		{
			name: "worker concurrency",
			in:   bare,
			env:  map[string]string{"BRIDGE_WORKER_CONCURRENCY": "64"},
			got:  func(c *Config) any { return c.Worker.Concurrency },
			want: 64,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := baseEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := Parse([]byte(tt.in), lookup(env))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, tt.got(cfg), cmp.AllowUnexported(Secret{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAliasesAndMergeKeys(t *testing.T) {
	t.Parallel()
	in := `server:
  admin:
    password: ${ADMIN_PASSWORD}
merchants:
  - id: acme
    event_secrets:
      - ${ACME_EVENT_SECRET}
    stores:
      - id: acme-fr
      - id: acme-de
    helpdesks:
      - &gorgias
        id: acme-gorgias
        kind: gorgias
        base_url: https://acme.gorgias.com
        email: bridge@acme.example
        api_key: ${ACME_GORGIAS_KEY}
        stores: [acme-fr]
        rate_limit: &limit {requests: 5, per: 1s}
      - <<: *gorgias
        id: acme-gorgias-de
        stores: [acme-de]
        rate_limit: *limit
`
	cfg, err := Parse([]byte(in), lookup(baseEnv()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	type helpdesk struct {
		ID, Kind string
		Stores   []string
		Limit    RateLimit
		Ref      string
	}
	var got []helpdesk
	for _, h := range cfg.Merchants[0].Helpdesks {
		got = append(got, helpdesk{h.ID, h.Kind, h.Stores, h.RateLimit, h.APIKey.Ref})
	}
	limit := RateLimit{Requests: 5, Per: time.Second}
	want := []helpdesk{
		{"acme-gorgias", KindGorgias, []string{"acme-fr"}, limit, "${ACME_GORGIAS_KEY}"},
		{"acme-gorgias-de", KindGorgias, []string{"acme-de"}, limit, "${ACME_GORGIAS_KEY}"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("helpdesks (-want +got):\n%s", diff)
	}
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	type edits []string
	tests := []struct {
		name  string
		edits edits
		in    string // the whole input, instead of edits
		unset []string
		env   map[string]string
		want  Problems
	}{
		{
			name:  "unknown key",
			edits: edits{"server:\n", "server:\n  lisen: :9090\n"},
			want:  Problems{{Field: "server.lisen", Line: 2, Message: `unknown key "lisen" (known keys here: listen, admin, shutdown_timeout, public_url, allow_private_file_hosts)`}},
		},
		{
			name:  "unknown key in a list item",
			edits: edits{"        kind: zendesk\n", "        kind: zendesk\n        subdomain: acme\n"},
			want: Problems{{Field: "merchants[0].helpdesks[1].subdomain", Line: 20,
				Message: `unknown key "subdomain" (known keys here: id, kind, base_url, email, api_key, stores, alerts, tag_prefix, language, rate_limit, update_rate_limit, timeout, settle_delay, webhook_secret, file_hosts)`}},
		},
		{
			name:  "duplicate key",
			edits: edits{"  - id: acme\n", "  - id: acme\n    id: acme2\n"},
			want:  Problems{{Field: "merchants[0].id", Line: 6, Message: `duplicate key "id", first given on line 5`}},
		},
		{
			name:  "unset variable",
			unset: []string{"ACME_ZENDESK_TOKEN"},
			want:  Problems{{Field: "merchants[0].helpdesks[1].api_key", Line: 22, Message: "environment variable ACME_ZENDESK_TOKEN is not set"}},
		},
		{
			name:  "unset variable in a plain value",
			edits: edits{"server:\n", "server:\n  listen: ${LISTEN_ADDR}\n"},
			want:  Problems{{Field: "server.listen", Line: 2, Message: "environment variable LISTEN_ADDR is not set"}},
		},
		{
			name:  "malformed reference",
			edits: edits{"server:\n", "server:\n  listen: ${LISTEN-ADDR}\n"},
			want:  Problems{{Field: "server.listen", Line: 2, Message: `malformed reference in "${LISTEN-ADDR}": write ${NAME}, NAME made of letters, digits and _`}},
		},
		{
			name: "literal secrets",
			edits: edits{
				"password: ${ADMIN_PASSWORD}", "password: admin-literal",
				"      - ${ACME_EVENT_SECRET}\n", "      - event-literal\n",
				"api_key: ${ACME_GORGIAS_KEY}", "api_key: prefix-${ACME_GORGIAS_KEY}",
				"api_key: ${ACME_ZENDESK_TOKEN}", "api_key: 12345",
				"server:\n", "redis:\n  password: redis-literal\nserver:\n",
			},
			want: Problems{
				{Field: "redis.password", Line: 2, Message: "must be a ${ENV_VAR} reference, not a literal"},
				{Field: "server.admin.password", Line: 5, Message: "must be a ${ENV_VAR} reference, not a literal"},
				{Field: "merchants[0].event_secrets[0]", Line: 9, Message: "must be a ${ENV_VAR} reference, not a literal"},
				{Field: "merchants[0].helpdesks[0].api_key", Line: 18, Message: "must be a ${ENV_VAR} reference, not a literal"},
				{Field: "merchants[0].helpdesks[1].api_key", Line: 24, Message: "must be a ${ENV_VAR} reference, not a literal"},
			},
		},
		{
			name:  "literal password in the redis url",
			edits: edits{"server:\n", "redis:\n  url: redis://:url-literal@cache:6379\nserver:\n"},
			want:  Problems{{Field: "redis.url", Line: 2, Message: "must not hold a literal password: give it in redis.password as a ${ENV_VAR} reference"}},
		},
		{
			name:  "password in the redis url and in redis.password",
			edits: edits{"server:\n", "redis:\n  url: ${REDIS_URL}\n  password: ${REDIS_PASSWORD}\nserver:\n"},
			env:   map[string]string{"REDIS_URL": "redis://:a@cache:6379", "REDIS_PASSWORD": "b"},
			want:  Problems{{Field: "redis.url", Line: 2, Message: "holds a password and redis.password is set too: give only one"}},
		},
		{
			name:  "required",
			edits: edits{"        kind: gorgias\n", "", "        email: bridge@acme.example\n        api_key: ${ACME_ZENDESK_TOKEN}\n", ""},
			want: Problems{
				{Field: "merchants[0].helpdesks[0].kind", Line: 12, Message: "is required"},
				{Field: "merchants[0].helpdesks[1].email", Line: 17, Message: "is required"},
				{Field: "merchants[0].helpdesks[1].api_key", Line: 17, Message: "is required"},
			},
		},
		{
			name: "no merchants",
			in:   "server:\n  listen: :8080\n",
			want: Problems{{Field: "merchants", Message: "is required"}},
		},
		{
			name: "empty file",
			in:   "# nothing yet\n",
			want: Problems{{Field: "merchants", Message: "is required"}},
		},
		{
			name:  "min",
			edits: edits{"    event_secrets:\n      - ${ACME_EVENT_SECRET}\n", "    event_secrets: []\n"},
			want:  Problems{{Field: "merchants[0].event_secrets", Line: 6, Message: "must have at least 1 item"}},
		},
		{
			name:  "slug",
			edits: edits{"  - id: acme\n", "  - id: Acme_EU\n", "      - id: acme-de\n", "      - id: -acme-de\n"},
			want: Problems{
				{Field: "merchants[0].id", Line: 5, Message: "must be lowercase letters, digits and dashes, not starting or ending with a dash"},
				{Field: "merchants[0].stores[1].id", Line: 10, Message: "must be lowercase letters, digits and dashes, not starting or ending with a dash"},
				{Field: "merchants[0].helpdesks[1].stores[1]", Line: 23, Message: `"acme-de" is not a store of merchant "Acme_EU"`},
			},
		},
		{
			name:  "oneof",
			edits: edits{"kind: gorgias", "kind: freshdesk", "        stores: [acme-fr]\n", "        stores: [acme-fr]\n        alerts: [action-required, everything]\n        language: de\n"},
			want: Problems{
				{Field: "merchants[0].helpdesks[0].kind", Line: 13, Message: "must be one of: gorgias, zendesk"},
				{Field: "merchants[0].helpdesks[0].alerts[1]", Line: 18, Message: "must be one of: action-required, bad-rating-with-comment, bad-rating-no-comment"},
				{Field: "merchants[0].helpdesks[0].language", Line: 19, Message: "must be one of: en, fr"},
			},
		},
		{
			name:  "url and email",
			edits: edits{"base_url: https://acme.gorgias.com", "base_url: acme.gorgias.com", "email: bridge@acme.example\n        api_key: ${ACME_GORGIAS_KEY}", "email: bridge\n        api_key: ${ACME_GORGIAS_KEY}"},
			want: Problems{
				{Field: "merchants[0].helpdesks[0].base_url", Line: 14, Message: "must be an absolute http(s) URL such as https://example.com"},
				{Field: "merchants[0].helpdesks[0].email", Line: 15, Message: "must be an email address"},
			},
		},
		{
			name:  "order url",
			edits: edits{"      - id: acme-fr\n", "      - id: acme-fr\n        order_url: https://admin.acme.example/orders\n      - id: acme-uk\n        order_url: not a url {order_id}\n"},
			want: Problems{
				{Field: "merchants[0].stores[0].order_url", Line: 10, Message: "must contain {order_id}, replaced by the order's id"},
				{Field: "merchants[0].stores[1].order_url", Line: 12, Message: "must be an absolute URL such as https://example.com"},
			},
		},
		{
			name: "bounds",
			edits: edits{
				"    stores:\n      - id: acme-fr\n", "    bad_rating_threshold: 7\n    stores:\n      - id: acme-fr\n",
				"        stores: [acme-fr]\n", "        stores: [acme-fr]\n        tag_prefix: " + strings.Repeat("x", 41) + "\n",
			},
			want: Problems{
				{Field: "merchants[0].bad_rating_threshold", Line: 8, Message: "must be at most 5"},
				{Field: "merchants[0].helpdesks[0].tag_prefix", Line: 19, Message: "must be at most 40 characters long"},
			},
		},
		{
			name:  "worker bounds",
			edits: edits{"server:\n", "worker:\n  concurrency: 5000\n  max_retry: -1\nserver:\n"},
			want: Problems{
				{Field: "worker.concurrency", Line: 2, Message: "must be at most 1000"},
				{Field: "worker.max_retry", Line: 3, Message: "must be at least 0"},
			},
		},
		{
			name: "negative durations",
			edits: edits{
				"server:\n", "events:\n  replay_window: -1m\nserver:\n  shutdown_timeout: -1s\n",
				"        stores: [acme-fr]\n", "        stores: [acme-fr]\n        timeout: -5s\n        rate_limit: {requests: 5, per: -1s}\n",
			},
			want: Problems{
				{Field: "events.replay_window", Line: 2, Message: "must not be negative"},
				{Field: "server.shutdown_timeout", Line: 4, Message: "must not be negative"},
				{Field: "merchants[0].helpdesks[0].timeout", Line: 21, Message: "must not be negative"},
				{Field: "merchants[0].helpdesks[0].rate_limit.per", Line: 22, Message: "must not be negative"},
			},
		},
		{
			name: "rate limit halves",
			edits: edits{
				"        stores: [acme-fr]\n", "        stores: [acme-fr]\n        rate_limit: {requests: 5}\n",
				"        stores: [acme-fr, acme-de]\n", "        stores: [acme-fr, acme-de]\n        rate_limit:\n          per: 1m\n",
			},
			want: Problems{
				{Field: "merchants[0].helpdesks[0].rate_limit.per", Line: 18, Message: "must be more than 0 when requests is set"},
				{Field: "merchants[0].helpdesks[1].rate_limit.requests", Line: 25, Message: "must be more than 0 when per is set"},
			},
		},
		{
			name: "unreadable values",
			edits: edits{
				"server:\n", "worker:\n  concurrency: many\nredis:\n  tls: maybe\nserver:\n  shutdown_timeout: 30\n",
				"        stores: [acme-fr]\n", "        stores: acme-fr\n",
				"    stores:\n      - id: acme-fr\n", "    stores:\n      - id: [acme-fr]\n",
			},
			want: Problems{
				{Field: "worker.concurrency", Line: 2, Message: `must be a whole number, got "many"`},
				{Field: "redis.tls", Line: 4, Message: `must be true or false, got "maybe"`},
				{Field: "server.shutdown_timeout", Line: 6, Message: `must be a duration such as 30s, 5m or 24h, got "30"`},
				// Without the store's id, the helpdesks' stores are not
				// checked: "acme-fr" would be reported as unknown.
				{Field: "merchants[0].stores[0].id", Line: 14, Message: "must be a single value, got a list"},
				{Field: "merchants[0].helpdesks[0].stores", Line: 22, Message: "must be a list, got a single value"},
			},
		},
		{
			name:  "unreadable override",
			env:   map[string]string{"BRIDGE_WORKER_CONCURRENCY": "lots"},
			edits: edits{},
			want:  Problems{{Field: "worker.concurrency", Message: `must be a whole number, got "lots" (from ${BRIDGE_WORKER_CONCURRENCY})`}},
		},
		{
			name: "override fails validation",
			env:  map[string]string{"BRIDGE_REDIS_URL": "http://cache:6379", "BRIDGE_LISTEN": ":7000"},
			want: Problems{{Field: "redis.url", Message: "must be a redis://, rediss:// or unix:// URL (from BRIDGE_REDIS_URL)"}},
		},
		{
			name:  "empty secret is as if left out",
			edits: edits{"api_key: ${ACME_GORGIAS_KEY}", `api_key: ""`, "server:\n", "redis:\n  password: \"\"\nserver:\n"},
			want:  Problems{{Field: "merchants[0].helpdesks[0].api_key", Line: 18, Message: "is required"}},
		},
		{
			name: "duplicate ids",
			in:   base + globex + strings.ReplaceAll(globex, "globex", "acme"),
			want: Problems{
				{Field: "merchants[2].id", Line: 29, Message: `duplicate merchant id "acme", first used at merchants[0].id`},
			},
		},
		{
			name: "store and helpdesk ids are unique across merchants",
			in: base + strings.Replace(globex, "      - id: globex-us\n",
				"      - id: acme-de\n    helpdesks:\n      - id: acme-zendesk\n        kind: zendesk\n        base_url: https://globex.zendesk.com\n        email: bridge@globex.example\n        api_key: ${ACME_ZENDESK_TOKEN}\n        stores: [acme-de]\n", 1),
			want: Problems{
				{Field: "merchants[1].stores[0].id", Line: 28, Message: `duplicate store id "acme-de", first used at merchants[0].stores[1].id: events name a store, so store ids are unique across merchants`},
				{Field: "merchants[1].helpdesks[0].id", Line: 30, Message: `duplicate helpdesk id "acme-zendesk", first used at merchants[0].helpdesks[1].id: the shared rate limiter is keyed by helpdesk id, so helpdesk ids are unique across merchants`},
			},
		},
		{
			name: "helpdesk names another merchant's store",
			in:   strings.Replace(base, "stores: [acme-fr]", "stores: [acme-fr, globex-us]", 1) + globex,
			want: Problems{{Field: "merchants[0].helpdesks[0].stores[1]", Line: 17, Message: `"globex-us" is not a store of merchant "acme"`}},
		},
		{
			name:  "redis url and addrs",
			edits: edits{"server:\n", "redis:\n  url: redis://cache:6379\n  addrs: [cache-1:6379, cache-2]\nserver:\n"},
			want: Problems{
				{Field: "redis.url", Line: 2, Message: "give either url, for one node, or addrs, for Cluster or Sentinel, not both"},
				{Field: "redis.addrs[1]", Line: 3, Message: "must be host:port"},
			},
		},
		{
			name:  "redis key prefix with a hash tag",
			edits: edits{"server:\n", "redis:\n  key_prefix: \"{eu}:\"\nserver:\n"},
			want:  Problems{{Field: "redis.key_prefix", Line: 2, Message: "must not contain { or }: the keys' own hash tags decide their Cluster slots"}},
		},
		{
			name:  "redis master name without addrs",
			edits: edits{"server:\n", "redis:\n  master_name: bridge\nserver:\n"},
			want:  Problems{{Field: "redis.master_name", Line: 2, Message: "needs redis.addrs, the Sentinel nodes"}},
		},
		{
			name:  "redis replica acks out of range",
			edits: edits{"server:\n", "redis:\n  min_replica_acks: -2\n  replica_ack_timeout: 5s\nserver:\n"},
			want: Problems{
				{Field: "redis.min_replica_acks", Line: 2, Message: "must be at least -1"},
				{Field: "redis.replica_ack_timeout", Line: 3, Message: "must be at most 2s"},
			},
		},
		{
			name:  "redis url scheme",
			edits: edits{"server:\n", "redis:\n  url: http://cache:6379\nserver:\n"},
			want:  Problems{{Field: "redis.url", Line: 2, Message: "must be a redis://, rediss:// or unix:// URL"}},
		},
		{
			name:  "redis url without a scheme",
			edits: edits{"server:\n", "redis:\n  url: cache:6379\nserver:\n"},
			want:  Problems{{Field: "redis.url", Line: 2, Message: "must be a redis://, rediss:// or unix:// URL"}},
		},
		{
			name:  "redis unix url without a path",
			edits: edits{"server:\n", "redis:\n  url: unix://\nserver:\n"},
			want:  Problems{{Field: "redis.url", Line: 2, Message: "must name the socket, as in unix:///run/redis.sock"}},
		},
		{
			name: "not a mapping",
			in:   "- a\n- b\n",
			want: Problems{{Line: 1, Message: "the file must be a mapping of settings, got a list"}},
		},
		{
			name: "invalid YAML",
			in:   "server:\n  listen: :8080\n admin: {\n",
			// yaml.v3 names the line of the mapping it was reading.
			want: Problems{{Line: 2, Message: "invalid YAML: did not find expected key"}},
		},
		{
			name: "two documents",
			in:   base + "---\n" + base,
			want: Problems{{Line: 24, Message: "the file must hold a single YAML document"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.in
			if in == "" {
				in = edit(t, tt.edits...)
			}
			env := baseEnv()
			for _, k := range tt.unset {
				delete(env, k)
			}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := Parse([]byte(in), lookup(env))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\ninput:\n%s", diff, in)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config along with problems")
			}
		})
	}
}

func TestCheckReportsEveryProblem(t *testing.T) {
	t.Parallel()
	got := Check("testdata/many_problems.yaml", lookup(map[string]string{"ACME_GORGIAS_KEY": "k"}))
	want := Problems{
		{Field: "server.shutdown_timeout", Line: 4, Message: "must not be negative"},
		{Field: "server.admin.password", Line: 6, Message: "must be a ${ENV_VAR} reference, not a literal"},
		{Field: "redis.url", Line: 8, Message: "give either url, for one node, or addrs, for Cluster or Sentinel, not both"},
		{Field: "redis.url", Line: 8, Message: "must be a redis://, rediss:// or unix:// URL"},
		{Field: "worker.concurrency", Line: 11, Message: `must be a whole number, got "lots"`},
		{Field: "merchants[0].id", Line: 13, Message: "must be lowercase letters, digits and dashes, not starting or ending with a dash"},
		{Field: "merchants[0].event_secrets", Line: 14, Message: "must have at least 1 item"},
		{Field: "merchants[0].stores[0].order_url", Line: 17, Message: "must contain {order_id}, replaced by the order's id"},
		{Field: "merchants[0].helpdesks[0].kind", Line: 20, Message: "must be one of: gorgias, zendesk"},
		{Field: "merchants[0].helpdesks[0].base_url", Line: 21, Message: "must be an absolute http(s) URL such as https://example.com"},
		{Field: "merchants[0].helpdesks[0].email", Line: 22, Message: "must be an email address"},
		{Field: "merchants[0].helpdesks[0].stores[1]", Line: 24, Message: `"globex-us" is not a store of merchant "Acme"`},
		{Field: "merchants[0].helpdesks[0].alerts[1]", Line: 25, Message: "must be one of: action-required, bad-rating-with-comment, bad-rating-no-comment"},
		{Field: "merchants[0].helpdesks[0].language", Line: 26, Message: "must be one of: en, fr"},
		{Field: "merchants[0].helpdesks[0].rate_limit.per", Line: 27, Message: "must be more than 0 when requests is set"},
		{Field: "merchants[0].helpdesks[0].colour", Line: 29, Message: `unknown key "colour" (known keys here: id, kind, base_url, email, api_key, stores, alerts, tag_prefix, language, rate_limit, update_rate_limit, timeout, settle_delay, webhook_secret, file_hosts)`},
		{Field: "merchants[1].event_secrets[0]", Line: 31, Message: "environment variable GLOBEX_EVENT_SECRET is not set"},
		{Field: "merchants[1].stores[1].id", Line: 34, Message: `duplicate store id "acme-fr", first used at merchants[0].stores[0].id: events name a store, so store ids are unique across merchants`},
		{Field: "merchants[1].helpdesks[0].id", Line: 36, Message: `duplicate helpdesk id "acme-desk", first used at merchants[0].helpdesks[0].id: the shared rate limiter is keyed by helpdesk id, so helpdesk ids are unique across merchants`},
		{Field: "merchants[1].helpdesks[0].api_key", Line: 40, Message: "environment variable GLOBEX_ZENDESK_TOKEN is not set"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
}

func TestCheckMissingFile(t *testing.T) {
	t.Parallel()
	got := Check("testdata/no-such-file.yaml", lookup(nil))
	if len(got) != 1 || got[0].Field != "" || !strings.Contains(got[0].Message, "no-such-file.yaml") {
		t.Errorf("Check = %v, want one problem naming the file", got)
	}
	if _, err := Load("testdata/no-such-file.yaml", lookup(nil)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load error = %v, want os.ErrNotExist", err)
	}
}

func TestProblemsError(t *testing.T) {
	t.Parallel()
	ps := Problems{
		{Field: "merchants[0].helpdesks[1].api_key", Line: 31, Message: "environment variable ACME_GORGIAS_KEY is not set"},
		{Field: "merchants", Message: "is required"},
		{Line: 3, Message: "invalid YAML: did not find expected key"},
	}
	want := "merchants[0].helpdesks[1].api_key: environment variable ACME_GORGIAS_KEY is not set (line 31)\n" +
		"merchants: is required\n" +
		"invalid YAML: did not find expected key (line 3)"
	if diff := cmp.Diff(want, ps.Error()); diff != "" {
		t.Errorf("Error() (-want +got):\n%s", diff)
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	t.Parallel()
	cfg := &Config{Merchants: []Merchant{{
		ID:           "acme",
		EventSecrets: []Secret{NewSecret("s")},
		Stores:       []Store{{ID: "acme-fr"}},
		APITokens:    []Secret{NewSecret("0123456789abcdef0123456789abcdef")},
		Helpdesks: []Helpdesk{{
			ID: "acme-gorgias", Kind: KindGorgias, BaseURL: "https://acme.gorgias.com", Email: "a@acme.example",
			APIKey: NewSecret(""), Stores: []string{"acme-fr"},
		}},
	}}}
	cfg.ApplyDefaults()
	want := Problems{
		{Field: "merchants[0].event_secrets[0]", Message: "must be at least 24 characters long, or it can be guessed; set it to a random value such as <suggestion>"},
		{Field: "merchants[0].helpdesks[0].api_key", Message: "is required"},
	}
	if diff := cmp.Diff(want, problemsOf(t, cfg.Validate())); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
	cfg.Merchants[0].EventSecrets[0] = NewSecret(SuggestSecret())
	cfg.Merchants[0].Helpdesks[0].APIKey = NewSecret("k")
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func exampleEnv() map[string]string {
	return map[string]string{
		"ADMIN_PASSWORD":     "admin-password-0123",
		"REDIS_PASSWORD":     "redis-pw",
		"ACME_EVENT_SECRET":  "event-secret-0123456789abcdef",
		"ACME_GORGIAS_KEY":   "gorgias-key",
		"ACME_ZENDESK_TOKEN": "zendesk-token",

		"ACME_SIDEBAR_TOKEN":          "sidebar-token-0123456789abcdef",
		"ACME_ZENDESK_SIDEBAR_TOKEN":  "zendesk-sidebar-token-0123456789",
		"ACME_HELPSCOUT_SECRET":       "helpscout-secret-42",
		"ACME_GORGIAS_WEBHOOK_SECRET": "gorgias-webhook-secret-42",
		"ACME_ZENDESK_WEBHOOK_SECRET": "zendesk-webhook-secret-42",
		"ACME_API_TOKEN":              "acme-api-token-0123456789abcdef",
		"ACME_PUSH_SECRET":            "acme-push-secret-0123456789abcdef",
		"ACME_CARREFOUR_KEY":          "carrefour-key",
		"ACME_IMAP_PASSWORD":          "imap-password",
		"ACME_SMTP_PASSWORD":          "smtp-password",
		"ACME_LWA_CLIENT_SECRET":      "lwa-client-secret",
		"ACME_LWA_REFRESH_TOKEN":      "lwa-refresh-token",
		"ACME_FNAC_KEY":               "fnac-key",
		"ACME_RAKUTEN_TOKEN":          "rakuten-token",
	}
}

func TestExample(t *testing.T) {
	t.Parallel()
	cfg, err := Load("example.yaml", lookup(exampleEnv()))
	if err != nil {
		t.Fatalf("Load(example.yaml):\n%v", err)
	}
	m, ok := cfg.Merchant("acme")
	if !ok {
		t.Fatalf("no merchant acme")
	}
	type helpdesk struct{ ID, Kind, TagPrefix, Language string }
	var got []helpdesk
	for _, h := range m.Helpdesks {
		got = append(got, helpdesk{h.ID, h.Kind, h.TagPrefix, h.Language})
	}
	want := []helpdesk{{"acme-gorgias", KindGorgias, "bigblue-", "fr"}, {"acme-zendesk", KindZendesk, "bigblue-", "en"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("helpdesks (-want +got):\n%s", diff)
	}
	if len(m.Stores) != 2 {
		t.Errorf("%d stores, want 2", len(m.Stores))
	}
	if len(m.Sidebars) != 3 {
		t.Errorf("%d sidebars, want 3", len(m.Sidebars))
	}

	// The example documents every override.
	data, err := os.ReadFile("example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range envOverrides {
		if !bytes.Contains(data, []byte(o.env)) {
			t.Errorf("example.yaml does not mention %s", o.env)
		}
	}
}

// Distinctive secret values that must never be printed.
const (
	leakAdmin   = "LEAK-admin-3f9a1c"
	leakRedis   = "LEAK-redis-7b2e4d"
	leakURL     = "LEAK-urlpw-5c8d0a"
	leakEvent   = "LEAK-event-1d6f2b-0a9c4e7b"
	leakGorgias = "LEAK-gorgias-9e4a7c"
	leakZendesk = "LEAK-zendesk-2a5b8e"
	leakLiteral = "LEAK-literal-6c1e3f"
)

var leaks = []string{leakAdmin, leakRedis, leakURL, leakEvent, leakGorgias, leakZendesk, leakLiteral}

func leakEnv() map[string]string {
	return map[string]string{
		"ADMIN_PASSWORD":     leakAdmin,
		"BRIDGE_REDIS_URL":   "redis://bridge:" + leakURL + "@cache:6379/0",
		"ACME_EVENT_SECRET":  leakEvent,
		"ACME_GORGIAS_KEY":   leakGorgias,
		"ACME_ZENDESK_TOKEN": leakZendesk,
	}
}

func assertNoLeak(t *testing.T, what, s string) {
	t.Helper()
	for _, l := range leaks {
		if strings.Contains(s, l) {
			t.Errorf("%s shows secret %s:\n%s", what, l, s)
		}
	}
	if strings.Contains(s, "LEAK-") {
		t.Errorf("%s shows a secret:\n%s", what, s)
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	in := strings.Replace(base, "server:\n", "redis:\n  username: bridge\nserver:\n", 1)
	cfg, err := Parse([]byte(in), lookup(leakEnv()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	// The secrets are there, to be revealed where they are sent.
	got := []string{cfg.Server.Admin.Password.Reveal(), cfg.Redis.Password.Reveal(), cfg.Merchants[0].EventSecrets[0].Reveal(),
		cfg.Merchants[0].Helpdesks[0].APIKey.Reveal(), cfg.Merchants[0].Helpdesks[1].APIKey.Reveal()}
	if diff := cmp.Diff([]string{leakAdmin, leakURL, leakEvent, leakGorgias, leakZendesk}, got); diff != "" {
		t.Fatalf("revealed secrets (-want +got):\n%s", diff)
	}

	tests := []struct {
		name  string
		print func() (string, error)
	}{
		{"fmt", func() (string, error) {
			// Every verb, not only %v: a struct printed with %d or %x shows
			// its string fields unless the Secret formats itself.
			var b strings.Builder
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v"} {
				for _, v := range []any{cfg, *cfg, cfg.Redis, cfg.Server.Admin.Password} {
					fmt.Fprintf(&b, verb+"\n", v)
				}
			}
			return b.String(), nil
		}},
		{"json", func() (string, error) {
			b, err := json.Marshal(cfg)
			return string(b), err
		}},
		{"yaml", func() (string, error) {
			b, err := yaml.Marshal(cfg)
			return string(b), err
		}},
		{"zerolog", func() (string, error) {
			var buf bytes.Buffer
			log := zerolog.New(&buf)
			log.Info().
				Interface("config", cfg).
				Any("redis", cfg.Redis).
				Object("admin_password", cfg.Server.Admin.Password).
				Stringer("api_key", cfg.Merchants[0].Helpdesks[0].APIKey).
				Msg("loaded")
			return buf.String(), nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := tt.print()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(s, redacted) {
				t.Errorf("output does not show %s:\n%s", redacted, s)
			}
			assertNoLeak(t, tt.name, s)
		})
	}
}

func TestProblemsNeverShowSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		env  map[string]string
	}{
		{
			name: "literal secrets",
			in: edit(t,
				"password: ${ADMIN_PASSWORD}", "password: "+leakLiteral,
				"api_key: ${ACME_GORGIAS_KEY}", "api_key: "+leakLiteral+"${ACME_GORGIAS_KEY}",
				"api_key: ${ACME_ZENDESK_TOKEN}", "api_key: {key: "+leakLiteral+"}",
				"server:\n", "redis:\n  url: redis://:"+leakLiteral+"@cache:6379\n  addrs: [cache-1:6379]\nserver:\n",
			),
		},
		{
			name: "password in both the redis url and redis.password",
			in:   edit(t, "server:\n", "redis:\n  password: ${REDIS_PASSWORD}\nserver:\n"),
			env:  map[string]string{"REDIS_PASSWORD": leakRedis, "BRIDGE_REDIS_URL": "redis://:" + leakURL + "@cache:6379"},
		},
		{
			name: "redis url from the environment fails its checks",
			in:   edit(t, "server:\n", "redis:\n  master_name: m\n  addrs: [cache-1:6379]\nserver:\n"),
			env:  map[string]string{"BRIDGE_REDIS_URL": "http://u:" + leakURL + "@cache:6379:bad/0"},
		},
		{
			// A secret misplaced in a checked field is not quoted either.
			name: "secret in a checked field",
			in: edit(t,
				"base_url: https://acme.gorgias.com", "base_url: ${ACME_GORGIAS_KEY}",
				"email: bridge@acme.example\n        api_key: ${ACME_ZENDESK_TOKEN}", "email: ${ACME_ZENDESK_TOKEN}\n        api_key: ${ACME_ZENDESK_TOKEN}",
			),
		},
		{
			name: "the example with secrets missing",
			in: func() string {
				b, err := os.ReadFile("example.yaml")
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := leakEnv()
			delete(env, "BRIDGE_REDIS_URL")
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := Parse([]byte(tt.in), lookup(env))
			ps := problemsOf(t, err)
			if len(ps) == 0 {
				t.Fatalf("no problems")
			}
			assertNoLeak(t, "problems", ps.Error())
			assertNoLeak(t, "problems", fmt.Sprintf("%v %+v %#v", ps, ps, ps))
		})
	}
}

func TestParseSortsByLine(t *testing.T) {
	t.Parallel()
	// The decoder finds the unknown key before validation finds the kind.
	in := edit(t, "kind: gorgias", "kind: other") + "extra: 1\n"
	_, err := Parse([]byte(in), lookup(baseEnv()))
	want := Problems{
		{Field: "merchants[0].helpdesks[0].kind", Line: 13, Message: "must be one of: gorgias, zendesk"},
		{Field: "extra", Line: 24, Message: `unknown key "extra" (known keys here: server, redis, worker, events, widgets, invoice_files, merchants)`},
	}
	if diff := cmp.Diff(want, problemsOf(t, err)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func ptr[T any](v T) *T { return &v }

// A written 0 is kept (no score is then bad), not taken for the default.
func TestBadRatingThresholdZeroIsKept(t *testing.T) {
	for _, c := range []struct {
		yaml string
		want int
	}{{"", 2}, {"    bad_rating_threshold: 0\n", 0}, {"    bad_rating_threshold: 4\n", 4}} {
		in := strings.Replace(base, "    event_secrets:", c.yaml+"    event_secrets:", 1)
		cfg, err := Parse([]byte(in), lookup(baseEnv()))
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if got := cfg.Merchants[0].BadRating(); got != c.want {
			t.Errorf("%q: threshold %d, want %d", c.yaml, got, c.want)
		}
	}
}
