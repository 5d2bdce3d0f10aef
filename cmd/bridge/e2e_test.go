package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

func TestAlertTicketInEveryTargetedHelpdeskOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	body := event("evt-1", "order.action_required", actionRequired("ORD-1", "acme-fr"))

	var statuses []string
	for i := 0; i < 3; i++ {
		code, res := h.send(body)
		if code != http.StatusAccepted {
			t.Fatalf("post %d: status %d %v, want 202", i+1, code, res)
		}
		statuses = append(statuses, res["status"].(string))
	}
	if diff := cmp.Diff([]string{"accepted", "duplicate", "duplicate"}, statuses); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	eventually(t, 10*time.Second, "a ticket in each helpdesk", func() bool {
		return len(h.gorgiasTickets()) == 1 && len(h.zendeskTickets()) == 1
	})
	h.settle()

	// Gorgias: English, requester set, one internal note and nothing else.
	gt := h.gorgiasTickets()
	if len(gt) != 1 {
		t.Fatalf("gorgias holds %d tickets, want 1", len(gt))
	}
	g := gt[0]
	if want := "Order ORD-1 is blocked because of an invalid address"; g.Subject != want {
		t.Errorf("gorgias subject = %q, want %q", g.Subject, want)
	}
	var gtags []string
	for _, tag := range g.Tags {
		gtags = append(gtags, tag.Name)
	}
	if diff := cmp.Diff([]string{"bigblue-action-required", "bigblue-bridge-alert"}, gtags); diff != "" {
		t.Errorf("gorgias tags (-want +got):\n%s", diff)
	}
	if g.Customer == nil || g.Customer.Email != buyerEmail {
		t.Errorf("gorgias requester = %+v, want the buyer", g.Customer)
	}
	if len(g.Messages) != 1 {
		t.Fatalf("gorgias ticket has %d messages, want 1 internal note", len(g.Messages))
	}
	m := g.Messages[0]
	if m.Channel != "internal-note" || m.FromAgent == nil || !*m.FromAgent {
		t.Errorf("gorgias message channel=%q from_agent=%v, want an internal note from the agent", m.Channel, m.FromAgent)
	}
	for _, want := range []string{"invalid address", "The postcode 7500 does not exist", "2 x Blue mug (SKU MUG-01)", "49.90 EUR", "https://backoffice.example/orders/ORD-1", "has not been contacted"} {
		if !strings.Contains(m.BodyText, want) {
			t.Errorf("gorgias note lacks %q:\n%s", want, m.BodyText)
		}
	}

	// Zendesk: French, private comments only, requester is the buyer.
	zt := h.zendeskTickets()
	if len(zt) != 1 {
		t.Fatalf("zendesk holds %d tickets, want 1", len(zt))
	}
	z := zt[0]
	if want := "La commande ORD-1 est bloquée à cause d'une adresse invalide"; z.Subject != want {
		t.Errorf("zendesk subject = %q, want %q", z.Subject, want)
	}
	if diff := cmp.Diff([]string{"bigblue-action-required", "bigblue-bridge-alert"}, z.Tags); diff != "" {
		t.Errorf("zendesk tags (-want +got):\n%s", diff)
	}
	if u, ok := h.zend.User(z.RequesterID); !ok || u.Email != buyerEmail {
		t.Errorf("zendesk requester = %+v, want the buyer", u)
	}
	if len(z.Comments) != 1 || z.Comments[0].Public {
		t.Errorf("zendesk comments = %+v, want one private comment", z.Comments)
	}
}

