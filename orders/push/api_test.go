package push_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

func decodeError(t *testing.T, raw []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(raw, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("not the error shape: %s", raw)
	}
	return e
}

// TestPrivateAddressesAreRefused: a URL on, or resolving to, an address
// inside the bridge's network is refused at creation with 422 naming url;
// the private switch lets loopback and private addresses through, never
// metadata ones.
func TestPrivateAddressesAreRefused(t *testing.T) {
	resolver := staticResolver{
		"hooks.example.com":    {publicAddr},
		"internal.example.com": {netip.MustParseAddr("10.0.0.7")},
		"rebound.example.com":  {publicAddr, netip.MustParseAddr("127.0.0.1")},
		"metadata.example.com": {netip.MustParseAddr("169.254.169.254")},
	}
	tests := []struct {
		name, url string
		allow     bool // the private switch
		status    int
		code      string
		message   string
	}{
		{"loopback", "https://127.0.0.1/hooks", false, 422, push.CodeURLNotAllowed, "loopback"},
		{"private", "https://10.1.2.3/hooks", false, 422, push.CodeURLNotAllowed, "private"},
		{"metadata", "https://169.254.169.254/latest/meta-data", false, 422, push.CodeURLNotAllowed, "metadata"},
		{"loopback v6", "https://[::1]:8443/hooks", false, 422, push.CodeURLNotAllowed, "loopback"},
		{"localhost", "https://localhost/hooks", false, 422, push.CodeURLNotAllowed, "resolves to"},
		{"name of a private address", "https://internal.example.com/hooks", false, 422, push.CodeURLNotAllowed, "10.0.0.7"},
		{"one address of several", "https://rebound.example.com/hooks", false, 422, push.CodeURLNotAllowed, "127.0.0.1"},
		{"plain http", "http://hooks.example.com/hooks", false, 422, "invalid_field", "https"},
		{"public", "https://hooks.example.com/hooks?token=x", false, 201, "", ""},
		{"switch: loopback", "http://127.0.0.1:9/hooks", true, 201, "", ""},
		{"switch: private name", "https://internal.example.com/hooks", true, 201, "", ""},
		{"switch: metadata still", "https://169.254.169.254/latest", true, 422, push.CodeURLNotAllowed, "metadata"},
		{"switch: metadata name still", "https://metadata.example.com/", true, 422, push.CodeURLNotAllowed, "metadata"},
	}
	deny := newHarness(t, harnessOptions{noWorker: true, denyPrivate: true, resolver: resolver})
	allow := newHarness(t, harnessOptions{noWorker: true, resolver: resolver, redis: deny.rdb})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := deny
			if tt.allow {
				h = allow
			}
			status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions", acmeToken, map[string]string{"url": tt.url}, nil)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, raw)
			}
			if tt.code == "" {
				return
			}
			e := decodeError(t, raw)
			if e.Error.Code != tt.code || e.Error.Field != "url" || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("error %+v, want code %s naming url, saying %q", e.Error, tt.code, tt.message)
			}
			if strings.Contains(e.Error.Message, "/hooks") {
				t.Errorf("the message repeats the URL's path: %s", e.Error.Message)
			}
		})
	}
}

// TestPrivateAddressRefusedWhenDialled: a name that resolved to a public
// address when the subscription was made, and resolves to loopback when
// the bridge connects (DNS rebinding), is refused as it is dialled.
func TestPrivateAddressRefusedWhenDialled(t *testing.T) {
	lying := staticResolver{"localhost": {publicAddr}}
	h := newHarness(t, harnessOptions{limits: fastLimits, denyPrivate: true, resolver: lying})
	hit := make(chan struct{}, 100)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit <- struct{}{} }))
	t.Cleanup(srv.Close)
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	s := h.subscribe("https://localhost:" + port + "/hooks")
	waitFor(t, "an attempt", func() bool { return len(h.get(s.ID).Deliveries) > 0 })
	d := h.get(s.ID).Deliveries[0]
	if d.Outcome != "failed" || !strings.HasPrefix(d.Error, "refused: ") || !strings.Contains(d.Error, "is a loopback address") {
		t.Errorf("attempt: %+v", d)
	}
	if len(hit) != 0 {
		t.Error("the bridge reached the loopback server")
	}
}

