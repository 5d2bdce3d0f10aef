package rdb

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// GetBatcher reads keys with GET, each within a budget, and sends the GETs
// of concurrent callers together: while as many reads as it allows are
// out, later ones gather into one pipeline, sent when one of those comes
// back. Under load, Redis and the caller then pay one write and one read
// of the socket for many GETs instead of one each (the widget reads' main
// cost on both sides); a caller alone still sends its GET at once.
//
// go-redis's own automatic pipelining is not used: it runs every batch on
// a context of its own and honours no caller's deadline (its documentation
// says to use a plain client for commands that need one), and on a
// sidebar read, which does more than wait for Redis, its wait for more
// callers before a flush cost more than the batching saved.
//
// Each read holds its budget whatever Redis does: a pipeline's deadline is
// its first caller's arrival plus the budget, so every caller in it has at
// least its own; pipelines waiting are sent oldest first, each when a read
// or pipeline out ends, by its own earlier deadline.
type GetBatcher struct {
	rdb    redis.UniversalClient
	budget time.Duration
	out    int // reads or pipelines sent at once, at most

	mu      sync.Mutex
	sending int         // reads and pipelines out
	next    []*getBatch // waiting while sending == out, oldest first
}

// maxBatch bounds a pipeline, and so the answer Redis sends at once for
// it (a widget's document is 1 to 2 KB): go-redis's own automatic
// pipelining stops at 200 too.
const maxBatch = 200

// getBatch is a pipeline of GETs gathering callers.
type getBatch struct {
	first time.Time          // the first caller's arrival
	keys  []string           // one per caller, in arrival order
	lead  chan struct{}      // closed when the first caller may send it
	done  chan struct{}      // closed when cmds have run
	cmds  []*redis.StringCmd // one per key, with its answer
}

// NewGetBatcher returns a GetBatcher whose reads wait at most budget, with
// at most out reads or pipelines sent at once (1 or more). The client must
// honour its callers' deadlines (ContextTimeoutEnabled), as Open's do.
// Deadlines are of the wall clock, as the context's are: no clock is
// injected.
func NewGetBatcher(rdb redis.UniversalClient, budget time.Duration, out int) *GetBatcher {
	return &GetBatcher{rdb: rdb, budget: budget, out: max(out, 1)}
}

// Get is GET key within the budget, from ctx's values but not its
// cancellation: a read others share goes on if one caller leaves. A
// missing key is redis.Nil.
func (g *GetBatcher) Get(ctx context.Context, key string) (string, error) {
	arrived := time.Now()
	g.mu.Lock()
	if g.sending < g.out {
		g.sending++
		g.mu.Unlock()
		defer g.sent()
		ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), arrived.Add(g.budget))
		defer cancel()
		return g.rdb.Get(ctx, key).Result()
	}
	var b *getBatch
	if n := len(g.next); n > 0 && len(g.next[n-1].keys) < maxBatch {
		b = g.next[n-1]
	} else {
		b = &getBatch{first: arrived, lead: make(chan struct{}), done: make(chan struct{})}
		g.next = append(g.next, b)
	}
	i := len(b.keys)
	b.keys = append(b.keys, key)
	g.mu.Unlock()
	if i == 0 {
		// The first caller sends it, in the slot of the read whose end
		// hands it over; from then on no one joins it.
		<-b.lead
		defer g.sent()
		g.send(ctx, b)
	} else {
		<-b.done
	}
	return b.cmds[i].Result()
}

// send runs b's GETs as one pipeline, within its first caller's budget,
// and sets b.cmds.
func (g *GetBatcher) send(ctx context.Context, b *getBatch) {
	defer close(b.done)
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), b.first.Add(g.budget))
	defer cancel()
	b.cmds = make([]*redis.StringCmd, len(b.keys))
	pipe := g.rdb.Pipeline()
	for i, k := range b.keys {
		b.cmds[i] = pipe.Get(ctx, k)
	}
	// Exec's error is the first failed command's; each caller reads its
	// own command's.
	_, _ = pipe.Exec(ctx)
}

// sent ends a read or a pipeline: the oldest waiting pipeline, if any,
// takes its slot and is sent now.
func (g *GetBatcher) sent() {
	g.mu.Lock()
	var b *getBatch
	if len(g.next) == 0 {
		g.sending--
	} else {
		b = g.next[0]
		g.next[0] = nil
		g.next = g.next[1:]
	}
	g.mu.Unlock()
	if b != nil {
		close(b.lead)
	}
}
