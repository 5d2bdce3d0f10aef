package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// recoveryGoal is how soon after the cluster is healthy again the bridge
// must accept events and process their tasks.
const recoveryGoal = 5 * time.Second

// TestClusterFailoverRecoversInSeconds kills -9 the master that holds the
// alerts queue on a cluster of the test's own, and waits for its replica
// to take over. Meanwhile /readyz says not ready; within recoveryGoal of
// cluster_state:ok the bridge accepts events again and raises their alert
// tickets, each once. With go-redis's default slot map reload (a minute),
// the bridge went on sending the queue's slot to the dead master for most
// of that minute.
//
// /readyz is asked of a second bridge, an API replica on the same cluster:
// a readiness check reloads its client's slot map, which would mask a
// stale map in the bridge that takes the events.
func TestClusterFailoverRecoversInSeconds(t *testing.T) {
	// A one-second node timeout: the replica is promoted a few seconds
	// after the kill, which keeps the test short.
	cluster := rdbtest.StartCluster(t, time.Second)
	h := newHarness(t, harnessOptions{cluster: cluster.Addrs})
	ctx := context.Background()
	probe := h.apiReplica()
	readyz := func() int {
		w := httptest.NewRecorder()
		probe.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return w.Code
	}

	accepted := map[string]bool{} // order ids of the events answered 202
	n := 0
	post := func() int {
		n++
		order := fmt.Sprintf("ORD-F%03d", n)
		code, _ := h.send(event(fmt.Sprintf("evt-failover-%d", n), "order.action_required", actionRequired(order, "acme-fr")))
		if code == http.StatusAccepted {
			accepted[order] = true
		}
		return code
	}
	raised := func(order string) bool {
		for _, tk := range h.gorgiasTickets() {
			if strings.Contains(tk.Subject, order+" ") {
				return true
			}
		}
		return false
	}
	if code := post(); code != http.StatusAccepted {
		t.Fatalf("before the failover: %d, want 202", code)
	}
	eventually(t, 10*time.Second, "the first alert ticket", func() bool { return raised("ORD-F001") })
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz before the failover: %d", code)
	}

	// The master of the alerts queue's slot.
	victim, err := rdbtest.MasterOf(ctx, cluster.Addrs[0], "asynq:{"+alerts.Queue+"}:pending")
	if err != nil {
		t.Fatal(err)
	}
	survivors := slices.DeleteFunc(slices.Clone(cluster.Addrs), func(a string) bool { return a == victim })
	cluster.Kill(t, victim)
	killed := time.Now()

	// Until every surviving node says cluster_state:ok, poll /readyz and
	// post events, as a load balancer and a sender would.
	var readyCodes []int
	refused := 0
	healthyCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		readyCodes = append(readyCodes, readyz())
		if post() != http.StatusAccepted {
			refused++
		}
		if cluster.Healthy(healthyCtx, survivors) == nil {
			break
		}
		if healthyCtx.Err() != nil {
			t.Fatalf("the cluster did not recover within 30s of the kill (readyz %v)", readyCodes)
		}
		time.Sleep(100 * time.Millisecond)
	}
	healthy := time.Now()
	t.Logf("master %s killed; the cluster was ok again %s later; meanwhile %d of %d events were refused, /readyz answered %v", victim, healthy.Sub(killed).Round(10*time.Millisecond), refused, len(readyCodes), readyCodes)
	if len(readyCodes) == 0 || readyCodes[0] != http.StatusServiceUnavailable {
		t.Errorf("/readyz right after the master's death: %v, want 503 first", readyCodes)
	}

	// Back within the goal: an event is accepted and its ticket raised.
	var acceptedAt, readyAt time.Time
	var order string
	for time.Since(healthy) < recoveryGoal+5*time.Second {
		if readyAt.IsZero() {
			if readyz() == http.StatusOK {
				readyAt = time.Now()
			}
		}
		if acceptedAt.IsZero() && post() == http.StatusAccepted {
			acceptedAt, order = time.Now(), fmt.Sprintf("ORD-F%03d", n)
		}
		if !acceptedAt.IsZero() && !readyAt.IsZero() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if acceptedAt.IsZero() || readyAt.IsZero() {
		t.Fatalf("%s after cluster_state:ok: accepting events %v, ready %v", time.Since(healthy).Round(10*time.Millisecond), !acceptedAt.IsZero(), !readyAt.IsZero())
	}
	var processedAt time.Time
	eventually(t, recoveryGoal+5*time.Second, "the alert ticket of the event accepted after the failover", func() bool {
		if raised(order) {
			processedAt = time.Now()
			return true
		}
		return false
	})
	t.Logf("after cluster_state:ok: ready in %s, accepting events in %s, alert task processed in %s",
		readyAt.Sub(healthy).Round(10*time.Millisecond), acceptedAt.Sub(healthy).Round(10*time.Millisecond), processedAt.Sub(healthy).Round(10*time.Millisecond))
	for what, at := range map[string]time.Time{"ready": readyAt, "accepting events": acceptedAt, "processing tasks": processedAt} {
		if took := at.Sub(healthy); took > recoveryGoal {
			t.Errorf("%s again %s after cluster_state:ok, want within %s", what, took.Round(10*time.Millisecond), recoveryGoal)
		}
	}

	// Every event answered 202 is raised, once.
	eventually(t, 20*time.Second, "a ticket for every accepted event", func() bool {
		for o := range accepted {
			if !raised(o) {
				return false
			}
		}
		return true
	})
	// A task a worker held on the killed master comes back only once its
	// 30 s lease has run out and Asynq's recoverer (every minute) has
	// retried it, after the retry's delay: up to about two minutes and a
	// half; nothing is lost meanwhile.
	h.settleWithin(3 * time.Minute)
	seen := map[string]int{}
	for _, tk := range h.gorgiasTickets() {
		seen[tk.Subject]++
	}
	for subject, n := range seen {
		if n > 1 {
			t.Errorf("%d tickets %q", n, subject)
		}
	}
}

// apiReplica builds a second bridge on the harness's configuration, with
// the HTTP half only, for its /readyz; it is not run.
func (h *harness) apiReplica() *App {
	h.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.t.Fatal(err)
	}
	app, err := Build(context.Background(), h.cfg, ModeAPI, zerolog.Nop(), Overrides{Listener: l})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() {
		_ = l.Close()
		_ = app.client.Close()
		_ = app.conn.Close()
	})
	return app
}
