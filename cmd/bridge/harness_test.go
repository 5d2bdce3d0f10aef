package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
	gapi "github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	zapi "github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/zendeskfake"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/orders"
)

// testDB is this package's database on the test Redis (see rdbtest).
const testDB = 1

// Customer data and secrets the tests send; none may reach the logs.
const (
	buyerEmail       = "jeanne.martin@example.com"
	buyerName        = "Jeanne Martin"
	acmeSecret       = "acme-event-secret-7f3a0c5e"
	globexSecret     = "globex-event-secret-91bc4d"
	gorgiasKey       = "gorgias-key-5d1e"
	zendeskToken     = "zendesk-token-c04f"
	adminPW          = "admin-password-e2e"
	sidebarToken     = "acme-sidebar-token-0123456789abcdef"
	compactToken     = "acme-compact-token-0123456789abcdef"
	deskToken        = "acme-desk-token-0123456789abcdef-html"
	gorgiasDeskToken = "acme-gorgias-desk-token-0123456789abcdef"
	globexToken      = "globex-sidebar-token-0123456789abcd"
	helpScoutKey     = "helpscout-secret-2b7e9d"
	miraklKey        = "mirakl-key-8c1f0a"
	hookSecret       = "gorgias-webhook-secret-3e9d77"
	zendeskHook      = "zendesk-signing-secret-5a0c11"
	miraklShop       = "2042"
	acmeAPIKey       = "acme-api-token-0123456789abcdef"
	globexAPIKey     = "globex-api-token-0123456789abcd"
	agentEmail       = "bot@acme.example"
)

const testConfig = `
server:
  shutdown_timeout: 3s
  public_url: "%s"
  allow_private_file_hosts: true
  admin:
    username: admin
    password: ${ADMIN_PW}
redis:
%s
worker:
  concurrency: 4
  max_retry: %d
widgets:
  budget: 250ms
merchants:
  - id: acme
    name: ACME
    event_secrets: ["${ACME_SECRET}"]
    api_tokens: ["${ACME_API_TOKEN}"]
    stores:
      - id: acme-fr
        name: ACME France
        order_url: "https://backoffice.example/orders/{order_id}"
      - id: acme-de
        name: ACME Germany
      - id: acme-it
    helpdesks:
      - id: acme-gorgias
        kind: gorgias
        base_url: "%s"
        email: ` + agentEmail + `
        api_key: ${GORGIAS_KEY}
        webhook_secret: ${GORGIAS_HOOK}
        stores: [acme-fr, acme-de]
        tag_prefix: "bigblue-"
        language: en
        timeout: %s
        # Tests hold requests for seconds, not minutes: a short settle.
        settle_delay: 3s
      - id: acme-zendesk
        kind: zendesk
        base_url: "%s"
        email: ` + agentEmail + `
        api_key: ${ZENDESK_TOKEN}
        webhook_secret: ${ZENDESK_HOOK}
        stores: [acme-fr]
        alerts: [action-required, bad-rating-with-comment]
        tag_prefix: "bigblue-"
        language: fr
        timeout: %s
        settle_delay: 3s
    sidebars:
      - id: acme-gorgias-sidebar
        kind: gorgias
        token: ${SIDEBAR_TOKEN}
        stores: [acme-fr, acme-de]
      - id: acme-compact
        kind: zendesk
        token: ${COMPACT_TOKEN}
        stores: [acme-fr]
        layout:
          sections: [orders, customer]
          customer: [name, orders_count]
          orders: [status, id, shipments]
          shipments: [tracking_number]
      - id: acme-helpscout
        kind: helpscout
        secret: ${HELPSCOUT_SECRET}
        stores: [acme-fr]
        language: fr
      - id: acme-gorgias-desk
        kind: gorgias
        token: ${GORGIAS_DESK_TOKEN}
        stores: [acme-fr]
        actions: [ship, cancel]
      - id: acme-desk
        kind: html
        token: ${DESK_TOKEN}
        stores: [acme-fr]
        actions: [accept, refuse, ship, cancel, cancel_lines]
    marketplaces:
      - id: acme-carrefour
        kind: mirakl
        name: carrefour
        base_url: "%s"
        api_key: ${MIRAKL_KEY}
        shop_id: "` + "2042" + `"
        store: acme-fr
        helpdesk: acme-gorgias
        overlap: 1m
        sync_orders: true
        settle_delay: 3s
      - id: acme-decathlon
        kind: mirakl
        name: decathlon
        base_url: "%s"
        api_key: ${MIRAKL_KEY}
        shop_id: "2043"
        store: acme-fr
        helpdesk: acme-zendesk
        settle_delay: 3s
  - id: globex
    event_secrets: ["${GLOBEX_SECRET}"]
    api_tokens: ["${GLOBEX_API_TOKEN}"]
    stores:
      - id: globex-us
    sidebars:
      - id: globex-gorgias
        kind: gorgias
        token: ${GLOBEX_TOKEN}
        stores: [globex-us]
`

