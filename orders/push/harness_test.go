package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

// testDB is this package's database on the test Redis (see rdbtest). Each
// test flushes it, so the tests that use it do not run in parallel.
const testDB = 0

// Tokens of the tests' merchants; none may reach the logs.
const (
	acmeToken   = "acme-api-token-0123456789abcdef"
	globexToken = "globex-api-token-0123456789abcd"
)

// clock is the bridge's injected clock: tests move it to make minutes and
// hours pass in milliseconds.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fastLimits make retries come every few tens of milliseconds: the
// worker's forwarder, not the backoff, sets the pace.
var fastLimits = push.Limits{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, HandshakeDelay: time.Millisecond}

type harnessOptions struct {
	limits push.Limits
	// denyPrivate turns server.allow_private_file_hosts off: by default
	// it is on, because the receivers are on loopback.
	denyPrivate bool
	resolver    push.Resolver
	configured  []push.Configured
	noWorker    bool
	observer    push.Observer
	redis       redis.UniversalClient // default: the test Redis
	// queue wraps the asynq client the Publisher enqueues with.
	queue func(push.Enqueuer) push.Enqueuer
}

type harness struct {
	t     *testing.T
	rdb   redis.UniversalClient
	clock *clock
	cfg   *config.Config
	pub   *push.Publisher
	api   *httptest.Server
	logs  *syncBuffer
}

// syncBuffer collects log lines from several goroutines.
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

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	rdb := o.redis
	if rdb == nil {
		c := rdbtest.Client(t, testDB)
		keys := redis.NewClient(&redis.Options{Addr: rdbtest.Addr(), DB: testDB})
		t.Cleanup(func() { _ = keys.Close() })
		c.AddHook(rdbtest.NewSlotCheck(t, keys))
		rdb = c
	}
	h := &harness{t: t, rdb: rdb, clock: &clock{t: time.Now().Truncate(time.Second)}, logs: &syncBuffer{}}
	h.cfg = &config.Config{
		Server: config.Server{AllowPrivateFileHosts: !o.denyPrivate},
		Redis:  config.Redis{KeyPrefix: "test:"},
		Merchants: []config.Merchant{
			{ID: "acme", APITokens: []config.Secret{config.NewSecret(acmeToken)}},
			{ID: "globex", APITokens: []config.Secret{config.NewSecret(globexToken)}},
		},
	}
	if o.resolver == nil {
		o.resolver = defaultResolver
	}
	log := zerolog.New(h.logs)
	var queue push.Enqueuer = asynq.NewClientFromRedisClient(rdb)
	if o.queue != nil {
		queue = o.queue(queue)
	}
	h.pub = push.New(push.Options{
		Config: h.cfg, Redis: rdb, Queue: queue, Configured: o.configured, Limits: o.limits,
		Observer: o.observer, Resolver: o.resolver, Now: h.clock.Now,
	})
	if !o.noWorker {
		srv := jobs.NewServer(jobs.Options{
			Redis: rdb, Concurrency: 8, Queues: map[string]int{push.Queue: 1},
			ShutdownTimeout: 5 * time.Second, DelayedCheck: 20 * time.Millisecond, IdleCheck: 20 * time.Millisecond,
			RetryBase: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Logger: log,
		})
		hs := push.NewHandlers(h.pub)
		srv.Handle(push.TypeDeliver, asynq.HandlerFunc(hs.Deliver))
		srv.Handle(push.TypeVerify, asynq.HandlerFunc(hs.Verify))
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
	}
	e := httpapi.NewEngine(log, nil)
	h.pub.Register(e)
	h.api = httptest.NewServer(e)
	t.Cleanup(h.api.Close)
	t.Cleanup(func() {
		for _, secret := range []string{acmeToken, globexToken} {
			if strings.Contains(h.logs.String(), secret) {
				t.Error("an API token reached the logs")
			}
		}
	})
	return h
}

// call makes an API request with a merchant's token and decodes the answer
// into out (when not nil); it returns the status and the raw body.
func (h *harness) call(method, path, token string, body any, out any) (int, []byte) {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		r = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, h.api.URL+path, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, raw
}

// subscribe creates a subscription of acme to url through the API.
func (h *harness) subscribe(url string) push.Subscription {
	h.t.Helper()
	var s push.Subscription
	status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions", acmeToken, map[string]string{"url": url}, &s)
	if status != http.StatusCreated {
		h.t.Fatalf("create subscription: %d %s", status, raw)
	}
	return s
}

func (h *harness) get(id string) push.Subscription {
	h.t.Helper()
	var s push.Subscription
	status, raw := h.call(http.MethodGet, "/v1/orders/subscriptions/"+id, acmeToken, nil, &s)
	if status != http.StatusOK {
		h.t.Fatalf("get subscription: %d %s", status, raw)
	}
	return s
}

