package discussions

import (
	"context"
	"errors"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// TestMirroredMessageCountsAsDoneOnAReplica: with a replica, the record
// of a mirrored message (the ticket just opened with it, or a message
// appended) is done only once the replica has it; a replica that does
// not answer makes the record fail, so that the task is retried rather
// than completed on a write a failover could lose.
func TestMirroredMessageCountsAsDoneOnAReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, replica, mc, rc := rdbtest.StartPair(t)
	s := NewStore(mc, "b:")
	s.WaitForReplicas(rdb.NewReplication(mc, "b:", 0, replicaWait, nil, zerolog.Nop()))

	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	d := Discussion{Merchant: "acme", Account: "shop", ThreadID: "t1", Helpdesk: "hd", TicketID: "42", Status: StatusOpen, CreatedAt: now, UpdatedAt: now}
	ledger := "b:dsc:{acme}:in:shop:t1"
	if err := s.saveOpened(ctx, d, "m1"); err != nil {
		t.Fatalf("saveOpened with a live replica: %v", err)
	}
	if !rc.SIsMember(ctx, ledger, "m1").Val() {
		t.Fatal("saveOpened returned before the replica had the opening message")
	}
	d, err := s.recordMessage(ctx, d, "m2", true, now)
	if err != nil {
		t.Fatalf("recordMessage with a live replica: %v", err)
	}
	if !rc.SIsMember(ctx, ledger, "m2").Val() {
		t.Fatal("recordMessage returned before the replica had the message")
	}

	replica.Signal(t, syscall.SIGSTOP)
	if _, err := s.recordMessage(ctx, d, "m3", true, now); !errors.Is(err, rdb.ErrNotReplicated) {
		t.Fatalf("recordMessage with a frozen replica = %v, want ErrNotReplicated", err)
	}
	d.ThreadID = "t2"
	if err := s.saveOpened(ctx, d, "n1"); !errors.Is(err, rdb.ErrNotReplicated) {
		t.Fatalf("saveOpened with a frozen replica = %v, want ErrNotReplicated", err)
	}
	replica.Signal(t, syscall.SIGCONT)
}

// TestReplyWebhookAnswersOnlyOnceAReplicaHasTheTask: a helpdesk takes a
// 2xx as delivered and never sends it again, so the webhook answers only
// once the reply task reached a replica; with the replica frozen it
// answers 503 not_replicated, and the helpdesk's next delivery is taken
// once the replica is back.
func TestReplyWebhookAnswersOnlyOnceAReplicaHasTheTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, replica, mc, _ := rdbtest.StartPair(t)
	s := NewStore(mc, "b:")
	s.WaitForReplicas(rdb.NewReplication(mc, "b:", 0, replicaWait, nil, zerolog.Nop()))
	q := asynq.NewClientFromRedisClient(mc)
	svc := NewService(Options{
		Config: &config.Config{Merchants: []config.Merchant{{ID: "acme", Helpdesks: []config.Helpdesk{{ID: "hd", Kind: config.KindGorgias}}}}},
		Store:  s, Queue: q,
		Webhooks: map[string]WebhookParser{"hd": func(http.Header, []byte) (connectors.WebhookEvent, error) {
			return connectors.WebhookEvent{TicketID: "7", DeliveryID: "d1", AgentReply: true}, nil
		}},
	})
	if ok, err := svc.Receive(ctx, "hd", http.Header{}, []byte(`{}`)); err != nil || !ok {
		t.Fatalf("Receive with a live replica = %v, %v; want accepted", ok, err)
	}

	replica.Signal(t, syscall.SIGSTOP)
	ok, err := svc.Receive(ctx, "hd", http.Header{}, []byte(`{}`))
	if e := httpapi.AsError(err); ok || e.Status != http.StatusServiceUnavailable || e.Code != CodeNotReplicated {
		t.Fatalf("Receive with a frozen replica = %v, %v; want 503 %s", ok, err, CodeNotReplicated)
	}
	replica.Signal(t, syscall.SIGCONT)
	if ok, err := svc.Receive(ctx, "hd", http.Header{}, []byte(`{}`)); err != nil || !ok {
		t.Fatalf("Receive with the replica back = %v, %v; want accepted", ok, err)
	}
	info, err := asynq.NewInspectorFromRedisClient(mc).GetQueueInfo(RepliesQueue)
	if err != nil || info.Size != 1 {
		t.Fatalf("reply queue after three deliveries of one event: %+v, %v; want 1 task", info, err)
	}
}

// replicaWait bounds each WAIT: long enough that a live replica on a busy
// machine acknowledges, short enough that a frozen one fails the test fast.
const replicaWait = 1500 * time.Millisecond