type harnessOptions struct {
	clientTimeout time.Duration
	maxRetry      int
	mode          Mode
	// db is the test Redis database; tests that run in parallel with the
	// others take their own.
	db int
	// redisURL, if set, is a Redis of the test's own instead.
	redisURL string
	// cluster, if set, are the nodes of a Redis Cluster to run on instead,
	// with hooks on the bridge's client (see cluster_test.go).
	cluster []string
	hooks   []redis.Hook
	// sentinels, if set, are the Sentinels of the master masterName,
	// which the bridge uses instead.
	sentinels  []string
	masterName string
	// privateFilesRefused turns server.allow_private_file_hosts off, as in
	// production: the fakes' own files are then refused too.
	privateFilesRefused bool
	// queueShards is worker.queue_shards.
	queueShards int
	// gorgiasMaxUpload, when set, is the fake Gorgias's largest upload.
	gorgiasMaxUpload int64
	// before edits the harness (its configuration) before the bridge
	// starts: the fakes call back the first bridge's address.
	before func(*harness)
}

// harness runs the real bridge (HTTP, workers, scheduler) on the test
// Redis, against both fake helpdesks, and checks in cleanup that nothing
// it logged holds customer data or a secret.
type harness struct {
	t      *testing.T
	url    string
	gorg   *gorgiasfake.Server
	mkl    *miraklfake.Server
	mklTS  *httptest.Server
	zend   *zendeskfake.Server
	gorgTS *httptest.Server
	zendTS *httptest.Server
	rdb    redis.UniversalClient
	// listener is the first bridge's, made before the fakes so that they
	// know where to send webhooks.
	listener net.Listener
	app      *App
	cfg      *config.Config
	yml      string
	env      map[string]string
	logs     *syncBuffer
	hooks    []redis.Hook
	// mailRoots verify the test's own mail servers.
	mailRoots *x509.CertPool
	// rakutenQuota, when set (in before), is how long Rakuten's quota
	// refusal puts an account off.
	rakutenQuota time.Duration
	// invoicer and maxReplyFile, when set (in before), are the bridge's
	// Invoicer and its largest agent file (1 KiB by default).
	invoicer     discussions.Invoicer
	maxReplyFile int64
	// maxCopiedFile, when set (in before), is the largest marketplace
	// file copied into a ticket.
	maxCopiedFile int64
	stop          func()
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	if o.clientTimeout == 0 {
		o.clientTimeout = 2 * time.Second
	}
	if o.maxRetry == 0 {
		o.maxRetry = 10
	}
	if o.mode == "" {
		o.mode = ModeServe
	}
	if o.db == 0 {
		o.db = testDB
	}
	if run, ok := clusterRuns.Load(t); ok {
		o.cluster, o.hooks = run.(clusterRun).addrs, run.(clusterRun).hooks
	}
	h := &harness{t: t, logs: &syncBuffer{}}
	switch {
	case len(o.cluster) > 0:
		h.rdb = rdbtest.FlushedCluster(t, o.cluster)
	case len(o.sentinels) > 0:
		h.rdb = redis.NewFailoverClient(&redis.FailoverOptions{MasterName: o.masterName, SentinelAddrs: o.sentinels})
		t.Cleanup(func() { _ = h.rdb.Close() })
	case o.redisURL != "":
		opts, err := redis.ParseURL(o.redisURL)
		if err != nil {
			t.Fatal(err)
		}
		h.rdb = redis.NewClient(opts)
		t.Cleanup(func() { _ = h.rdb.Close() })
	default:
		h.rdb = rdbtest.Client(t, o.db)
		o.redisURL = rdbtest.URL(o.db)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.listener = l
	h.gorg = gorgiasfake.New(gorgiasfake.Options{
		Accounts: map[string]string{agentEmail: gorgiasKey}, PathPrefix: "/acme", Unthrottled: true, MaxUploadBytes: o.gorgiasMaxUpload,
		Integrations: []gapi.Integration{
			gorgias.Integration("http://"+l.Addr().String()+"/v1/webhooks/helpdesks/acme-gorgias", hookSecret),
			gorgias.CommandIntegration("http://"+l.Addr().String()+"/v1/widgets/gorgias/commands", gorgiasDeskToken),
		},
	})
	h.zend = zendeskfake.New(zendeskfake.Options{
		Agents: map[string]string{agentEmail: zendeskToken}, Prefix: "/acme", Unthrottled: true,
		Webhooks: []zendeskfake.Webhook{{ID: "01HBRIDGE", Endpoint: "http://" + l.Addr().String() + "/v1/webhooks/helpdesks/acme-zendesk", Secret: zendeskHook, Body: zendesk.WebhookBody}},
	})
	h.mkl = miraklfake.New(miraklfake.Options{Shops: []miraklfake.Shop{
		{ID: miraklShop, Name: "ACME", APIKeys: []string{miraklKey}},
		{ID: "2043", Name: "ACME sport", APIKeys: []string{miraklKey}},
	}})
	h.mklTS = httptest.NewServer(h.mkl)
	t.Cleanup(h.mklTS.Close)
	h.gorgTS = httptest.NewServer(h.gorg)
	h.zendTS = httptest.NewServer(h.zend)
	t.Cleanup(h.gorgTS.Close)
	t.Cleanup(h.zendTS.Close)
	h.cfg = h.config(o)
	h.hooks = o.hooks
	if o.before != nil {
		o.before(h)
	}
	h.start(o.mode)
	t.Cleanup(h.checkLogs)
	return h
}

func (h *harness) config(o harnessOptions) *config.Config {
	h.env = map[string]string{
		"ADMIN_PW": adminPW, "ACME_SECRET": acmeSecret, "GLOBEX_SECRET": globexSecret,
		"GORGIAS_KEY": gorgiasKey, "ZENDESK_TOKEN": zendeskToken,
		"MIRAKL_KEY": miraklKey, "GORGIAS_HOOK": hookSecret, "ZENDESK_HOOK": zendeskHook,
		"ACME_API_TOKEN": acmeAPIKey, "GLOBEX_API_TOKEN": globexAPIKey,
		"SIDEBAR_TOKEN": sidebarToken, "COMPACT_TOKEN": compactToken, "GLOBEX_TOKEN": globexToken, "HELPSCOUT_SECRET": helpScoutKey,
		"DESK_TOKEN": deskToken, "GORGIAS_DESK_TOKEN": gorgiasDeskToken,
	}
	redisYAML := fmt.Sprintf("  url: %q", o.redisURL)
	if len(o.cluster) > 0 {
		redisYAML = fmt.Sprintf("  addrs: [%s]", strings.Join(o.cluster, ", "))
	}
	h.yml = fmt.Sprintf(testConfig, "http://"+h.listener.Addr().String(), redisYAML, o.maxRetry,
		h.gorgTS.URL+"/acme", o.clientTimeout, h.zendTS.URL+"/acme", o.clientTimeout, h.mklTS.URL, h.mklTS.URL)
	if len(o.sentinels) > 0 {
		h.yml = strings.Replace(h.yml, "  url: \""+o.redisURL+"\"\n",
			"  addrs: ["+strings.Join(o.sentinels, ", ")+"]\n  master_name: "+o.masterName+"\n", 1)
	}
	cfg, err := config.Parse([]byte(h.yml), func(k string) (string, bool) { v, ok := h.env[k]; return v, ok })
	if err != nil {
		h.t.Fatalf("test config: %v", err)
	}
	cfg.Server.AllowPrivateFileHosts = !o.privateFilesRefused
	cfg.Worker.QueueShards = o.queueShards
	return cfg
}

// start runs a bridge process; stop (also run in cleanup) shuts it down
// gracefully.
func (h *harness) start(mode Mode) {
	h.t.Helper()
	l := h.listener
	h.listener = nil
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			h.t.Fatal(err)
		}
	}
	log := zerolog.New(io.MultiWriter(h.logs, testLogWriter{h.t})).Level(zerolog.DebugLevel)
	ctx, cancel := context.WithCancel(context.Background())
	app, err := Build(ctx, h.cfg, mode, log, Overrides{
		Listener: l, RetryBase: 200 * time.Millisecond, RetryMax: time.Second, DelayedCheck: 200 * time.Millisecond,
		MaxReplyFile:        cmp.Or(h.maxReplyFile, 1024), // so that a test's larger attachment goes as a link
		Invoicer:            h.invoicer,
		MaxCopiedFile:       h.maxCopiedFile,
		RedisHooks:          h.hooks,
		MailRoots:           h.mailRoots,
		RakutenQuotaBackoff: h.rakutenQuota,
	})
	if err != nil {
		cancel()
		h.t.Fatalf("build: %v", err)
	}
	h.app = app
	h.url = "http://" + app.Addr()
	done := make(chan struct{})
	go func() { defer close(done); _ = app.Run(ctx) }()
	var once sync.Once
	h.stop = func() { once.Do(func() { cancel(); <-done }) }
	h.t.Cleanup(h.stop)
}