// publish publishes one event of acme.
func (h *harness) publish(id, store, order string) {
	h.t.Helper()
	data, _ := json.Marshal(map[string]string{"order_id": order, "note": id})
	ev := push.Event{ID: id, Type: push.TypeOrderChanged, Store: store, OrderID: order, OccurredAt: h.clock.Now(), Data: data}
	if err := h.pub.Publish(context.Background(), "acme", ev); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline: the work is asynchronous, and a loaded machine is slow.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// receiver is an integrator's endpoint. It checks every push with
// verifyPush, the README's code, answers the handshake when told to,
// dedupes on the event id as the README asks, and can go down (refusing
// connections) and come back on the same address.
type receiver struct {
	t     *testing.T
	clock *clock
	addr  string

	mu         sync.Mutex
	srv        *http.Server
	secret     string
	echo       bool // answer the handshake's challenge
	fail       int  // answer this status to events instead of 200
	byOrder    map[string][]string
	seen       map[string]bool
	all        []pushed
	handshakes int
	badSig     int
}

// pushed is one request the receiver got.
type pushed struct {
	Header http.Header
	Body   []byte
	Wire   push.Wire
}

func newReceiver(t *testing.T, c *clock) *receiver {
	r := &receiver{t: t, clock: c, echo: true, byOrder: map[string][]string{}, seen: map[string]bool{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	r.serve(l)
	t.Cleanup(r.Down)
	return r
}

func (r *receiver) URL() string { return "http://" + r.addr + "/hooks/orders?k=v" }

func (r *receiver) serve(l net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Down closes the listener and every connection: connections are refused.
func (r *receiver) Down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Up listens again on the same address.
func (r *receiver) Up() {
	l, err := net.Listen("tcp", r.addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.serve(l)
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) set(f func(r *receiver)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(r)
}

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.secret == "" {
		// The handshake can come before the test has the creation's
		// answer, as it can before an integrator stored the secret.
		http.Error(w, "secret not known yet", http.StatusUnauthorized)
		return
	}
	if err := verifyPush(r.secret, req.Header, body, r.clock.Now()); err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var wire push.Wire
	_ = json.Unmarshal(body, &wire)
	r.all = append(r.all, pushed{Header: req.Header.Clone(), Body: body, Wire: wire})
	if wire.Type == push.TypeVerification {
		r.handshakes++
		if !r.echo {
			_, _ = io.WriteString(w, "ok")
			return
		}
		var v push.VerificationBody
		_ = json.Unmarshal(body, &v)
		_ = json.NewEncoder(w).Encode(push.VerificationAnswer{Challenge: v.Challenge})
		return
	}
	if r.fail != 0 {
		w.WriteHeader(r.fail)
		return
	}
	id := req.Header.Get(push.HeaderEventID)
	if !r.seen[id] {
		r.seen[id] = true
		r.byOrder[wire.Store+"/"+wire.OrderID] = append(r.byOrder[wire.Store+"/"+wire.OrderID], id)
	}
	w.WriteHeader(http.StatusNoContent)
}

// orders is what the receiver kept, per order, in arrival order.
func (r *receiver) orders() map[string][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][]string{}
	for k, v := range r.byOrder {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func (r *receiver) count(f func(r *receiver) int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return f(r)
}

// staticResolver answers look-ups from a table, and asks the system
// about other names: the tests need no network.
type staticResolver map[string][]netip.Addr

func (s staticResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if a, ok := s[host]; ok {
		return a, nil
	}
	return net.DefaultResolver.LookupNetIP(ctx, network, host)
}

// publicAddr is example.com's address, public.
var publicAddr = netip.MustParseAddr("93.184.215.14")

// defaultResolver knows the hosts the tests use.
var defaultResolver = staticResolver{"hooks.example.com": {publicAddr}}

// recorder is an Observer that counts.
type recorder struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *recorder) Attempt(outcome string, _ time.Duration) { r.add("attempt:"+outcome, 1) }
func (r *recorder) Count(what string, n int)                { r.add(what, n) }

func (r *recorder) add(k string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[k] += n
}

func (r *recorder) get(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[k]
}

func ids(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s-%02d", prefix, i))
	}
	return out
}

// publisher is another Publisher on the harness's Redis and clock, with
// the given configured subscriptions: a replica started with another
// configuration.
func (h *harness) publisher(configured []push.Configured) *push.Publisher {
	return push.New(push.Options{
		Config: h.cfg, Redis: h.rdb, Queue: asynq.NewClientFromRedisClient(h.rdb), Configured: configured,
		Limits: fastLimits, Resolver: defaultResolver, Now: h.clock.Now,
	})
}
