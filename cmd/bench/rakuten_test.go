package main

import (
	"testing"

	"github.com/helpdesk-bridge/bridge/config"
)

// TestQuickRakutenPhases runs the two Rakuten phases alone on small
// numbers, as TestQuickFnacPhases does Fnac's. The latency phase syncs
// every minute, the least Rakuten's configuration takes. Each backfilled
// thread is one item, read once by getiteminfos: the Rakuten requests are
// those and the few that list (the todo list, the sales), not more.
func TestQuickRakutenPhases(t *testing.T) {
	rep := quickMarketPhases(t, config.KindRakuten)
	b := rep.marketBackfill[0]
	if b.marketRequests < b.threads+1 || b.marketRequests > b.threads+10 {
		t.Errorf("%d Rakuten requests for %d threads, want one each and a few to list", b.marketRequests, b.threads)
	}
}
