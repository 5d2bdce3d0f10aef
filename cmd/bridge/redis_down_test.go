package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
)

// TestEveryPathAnswersInTimeWhenRedisFails runs the bridge on a Redis of
// its own, then freezes it (a hung server: connections are accepted, never
// answered) and kills it. Every HTTP path keeps its budget and says what
// happened: /readyz 503 within 1.5 s; the sidebar 200 with the last known
// data within its budget; the intake, the helpdesk webhooks, the
// discussion API and the admin API 503 with a Retry-After, each within one
// Redis call's deadline, never a 500 after the socket timeouts.
func TestEveryPathAnswersInTimeWhenRedisFails(t *testing.T) {
	srv := rdbtest.Start(t)
	h := newHarness(t, harnessOptions{redisURL: srv.URL(), mode: ModeServe})
	h.sendAll(widgetEvents(time.Now().UTC()))
	h.waitWidget(sidebarToken, buyerEmail, 3)

	type path struct {
		name    string
		request func() *http.Request
		status  int
		code    string
		within  time.Duration
	}
	mk := func(method, p, body string, header ...string) func() *http.Request {
		return func() *http.Request {
			req, _ := http.NewRequest(method, h.url+p, strings.NewReader(body))
			for i := 0; i+1 < len(header); i += 2 {
				req.Header.Set(header[i], header[i+1])
			}
			return req
		}
	}
	budget := rdb.CallTimeout + time.Second
	paths := []path{
		{"readyz", mk(http.MethodGet, "/readyz", ""), http.StatusServiceUnavailable, "unavailable", 1500 * time.Millisecond},
		{"widget", mk(http.MethodGet, "/v1/widgets/gorgias?email="+buyerEmail, "", "Authorization", "Bearer "+sidebarToken), http.StatusOK, "", 2 * time.Second},
		{"intake", func() *http.Request {
			body := event("evt-redis-down-"+time.Now().Format("150405.000000"), "order.action_required", actionRequired("ORD-9", "acme-fr"))
			req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/events", strings.NewReader(string(body)))
			signEvent(req, "acme", acmeSecret, time.Now(), body)
			return req
		}, http.StatusServiceUnavailable, "queue_unavailable", budget},
		{"webhook", mk(http.MethodPost, "/v1/webhooks/helpdesks/acme-gorgias",
			`{"ticket_id":"7","message_id":"8","from_agent":"true","channel":"api","public":"true","status":"open"}`,
			"Content-Type", "application/json", gorgias.WebhookSecretHeader, hookSecret), http.StatusServiceUnavailable, "unavailable", budget},
		{"discussion API", mk(http.MethodGet, "/v1/discussions", "", "Authorization", "Bearer "+acmeAPIKey), http.StatusServiceUnavailable, "unavailable", budget},
		{"admin API", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/admin/dead-letters", nil)
			req.SetBasicAuth("admin", adminPW)
			return req
		}, http.StatusServiceUnavailable, "unavailable", budget},
	}
	check := func(state string) {
		t.Helper()
		var wg sync.WaitGroup
		for _, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req := p.request()
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				took := time.Since(start)
				if err != nil {
					t.Errorf("%s, %s: %v", state, p.name, err)
					return
				}
				defer resp.Body.Close()
				if resp.StatusCode != p.status || took > p.within {
					t.Errorf("%s, %s: %d after %s, want %d within %s", state, p.name, resp.StatusCode, took, p.status, p.within)
				}
				if p.status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s, %s: a 503 without Retry-After", state, p.name)
				}
				var e struct {
					Error struct{ Code string } `json:"error"`
				}
				raw, _ := io.ReadAll(resp.Body)
				if p.code != "" && (json.Unmarshal(raw, &e) != nil || e.Error.Code != p.code) {
					t.Errorf("%s, %s: %s, want the code %s", state, p.name, raw, p.code)
				}
			}()
		}
		wg.Wait()
	}
	srv.Signal(t, syscall.SIGSTOP)
	check("redis frozen")
	srv.Signal(t, syscall.SIGCONT)
	srv.Signal(t, syscall.SIGKILL)
	check("redis dead")
}

// signEvent signs an event request as the order platform does.
func signEvent(req *http.Request, merchant, secret string, ts time.Time, body []byte) {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(events.HeaderMerchant, merchant)
	req.Header.Set(events.HeaderTimestamp, stamp)
	req.Header.Set(events.HeaderSignature, events.SignatureHeader(secret, stamp, body))
}