func TestAlertKindsAndStoresSelectTheHelpdesks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	cases := []struct {
		name          string
		body          []byte
		enqueued      float64
		gorgias, zend []string // subjects created by this event
	}{
		{"bad rating without comment: disabled in zendesk", event("evt-r1", "delivery_survey.rated", survey("ORD-2", "acme-fr", 1, "")), 1,
			[]string{"Buyer Jeanne Martin gave a bad rating in the delivery satisfaction survey"}, nil},
		{"bad rating with comment: both", event("evt-r2", "delivery_survey.rated", survey("ORD-3", "acme-fr", 2, "Box arrived crushed")), 2,
			[]string{"Buyer Jeanne Martin gave a bad rating in the delivery satisfaction survey"},
			[]string{"L'acheteur Jeanne Martin a donné une mauvaise note dans l'enquête de satisfaction de livraison"}},
		{"good rating: none", event("evt-r3", "delivery_survey.rated", survey("ORD-4", "acme-fr", 3, "ok")), 0, nil, nil},
		{"store only gorgias targets", event("evt-a1", "order.action_required", actionRequired("ORD-5", "acme-de")), 1,
			[]string{"Order ORD-5 is blocked because of an invalid address"}, nil},
		{"store no account targets", event("evt-a2", "order.action_required", actionRequired("ORD-6", "acme-it")), 0, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g0, z0 := len(h.gorgiasTickets()), len(h.zendeskTickets())
			code, res := h.send(tc.body)
			if code != http.StatusAccepted || res["enqueued"] != tc.enqueued {
				t.Fatalf("answer %d %v, want 202 with %v enqueued", code, res, tc.enqueued)
			}
			h.settle()
			var gs, zs []string
			for _, tk := range h.gorgiasTickets()[g0:] {
				gs = append(gs, tk.Subject)
			}
			for _, tk := range h.zendeskTickets()[z0:] {
				zs = append(zs, tk.Subject)
			}
			if diff := cmp.Diff(tc.gorgias, gs); diff != "" {
				t.Errorf("gorgias tickets (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.zend, zs); diff != "" {
				t.Errorf("zendesk tickets (-want +got):\n%s", diff)
			}
		})
	}
	tags := map[string]bool{}
	for _, tk := range h.gorgiasTickets() {
		for _, tag := range tk.Tags {
			tags[tag.Name] = true
		}
	}
	for _, want := range []string{"bigblue-bad-rating-no-comment", "bigblue-bad-rating-with-comment", "bigblue-action-required"} {
		if !tags[want] {
			t.Errorf("no gorgias ticket tagged %s", want)
		}
	}
}

