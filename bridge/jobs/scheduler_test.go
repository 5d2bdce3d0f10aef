package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// Three replicas scheduling the same periodic work in the same period
// enqueue it once.
func TestReplicasEnqueueAPeriodOnce(t *testing.T) {
	rdb := rdbtest.Client(t, 6)
	client := asynq.NewClientFromRedisClient(rdb)
	e := jobs.Periodic{Name: "sync:acct", Every: time.Minute, Task: func() *asynq.Task { return asynq.NewTask("sync", nil) }}
	period := time.Now().Truncate(time.Minute)
	for i := 0; i < 3; i++ {
		s := jobs.NewScheduler(client, zerolog.Nop(), nil, e)
		if err := s.EnqueuePeriod(context.Background(), e, period); err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if err := jobs.NewScheduler(client, zerolog.Nop(), nil, e).EnqueuePeriod(context.Background(), e, period.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	info, err := asynq.NewInspectorFromRedisClient(rdb).GetQueueInfo("default")
	if err != nil {
		t.Fatal(err)
	}
	if info.Pending != 2 {
		t.Errorf("%d tasks pending for two periods across three replicas, want 2", info.Pending)
	}
}