// checkLogs fails the test if a log line holds customer data or a secret.
func (h *harness) checkLogs() {
	logs := h.logs.String()
	for _, secret := range []string{buyerEmail, buyerName, "Jeanne", miraklKey, hookSecret, zendeskHook, acmeSecret, globexSecret, gorgiasKey, zendeskToken, adminPW, sidebarToken, compactToken, deskToken, gorgiasDeskToken, globexToken, helpScoutKey, "+33 6 12 34 56 78"} {
		if strings.Contains(logs, secret) {
			h.t.Errorf("the logs contain %q", secret)
		}
	}
}

// event builds an event envelope.
func event(id, kind string, data map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"id": id, "kind": kind, "occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "data": data})
	return b
}

func actionRequired(order, store string) map[string]any {
	return map[string]any{
		"order_id": order, "store": store, "reason": "invalid_address",
		"details": "The postcode 7500 does not exist",
		"buyer":   map[string]any{"name": buyerName, "email": buyerEmail},
		"order": map[string]any{"marketplace": "carrefour", "total": "49.90", "currency": "EUR",
			"lines": []map[string]any{{"sku": "MUG-01", "name": "Blue mug", "quantity": 2}}},
	}
}

func survey(order, store string, score int, comment string) map[string]any {
	return map[string]any{
		"order_id": order, "store": store, "score": score, "comment": comment,
		"buyer": map[string]any{"name": buyerName, "email": buyerEmail},
	}
}

