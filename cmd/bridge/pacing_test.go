package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
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
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// pacingDB is the pacing tests' database on the test Redis (see rdbtest).
const pacingDB = 15

// Two merchants, each with its own Gorgias account at 10 requests per
// 10 s, and only two workers: a worker that slept on alpha's budget would
// hold half of them.
const pacingConfig = `
server:
  shutdown_timeout: 3s
  public_url: "%s"
redis:
  url: "%s"
worker:
  concurrency: 2
  max_retry: 3
merchants:
  - id: alpha
    event_secrets: ["${ALPHA_SECRET}"]
    api_tokens: ["${ALPHA_API}"]
    stores:
      - id: alpha-fr
    helpdesks:
      - id: alpha-gorgias
        kind: gorgias
        base_url: "%s"
        email: ` + agentEmail + `
        api_key: ${GORGIAS_KEY}
        webhook_secret: ${GORGIAS_HOOK}
        stores: [alpha-fr]
        rate_limit: {requests: 10, per: 10s}
    marketplaces:
      - id: alpha-mirakl
        kind: mirakl
        name: carrefour
        base_url: "%s"
        api_key: ${MIRAKL_KEY}
        shop_id: "` + miraklShop + `"
        store: alpha-fr
        helpdesk: alpha-gorgias
        sync_every: 1h
  - id: beta
    event_secrets: ["${BETA_SECRET}"]
    stores:
      - id: beta-fr
    helpdesks:
      - id: beta-gorgias
        kind: gorgias
        base_url: "%s"
        email: ` + agentEmail + `
        api_key: ${GORGIAS_KEY}
        stores: [beta-fr]
        rate_limit: {requests: 10, per: 10s}
`

const (
	alphaSecret = "alpha-event-secret-0b1c2d"
	betaSecret  = "beta-event-secret-3e4f5a"
	alphaAPI    = "alpha-api-token-0123456789abcdef"
)

type pacingRig struct {
	t           *testing.T
	url         string
	alpha, beta *gorgiasfake.Server
	alphaTS     *httptest.Server
	mkl         *miraklfake.Server
	app         *App
	rdb         *redis.Client
	logs        *syncBuffer
}

