// Package jobs is the Asynq side of the bridge: the worker server with its
// middleware (a logger carrying the task id, metrics, and the dead-letter
// record of every task whose retries run out), the retry policy that
// honours a vendor's Retry-After, and a scheduler that several replicas can
// run at once without enqueuing the same periodic work twice.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// Observer counts task outcomes.
type Observer interface {
	TaskProcessed(taskType string)
	TaskFailed(taskType string, willRetry bool)
}

// DeadLetters durably records a task that will not be retried again.
type DeadLetters interface {
	Record(ctx context.Context, l Letter) error
}

// Letter describes a task whose retries ran out.
type Letter struct {
	TaskID   string
	Queue    string
	Type     string
	Payload  []byte
	Error    string
	Attempts int
	FailedAt time.Time
}

// Pacer opens and closes the rate-limit session of one task attempt: the
// calls made with Begin's context are paced in the priority class of the
// task's queue. bridge/ratelimit's Limiter is one.
type Pacer interface {
	Begin(ctx context.Context, taskID, taskType, queue string) context.Context
	End(ctx context.Context)
}

// Options configure the worker server.
type Options struct {
	Redis           redis.UniversalClient
	Concurrency     int
	Queues          map[string]int
	ShutdownTimeout time.Duration
	// RetryBase and RetryMax bound the exponential backoff used when the
	// vendor gave no Retry-After.
	RetryBase, RetryMax time.Duration
	// DelayedCheck is how often retries and deferred tasks that are due
	// move back to their queue (default 250 ms: a deferred task is late by
	// up to that much).
	DelayedCheck time.Duration
	// IdleCheck is how often an idle server looks for new tasks (default
	// 200 ms).
	IdleCheck   time.Duration
	Pacer       Pacer // nil: calls are not paced per task
	Logger      zerolog.Logger
	Observer    Observer
	DeadLetters DeadLetters
	Now         func() time.Time
}

// Server runs task handlers.
type Server struct {
	srv    *asynq.Server
	mux    *asynq.ServeMux
	client *asynq.Client // re-enqueues a deferred task on its last attempt
	opts   Options
}

// NewServer builds a worker server; register handlers, then Start.
func NewServer(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 2 * time.Second
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 10 * time.Minute
	}
	if opts.DelayedCheck <= 0 {
		opts.DelayedCheck = 250 * time.Millisecond
	}
	if opts.IdleCheck <= 0 {
		opts.IdleCheck = 200 * time.Millisecond
	}
	s := &Server{mux: asynq.NewServeMux(), opts: opts, client: asynq.NewClientFromRedisClient(opts.Redis)}
	s.srv = asynq.NewServerFromRedisClient(opts.Redis, asynq.Config{
		Concurrency:              opts.Concurrency,
		Queues:                   opts.Queues,
		ShutdownTimeout:          opts.ShutdownTimeout,
		DelayedTaskCheckInterval: opts.DelayedCheck,
		TaskCheckInterval:        opts.IdleCheck,
		RetryDelayFunc:           s.retryDelay,
		// A task put off by its account's rate limit, or paused by a 429,
		// has not failed: its retry count stays as it was.
		IsFailure: func(err error) bool { return !paused(err) },
		Logger:    asynqLogger{opts.Logger},
		// The middleware logs failures once, with the task id.
		ErrorHandler: nil,
	})
	s.mux.Use(s.middleware)
	return s
}

// Handle registers a handler for a task type.
func (s *Server) Handle(taskType string, h asynq.Handler) { s.mux.Handle(taskType, h) }

// Start begins processing in the background.
func (s *Server) Start() error { return s.srv.Start(s.mux) }

// Shutdown stops fetching new tasks and waits for the running ones, up to
// the shutdown timeout; unfinished tasks go back to their queue.
func (s *Server) Shutdown() { s.srv.Shutdown() }

// paused tells a task that waits for its turn at an account (its budget
// spent, a 429's pause, or an earlier uncertain write given time to land)
// from one that failed.
func paused(err error) bool {
	var rl *connectors.RateLimitedError
	var se *connectors.SettleError
	_, deferred := connectors.Deferred(err)
	waiting := errors.As(err, &se) && se.Err == nil // this attempt wrote nothing
	return deferred || waiting || errors.As(err, &rl)
}