// post sends a body signed for merchant with secret, at time ts.
func (h *harness) post(merchant, secret string, ts time.Time, body []byte) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if merchant != "" {
		req.Header.Set(events.HeaderMerchant, merchant)
	}
	if secret != "" {
		// A zero ts signs with the present time but sends no timestamp.
		stamp := strconv.FormatInt(ts.Unix(), 10)
		if ts.IsZero() {
			stamp = strconv.FormatInt(time.Now().Unix(), 10)
		} else {
			req.Header.Set(events.HeaderTimestamp, stamp)
		}
		req.Header.Set(events.HeaderSignature, events.SignatureHeader(secret, stamp, body))
	}
	return h.do(req)
}

func (h *harness) send(body []byte) (int, map[string]any) {
	h.t.Helper()
	return h.post("acme", acmeSecret, time.Now(), body)
}

func (h *harness) do(req *http.Request) (int, map[string]any) {
	h.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: answer is not JSON: %v: %s", req.Method, req.URL.Path, err, raw)
		}
	}
	return resp.StatusCode, out
}

// settle waits until no alert task is pending, running or waiting for a
// retry, so that "nothing was created" is a fact and not a race.
func (h *harness) settle() {
	h.t.Helper()
	h.settleWithin(20 * time.Second)
}

// settleWithin is settle with its own bound: after a Redis failover, a
// task that was running when its master died comes back only once its
// lease ran out (30 s) and a recoverer looked (up to a minute later).
func (h *harness) settleWithin(d time.Duration) {
	h.t.Helper()
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	eventually(h.t, d, "the queues to drain", func() bool {
		qs, err := insp.Queues()
		if err != nil {
			return false
		}
		for _, q := range qs {
			info, err := insp.GetQueueInfo(q)
			if err != nil {
				return false
			}
			scheduled := info.Scheduled
			if q == orders.Queue || strings.HasPrefix(q, orders.Queue+"-") {
				scheduled = 0 // retention's refreshes, due in months
			}
			if info.Pending+info.Active+scheduled+info.Retry > 0 {
				return false
			}
		}
		return true
	})
}

// taskKeys counts the alert tasks asynq holds in any state.
func (h *harness) taskKeys() int {
	keys, err := h.rdb.Keys(context.Background(), "asynq:{"+alerts.Queue+"}:t:*").Result()
	if err != nil {
		h.t.Fatal(err)
	}
	return len(keys)
}

func (h *harness) gorgiasTickets() []gapi.Ticket { return h.gorg.Tickets() }
func (h *harness) zendeskTickets() []zapi.Ticket { return h.zend.Tickets() }

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogWriter shows the bridge's logs with -v, and only then.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	if testing.Verbose() && os.Getenv("BRIDGE_TEST_LOGS") != "" {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// metrics returns the /metrics page.
func (h *harness) metrics() string {
	h.t.Helper()
	resp, err := http.Get(h.url + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