// newPacingRig runs the bridge on the pacing configuration, with both
// fake accounts at the same limit as the bridge's: any call over it gets
// a 429.
func newPacingRig(t *testing.T, seed func(*miraklfake.Server)) *pacingRig {
	t.Helper()
	rdb := rdbtest.Client(t, pacingDB)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &pacingRig{t: t, rdb: rdb, logs: &syncBuffer{}}
	account := func(integrations ...gapi.Integration) (*gorgiasfake.Server, *httptest.Server) {
		f := gorgiasfake.New(gorgiasfake.Options{
			Accounts: map[string]string{agentEmail: gorgiasKey}, Capacity: 10, Window: 10 * time.Second,
			Integrations: integrations,
		})
		ts := httptest.NewServer(f)
		t.Cleanup(ts.Close)
		return f, ts
	}
	var betaTS *httptest.Server
	r.alpha, r.alphaTS = account(gorgias.Integration("http://"+l.Addr().String()+"/v1/webhooks/helpdesks/alpha-gorgias", hookSecret))
	r.beta, betaTS = account()
	r.mkl = miraklfake.New(miraklfake.Options{Shops: []miraklfake.Shop{{ID: miraklShop, Name: "Alpha", APIKeys: []string{miraklKey}}}})
	if seed != nil {
		seed(r.mkl)
	}
	mklTS := httptest.NewServer(r.mkl)
	t.Cleanup(mklTS.Close)

	env := map[string]string{
		"ALPHA_SECRET": alphaSecret, "BETA_SECRET": betaSecret, "ALPHA_API": alphaAPI,
		"GORGIAS_KEY": gorgiasKey, "GORGIAS_HOOK": hookSecret, "MIRAKL_KEY": miraklKey,
	}
	yml := fmt.Sprintf(pacingConfig, "http://"+l.Addr().String(), rdbtest.URL(pacingDB), r.alphaTS.URL, mklTS.URL, betaTS.URL)
	cfg, err := config.Parse([]byte(yml), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("pacing config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.app, err = Build(ctx, cfg, ModeServe, zerolog.New(r.logs), Overrides{Listener: l, DelayedCheck: 100 * time.Millisecond})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	r.url = "http://" + r.app.Addr()
	done := make(chan struct{})
	go func() { defer close(done); _ = r.app.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if n := r.alpha.RateLimited() + r.beta.RateLimited(); n > 0 {
			t.Errorf("the fakes answered %d 429s: the bridge went over a budget", n)
		}
		if strings.Contains(r.logs.String(), buyerEmail) {
			t.Error("the logs contain a buyer's email")
		}
	})
	return r
}

func (r *pacingRig) alert(merchant, secret, id string) {
	r.t.Helper()
	body := event(id, "order.action_required", actionRequired("ORD-"+id, merchant+"-fr"))
	req, _ := http.NewRequest(http.MethodPost, r.url+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(events.HeaderMerchant, merchant)
	req.Header.Set(events.HeaderTimestamp, stamp)
	req.Header.Set(events.HeaderSignature, events.SignatureHeader(secret, stamp, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		r.t.Fatalf("event %s: %d %s", id, resp.StatusCode, raw)
	}
}

func countPrefix(ts []gapi.Ticket, prefix string) int {
	n := 0
	for _, t := range ts {
		if strings.HasPrefix(t.ExternalID, prefix) {
			n++
		}
	}
	return n
}

// B's alert is raised while A's backlog of alerts is still draining: A's
// tasks give their workers back while they wait for A's budget, and their
// waits cost them none of their retries.
func TestIdleAccountIsNotHeldBehindABacklog(t *testing.T) {
	r := newPacingRig(t, nil)
	const backlog = 16 // 32 calls: 9 at once, then one a second
	for i := range backlog {
		r.alert("alpha", alphaSecret, "a"+strconv.Itoa(i))
	}
	eventually(t, 10*time.Second, "alpha's first tickets", func() bool { return len(r.alpha.Tickets()) > 0 })
	r.alert("beta", betaSecret, "b0")
	eventually(t, 10*time.Second, "beta's ticket", func() bool { return len(r.beta.Tickets()) == 1 })
	if n := len(r.alpha.Tickets()); n >= backlog {
		t.Fatalf("beta's ticket came after alpha's whole backlog (%d tickets): it waited behind it", n)
	}

	insp := asynq.NewInspectorFromRedisClient(r.rdb)
	waiting, err := insp.ListRetryTasks(alerts.Queue, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	if len(waiting) == 0 {
		t.Fatal("no alpha task is waiting for its budget: the test did not make a backlog")
	}
	for _, task := range waiting {
		if task.Retried != 0 {
			t.Errorf("task %s has %d retries counted while it only waited for its budget", task.ID, task.Retried)
		}
	}
	metrics := get(t, r.url+"/metrics")
	if !regexp.MustCompile(`bridge_tasks_deferred_total\{class="alerts",system="gorgias"\} [1-9]`).MatchString(metrics) {
		t.Error("/metrics does not count alpha's deferred tasks")
	}
	if !regexp.MustCompile(`bridge_queue_oldest_waiting_seconds\{queue="alerts"\} [0-9.e+-]+`).MatchString(metrics) {
		t.Error("/metrics does not give the age of the oldest waiting alert")
	}
	// And all of alpha's alerts are raised in the end, once each.
	eventually(t, 60*time.Second, "alpha's backlog to drain", func() bool { return len(r.alpha.Tickets()) == backlog })
	time.Sleep(500 * time.Millisecond)
	if n := len(r.alpha.Tickets()); n != backlog {
		t.Errorf("alpha has %d tickets for %d alerts", n, backlog)
	}
}

// An agent's reply, and a new alert, on an account that is backfilling
// thousands of threads go before the backfill's pending work.
func TestReplyAndAlertGoBeforeBackfill(t *testing.T) {
	var first mapi.Thread
	r := newPacingRig(t, func(m *miraklfake.Server) {
		th, err := m.AddThread(miraklfake.ThreadSeed{
			EntityType: mapi.EntityOrder, EntityID: "ORDER-1", Topic: "Where is my parcel?", CustomerID: "c-1", CustomerName: buyerName,
			Message: miraklfake.MessageSeed{Body: "Where is my parcel?"},
		})
		if err != nil {
			t.Fatal(err)
		}
		first = th
	})
	ext := "bridge-disc-carrefour-" + miraklShop + "-" + first.ID
	var ticket gapi.Ticket
	eventually(t, 15*time.Second, "the first thread's ticket", func() bool {
		for _, tk := range r.alpha.Tickets() {
			if tk.ExternalID == ext {
				ticket = tk
				return true
			}
		}
		return false
	})

	// A whole-account resync of 24 threads: bulk work, 48 calls at one a
	// second once the burst is spent.
	const threads = 24
	for i := range threads {
		if _, err := r.mkl.AddThread(miraklfake.ThreadSeed{
			EntityType: mapi.EntityOrder, EntityID: "ORDER-B" + strconv.Itoa(i), Topic: "Backfill", CustomerID: "c-b", CustomerName: "Some Buyer",
			Message: miraklfake.MessageSeed{Body: "An old question, number " + strconv.Itoa(i)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, r.url+"/v1/discussions/alpha-mirakl/resync?full=true", nil)
	req.Header.Set("Authorization", "Bearer "+alphaAPI)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("full resync: %d", resp.StatusCode)
	}
	mirrored := func() int { return countPrefix(r.alpha.Tickets(), "bridge-disc-") }
	eventually(t, 20*time.Second, "the backfill to begin", func() bool { return mirrored() > 1 })

	// The agent answers the first thread while the backfill runs, and an
	// alert arrives for the same account.
	body := []byte(`{"body_text": "It left our warehouse today."}`)
	hook, _ := http.NewRequest(http.MethodPost, r.alphaTS.URL+"/_fake/tickets/"+strconv.FormatInt(ticket.ID, 10)+"/agent-reply", bytes.NewReader(body))
	hook.Header.Set("Content-Type", "application/json")
	resp, err = http.DefaultClient.Do(hook)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("agent reply: %d", resp.StatusCode)
	}
	r.alert("alpha", alphaSecret, "during-backfill")

	eventually(t, 20*time.Second, "the reply to reach the marketplace", func() bool {
		for _, rep := range r.mkl.Replies() {
			if rep.ThreadID == first.ID {
				return true
			}
		}
		return false
	})
	if n := mirrored(); n >= threads+1 {
		t.Errorf("the reply went out after the whole backfill (%d tickets)", n)
	}
	eventually(t, 20*time.Second, "the alert's ticket", func() bool { return countPrefix(r.alpha.Tickets(), "bridge-alert-") == 1 })
	if n := mirrored(); n >= threads+1 {
		t.Errorf("the alert was raised after the whole backfill (%d tickets)", n)
	}
	// The backfill is not starved: it finishes, each thread once.
	eventually(t, 90*time.Second, "the backfill to finish", func() bool { return mirrored() == threads+1 })
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
