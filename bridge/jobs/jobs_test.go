package jobs_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/ratelimit"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// record keeps the order in which tasks finished.
type record struct {
	mu   sync.Mutex
	done []string
}

func (r *record) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = append(r.done, id)
}

func (r *record) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.done...)
}

// With one worker and a backlog for a throttled account A, a task for an
// idle account B runs at once: A's tasks give the worker back while they
// wait for their budget, and waiting costs them none of their retries.
func TestDeferredTasksGiveTheWorkerBack(t *testing.T) {
	rdb := rdbtest.Client(t, 6)
	limiter := ratelimit.New(rdb, "j:", nil)
	limiter.SetClass("paced", ratelimit.Alerts)
	limiter.Set("A", ratelimit.Limit{Requests: 1, Per: time.Hour, Burst: 1})
	limiter.Set("B", ratelimit.Limit{Requests: 1, Per: time.Hour, Burst: 1})

	srv := jobs.NewServer(jobs.Options{
		Redis: rdb, Concurrency: 1, Queues: map[string]int{"paced": 1},
		ShutdownTimeout: time.Second, Logger: zerolog.Nop(), Pacer: limiter,
		DelayedCheck: 100 * time.Millisecond, IdleCheck: 50 * time.Millisecond,
	})
	var done record
	srv.Handle("call", asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		if err := limiter.Acquire(ctx, string(task.Payload())); err != nil {
			return err
		}
		id, _ := asynq.GetTaskID(ctx)
		done.add(id)
		return nil
	}))

	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	enqueue := func(id, account string, maxRetry int) {
		t.Helper()
		if _, err := client.Enqueue(asynq.NewTask("call", []byte(account)), asynq.Queue("paced"), asynq.TaskID(id), asynq.MaxRetry(maxRetry)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		enqueue(id, "A", 5)
	}
	// The last attempt of a task (no retries left) is deferred too, not
	// archived.
	enqueue("a5", "A", 0)
	enqueue("b1", "B", 5)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	deadline := time.Now().Add(10 * time.Second)
	for !slices.Contains(done.list(), "b1") {
		if time.Now().After(deadline) {
			t.Fatalf("B's task did not run behind A's backlog; done: %v", done.list())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := done.list(); len(got) != 2 || got[0] != "a1" {
		t.Errorf("done = %v, want a1 (A's one call) and b1 only", got)
	}

	insp := asynq.NewInspectorFromRedisClient(rdb)
	defer insp.Close()
	for _, id := range []string{"a2", "a3", "a4"} {
		info, err := insp.GetTaskInfo("paced", id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if info.Retried != 0 {
			t.Errorf("%s: retried %d times while it waited for its budget, want 0", id, info.Retried)
		}
		if info.State != asynq.TaskStateRetry || info.NextProcessAt.Before(time.Now().Add(time.Minute)) {
			t.Errorf("%s: %s, next at %s: want it put off until its turn", id, info.State, info.NextProcessAt)
		}
	}
	archived, err := insp.ListArchivedTasks("paced")
	if err != nil {
		t.Fatal(err)
	}
	if len(archived) != 0 {
		t.Errorf("%d tasks archived while they waited for their budget", len(archived))
	}
	scheduled, err := insp.ListScheduledTasks("paced")
	if err != nil {
		t.Fatal(err)
	}
	if len(scheduled) != 1 || scheduled[0].Type != "call" || string(scheduled[0].Payload) != "A" {
		t.Errorf("scheduled = %v, want the copy of a5, put back for its turn", scheduled)
	}
}
