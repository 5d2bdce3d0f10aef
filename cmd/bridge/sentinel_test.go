package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// sentinelSet is a Redis master, its replica and three Sentinels
// watching them, each a process of the test's own.
type sentinelSet struct {
	name      string
	master    *rdbtest.Server
	replica   *rdbtest.Server
	sentinels []*rdbtest.Server
}

// startSentinelSet starts the set (quorum 2) and returns once every
// Sentinel knows the replica and the two other Sentinels, so that a
// failover can be agreed on.
func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	s := &sentinelSet{name: "bridge"}
	s.master = rdbtest.Start(t)
	s.replica = rdbtest.StartReplica(t, s.master)
	for range 3 {
		s.sentinels = append(s.sentinels, rdbtest.StartSentinel(t, s.name, s.master.Addr, 2))
	}
	eventually(t, 30*time.Second, "the Sentinels to know the replica and one another", func() bool {
		for _, sen := range s.sentinels {
			c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
			m, err := c.Master(context.Background(), s.name).Result()
			_ = c.Close()
			if err != nil || m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return false
			}
		}
		return true
	})
	return s
}

// addrs are the Sentinels' addresses.
func (s *sentinelSet) addrs() []string {
	var out []string
	for _, sen := range s.sentinels {
		out = append(out, sen.Addr)
	}
	return out
}

// currentMaster is the master's address as the first Sentinel that
// answers sees it.
func (s *sentinelSet) currentMaster() string {
	for _, sen := range s.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: sen.Addr})
		addr, err := c.GetMasterAddrByName(context.Background(), s.name).Result()
		_ = c.Close()
		if err == nil && len(addr) == 2 {
			return addr[0] + ":" + addr[1]
		}
	}
	return ""
}

// eventSender posts signed events the way an order platform does: each
// until it is answered 202 (accepted or duplicate), resending the same
// event after an error, a timeout or a 5xx, after Retry-After (at most a
// second here, to keep the test short).
type eventSender struct {
	// target returns the URL of a bridge to post to.
	target func() string
	client *http.Client

	mu       sync.Mutex
	sent     int            // events, each counted once
	attempts int            // requests
	answers  map[string]int // "202 accepted", "503 not_replicated", "error", …
}

func newEventSender(target func() string) *eventSender {
	return &eventSender{target: target, client: &http.Client{Timeout: 10 * time.Second}, answers: map[string]int{}}
}

