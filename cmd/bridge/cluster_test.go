package main

import (
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// clusterRuns holds, per test, the Redis Cluster newHarness runs the
// bridge on instead of the single node: the end-to-end tests below run
// unchanged on both.
var clusterRuns sync.Map // *testing.T → clusterRun

type clusterRun struct {
	addrs []string
	hooks []redis.Hook
}

// TestEndToEndOnCluster runs end-to-end tests of alerts, widgets and
// discussions again, on the shared test cluster (3 masters, 3 replicas),
// with a hook on the bridge's client that fails the test when a script or
// a MULTI/EXEC transaction spans hash slots. On a Cluster go-redis splits
// such a transaction into one per slot without a word, so only the hook
// sees it; a script across slots fails with CROSSSLOT, which fails the
// test as well. The subtests share the cluster, so they run one at a time.
func TestEndToEndOnCluster(t *testing.T) {
	tests := []struct {
		name string
		run  func(*testing.T)
	}{
		{"alerts", TestAlertTicketInEveryTargetedHelpdeskOnce},
		{"alert routing", TestAlertKindsAndStoresSelectTheHelpdesks},
		{"alert resolution", TestResolutionNotesAndClosesTheAlert},
		{"alert faults", TestFaultsStillDeliverEachAlertExactlyOnce},
		{"dead letters", TestDeadLettersAreListedAndReplayed},
		{"widgets", TestWidgetEventsInWidgetOut},
		{"widget layouts", TestWidgetLayoutStoresAndIsolation},
		{"widget help scout", TestWidgetHelpScout},
		{"widget answers", TestOpenAPIWidgetAnswers},
		{"discussions backfill", TestDiscussionsBackfillAndAppendOnce},
		{"discussion orders", TestDiscussionsMiraklOrdersInTheWidget},
		{"discussion replies", TestDiscussionsAgentRepliesGoBack},
		{"discussion zendesk replies", TestDiscussionsZendeskReplies},
		{"discussion api", TestDiscussionAPIEndToEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rdbtest.Cluster(t)
			check := rdbtest.NewSlotCheck(t, c)
			clusterRuns.Store(t, clusterRun{addrs: rdbtest.ClusterAddrs(), hooks: []redis.Hook{check}})
			t.Cleanup(func() { clusterRuns.Delete(t) })
			tt.run(t)
			if check.Checked() == 0 {
				t.Error("the slot check saw no script or transaction")
			}
		})
	}
}
