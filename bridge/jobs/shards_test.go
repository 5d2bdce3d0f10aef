package jobs_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

var kinds = []string{"alerts", "widgets", "discussions", "replies", "bulk", "default"}

func TestShards(t *testing.T) {
	if q := jobs.Shards(0).Queue("alerts", "acme-gorgias"); q != "alerts" {
		t.Errorf("no shards: queue %q, want alerts", q)
	}
	if got := jobs.Shards(1).Queues("alerts"); len(got) != 1 || got[0] != "alerts" {
		t.Errorf("one shard: queues %q", got)
	}
	n := jobs.Shards(4)
	queues := n.Queues("alerts")
	if len(queues) != 4 || !slices.Contains(queues, "alerts") {
		t.Errorf("queues %q, want 4 of them, alerts among them", queues)
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

// Each kind's queues have their hash slots one in each Nth of the slot
// space, so that masters serving equal ranges of slots hold the same number
// of them.
func TestShardsSpreadOverTheSlots(t *testing.T) {
	for _, kind := range kinds {
		for n := 1; n <= 64; n++ {
			queues := jobs.Shards(n).Queues(kind)
			if len(queues) != n {
				t.Fatalf("%s, %d shards: %d queues", kind, n, len(queues))
			}
			if !slices.Contains(queues, kind) {
				t.Errorf("%s, %d shards: %q has no queue named %s", kind, n, queues, kind)
			}
			for i, q := range queues {
				// asynq's keys of queue q are asynq:{q}:...
				if s := rdbtest.Slot("asynq:{" + q + "}:pending"); s*n/16384 != i {
					t.Errorf("%s, %d shards: queue %d, %s, has slot %d, outside its %d/%d of the slots", kind, n, i, q, s, i, n)
				}
			}
		}
	}
	// With 6 shards on 3 masters (redis-cli --cluster create gives each a
	// third of the slots, rounded to whole slots), each master has 2
	// queues of every kind; 12 on 6 masters, 2 of each too.
	for _, c := range []struct{ n, masters int }{{6, 3}, {12, 6}, {4, 2}, {9, 3}} {
		for _, kind := range kinds {
			perMaster := make([]int, c.masters)
			for _, q := range jobs.Shards(c.n).Queues(kind) {
				perMaster[masterOf(rdbtest.Slot(q), c.masters)]++
			}
			for _, got := range perMaster {
				if got != c.n/c.masters {
					t.Errorf("%s, %d shards on %d masters: queues per master %v", kind, c.n, c.masters, perMaster)
					break
				}
			}
		}
	}
}

// masterOf is which of n masters serves slot when redis-cli --cluster
// create split the slots: each master up to the rounded end of its Nth.
func masterOf(slot, n int) int {
	for i := range n - 1 {
		if float64(slot) <= math.Round(float64(i+1)*16384/float64(n)-1) {
			return i
		}
	}
	return n - 1
}

// Raising the shards to a multiple keeps every queue already in use.
func TestShardsRaisedToAMultipleKeepTheirQueues(t *testing.T) {
	for _, kind := range kinds {
		for n := 1; n <= 16; n++ {
			for k := 2; n*k <= 64; k++ {
				more := jobs.Shards(n * k).Queues(kind)
				for _, q := range jobs.Shards(n).Queues(kind) {
					if !slices.Contains(more, q) {
						t.Errorf("%s: queue %s of %d shards is not among those of %d: %q", kind, q, n, n*k, more)
					}
				}
			}
		}
	}
}