// TestAPIErrors: bad requests answer the one error shape, with a stable
// code and the offending field.
func TestAPIErrors(t *testing.T) {
	configured := []push.Configured{{Merchant: "acme", ID: "crm", URL: "https://hooks.example.com/crm", Secret: config.NewSecret("crm-secret-0123456789abcdefgh")}}
	lim := push.Limits{MaxSubscriptions: 3}
	h := newHarness(t, harnessOptions{noWorker: true, limits: lim, configured: configured})
	if err := h.pub.SyncConfigured(context.Background()); err != nil {
		t.Fatal(err)
	}
	mine := h.subscribe("https://hooks.example.com/a")
	var theirs push.Subscription
	if status, raw := h.call(http.MethodPost, "/v1/orders/subscriptions", globexToken, map[string]string{"url": "https://hooks.example.com/g"}, &theirs); status != 201 {
		t.Fatalf("globex: %d %s", status, raw)
	}
	base := "/v1/orders/subscriptions"
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code, field               string
	}{
		{"no token", "GET", base, "", nil, 401, httpapi.CodeMissingToken, "Authorization"},
		{"not a token", "GET", base, "sidebar-token-0123456789abcdef", nil, 401, httpapi.CodeInvalidToken, "Authorization"},
		{"not JSON", "POST", base, acmeToken, "{", 400, "malformed_body", ""},
		{"empty", "POST", base, acmeToken, "", 400, "malformed_body", ""},
		{"no url", "POST", base, acmeToken, map[string]any{}, 422, "invalid_field", "url"},
		{"url not a string", "POST", base, acmeToken, map[string]any{"url": 7}, 400, "malformed_body", "url"},
		{"not http", "POST", base, acmeToken, map[string]string{"url": "ftp://hooks.example.com/x"}, 422, "invalid_field", "url"},
		{"relative", "POST", base, acmeToken, map[string]string{"url": "/hooks"}, 422, "invalid_field", "url"},
		{"credentials", "POST", base, acmeToken, map[string]string{"url": "https://u:p@hooks.example.com/"}, 422, "invalid_field", "url"},
		{"fragment", "POST", base, acmeToken, map[string]string{"url": "https://hooks.example.com/#x"}, 422, "invalid_field", "url"},
		{"url too long", "POST", base, acmeToken, map[string]string{"url": "https://hooks.example.com/" + strings.Repeat("a", push.MaxURLLen)}, 422, "invalid_field", "url"},
		{"host unknown", "POST", base, acmeToken, map[string]string{"url": "https://unknown.invalid/"}, 422, "invalid_field", "url"},
		{"body too large", "POST", base, acmeToken, `{"url":"` + strings.Repeat("a", push.MaxRequestBody) + `"}`, 413, "body_too_large", ""},
		{"too many", "POST", base, acmeToken, map[string]string{"url": "https://hooks.example.com/c"}, 409, push.CodeTooManySubscriptions, ""},
		{"unknown id", "GET", base + "/sub_00000000000000000000", acmeToken, nil, 404, "not_found", "id"},
		{"malformed id", "GET", base + "/a{b}", acmeToken, nil, 404, "not_found", "id"},
		{"another merchant's", "GET", base + "/" + theirs.ID, acmeToken, nil, 404, "not_found", "id"},
		{"delete another merchant's", "DELETE", base + "/" + theirs.ID, acmeToken, nil, 404, "not_found", "id"},
		{"resume another merchant's", "POST", base + "/" + theirs.ID + "/resume", acmeToken, nil, 404, "not_found", "id"},
		{"delete a configured one", "DELETE", base + "/crm", acmeToken, nil, 409, push.CodeConfiguredSubscription, "id"},
		{"replay: no since", "POST", base + "/" + mine.ID + "/replay", acmeToken, map[string]any{}, 422, "invalid_field", "since"},
		{"replay: since not a time", "POST", base + "/" + mine.ID + "/replay", acmeToken, map[string]string{"since": "yesterday"}, 422, "invalid_field", "since"},
		{"replay: since ahead", "POST", base + "/" + mine.ID + "/replay", acmeToken, map[string]string{"since": "2999-01-01T00:00:00Z"}, 422, "invalid_field", "since"},
		{"replay another merchant's", "POST", base + "/" + theirs.ID + "/replay", acmeToken, map[string]string{"since": "2020-01-01T00:00:00Z"}, 404, "not_found", "id"},
	}
	// The third subscription (two of the API and the configured one) is
	// made before "too many" runs.
	h.subscribe("https://hooks.example.com/b")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := h.call(tt.method, tt.path, tt.token, tt.body, nil)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, raw)
			}
			e := decodeError(t, raw)
			if e.Error.Code != tt.code || e.Error.Field != tt.field {
				t.Errorf("error %+v, want code %q field %q", e.Error, tt.code, tt.field)
			}
		})
	}

	// The list is the merchant's own, bounded, without secrets or
	// deliveries.
	var list struct{ Subscriptions []push.Subscription }
	if status, raw := h.call("GET", base, acmeToken, nil, &list); status != 200 || len(list.Subscriptions) != 3 {
		t.Fatalf("list: %d %s", status, raw)
	}
	for _, s := range list.Subscriptions {
		if s.Secret != "" || s.Deliveries != nil || s.ID == theirs.ID {
			t.Errorf("listed: %+v", s)
		}
	}
	if strings.Contains(fmt.Sprint(list), "crm-secret") {
		t.Error("a configured secret is shown")
	}
}

