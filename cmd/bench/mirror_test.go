package main

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
)

// TestQuickMirrorPhases runs the two mirroring phases on small numbers,
// alone, and checks that their figures exist and add up: every message
// timed, every thread one ticket.
func TestQuickMirrorPhases(t *testing.T) {
	rep, printed := quickBench(t, withoutMarkets(options{skipPipeline: true, skipThrottled: true, skipWidget: true, skipFailover: true, skipMailLatency: true, skipMailBackfill: true}))
	if rep.pipeline != nil || rep.throttled != nil || rep.widget != nil {
		t.Errorf("skipped phases ran: pipeline %v, throttled %v, widget %v", rep.pipeline != nil, rep.throttled != nil, rep.widget != nil)
	}
	if rep.mirror == nil || rep.backfill == nil {
		t.Fatalf("phases missing: mirror latency %v, backfill %v", rep.mirror != nil, rep.backfill != nil)
	}

	m := rep.mirror
	if got, want := len(m.latencies), rep.opts.mirrorMessages; got != want {
		t.Errorf("%d latencies, want one per message, %d", got, want)
	}
	for i, l := range m.latencies {
		// No message can beat the fake: it is listed by a sync that
		// started after it was posted.
		if l <= 0 {
			t.Errorf("latency %d is %v", i, l)
		}
	}
	if m.syncEvery != latencySyncEvery || m.target() != latencySyncEvery+latencySlack {
		t.Errorf("sync every %v, target %v; want %v and %v", m.syncEvery, m.target(), latencySyncEvery, latencySyncEvery+latencySlack)
	}
	if len(m.syncWaits) != len(m.latencies) || m.listings == 0 {
		t.Errorf("%d of %d messages placed after a Mirakl listing, %d listings", len(m.syncWaits), len(m.latencies), m.listings)
	}
	if r := m.ratio(); !(r > 0) || math.IsInf(r, 0) {
		t.Errorf("latency ratio %v", r)
	}

	b := rep.backfill
	f := b.gorgias.figures()
	if b.tickets != rep.opts.backfillThreads || f.ticketsAll != rep.opts.backfillThreads {
		t.Errorf("%d threads gave %d tickets (%d creations recorded)", rep.opts.backfillThreads, b.tickets, f.ticketsAll)
	}
	if f.callsTotal < callsPerTicket*b.threads {
		t.Errorf("%d Gorgias calls for %d tickets, want at least %d each", f.callsTotal, b.threads, callsPerTicket)
	}
	if !f.steady || !(f.callRate > 0) {
		t.Errorf("steady state not measured: %+v", f)
	}
	for _, want := range []string{"(d) mirror latency", "p95 / (sync period + 2s)", "(e) discussion backfill", "backfill requests/s", "429s", "requests per ticket"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// The mirroring phases' configuration is the bench's, with the account
// the bridge's loader accepts and the settings each phase asks for.
func TestMirrorConfig(t *testing.T) {
	t.Parallel()
	r := &rig{o: options{redisAddr: "127.0.0.1:1"}, secret: "bench-event-secret-0123456789", apiKey: "g", adminPW: "bench-admin-password-0123", sidebarToken: "bench-sidebar-token-0123456789", apiToken: "bench-api-token-0123456789", miraklKey: "mk"}
	for _, c := range []struct {
		name     string
		settings []string
		want     config.Marketplace
	}{
		{"latency", []string{"sync_every: 10s"}, config.Marketplace{SyncEvery: 10 * time.Second, RateLimit: config.RateLimit{Requests: 60, Per: time.Minute}}},
		{"backfill", []string{"rate_limit: {requests: 1000000, per: 1s}"}, config.Marketplace{SyncEvery: time.Minute, RateLimit: config.RateLimit{Requests: 1000000, Per: time.Second}}},
		{"both", []string{"sync_every: 10s", "overlap: 30s"}, config.Marketplace{SyncEvery: 10 * time.Second, Overlap: 30 * time.Second, RateLimit: config.RateLimit{Requests: 60, Per: time.Minute}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			yml := fmt.Sprintf(marketplaceTemplate, "http://127.0.0.1:2"+miraklPrefix, strings.Join(c.settings, "\n        "))
			_, cfg, err := r.renderConfig("127.0.0.1:0", "http://127.0.0.1:1", "", yml)
			if err != nil {
				t.Fatal(err)
			}
			mks := cfg.Merchants[0].Marketplaces
			if len(mks) != 1 {
				t.Fatalf("%d marketplaces, want 1", len(mks))
			}
			mk := mks[0]
			if mk.ID != benchAccount || mk.Store != benchStore || mk.Helpdesk != "bench-gorgias" || mk.APIKey.Reveal() != "mk" {
				t.Errorf("account %s, store %s, helpdesk %s: not the bench's, or its key is not from the environment", mk.ID, mk.Store, mk.Helpdesk)
			}
			if mk.SyncEvery != c.want.SyncEvery || mk.RateLimit != c.want.RateLimit {
				t.Errorf("sync every %v, rate limit %+v; want %v, %+v", mk.SyncEvery, mk.RateLimit, c.want.SyncEvery, c.want.RateLimit)
			}
			if c.want.Overlap != 0 && mk.Overlap != c.want.Overlap {
				t.Errorf("overlap %v, want %v", mk.Overlap, c.want.Overlap)
			}
		})
	}
}

func TestMirrorLatencyVerdict(t *testing.T) {
	t.Parallel()
	secs := func(ss ...float64) []time.Duration {
		var out []time.Duration
		for _, s := range ss {
			out = append(out, time.Duration(s*float64(time.Second)))
		}
		return out
	}
	for _, c := range []struct {
		name      string
		latencies []time.Duration
		ratio     float64
		pass      bool
	}{
		// p95 of 20 is the 19th.
		{"within", secs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13), 10.0 / 12, true},
		{"at the target", secs(12, 1), 1, true},
		{"late", secs(12.5, 1, 1), 12.5 / 12, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &mirrorLatencyResult{messages: len(c.latencies), syncEvery: 10 * time.Second, latencies: c.latencies}
			if got := m.ratio(); math.Abs(got-c.ratio) > 1e-9 {
				t.Errorf("ratio = %v, want %v", got, c.ratio)
			}
			if got := m.pass(); got != c.pass {
				t.Errorf("pass = %v, want %v", got, c.pass)
			}
			var out bytes.Buffer
			m.print(&out)
			verdict := "PASS"
			if !c.pass {
				verdict = "above target"
			}
			if !strings.Contains(out.String(), verdict) {
				t.Errorf("the report lacks %q:\n%s", verdict, out.String())
			}
		})
	}
}

