package jobs_test

import (
	"fmt"
	"testing"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
)

func TestShards(t *testing.T) {
	if q := jobs.Shards(0).Queue("alerts", "acme-gorgias"); q != "alerts" {
		t.Errorf("no shards: queue %q, want alerts", q)
	}
	if got := jobs.Shards(1).Queues("alerts"); len(got) != 1 || got[0] != "alerts" {
		t.Errorf("one shard: queues %q", got)
	}
	n := jobs.Shards(4)
	queues := n.Queues("alerts")
	if fmt.Sprint(queues) != "[alerts alerts-1 alerts-2 alerts-3]" {
		t.Errorf("queues %q", queues)
	}
	// An account always lands in the same queue, and many accounts use
	// every queue.
	used := map[string]int{}
	for i := range 400 {
		key := fmt.Sprintf("account-%d", i)
		q := n.Queue("alerts", key)
		if again := n.Queue("alerts", key); again != q {
			t.Fatalf("%s went to %s, then %s", key, q, again)
		}
		used[q]++
	}
	for _, q := range queues {
		if used[q] < 60 {
			t.Errorf("queue %s got %d of 400 accounts: %v", q, used[q], used)
		}
	}
}