func TestBadRequestsAreRefusedAndEnqueueNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	good := event("evt-bad", "order.action_required", actionRequired("ORD-9", "acme-fr"))
	now := time.Now()
	cases := []struct {
		name             string
		merchant, secret string
		ts               time.Time
		body             []byte
		status           int
		code, field      string
	}{
		{"no merchant header", "", acmeSecret, now, good, 401, "unknown_merchant", "X-Bridge-Merchant"},
		{"unknown merchant", "initech", acmeSecret, now, good, 401, "unknown_merchant", "X-Bridge-Merchant"},
		{"unsigned", "acme", "", now, good, 401, "missing_signature", "X-Bridge-Signature"},
		{"signed without a timestamp", "acme", acmeSecret, time.Time{}, good, 401, "missing_signature", "X-Bridge-Timestamp"},
		{"wrong secret", "acme", "not-the-secret", now, good, 401, "invalid_signature", "X-Bridge-Signature"},
		{"another merchant's secret", "acme", globexSecret, now, good, 401, "invalid_signature", "X-Bridge-Signature"},
		{"expired timestamp", "acme", acmeSecret, now.Add(-6 * time.Minute), good, 401, "stale_timestamp", "X-Bridge-Timestamp"},
		{"timestamp from the future", "acme", acmeSecret, now.Add(6 * time.Minute), good, 401, "stale_timestamp", "X-Bridge-Timestamp"},
		{"malformed JSON", "acme", acmeSecret, now, []byte(`{"id": "evt-x", "kind": `), 400, "malformed_body", ""},
		{"empty body", "acme", acmeSecret, now, []byte(``), 400, "malformed_body", ""},
		{"missing id", "acme", acmeSecret, now, event("", "order.action_required", actionRequired("ORD-9", "acme-fr")), 422, "invalid_field", "id"},
		{"blank id", "acme", acmeSecret, now, event("   ", "order.action_required", actionRequired("ORD-9", "acme-fr")), 422, "invalid_field", "id"},
		{"blank order id", "acme", acmeSecret, now, event("evt-b", "order.action_required", actionRequired("   ", "acme-fr")), 422, "invalid_field", "data.order_id"},
		{"order id with a control character", "acme", acmeSecret, now, event("evt-c", "order.action_required", actionRequired("ORD\u00009", "acme-fr")), 422, "invalid_field", "data.order_id"},
		{"unknown kind", "acme", acmeSecret, now, event("evt-k", "order.exploded", actionRequired("ORD-9", "acme-fr")), 422, "unknown_kind", "kind"},
		{"score out of range", "acme", acmeSecret, now, event("evt-s", "delivery_survey.rated", survey("ORD-9", "acme-fr", 7, "")), 422, "invalid_field", "data.score"},
		{"bad buyer email", "acme", acmeSecret, now, event("evt-e", "order.action_required", func() map[string]any {
			d := actionRequired("ORD-9", "acme-fr")
			d["buyer"] = map[string]any{"name": "X", "email": "not-an-email"}
			return d
		}()), 422, "invalid_field", "data.buyer.email"},
		{"unknown reason", "acme", acmeSecret, now, event("evt-r", "order.action_required", func() map[string]any {
			d := actionRequired("ORD-9", "acme-fr")
			d["reason"] = "moon_phase"
			return d
		}()), 422, "invalid_field", "data.reason"},
		{"another merchant's store", "acme", acmeSecret, now, event("evt-st", "order.action_required", actionRequired("ORD-9", "globex-us")), 422, "unknown_store", "data.store"},
		{"body over 1 MiB", "acme", acmeSecret, now, []byte(`{"id":"evt-big","kind":"order.action_required","data":{"details":"` + strings.Repeat("x", 1<<20) + `"}}`), 413, "body_too_large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, res := h.post(tc.merchant, tc.secret, tc.ts, tc.body)
			if code != tc.status {
				t.Fatalf("status %d %v, want %d", code, res, tc.status)
			}
			e, _ := res["error"].(map[string]any)
			if e == nil {
				t.Fatalf("answer %v has no error object", res)
			}
			if e["code"] != tc.code {
				t.Errorf("code = %v, want %s", e["code"], tc.code)
			}
			field, _ := e["field"].(string)
			if field != tc.field {
				t.Errorf("field = %q, want %q", field, tc.field)
			}
			if msg, _ := e["message"].(string); tc.field != "" && !strings.Contains(msg, tc.field) {
				t.Errorf("message %q does not name the field %s", msg, tc.field)
			}
		})
	}
	// A score of 0 is out of range, not missing.
	if code, res := h.send(event("evt-s0", "delivery_survey.rated", survey("ORD-9", "acme-fr", 0, ""))); code != 422 || !strings.Contains(fmt.Sprint(res), "data.score must be at least 1") {
		t.Errorf("score 0: %d %v", code, res)
	}
	if n := h.taskKeys(); n != 0 {
		t.Errorf("asynq holds %d tasks after refused requests, want 0", n)
	}
	if n := len(h.gorgiasTickets()) + len(h.zendeskTickets()); n != 0 {
		t.Errorf("%d tickets created by refused requests", n)
	}
}

func TestEventIDReusedWithOtherContentIsAConflict(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	if code, res := h.send(event("evt-dup", "order.action_required", actionRequired("ORD-1", "acme-fr"))); code != 202 {
		t.Fatalf("first: %d %v", code, res)
	}
	code, res := h.send(event("evt-dup", "order.action_required", actionRequired("ORD-2", "acme-fr")))
	if code != http.StatusConflict || res["error"].(map[string]any)["code"] != "event_id_reused" {
		t.Fatalf("reused id: %d %v, want 409 event_id_reused", code, res)
	}
}

