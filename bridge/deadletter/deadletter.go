// Package deadletter keeps a durable list of the tasks whose retries ran
// out, so that none is lost silently: asynq's own archive is capped (by
// count and age) and drops old entries without a word. Each letter can be
// listed and replayed, through the admin API or the dashboard.
package deadletter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
)

// ErrNotFound: no dead letter with that id.
var ErrNotFound = errors.New("deadletter: not found")

// Letter is one dead task. Its payload is kept for replay but never shown:
// it holds customer data.
type Letter struct {
	ID       string    `json:"id"`
	Queue    string    `json:"queue"`
	Type     string    `json:"type"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	FailedAt time.Time `json:"failed_at"`
	Payload  []byte    `json:"-"`
}

// Store is the dead-letter list in Redis.
type Store struct {
	rdb       redis.UniversalClient
	inspector *asynq.Inspector
	queue     jobs.Enqueuer
	prefix    string
	retention time.Duration
}

// New returns a store; retention is how long a replayed task is kept so
// that its id stays taken.
func New(rdb redis.UniversalClient, inspector *asynq.Inspector, q jobs.Enqueuer, prefix string, retention time.Duration) *Store {
	return &Store{rdb: rdb, inspector: inspector, queue: q, prefix: prefix, retention: retention}
}

// One hash tag for both keys: on Redis Cluster they share a slot, so the
// MULTI below stays legal.
func (s *Store) indexKey() string           { return s.prefix + "{deadletters}:index" }
func (s *Store) letterKey(id string) string { return s.prefix + "{deadletters}:letter:" + id }

type stored struct {
	Letter
	Payload []byte `json:"payload"`
}

// Record implements jobs.DeadLetters. Recording the same task twice keeps
// one letter.
func (s *Store) Record(ctx context.Context, l jobs.Letter) error {
	id := letterID(l.Queue, l.TaskID)
	data, err := json.Marshal(stored{Letter: Letter{ID: id, Queue: l.Queue, Type: l.Type, Error: l.Error, Attempts: l.Attempts, FailedAt: l.FailedAt}, Payload: l.Payload})
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.letterKey(id), data, 0)
		p.ZAdd(ctx, s.indexKey(), redis.Z{Score: float64(l.FailedAt.UnixMilli()), Member: id})
		return nil
	})
	return err
}

func letterID(queue, taskID string) string { return queue + ":" + taskID }

// List returns letters, most recent first, and the total count.
func (s *Store) List(ctx context.Context, offset, limit int) ([]Letter, int64, error) {
	total, err := s.rdb.ZCard(ctx, s.indexKey()).Result()
	if err != nil {
		return nil, 0, err
	}
	ids, err := s.rdb.ZRevRange(ctx, s.indexKey(), int64(offset), int64(offset+limit-1)).Result()
	if err != nil {
		return nil, 0, err
	}
	out := make([]Letter, 0, len(ids))
	for _, id := range ids {
		l, err := s.get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, l.Letter)
	}
	return out, total, nil
}

func (s *Store) get(ctx context.Context, id string) (stored, error) {
	raw, err := s.rdb.Get(ctx, s.letterKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return stored{}, ErrNotFound
	}
	if err != nil {
		return stored{}, err
	}
	var l stored
	if err := json.Unmarshal(raw, &l); err != nil {
		return stored{}, fmt.Errorf("deadletter: decode %s: %w", id, err)
	}
	return l, nil
}

// Replay runs a dead task again under its original id: from asynq's
// archive when it is still there, otherwise from the durable copy.
func (s *Store) Replay(ctx context.Context, id string) error {
	l, err := s.get(ctx, id)
	if err != nil {
		return err
	}
	taskID := l.ID[len(l.Queue)+1:]
	info, err := s.inspector.GetTaskInfo(l.Queue, taskID)
	switch {
	case err == nil && info.State == asynq.TaskStateArchived:
		if err := s.inspector.RunTask(l.Queue, taskID); err != nil {
			return fmt.Errorf("deadletter: replay %s: %w: %w", id, httpapi.ErrStoreUnavailable, err)
		}
	case err == nil:
		// Pending, scheduled, retrying, active or completed: it was run
		// again since (from the dashboard, say); nothing left to replay.
	case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
		if err := s.enqueue(ctx, l, taskID); err != nil {
			return err
		}
	default:
		return fmt.Errorf("deadletter: replay %s: %w: %w", id, httpapi.ErrStoreUnavailable, err)
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.letterKey(id))
		p.ZRem(ctx, s.indexKey(), id)
		return nil
	})
	return err
}

func (s *Store) enqueue(ctx context.Context, l stored, taskID string) error {
	_, err := s.queue.EnqueueContext(ctx, asynq.NewTask(l.Type, l.Payload), asynq.TaskID(taskID), asynq.Queue(l.Queue), asynq.Retention(s.retention))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("deadletter: replay %s: %w: %w", l.ID, httpapi.ErrStoreUnavailable, err)
	}
	return nil
}

// SweepTaskType is the periodic task that copies asynq's archive into the
// durable list, catching tasks archived by other means (a dashboard
// action, a lease that expired on the last attempt).
const SweepTaskType = "deadletter:sweep"

// Sweep records every archived task not yet in the list.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	queues, err := s.inspector.Queues()
	if err != nil {
		return 0, err
	}
	added := 0
	for _, q := range queues {
		for page := 1; ; page++ {
			tasks, err := s.inspector.ListArchivedTasks(q, asynq.PageSize(100), asynq.Page(page))
			if err != nil {
				return added, err
			}
			for _, t := range tasks {
				id := letterID(q, t.ID)
				n, err := s.rdb.Exists(ctx, s.letterKey(id)).Result()
				if err != nil {
					return added, err
				}
				if n > 0 {
					continue
				}
				if err := s.Record(ctx, jobs.Letter{TaskID: t.ID, Queue: q, Type: t.Type, Payload: t.Payload, Error: t.LastErr, Attempts: t.Retried + 1, FailedAt: t.LastFailedAt}); err != nil {
					return added, err
				}
				added++
			}
			if len(tasks) < 100 {
				break
			}
		}
	}
	return added, nil
}

// ProcessTask handles SweepTaskType.
func (s *Store) ProcessTask(ctx context.Context, _ *asynq.Task) error {
	_, err := s.Sweep(ctx)
	return err
}
