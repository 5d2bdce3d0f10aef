package rdb

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// roundTrips counts the GETs a client sends: single ones, and pipelines
// of them with their sizes (a new connection's set-up is left out).
type roundTrips struct {
	mu        sync.Mutex
	singles   int
	pipelines []int
}

func (h *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			h.mu.Lock()
			h.singles++
			h.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}

func (h *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if cmds[0].Name() == "get" {
			h.mu.Lock()
			h.pipelines = append(h.pipelines, len(cmds))
			h.mu.Unlock()
		}
		return next(ctx, cmds)
	}
}

// batcherClient is a client as Open makes them, honouring deadlines.
func batcherClient(t *testing.T, srv *rdbtest.Server) (*redis.Client, *roundTrips) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	h := &roundTrips{}
	c.AddHook(h)
	return c, h
}

// getAll runs Get for keys 0..n-1 at once and returns what each got.
func getAll(g *GetBatcher, n int) ([]string, []error) {
	vals, errs := make([]string, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { vals[i], errs[i] = g.Get(context.Background(), fmt.Sprintf("k%d", i)) })
	}
	wg.Wait()
	return vals, errs
}

// Reads that arrive while one is out go together in pipelines of at most
// maxBatch, each caller gets its own key's value, and a missing key fails
// only its own.
func TestGetBatcherSendsWaitingReadsTogether(t *testing.T) {
	t.Parallel()
	srv := rdbtest.Start(t)
	c, h := batcherClient(t, srv)
	ctx := context.Background()
	const n = maxBatch + 50
	for i := range n {
		if i != 7 {
			if err := c.Set(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Redis holds every command for a moment: the first read is out while
	// the others arrive.
	if err := c.Do(ctx, "CLIENT", "PAUSE", "300", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	vals, errs := getAll(NewGetBatcher(c, 5*time.Second, 1), n)
	for i := range n {
		switch {
		case i == 7 && !errors.Is(errs[i], redis.Nil):
			t.Errorf("missing key: %q, %v; want redis.Nil", vals[i], errs[i])
		case i != 7 && (errs[i] != nil || vals[i] != fmt.Sprintf("v%d", i)):
			t.Errorf("k%d: %q, %v", i, vals[i], errs[i])
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.singles != 1 || len(h.pipelines) != 2 || h.pipelines[0] != maxBatch || h.pipelines[1] != n-1-maxBatch {
		t.Errorf("%d reads at once went as %d single GETs and pipelines of %v, want 1, then %d and %d", n, h.singles, h.pipelines, maxBatch, n-1-maxBatch)
	}
}

// Every read ends within its budget when Redis hangs, the ones gathered
// behind a hung read too, and reads work again once Redis is back. A
// caller that leaves does not fail a read.
func TestGetBatcherHoldsTheBudget(t *testing.T) {
	t.Parallel()
	srv := rdbtest.Start(t)
	c, _ := batcherClient(t, srv)
	g := NewGetBatcher(c, 200*time.Millisecond, 1)
	srv.Signal(t, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			srv.Signal(t, syscall.SIGCONT)
		}
	}()
	done := make(chan []error, 1)
	go func() { _, errs := getAll(g, 20); done <- errs }()
	select {
	case errs := <-done:
		for i, err := range errs {
			if err == nil {
				t.Errorf("k%d: no error from a stopped Redis", i)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reads of a stopped Redis did not end within their 200 ms budget")
	}
	srv.Signal(t, syscall.SIGCONT)
	stopped = false

	ctx := context.Background()
	if err := c.Set(ctx, "k0", "v0", 0).Err(); err != nil {
		t.Fatal(err)
	}
	left, cancel := context.WithCancel(ctx)
	cancel()
	if v, err := g.Get(left, "k0"); err != nil || v != "v0" {
		t.Errorf("after Redis came back, with the caller gone: %q, %v", v, err)
	}
}

// On a cluster, reads gather per master: while one master stops
// answering, reads of another's keys go on at once rather than waiting
// behind the stopped one's for their budget.
func TestGetBatcherKeepsMastersApart(t *testing.T) {
	t.Parallel()
	stopped, live := rdbtest.Start(t), rdbtest.Start(t)
	// Two single nodes, given half the slots each, as a cluster client
	// sees two masters.
	c := redis.NewClusterClient(&redis.ClusterOptions{
		ClusterSlots: func(context.Context) ([]redis.ClusterSlot, error) {
			return []redis.ClusterSlot{
				{Start: 0, End: 8191, Nodes: []redis.ClusterNode{{Addr: stopped.Addr}}},
				{Start: 8192, End: 16383, Nodes: []redis.ClusterNode{{Addr: live.Addr}}},
			}, nil
		},
		MaxRetries: -1, ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = c.Close() })
	// keyOn is a key whose slot is in the stopped half or not.
	keyOn := func(stoppedHalf bool, skip int) string {
		for i := 0; ; i++ {
			k := fmt.Sprintf("k%d", i)
			if (rdbtest.Slot(k) < 8192) == stoppedHalf {
				if skip == 0 {
					return k
				}
				skip--
			}
		}
	}
	ctx := context.Background()
	liveKey := keyOn(false, 0)
	if err := c.Set(ctx, liveKey, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	g := NewGetBatcher(c, 30*time.Second, 1)
	stopped.Signal(t, syscall.SIGSTOP)
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			stopped.Signal(t, syscall.SIGCONT)
		}
	}
	defer resume()
	// One read of the stopped master out, two gathered behind it.
	var wg sync.WaitGroup
	hung := make(chan struct{})
	for i := range 3 {
		wg.Go(func() {
			_, _ = g.Get(ctx, keyOn(true, i))
			select {
			case <-hung:
			default:
				t.Errorf("a read of the stopped master ended while it was stopped")
			}
		})
	}
	for arrived := 0; arrived < 3; runtime.Gosched() {
		g.mu.Lock()
		arrived = 0
		for _, l := range g.lanes {
			arrived += l.sending
			for _, b := range l.next {
				arrived += len(b.keys)
			}
		}
		g.mu.Unlock()
	}
	// The stopped master's reads cannot end before SIGCONT: this one ends
	// first only if it does not wait behind them (for their budget).
	read := make(chan error, 1)
	go func() {
		v, err := g.Get(ctx, liveKey)
		if err == nil && v != "v" {
			err = fmt.Errorf("got %q, want v", v)
		}
		read <- err
	}()
	select {
	case err := <-read:
		if err != nil {
			t.Errorf("read of the live master: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the read of the live master waited behind the stopped master's")
	}
	close(hung)
	resume()
	wg.Wait()
}