// TestOneSubscriptionPerURL: a second subscription of the merchant to a
// URL, retried or racing the first, is refused with the first one's id,
// so that no receiver gets each event twice.
func TestOneSubscriptionPerURL(t *testing.T) {
	configured := []push.Configured{{Merchant: "acme", ID: "crm", URL: "https://hooks.example.com/crm", Secret: config.NewSecret("crm-secret-0123456789abcdefgh")}}
	h := newHarness(t, harnessOptions{noWorker: true, configured: configured})
	if err := h.pub.SyncConfigured(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := "/v1/orders/subscriptions"
	exists := func(url, id string) {
		t.Helper()
		status, raw := h.call(http.MethodPost, base, acmeToken, map[string]string{"url": url}, nil)
		e := decodeError(t, raw)
		if status != http.StatusConflict || e.Error.Code != push.CodeSubscriptionExists || e.Error.Field != "url" || !strings.Contains(e.Error.Message, id) {
			t.Errorf("%s again: %d %s, want 409 naming %s", url, status, raw, id)
		}
	}
	first := h.subscribe("https://hooks.example.com/a")
	exists("https://hooks.example.com/a", first.ID)
	exists("https://hooks.example.com/crm", "crm")
	// Another merchant may subscribe the same URL.
	if status, raw := h.call(http.MethodPost, base, globexToken, map[string]string{"url": "https://hooks.example.com/a"}, nil); status != http.StatusCreated {
		t.Errorf("globex to acme's URL: %d %s", status, raw)
	}

	// Racing creates: one only is made.
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _ = h.call(http.MethodPost, base, acmeToken, map[string]string{"url": "https://hooks.example.com/b"}, nil)
		}()
	}
	wg.Wait()
	made := 0
	for _, st := range statuses {
		if st == http.StatusCreated {
			made++
		} else if st != http.StatusConflict {
			t.Errorf("racing create: %d", st)
		}
	}
	var list struct{ Subscriptions []push.Subscription }
	if status, raw := h.call(http.MethodGet, base, acmeToken, nil, &list); made != 1 || status != 200 || len(list.Subscriptions) != 3 {
		t.Errorf("%d of %d racing creates made one; list: %s", made, len(statuses), raw)
	}

	// Deleted, the URL may be subscribed again.
	if status, raw := h.call(http.MethodDelete, base+"/"+first.ID, acmeToken, nil, nil); status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", status, raw)
	}
	if again := h.subscribe("https://hooks.example.com/a"); again.State != push.StateVerifying || again.Secret == first.Secret {
		t.Errorf("subscribed again: %+v", again)
	}
}