// deliver posts body until it is stored, or ctx ends (false).
func (s *eventSender) deliver(ctx context.Context, body []byte) bool {
	s.mu.Lock()
	s.sent++
	s.mu.Unlock()
	for {
		wait, outcome := s.post(ctx, body)
		s.mu.Lock()
		s.attempts++
		s.answers[outcome]++
		s.mu.Unlock()
		if wait < 0 {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
	}
}

// post sends one request; wait < 0 means stored.
func (s *eventSender) post(ctx context.Context, body []byte) (wait time.Duration, outcome string) {
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.target()+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return 200 * time.Millisecond, "error"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(events.HeaderMerchant, "acme")
	req.Header.Set(events.HeaderTimestamp, stamp)
	req.Header.Set(events.HeaderSignature, events.SignatureHeader(acmeSecret, stamp, body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 200 * time.Millisecond, "error"
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusAccepted {
		status := "accepted"
		if strings.Contains(string(raw), `"status":"duplicate"`) {
			status = "duplicate"
		}
		return -1, "202 " + status
	}
	outcome = strconv.Itoa(resp.StatusCode)
	if i := strings.Index(string(raw), `"code":"`); i >= 0 {
		code := string(raw[i+8:])
		outcome += " " + code[:strings.IndexByte(code, '"')]
	}
	wait = 200 * time.Millisecond
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		wait = min(time.Duration(secs)*time.Second, time.Second)
	}
	return wait, outcome
}

func (s *eventSender) summary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fmt.Sprintf("%d events sent in %d requests, answers %v", s.sent, s.attempts, s.answers)
}

// alertTickets are the external ids of the alert tickets an
// order.action_required event for an acme-fr order raises: one in
// acme-gorgias, one in acme-zendesk.
func alertTickets(eventID string) (gorgias, zendesk string) {
	return alerts.RaisePayload{Merchant: "acme", EventID: eventID, Account: "acme-gorgias"}.ExternalID(),
		alerts.RaisePayload{Merchant: "acme", EventID: eventID, Account: "acme-zendesk"}.ExternalID()
}

// alertTally counts the tickets in the fake helpdesks by external id.
func (h *harness) alertTally() map[string]int {
	tally := map[string]int{}
	for _, tk := range h.gorgiasTickets() {
		tally[tk.ExternalID]++
	}
	for _, tk := range h.zendeskTickets() {
		tally[tk.ExternalID]++
	}
	return tally
}

// checkAlertsDelivered waits until every event in sent has its two
// tickets, then checks that no ticket is missing, doubled or unasked for,
// and returns how many tickets there are.
func (h *harness) checkAlertsDelivered(t *testing.T, sent []string, within time.Duration) (delivered, duplicated, lost int) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range sent {
		g, z := alertTickets(id)
		want[g], want[z] = true, true
	}
	deadline := time.Now().Add(within)
	for {
		tally := h.alertTally()
		missing := 0
		for ext := range want {
			if tally[ext] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	tally := h.alertTally()
	for ext, n := range tally {
		if !strings.HasPrefix(ext, "bridge-alert-") {
			continue // a mirrored discussion's ticket
		}
		switch {
		case !want[ext]:
			t.Errorf("a ticket no event asked for: %q", ext)
		case n > 1:
			t.Errorf("%d tickets %q, want 1", n, ext)
			duplicated += n - 1
		}
		if want[ext] {
			delivered++
		}
	}
	lost = len(want) - delivered
	if lost > 0 {
		t.Errorf("%d of %d alert tickets never came, after %s\n%s", lost, len(want), within, h.queueStates())
	}
	return delivered, duplicated, lost
}

// A Redis master with a replica and three Sentinels; the bridge knows
// only the Sentinels. Events are posted all along while the master is
// killed (kill -9) and a Sentinel failover promotes the replica: every
// event is delivered once, in each helpdesk it targets, whether it was
// accepted before, during or after the failover.
func TestSentinelFailoverLosesNoEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Redis master, a replica and three Sentinels through a failover")
	}
	t.Parallel()
	set := startSentinelSet(t)
	h := newHarness(t, harnessOptions{sentinels: set.addrs(), masterName: set.name, clientTimeout: 5 * time.Second})
	sender := newEventSender(func() string { return h.url })

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		orders []string
		never  []string
	)
	stop := make(chan struct{})
	// Four senders, one event each every 50 ms, until told to stop.
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
				order := fmt.Sprintf("ORD-S%d-%d", w, i)
				ok := sender.deliver(ctx, event("evt-sentinel-"+order, "order.action_required", actionRequired(order, "acme-fr")))
				mu.Lock()
				if ok {
					orders = append(orders, order)
				} else {
					never = append(never, order)
				}
				mu.Unlock()
			}
		})
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(orders) }

	eventually(t, 30*time.Second, "events accepted before the failover", func() bool { return count() >= 40 })
	old := set.master.Addr
	set.master.Kill()
	killedAt := time.Now()
	before := count()
	eventually(t, 30*time.Second, "a Sentinel failover", func() bool { m := set.currentMaster(); return m != "" && m != old })
	t.Logf("failover to %s %s after the kill, %d events accepted before it", set.currentMaster(), time.Since(killedAt).Round(100*time.Millisecond), before)
	eventually(t, 30*time.Second, "events accepted after the failover", func() bool { return count() >= before+40 })
	close(stop)
	wg.Wait()
	if len(never) > 0 {
		t.Fatalf("%d events were never accepted: %v", len(never), never)
	}
	t.Log(sender.summary())

	// asynq takes back a task whose worker lost Redis mid-way through
	// (an acknowledgement that failed) only once its lease expired, 30 s,
	// and 30 s more have passed, at its recoverer's next round (every
	// minute): allow for that.
	var ids []string
	for _, o := range orders {
		ids = append(ids, "evt-sentinel-"+o)
	}
	delivered, duplicated, lost := h.checkAlertsDelivered(t, ids, 150*time.Second)
	t.Logf("sent %d events for %d tickets: delivered %d, duplicated %d, lost %d", len(ids), 2*len(ids), delivered, duplicated, lost)
}

// queueStates describes asynq's queues, for a failure message.
func (h *harness) queueStates() string {
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	qs, err := insp.Queues()
	if err != nil {
		return "queues: " + err.Error()
	}
	var b strings.Builder
	for _, q := range qs {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", q, err)
			continue
		}
		fmt.Fprintf(&b, "%s: pending %d active %d scheduled %d retry %d archived %d completed %d\n", q, info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Completed)
	}
	return b.String()
}