func TestResolutionNotesAndClosesTheAlert(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	if code, res := h.send(event("evt-block", "order.action_required", actionRequired("ORD-7", "acme-fr"))); code != 202 {
		t.Fatalf("alert: %d %v", code, res)
	}
	eventually(t, 10*time.Second, "the alert tickets", func() bool {
		return len(h.gorgiasTickets()) == 1 && len(h.zendeskTickets()) == 1
	})
	h.settle()
	resolved := event("evt-fixed", "order.action_resolved", map[string]any{"order_id": "ORD-7", "store": "acme-fr", "details": "Address corrected"})
	for i := 0; i < 2; i++ {
		if code, res := h.send(resolved); code != 202 {
			t.Fatalf("resolution: %d %v", code, res)
		}
	}
	eventually(t, 10*time.Second, "the alert tickets to close", func() bool {
		g, z := h.gorgiasTickets(), h.zendeskTickets()
		return g[0].Status == "closed" && z[0].Status == "solved"
	})
	h.settle()
	g := h.gorgiasTickets()[0]
	if len(g.Messages) != 2 || g.Messages[1].Channel != "internal-note" || !strings.Contains(g.Messages[1].BodyText, "was resolved: Address corrected") {
		t.Errorf("gorgias messages after resolution = %+v, want the alert and one resolution note", g.Messages)
	}
	z := h.zendeskTickets()[0]
	if len(z.Comments) != 2 || z.Comments[1].Public || !strings.Contains(z.Comments[1].Body, "est résolu : Address corrected") {
		t.Errorf("zendesk comments after resolution = %+v, want the alert and one private resolution note", z.Comments)
	}
}

func TestFaultsStillDeliverEachAlertExactlyOnce(t *testing.T) {
	h := newHarness(t, harnessOptions{clientTimeout: 500 * time.Millisecond})
	createG := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/tickets")
	}
	createZ := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/v2/tickets")
	}
	for _, f := range []struct {
		inj   *fault.Injector
		match func(*http.Request) bool
	}{{h.gorg.Faults(), createG}, {h.zend.Faults(), createZ}} {
		f.inj.Repeat(2, fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
		f.inj.Push(fault.Fault{Status: http.StatusInternalServerError}, fault.Fault{Status: http.StatusServiceUnavailable})
		// The ticket is created but the answer never comes in time.
		f.inj.Push(fault.Fault{After: true, Hang: 2 * time.Second, Match: f.match})
	}
	for _, id := range []string{"evt-f1", "evt-f2", "evt-f3"} {
		if code, res := h.send(event(id, "order.action_required", actionRequired("ORD-"+id, "acme-fr"))); code != 202 {
			t.Fatalf("%s: %d %v", id, code, res)
		}
	}
	eventually(t, 40*time.Second, "every fault to be served", func() bool {
		return h.gorg.Faults().Pending() == 0 && h.zend.Faults().Pending() == 0
	})
	h.settle()
	for name, ids := range map[string][]string{"gorgias": externalIDsG(h), "zendesk": externalIDsZ(h)} {
		if len(ids) != 3 {
			t.Errorf("%s holds %d tickets, want 3 (one per alert): %v", name, len(ids), ids)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%s holds two tickets with external id %s", name, id)
			}
			seen[id] = true
		}
	}
}

func externalIDsG(h *harness) []string {
	var out []string
	for _, t := range h.gorgiasTickets() {
		out = append(out, t.ExternalID)
	}
	return out
}

func externalIDsZ(h *harness) []string {
	var out []string
	for _, t := range h.zendeskTickets() {
		out = append(out, t.ExternalID)
	}
	return out
}

