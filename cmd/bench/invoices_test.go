package main

import (
	"strings"
	"testing"
)

// TestQuickInvoicesPhase runs the bulk invoice phase alone on a small
// job and checks that its figures exist.
func TestQuickInvoicesPhase(t *testing.T) {
	o := withoutMarkets(options{
		skipPipeline: true, skipThrottled: true, skipWidget: true, skipMirrorLatency: true, skipBackfill: true, skipIsolation: true,
		skipBalance: true, skipIngest: true, skipExport: true, skipFailover: true, skipMailLatency: true, skipMailBackfill: true,
	})
	o.skipInvoices = false
	rep, printed := quickBench(t, o)
	q := rep.invoices
	if q == nil {
		t.Fatal("no bulk invoice figures")
	}
	if q.files != rep.opts.invoiceOrders || q.issue <= 0 || q.render <= 0 || q.elapsed <= q.job {
		t.Errorf("figures: %+v", q)
	}
	for _, want := range []string{"bridge invoices/s", "in-process Service invoices/s", "bridge RSS"} {
		if !strings.Contains(printed, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