func TestBackfillVerdict(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1_700_000_000, 0)
	// 160 calls against a bucket of 40 per 20 s at pace: 40 at once, then
	// one every 0.5 s, or every step; every second call opens a ticket.
	build := func(step time.Duration, limited []int) *backfillResult {
		var calls []time.Time
		var tickets []ticketTime
		for i := range 160 {
			c := t0
			if i >= 40 {
				c = t0.Add(time.Duration(i-39) * step)
			}
			calls = append(calls, c)
			if i%2 == 1 {
				tickets = append(tickets, ticketTime{arrived: c, stored: c})
			}
		}
		return &backfillResult{threads: 80, tickets: 80, gorgias: &throttledResult{
			m: 80, capacity: 40, window: 20 * time.Second, start: t0, calls: calls, tickets: tickets,
			limited: limited, fakeRateLimited: len(limited), fakeRequests: len(calls) + len(limited),
		}}
	}
	for _, c := range []struct {
		name  string
		b     *backfillResult
		ratio float64
		pass  bool
	}{
		{"at the limit", build(500*time.Millisecond, nil), 1, true},
		{"at 0.95", build(time.Second/2*100/95, nil), 0.95, true},
		{"slow", build(time.Second, nil), 0.5, false},
		{"a 429", build(500*time.Millisecond, []int{40}), 1, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := c.b.gorgias.figures()
			if got := f.callRate / f.allowedCalls; math.Abs(got-c.ratio) > 1e-6 {
				t.Errorf("ratio = %v, want %v", got, c.ratio)
			}
			if got := c.b.pass(f); got != c.pass {
				t.Errorf("pass = %v, want %v", got, c.pass)
			}
			if got := c.b.requestsPerTicket(); got != 2 {
				t.Errorf("requests per ticket = %v, want 2", got)
			}
			var out bytes.Buffer
			c.b.print(&out)
			if want := map[bool]string{true: "PASS", false: "below target"}[c.pass]; !strings.Contains(out.String(), want) {
				t.Errorf("the report lacks %q:\n%s", want, out.String())
			}
		})
	}
}
