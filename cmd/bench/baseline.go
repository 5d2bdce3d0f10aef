package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
)

const noopType = "bench:noop"

// noopResult is one run of the baseline.
type noopResult struct {
	n       int
	elapsed time.Duration // first enqueue to last task processed
	wake    time.Duration // first enqueue to first task processed
}

// rate counts from the first enqueue; steadyRate from the first task
// processed, which leaves out asynq's idle poll.
func (r noopResult) rate() float64       { return perSecond(r.n, r.elapsed) }
func (r noopResult) steadyRate() float64 { return perSecond(r.n-1, r.elapsed-r.wake) }

// runNoop is what asynq alone does on this Redis: n empty tasks enqueued by
// as many clients as the pipeline has senders, processed by a server with
// the bridge's concurrency. The server starts first, as the bridge's
// workers are already up when the events arrive; both wait out asynq's
// idle poll (0.5 to 1.5 s) before the first task.
func runNoop(ctx context.Context, addr string, db, n, concurrency, enqueuers int) (noopResult, error) {
	opt := asynq.RedisClientOpt{Addr: addr, DB: db}
	var (
		processed atomic.Int64
		first     atomic.Int64 // UnixNano of the first task
		last      atomic.Int64 // UnixNano of the n-th task
		done      = make(chan struct{})
	)
	mux := asynq.NewServeMux()
	mux.HandleFunc(noopType, func(context.Context, *asynq.Task) error {
		first.CompareAndSwap(0, time.Now().UnixNano())
		if processed.Add(1) == int64(n) {
			last.Store(time.Now().UnixNano())
			close(done)
		}
		return nil
	})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: concurrency, LogLevel: asynq.WarnLevel, ShutdownTimeout: 3 * time.Second})
	if err := srv.Start(mux); err != nil {
		return noopResult{}, fmt.Errorf("asynq server: %w", err)
	}
	defer srv.Shutdown()
	client := asynq.NewClient(opt)
	defer client.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan struct{})
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	start := time.Now()
	for range enqueuers {
		wg.Go(func() {
			for range next {
				if _, err := client.EnqueueContext(ctx, asynq.NewTask(noopType, nil)); err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("asynq enqueue: %w", err); cancel() })
					return
				}
			}
		})
	}
feed:
	for range n {
		select {
		case next <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return noopResult{}, firstErr
	}

	within := 30*time.Second + time.Duration(n)*5*time.Millisecond
	select {
	case <-done:
	case <-ctx.Done():
		return noopResult{}, ctx.Err()
	case <-time.After(within):
		return noopResult{}, fmt.Errorf("asynq processed %d of %d no-op tasks in %s", processed.Load(), n, within)
	}
	return noopResult{n: n, elapsed: time.Unix(0, last.Load()).Sub(start), wake: time.Unix(0, first.Load()).Sub(start)}, nil
}
