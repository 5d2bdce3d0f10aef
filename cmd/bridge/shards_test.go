package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/discussions"
	"github.com/helpdesk-bridge/bridge/orders"
)

// With each kind of work split over several queues, alerts, widgets,
// mirroring and replies work as with one, every task runs in a queue of
// its kind, and an account's alerts all run in the account's queue.
func TestShardedQueuesWorkAsOne(t *testing.T) {
	const n = 4
	shards := jobs.Shards(n)
	h := newHarness(t, harnessOptions{queueShards: n})

	for _, id := range []string{"alert-1", "alert-2", "alert-3"} {
		if code, res := h.send(event(id, "order.action_required", actionRequired("ORD-"+id, "acme-fr"))); code != http.StatusAccepted {
			t.Fatalf("alert %s: %d %v", id, code, res)
		}
	}
	h.sendAll(widgetEvents(time.Now()))
	th, err := h.mkl.AddThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-8", Topic: "Late parcel", CustomerID: "c-8", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "Where is my parcel?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.syncNow()
	eventually(t, 10*time.Second, "the alerts' tickets", func() bool {
		return len(h.zendeskTickets()) == 3 && len(h.gorgiasTickets()) == 4 // 3 alerts and the thread
	})
	ticket, ok := h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID]
	if !ok {
		t.Fatal("no ticket for the thread")
	}
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "It left today."})
	if n := len(h.repliesTo(th.ID)); n != 1 {
		t.Fatalf("%d replies reached the marketplace, want 1", n)
	}
	h.settle()
	resp, body := h.widget("/v1/widgets/gorgias", sidebarToken, map[string][]string{"email": {buyerEmail}}, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "FR-1001") || !strings.Contains(string(body), "6A123") {
		t.Errorf("widget: %d %s", resp.StatusCode, body)
	}

	kindOf := map[string]string{}
	for _, kind := range []string{alerts.Queue, orders.Queue, discussions.Queue, discussions.RepliesQueue, discussions.BulkQueue, "default"} {
		for _, q := range shards.Queues(kind) {
			kindOf[q] = kind
		}
	}
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	queues, err := insp.Queues()
	if err != nil {
		t.Fatal(err)
	}
	widgetQueues := 0
	for _, q := range queues {
		if _, ok := kindOf[q]; !ok {
			t.Errorf("queue %q is no shard of any kind of work", q)
			continue
		}
		done, _ := insp.ListCompletedTasks(q, asynq.PageSize(100))
		if kindOf[q] == orders.Queue && len(done) > 0 {
			widgetQueues++
		}
		for _, task := range done {
			if task.Type != alerts.TypeRaise {
				continue
			}
			var p alerts.RaisePayload
			if err := json.Unmarshal(task.Payload, &p); err != nil {
				t.Fatal(err)
			}
			if want := shards.Queue(alerts.Queue, p.Account); q != want {
				t.Errorf("an alert for %s ran in %s, want its account's queue %s", p.Account, q, want)
			}
		}
	}
	if widgetQueues < 2 {
		t.Errorf("widget updates ran in %d queue(s), want them spread over several", widgetQueues)
	}
}

// Tasks queued under another worker.queue_shards (or the numbered shard
// names of an earlier release) still run after the setting changes: the
// workers also serve the leftover queues that hold tasks.
func TestLeftoverShardQueuesAreServed(t *testing.T) {
	h := newHarness(t, harnessOptions{queueShards: 5, mode: ModeAPI})
	before, after := jobs.Shards(5), jobs.Shards(2)
	var ids []string
	stranded := 0
	for i := range 12 {
		id := "leftover-" + strconv.Itoa(i)
		if code, res := h.send(event(id, "order.action_required", actionRequired("ORD-"+id, "acme-fr"))); code != http.StatusAccepted {
			t.Fatalf("alert %s: %d %v", id, code, res)
		}
		ids = append(ids, id)
	}
	insp := asynq.NewInspectorFromRedisClient(h.rdb)
	for _, q := range before.Queues(alerts.Queue) {
		if slices.Contains(after.Queues(alerts.Queue), q) {
			continue
		}
		if info, err := insp.GetQueueInfo(q); err == nil {
			stranded += info.Size
		}
	}
	if stranded == 0 {
		t.Fatal("no alert waits in a queue the new layout does not name: the test proves nothing")
	}
	h.stop()

	h.cfg.Worker.QueueShards = 2
	h.start(ModeServe)
	eventually(t, 15*time.Second, "every alert's ticket, the stranded ones too", func() bool {
		return len(h.zendeskTickets()) == len(ids) && len(h.gorgiasTickets()) == len(ids)
	})
	if !strings.Contains(h.logs.String(), "left by an earlier shard layout") {
		t.Error("the workers did not say they serve leftover queues")
	}
}