func TestRoutesAgreeWithTheOpenAPIDocument(t *testing.T) {
	app := newHarness(t, harnessOptions{}).app
	if missing := httpapi.UndocumentedRoutes(app.engine.Routes()); len(missing) > 0 {
		t.Errorf("routes served but not in openapi.yaml: %v", missing)
	}
	if extra := httpapi.UnservedPaths(app.engine.Routes()); len(extra) > 0 {
		t.Errorf("paths in openapi.yaml but not served: %v", extra)
	}
}

func TestDeadLettersAreListedAndReplayed(t *testing.T) {
	h := newHarness(t, harnessOptions{maxRetry: 1})
	// The helpdesk refuses the credentials once: a permanent failure, so
	// the task is archived at once instead of being retried.
	h.gorg.Faults().Push(fault.Fault{Status: http.StatusUnauthorized})
	if code, res := h.send(event("evt-dead", "order.action_required", actionRequired("ORD-D", "acme-de"))); code != 202 {
		t.Fatalf("event: %d %v", code, res)
	}
	h.settle()
	if n := len(h.gorgiasTickets()); n != 0 {
		t.Fatalf("%d tickets despite the refusal", n)
	}

	list := func(auth bool) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/admin/dead-letters", nil)
		if auth {
			req.SetBasicAuth("admin", adminPW)
		}
		return h.do(req)
	}
	if code, _ := list(false); code != http.StatusUnauthorized {
		t.Fatalf("dead letters without admin credentials: %d, want 401", code)
	}
	code, res := list(true)
	letters, _ := res["dead_letters"].([]any)
	if code != 200 || len(letters) != 1 {
		t.Fatalf("dead letters: %d %v, want one", code, res)
	}
	letter := letters[0].(map[string]any)
	if letter["type"] != "alert:raise" || !strings.Contains(letter["error"].(string), "unauthorized") {
		t.Errorf("dead letter = %v, want the alert task and its error", letter)
	}
	if strings.Contains(h.logs.String(), "task archived") == false {
		t.Error("the archived task was not logged")
	}
	if !strings.Contains(h.metrics(), `bridge_tasks_archived_total{type="alert:raise"} 1`) {
		t.Error("the archived task was not counted")
	}

	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/admin/dead-letters/"+letter["id"].(string)+"/replay", nil)
	req.SetBasicAuth("admin", adminPW)
	if code, res := h.do(req); code != http.StatusAccepted {
		t.Fatalf("replay: %d %v", code, res)
	}
	eventually(t, 10*time.Second, "the replayed alert's ticket", func() bool { return len(h.gorgiasTickets()) == 1 })
	h.settle()
	if code, res := list(true); code != 200 || len(res["dead_letters"].([]any)) != 0 {
		t.Errorf("dead letters after replay: %v, want none", res)
	}
	req, _ = http.NewRequest(http.MethodPost, h.url+"/v1/admin/dead-letters/alerts:nope/replay", nil)
	req.SetBasicAuth("admin", adminPW)
	if code, _ := h.do(req); code != http.StatusNotFound {
		t.Errorf("replay of an unknown letter: %d, want 404", code)
	}
}