// TestConfiguredSubscriptions: subscriptions of the configuration are
// created, verified and used like the API's; a changed URL is verified
// again; one the configuration drops is deleted.
func TestConfiguredSubscriptions(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	r1, r2 := newReceiver(t, h.clock), newReceiver(t, h.clock)
	secret := "crm-secret-0123456789abcdefgh"
	r1.setSecret(secret)
	r2.setSecret(secret)
	sync := func(c ...push.Configured) {
		t.Helper()
		p := h.publisher(c)
		if err := p.SyncConfigured(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	sync(push.Configured{Merchant: "acme", ID: "crm", URL: r1.URL(), Secret: config.NewSecret(secret)})
	waitFor(t, "the handshake", func() bool { return h.get("crm").State == push.StateActive })
	if g := h.get("crm"); g.Source != push.SourceConfig || g.Secret != "" {
		t.Errorf("configured: %+v", g)
	}
	h.publish("e1", "acme-fr", "FR-1")
	waitFor(t, "e1", func() bool { return len(r1.orders()["acme-fr/FR-1"]) == 1 })

	// Running it again (another replica starting) changes nothing.
	sync(push.Configured{Merchant: "acme", ID: "crm", URL: r1.URL(), Secret: config.NewSecret(secret)})
	if g := h.get("crm"); g.State != push.StateActive {
		t.Errorf("after a second sync: %+v", g)
	}

	sync(push.Configured{Merchant: "acme", ID: "crm", URL: r2.URL(), Secret: config.NewSecret(secret)})
	waitFor(t, "the new URL's handshake", func() bool {
		return h.get("crm").State == push.StateActive && r2.count(func(r *receiver) int { return r.handshakes }) == 1
	})
	h.publish("e2", "acme-fr", "FR-1")
	waitFor(t, "e2 at the new URL", func() bool { return len(r2.orders()["acme-fr/FR-1"]) == 1 })

	bad := h.publisher([]push.Configured{{Merchant: "acme", ID: "crm", URL: "https://169.254.169.254/", Secret: config.NewSecret(secret)}})
	if err := bad.SyncConfigured(context.Background()); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("a metadata URL in the configuration: %v", err)
	}
	if g := h.get("crm"); g.URL != r2.URL() {
		t.Errorf("a refused URL replaced the configured one: %s", g.URL)
	}

	sync()
	if status, _ := h.call("GET", "/v1/orders/subscriptions/crm", acmeToken, nil, nil); status != 404 {
		t.Errorf("a subscription the configuration dropped: %d", status)
	}
}

// TestRedirectsAndLargeAnswers: a redirect is a failure, not followed; an
// answer is read up to its bound only.
func TestRedirectsAndLargeAnswers(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: fastLimits})
	elsewhere := make(chan struct{}, 100)
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere <- struct{}{} }))
	t.Cleanup(other.Close)
	padded := make(chan bool, 1)
	padded <- true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var v push.VerificationBody
		body, _ := io.ReadAll(req.Body)
		_ = json.Unmarshal(body, &v)
		if v.Type == push.TypeVerification {
			pad := ""
			select {
			case <-padded:
				pad = strings.Repeat(" ", push.MaxResponseBytes)
			default:
			}
			_, _ = io.WriteString(w, pad+`{"challenge":"`+v.Challenge+`"}`)
			return
		}
		http.Redirect(w, req, other.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(srv.Close)
	s := h.subscribe(srv.URL + "/hooks")
	waitFor(t, "the handshake", func() bool { return h.get(s.ID).State == push.StateActive })
	g := h.get(s.ID)
	last := g.Deliveries[len(g.Deliveries)-1]
	if last.Outcome != "failed" || !strings.Contains(last.Error, "challenge") {
		t.Errorf("an answer past the bound: %+v", last)
	}
	h.publish("e1", "acme-fr", "FR-1")
	waitFor(t, "a failed attempt", func() bool { return h.get(s.ID).Counts.Failed >= 2 })
	d := h.get(s.ID).Deliveries[0]
	if d.Status != http.StatusTemporaryRedirect || !strings.Contains(d.Error, "redirects are not followed") {
		t.Errorf("redirected: %+v", d)
	}
	if len(elsewhere) != 0 {
		t.Error("the redirect was followed")
	}
}

// TestAPIAnswers503WithoutRedis: a Redis that cannot be reached is a 503
// to retry, not a 500.
func TestAPIAnswers503WithoutRedis(t *testing.T) {
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + rdbtest.FreePort(t), MaxRetries: -1})
	t.Cleanup(func() { _ = down.Close() })
	h := newHarness(t, harnessOptions{noWorker: true, redis: down})
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/orders/subscriptions"},
		{"POST", "/v1/orders/subscriptions"},
		{"GET", "/v1/orders/subscriptions/sub_00000000000000000000"},
	} {
		status, raw := h.call(c.method, c.path, acmeToken, map[string]string{"url": "https://hooks.example.com/x"}, nil)
		if e := decodeError(t, raw); status != http.StatusServiceUnavailable || e.Error.Code != "unavailable" {
			t.Errorf("%s %s: %d %s", c.method, c.path, status, raw)
		}
	}
	ev := push.Event{ID: "e1", Type: push.TypeOrderCreated, Store: "acme-fr", OrderID: "FR-1", OccurredAt: h.clock.Now(), Data: json.RawMessage(`{}`)}
	if err := h.pub.Publish(context.Background(), "acme", ev); err == nil {
		t.Error("Publish hid that Redis is down")
	}
}
