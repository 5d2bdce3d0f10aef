package main

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
)

// withoutMarkets skips every API marketplace's phases, for the tests of
// other phases.
func withoutMarkets(o options) options {
	for _, m := range apiMarkets {
		mo := m.opts(&o)
		mo.skipLatency, mo.skipBackfill = true, true
	}
	// The bulk invoice phase is slow to start (its orders first) and runs
	// in its own test.
	o.skipInvoices = true
	return o
}

// TestQuickFnacPhases runs the two Fnac phases alone on small numbers
// and checks that their figures exist and add up: every message timed,
// every backfilled message once in its thread's ticket, no 429.
func TestQuickFnacPhases(t *testing.T) {
	quickMarketPhases(t, config.KindFnac)
}

// marketRow is the row of apiMarkets for kind.
func marketRow(t *testing.T, kind string) *apiMarket {
	t.Helper()
	i := slices.IndexFunc(apiMarkets, func(m *apiMarket) bool { return m.kind == kind })
	if i < 0 {
		t.Fatalf("no row for %s in apiMarkets", kind)
	}
	return apiMarkets[i]
}

// quickMarketPhases runs one marketplace's two phases alone, quick, and
// checks their figures and report lines; it returns the report.
func quickMarketPhases(t *testing.T, kind string) *report {
	t.Helper()
	row := marketRow(t, kind)
	o := withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true,
		skipMailLatency: true, skipMailBackfill: true, skipIsolation: true, skipBalance: true, skipFailover: true,
		skipIngest: true, skipExport: true,
	})
	*row.opts(&o) = marketOptions{}
	rep, printed := quickBench(t, o)
	if len(rep.marketLatency) != 1 || len(rep.marketBackfill) != 1 {
		t.Fatalf("%d latency and %d backfill results, want one of each", len(rep.marketLatency), len(rep.marketBackfill))
	}
	mo := row.opts(&rep.opts)

	m := rep.marketLatency[0]
	if m.market != row {
		t.Errorf("latency phase for %q", m.market.kind)
	}
	if n := mo.messages; len(m.latencies) != n || len(m.syncWaits) != n {
		t.Errorf("%d latencies, %d split at a listing; want one of each per message, %d", len(m.latencies), len(m.syncWaits), n)
	}
	for i := range m.latencies {
		if m.latencies[i] <= 0 || m.syncWaits[i] < 0 || m.afterSync[i] <= 0 {
			t.Errorf("message %d: latency %v, wait for the listing %v, after it %v", i, m.latencies[i], m.syncWaits[i], m.afterSync[i])
		}
	}
	if m.syncEvery != row.leastSync() || m.listings == 0 {
		t.Errorf("synced every %s, %d listings while measuring", m.syncEvery, m.listings)
	}
	if r := m.ratio(); !(r > 0) || math.IsInf(r, 0) {
		t.Errorf("latency ratio %v", r)
	}

	b := rep.marketBackfill[0]
	f := b.gorgias.figures()
	if n := mo.threads; b.tickets != n || b.held != n {
		t.Errorf("%d threads gave %d tickets holding %d messages", n, b.tickets, b.held)
	}
	if f.callsTotal < callsPerTicket*b.threads {
		t.Errorf("%d Gorgias calls for %d threads, want at least %d each", f.callsTotal, b.threads, callsPerTicket)
	}
	if !f.steady || !(f.callRate > 0) {
		t.Errorf("steady state not measured: %+v", f)
	}
	if b.gorgias.fakeRateLimited != 0 {
		t.Errorf("%d 429s: the bridge went over the Gorgias budget", b.gorgias.fakeRateLimited)
	}
	title := row.title
	for _, want := range []string{"(" + row.latency + ") " + title + " latency", "p95 / sync period", "p95 / (sync period + 2s)", "next " + title + " listing",
		"(" + row.backfill + ") " + title + " backfill", kind + " backfill requests/s", "429s", "requests per ticket"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	return rep
}

func TestMarketLatencyVerdict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		latencies []time.Duration
		pass      bool
	}{
		{"within the period", []time.Duration{59 * time.Second, time.Second}, true},
		{"at the period plus the slack", []time.Duration{62 * time.Second, time.Second}, true},
		{"late", []time.Duration{62100 * time.Millisecond, time.Second}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &marketLatencyResult{market: apiMarkets[0], messages: len(c.latencies), latencies: c.latencies, syncEvery: time.Minute, defaultPeriod: true}
			if got, want := m.ratio(), float64(c.latencies[0])/float64(62*time.Second); math.Abs(got-want) > 1e-9 {
				t.Errorf("ratio = %v, want %v", got, want)
			}
			if got := m.pass(); got != c.pass {
				t.Errorf("pass = %v, want %v", got, c.pass)
			}
			var out bytes.Buffer
			m.print(&out)
			for _, want := range []string{map[bool]string{true: "PASS", false: "above target"}[c.pass], "every 1m0s (the default;", "goal: within one sync period plus 2s"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}
