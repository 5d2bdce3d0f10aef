package jobs

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
)

// Periodic is work to enqueue every Every.
type Periodic struct {
	Name  string
	Every time.Duration
	// Task builds the task for one period.
	Task func() *asynq.Task
}

// Scheduler enqueues periodic tasks. Every replica runs one; the task id of
// each period derives from the period's start and is retained past the
// period, so only the first replica's enqueue succeeds and the work runs
// once per period, never twice and never in parallel with itself.
type Scheduler struct {
	q       Enqueuer
	entries []Periodic
	now     func() time.Time
	log     zerolog.Logger
}

// Enqueuer is the part of asynq.Client the scheduler uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// NewScheduler returns a scheduler for entries.
func NewScheduler(q Enqueuer, log zerolog.Logger, now func() time.Time, entries ...Periodic) *Scheduler {
	if now == nil {
		now = time.Now
	}
	return &Scheduler{q: q, entries: entries, now: now, log: log}
}

// Run enqueues each entry at the start of each of its periods until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	if len(s.entries) == 0 {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := make([]time.Time, len(s.entries))
	for {
		for i, e := range s.entries {
			period := s.now().Truncate(e.Every)
			if period.Equal(last[i]) {
				continue
			}
			if err := s.EnqueuePeriod(ctx, e, period); err != nil {
				s.log.Warn().Err(err).Str("periodic", e.Name).Msg("periodic task not enqueued; next tick retries")
				continue
			}
			last[i] = period
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// EnqueuePeriod enqueues e's task for the period starting at period; a
// replica that already did so makes this a no-op.
func (s *Scheduler) EnqueuePeriod(ctx context.Context, e Periodic, period time.Time) error {
	id := e.Name + ":" + strconv.FormatInt(period.Unix(), 10)
	// One retry: a period's work that fails is not retried over and
	// over, as the next period does it anyway; but it must have one, or a
	// run put off by a rate limit would be archived (asynq archives a
	// task on its last attempt).
	_, err := s.q.EnqueueContext(ctx, e.Task(), asynq.TaskID(id), asynq.Retention(2*e.Every), asynq.MaxRetry(1))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}
