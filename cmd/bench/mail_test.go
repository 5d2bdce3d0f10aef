package main

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// TestQuickMailPhases runs the two e-mail phases on small numbers, alone,
// on the test Dovecot, and checks that their figures exist and add up:
// every mail timed on both sides, every mail once in the tickets.
func TestQuickMailPhases(t *testing.T) {
	rep, printed := quickBench(t, withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true,
		skipIsolation: true, skipBalance: true, skipFailover: true, skipIngest: true, skipExport: true,
	}))
	if rep.mailNote != "" {
		if os.Getenv("CI") != "" {
			t.Fatal(rep.mailNote)
		}
		t.Skip(rep.mailNote)
	}
	if rep.mailLatency == nil || rep.mailBackfill == nil {
		t.Fatalf("phases missing: mail latency %v, mail backfill %v", rep.mailLatency != nil, rep.mailBackfill != nil)
	}

	m := rep.mailLatency
	n := rep.opts.mailMessages
	if len(m.latencies) != n || len(m.notified) != n || len(m.appends) != n {
		t.Errorf("%d latencies, %d IDLE notices, %d APPENDs timed; want one of each per mail, %d", len(m.latencies), len(m.notified), len(m.appends), n)
	}
	for i := range m.latencies {
		// Neither the bridge nor the IDLE session can see a mail before
		// its APPEND was sent.
		if m.latencies[i] <= 0 || m.notified[i] <= 0 {
			t.Errorf("mail %d: latency %v, IDLE notice %v", i, m.latencies[i], m.notified[i])
		}
	}
	if r := m.ratio(); !(r > 0) || math.IsInf(r, 0) {
		t.Errorf("latency ratio %v", r)
	}

	b := rep.mailBackfill
	f := b.gorgias.figures()
	if b.held != rep.opts.mailBackfillMessages || b.tickets != b.orders {
		t.Errorf("%d mails gave %d messages in %d tickets, for %d orders", rep.opts.mailBackfillMessages, b.held, b.tickets, b.orders)
	}
	if f.callsTotal < callsPerTicket*b.messages {
		t.Errorf("%d Gorgias calls for %d mails, want at least %d each", f.callsTotal, b.messages, callsPerTicket)
	}
	if !f.steady || !(f.callRate > 0) {
		t.Errorf("steady state not measured: %+v", f)
	}
	if b.gorgias.fakeRateLimited != 0 {
		t.Errorf("%d 429s: the bridge went over the Gorgias budget", b.gorgias.fakeRateLimited)
	}
	for _, want := range []string{"(k) mail latency", "p95 / goal", "APPEND to an IDLE session", "mail latency / IDLE notice", "(l) mail backfill", "mail backfill requests/s", "429s", "requests per mail"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

func TestMailLatencyVerdict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name      string
		latencies []time.Duration
		ratio     float64
		pass      bool
	}{
		// p95 of 20 is the 19th.
		{"within", append(ms(seq(19)...), 9*time.Second), 0.019 / 5, true},
		{"at the goal", []time.Duration{5 * time.Second, time.Second}, 1, true},
		{"late", []time.Duration{5100 * time.Millisecond, time.Second}, 5.1 / 5, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := &mailLatencyResult{messages: len(c.latencies), latencies: c.latencies, notified: c.latencies}
			if got := m.ratio(); math.Abs(got-c.ratio) > 1e-9 {
				t.Errorf("ratio = %v, want %v", got, c.ratio)
			}
			if got := m.pass(); got != c.pass {
				t.Errorf("pass = %v, want %v", got, c.pass)
			}
			var out bytes.Buffer
			m.print(&out)
			if want := map[bool]string{true: "PASS", false: "above goal"}[c.pass]; !strings.Contains(out.String(), want) {
				t.Errorf("the report lacks %q:\n%s", want, out.String())
			}
		})
	}
}