func TestOperationalRoutes(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	get := func(path string, auth bool) int {
		req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
		if auth {
			req.SetBasicAuth("admin", adminPW)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path string
		auth bool
		want int
	}{
		{"/healthz", false, 200}, {"/readyz", false, 200}, {"/metrics", false, 200}, {"/openapi.yaml", false, 200},
		{"/monitoring", false, 401}, {"/monitoring", true, 200}, {"/v1/nothing", false, 404},
	} {
		if got := get(tc.path, tc.auth); got != tc.want {
			t.Errorf("GET %s (admin %v) = %d, want %d", tc.path, tc.auth, got, tc.want)
		}
	}
	// A trailing slash is an unknown route: the JSON 404, not a redirect.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"/v1/discussions/", "/healthz/", "/HEALTHZ"} {
		resp, err := noRedirect.Get(h.url + path)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(raw, &body)
		if code, _ := errorOf(body); resp.StatusCode != http.StatusNotFound || code != "not_found" || resp.Header.Get("Location") != "" {
			t.Errorf("GET %s = %d %q (Location %q), want the JSON 404", path, resp.StatusCode, raw, resp.Header.Get("Location"))
		}
	}
	// Made-up methods are counted as one "other" method: a caller cannot
	// add series.
	for _, method := range []string{"Z123", strings.Repeat("Z", 20000)} {
		req, _ := http.NewRequest(method, h.url+"/healthz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%.10s /healthz = %d, want 405", method, resp.StatusCode)
		}
	}
	h.send(event("evt-m", "order.action_required", actionRequired("ORD-M", "acme-fr")))
	h.settle()
	m := h.metrics()
	if strings.Contains(m, "Z123") || strings.Contains(m, "ZZZZ") {
		t.Error("/metrics has a series for a made-up method")
	}
	for _, want := range []string{
		`bridge_http_requests_total{method="POST",route="/v1/events",status="202"} 1`,
		`bridge_http_requests_total{method="other",route="unmatched",status="405"} 2`,
		`bridge_tasks_processed_total{type="alert:raise"} 2`,
		`bridge_external_calls_total{status="201",system="gorgias"}`,
		`bridge_events_received_total{kind="order.action_required",outcome="accepted"} 1`,
		`bridge_rate_limiter_wait_seconds_count{system="zendesk"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// A shutdown lets the task in flight finish: its ticket is created and the
// task is acknowledged, not handed back to the queue.
func TestGracefulShutdownFinishesTheTaskInFlight(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.gorg.Faults().Push(fault.Fault{Hang: 1500 * time.Millisecond, Match: func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/tickets")
	}})
	if code, res := h.send(event("evt-stop", "order.action_required", actionRequired("ORD-S", "acme-de"))); code != 202 {
		t.Fatalf("event: %d %v", code, res)
	}
	eventually(t, 10*time.Second, "the create to reach the helpdesk", func() bool { return h.gorg.Faults().Served() == 1 })
	h.stop()
	if n := len(h.gorgiasTickets()); n != 1 {
		t.Fatalf("%d tickets after shutdown, want the one in flight", n)
	}
	info, err := asynq.NewInspectorFromRedisClient(h.rdb).GetQueueInfo(alerts.Queue)
	if err != nil {
		t.Fatal(err)
	}
	if info.Completed != 1 || info.Pending+info.Active+info.Retry != 0 {
		t.Errorf("after shutdown: completed %d, pending %d, active %d, retry %d; want the task completed", info.Completed, info.Pending, info.Active, info.Retry)
	}
}

func TestConfigCheckNamesEveryProblem(t *testing.T) {
	path := t.TempDir() + "/bad.yaml"
	bad := "merchants:\n  - id: Acme!\n    event_secrets: [\"plain-secret\"]\n    stores: []\n"
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	if code := run([]string{"config", "check", path}, &out, &errOut); code != 1 {
		t.Fatalf("config check of a bad file exited %d, want 1:\n%s%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"merchants[0].id", "merchants[0].event_secrets[0]", "merchants[0].stores"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("config check output lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "plain-secret") {
		t.Error("config check printed a secret")
	}
	good := t.TempDir() + "/good.yaml"
	if err := os.WriteFile(good, []byte("merchants:\n  - id: acme\n    event_secrets: [\"${E2E_SECRET}\"]\n    stores: [{id: acme-fr}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("E2E_SECRET", "e2e-event-secret-0123456789")
	out.Reset()
	if code := run([]string{"config", "check", good}, &out, &errOut); code != 0 {
		t.Errorf("config check of a good file exited %d:\n%s", code, out.String())
	}
}
