package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
		{"rating alerts", TestRatingAlertsFromMirakl},
		{"dead letters", TestDeadLettersAreListedAndReplayed},
		{"widgets", TestWidgetEventsInWidgetOut},
		{"widget layouts", TestWidgetLayoutStoresAndIsolation},
		{"widget help scout", TestWidgetHelpScout},
		{"widget answers", TestOpenAPIWidgetAnswers},
		{"discussions backfill", TestDiscussionsBackfillAndAppendOnce},
		{"discussion orders", TestDiscussionsMiraklOrdersInTheWidget},
		{"discussion replies", TestDiscussionsAgentRepliesGoBack},
		{"discussion zendesk replies", TestDiscussionsZendeskReplies},
		{"invoice attach", TestInvoiceAttachSendsPDFToMiraklAndUploads},
		{"discussion api", TestDiscussionAPIEndToEnd},
		{"orders list and export", TestOrdersListAndExport},
		{"order actions from gorgias", TestGorgiasAgentShipsWithANote},
		{"order action faults", TestOrderActionFaults},
		{"e-mail discussions", TestFiftyAmazonMailsTwentyTickets},
		{"rakuten discussions", TestRakutenDiscussionsEndToEnd},
		{"rakuten restart", TestRakutenRestartMirrorsOnceLosesNothing},
		{"sharded queues", TestShardedQueuesWorkAsOne},
		{"invoices", TestInvoiceAPI},
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
			checkKeyFamilies(t, c)
		})
	}
}

// keyFamilies are the key layouts README's "Redis Cluster: key layout and
// failover" documents, each with the text that documents it there: a key
// the bridge writes on the cluster that fits none of them is an
// undocumented layout whose hash tag nobody chose.
var keyFamilies = []struct {
	re  *regexp.Regexp
	doc string
}{
	{regexp.MustCompile(`^event:[^:{}]+:[^{}]+$`), "`P event:<merchant>:<event id>`"},
	{regexp.MustCompile(`^alerts:\{[^:{}]+:[^:{}]+:[^{}]+\}:(resolved|open:[^{}]+|noted:[^{}]+)$`), "`P alerts:{<merchant>:<store>:<order>}:resolved`, `…:open:<account>`, `…:noted:<account>`"},
	{regexp.MustCompile(`^alerts:\{[^:{}]+\}:(rcur|rlock|rlist):[^{}]+$`), "`P alerts:{<merchant>}:rcur:<account>`, `…:rlock:<account>`, `…:rlist:<account>`"},
	{regexp.MustCompile(`^w:\{[^{}]+\}:(o:[^{}]+:[^{}]+|c:[0-9a-f]{32}|d:[0-9a-f]{32})$`), "`P w:{<merchant>}:o:<store>:<order>` (order), `…:c:<email hash>` (a customer's orders), `…:d:<email hash>` (a customer's widget document, its sidebars' renders after it)"},
	{regexp.MustCompile(`^w:\{[^{}]+\}:changes(:pos|:lock)?$`), "`P w:{<merchant>}:changes`, `…:changes:pos`, `…:changes:lock`"},
	{regexp.MustCompile(`^push:\{[a-z0-9-]+\}:subs$`), "`P push:{<merchant>}:subs`"},
	{regexp.MustCompile(`^push:\{[a-z0-9-]+:[a-z0-9_-]+\}(:ev|:pending|:orders|:own|:ids|:log|:logev|:dl)?$`), "`P push:{<merchant>:<subscription>}` (the subscription)"},
	{regexp.MustCompile(`^w:\{[^{}]+\}:idx$`), "`P w:{<merchant>}:idx`"},
	{regexp.MustCompile(`^w:\{[^{}]+\}:(act:act_[0-9a-f]{24}|audit)$`), "`P w:{<merchant>}:act:<action id>`, `…:audit`"},
	{regexp.MustCompile(`^w:\{[^{}]+\}:form:[0-9a-f]{32}$`), "`P w:{<merchant>}:form:<token digest>`"},
	{regexp.MustCompile(`^inv:\{[^{}]+\}:(seq|r|o|k|cn|pdf|settings):[^{}]+$`), "`P inv:{<merchant>}:seq:<store>:<kind>:<prefix>`"},
	{regexp.MustCompile(`^inv:\{[^{}]+\}:job:bulk_[0-9a-f]{24}(:ids|:fail)?$`), "`P inv:{<merchant>}:job:<id>`"},
	{regexp.MustCompile(`^dsc:\{[^{}]+\}:(d|all|tk|in|out|own|pend|sending|cur|ocur|listing|lock)(:[^{}]+)?$`), "`P dsc:{<merchant>}:d:<account>:<thread>`, `…:all`, `…:tk:<helpdesk>:<ticket>`"},
	{regexp.MustCompile(`^dsc:\{[^{}]+\}:invup:[^:{}]+:[^{}]+$`), "`P dsc:{<merchant>}:invup:<account>:<order>`"},
	{regexp.MustCompile(`^dsc:file:[0-9a-f]+$`), "`P dsc:file:<token hash>`"},
	{regexp.MustCompile(`^mail:\{[^{}]+\}:(t:[^{}]+|m:[^{}]+|idx|s:[0-9a-f]+|id:[0-9a-f]+|o:[0-9a-f]+|f:[^{}]+|cur|unmatched|unmatched:n)$`), "`P mail:{<account>}:t:<thread>`, `…:m:<thread>`, `…:idx`"},
	{regexp.MustCompile(`^rak:\{[^{}]+\}:(i:[^{}]+|idx|s:[^{}]+|st:[^{}]+|tr:[^{}]+|reading)$`), "`P rak:{<account>}:i:<item>`, `…:idx`, `…:s:<item>`, `…:st:<purchase>`, `…:tr:<purchase>`, `…:reading`"},
	{regexp.MustCompile(`^ratelimit:\{[^{}]+\}(:blocked|:served|:line:\d+|:due:\d+)?$`), "`P ratelimit:{<account>}`, `…:blocked`, `…:served`, `…:line:<class>`, `…:due:<class>`"},
	{regexp.MustCompile(`^settle:[^{}]+$`), "`P settle:<write>`"},
	{regexp.MustCompile(`^wait:\{[0-9]+\}$`), "`P wait:{<tag>}`"},
	{regexp.MustCompile(`^\{deadletters\}:(index|letter:[^{}]+)$`), "`P {deadletters}:index`, `P {deadletters}:letter:<task>`"},
	{regexp.MustCompile(`^asynq:(\{[^{}]+\}:.+|queues|servers|workers|servers:\{[^{}]+\}|workers:\{[^{}]+\})$`), "`asynq:{<queue>}:…` (asynq's, not prefixed)"},
}

// checkKeyFamilies scans every master for keys that fit no documented
// layout.
func checkKeyFamilies(t *testing.T, c interface {
	ForEachMaster(context.Context, func(context.Context, *redis.Client) error) error
}) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range keyFamilies {
		if !strings.Contains(string(readme), f.doc) {
			t.Errorf("README does not document %s", f.doc)
		}
	}
	var mu sync.Mutex
	odd := map[string]bool{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		iter := m.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			known := false
			for _, f := range keyFamilies {
				known = known || f.re.MatchString(k)
			}
			if !known {
				mu.Lock()
				odd[k] = true
				mu.Unlock()
			}
		}
		return iter.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range odd {
		t.Errorf("key %q fits no layout README documents", k)
	}
}