// retryDelay brings a deferred task back when its turn is due, waits as
// long as the vendor asked when it said so, and otherwise backs off
// exponentially with jitter.
func (s *Server) retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if d, ok := connectors.Deferred(err); ok {
		return s.dueIn(d.Until)
	}
	if d, ok := connectors.RetryDelay(err); ok {
		return d + time.Duration(rand.Int64N(int64(500*time.Millisecond)))
	}
	d := s.opts.RetryBase << min(n, 20)
	if d <= 0 || d > s.opts.RetryMax {
		d = s.opts.RetryMax
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// dueIn is the delay that brings a task back at until, not before: asynq
// schedules in whole seconds, and a task woken early would only be put off
// again.
func (s *Server) dueIn(until time.Time) time.Duration {
	now := time.Now() // asynq's clock, not an injected one: it adds the delay to it
	at := until.Truncate(time.Second)
	if at.Before(until) {
		at = at.Add(time.Second)
	}
	return max(at.Sub(now)+5*time.Millisecond, 0)
}

func (s *Server) middleware(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		maxRetry, _ := asynq.GetMaxRetry(ctx)
		queue, _ := asynq.GetQueueName(ctx)
		log := s.opts.Logger.With().Str("task_id", id).Str("task_type", t.Type()).Int("attempt", retried+1).Logger()
		ctx = log.WithContext(ctx)

		if s.opts.Pacer != nil {
			ctx = s.opts.Pacer.Begin(ctx, id, t.Type(), queue)
		}
		err := next.ProcessTask(ctx, t)
		if s.opts.Pacer != nil {
			s.opts.Pacer.End(ctx)
		}
		if d, ok := connectors.Deferred(err); ok {
			log.Debug().Str("system", d.System).Str("class", d.Class).Time("until", d.Until).Msg("task deferred: its account's budget is spent")
			if retried >= maxRetry {
				// asynq archives a task on its last attempt whatever
				// IsFailure says: put a copy back instead.
				return s.requeue(ctx, t, id, queue, maxRetry, d.Until)
			}
			return err
		}
		if err == nil {
			if s.opts.Observer != nil {
				s.opts.Observer.TaskProcessed(t.Type())
			}
			log.Debug().Msg("task done")
			return nil
		}
		if errors.Is(err, asynq.RevokeTask) {
			log.Warn().Err(err).Msg("task revoked")
			return err
		}
		final := errors.Is(err, asynq.SkipRetry) || retried >= maxRetry
		if s.opts.Observer != nil {
			s.opts.Observer.TaskFailed(t.Type(), !final)
		}
		if !final {
			log.Warn().Err(err).Msg("task failed, will retry")
			return err
		}
		log.Error().Err(err).Msg("task archived: it will not be retried; replay it from the dead letters")
		if s.opts.DeadLetters != nil {
			rec := Letter{TaskID: id, Queue: queue, Type: t.Type(), Payload: t.Payload(), Error: err.Error(), Attempts: retried + 1, FailedAt: s.opts.Now()}
			if rerr := s.opts.DeadLetters.Record(context.WithoutCancel(ctx), rec); rerr != nil {
				// The periodic sweep of asynq's archive records it later.
				log.Error().Err(rerr).Msg("dead letter not recorded")
			}
		}
		return err
	})
}

// requeue enqueues a copy of a deferred task on its last attempt, due at
// until, and lets the original end. Its id derives from the original's
// and the due time, so a crash between the two leaves one copy at most.
func (s *Server) requeue(ctx context.Context, t *asynq.Task, id, queue string, maxRetry int, until time.Time) error {
	copyID := strings.SplitN(id, "~", 2)[0] + "~" + strconv.FormatInt(until.UnixMilli(), 36)
	_, err := s.client.EnqueueContext(ctx, asynq.NewTaskWithHeaders(t.Type(), t.Payload(), t.Headers()),
		asynq.Queue(queue), asynq.TaskID(copyID), asynq.ProcessAt(until), asynq.MaxRetry(maxRetry))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("jobs: put deferred task %s back: %w", id, err)
	}
	return nil
}

// asynqLogger routes asynq's own log lines into zerolog.
type asynqLogger struct{ l zerolog.Logger }

func (a asynqLogger) Debug(args ...interface{}) { a.l.Debug().Msgf("asynq: %v", args...) }
func (a asynqLogger) Info(args ...interface{})  { a.l.Info().Msgf("asynq: %v", args...) }
func (a asynqLogger) Warn(args ...interface{})  { a.l.Warn().Msgf("asynq: %v", args...) }
func (a asynqLogger) Error(args ...interface{}) { a.l.Error().Msgf("asynq: %v", args...) }
func (a asynqLogger) Fatal(args ...interface{}) { a.l.Fatal().Msgf("asynq: %v", args...) }
