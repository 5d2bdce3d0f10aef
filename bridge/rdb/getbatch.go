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
//
// On a Redis Cluster, reads gather per master of their key's slot: a
// pipeline ends with its slowest master, and a master that stops
// answering (until its replica takes over) must hold back none of the
// other masters' reads.
type GetBatcher struct {
	rdb     redis.UniversalClient
	cluster *redis.ClusterClient // rdb, when it is one
	budget  time.Duration
	out     int // reads or pipelines sent at once, per master, at most

	mu    sync.Mutex
	lanes map[string]*getLane // by master's address; "" for a single node
}

// getLane is the reads of one master.
type getLane struct {
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
	cluster, _ := rdb.(*redis.ClusterClient)
	return &GetBatcher{rdb: rdb, cluster: cluster, budget: budget, out: max(out, 1), lanes: map[string]*getLane{}}
}

// master names the master of key's slot, from the slots the cluster
// client holds (a round trip only while it has none); "" on a single
// node, or on a cluster whose slots are not known by the deadline: the
// read then goes in the lane of no master, and the client finds its node.
func (g *GetBatcher) master(ctx context.Context, key string, deadline time.Time) string {
	if g.cluster == nil {
		return ""
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	c, err := g.cluster.MasterForKey(ctx, key)
	if err != nil {
		return ""
	}
	return c.Options().Addr
}

// Get is GET key within the budget, from ctx's values but not its
// cancellation: a read others share goes on if one caller leaves. A
// missing key is redis.Nil.
func (g *GetBatcher) Get(ctx context.Context, key string) (string, error) {
	arrived := time.Now()
	deadline := arrived.Add(g.budget)
	master := g.master(ctx, key, deadline)
	g.mu.Lock()
	// Lanes of masters gone in a failover stay, idle: there are as many
	// as masters ever seen.
	l := g.lanes[master]
	if l == nil {
		l = &getLane{}
		g.lanes[master] = l
	}
	if l.sending < g.out {
		l.sending++
		g.mu.Unlock()
		defer g.sent(l)
		ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		return g.rdb.Get(ctx, key).Result()
	}
	var b *getBatch
	if n := len(l.next); n > 0 && len(l.next[n-1].keys) < maxBatch {
		b = l.next[n-1]
	} else {
		b = &getBatch{first: arrived, lead: make(chan struct{}), done: make(chan struct{})}
		l.next = append(l.next, b)
	}
	i := len(b.keys)
	b.keys = append(b.keys, key)
	g.mu.Unlock()
	if i == 0 {
		// The first caller sends it, in the slot of the read whose end
		// hands it over; from then on no one joins it.
		<-b.lead
		defer g.sent(l)
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

// sent ends a read or a pipeline of l: the oldest of l's waiting
// pipelines, if any, takes its slot and is sent now.
func (g *GetBatcher) sent(l *getLane) {
	g.mu.Lock()
	var b *getBatch
	if len(l.next) == 0 {
		l.sending--
	} else {
		b = l.next[0]
		l.next[0] = nil
		l.next = l.next[1:]
	}
	g.mu.Unlock()
	if b != nil {
		close(b.lead)
	}
}
