package discussions

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
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
	s.WaitForReplicas(rdb.NewReplication(mc, "b:", 0, 300*time.Millisecond, nil, zerolog.Nop()))

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
