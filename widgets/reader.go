package widgets

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Snapshot is a customer's document as a read found it, or the render of
// it kept for the sidebar read (see ReadSidebar).
type Snapshot struct {
	// Rev identifies the document's content; "" for an unknown customer.
	Rev string
	// Doc is nil when Pre is set.
	Doc *orders.Document
	// Pre is the sidebar's render of the document, when it has one.
	Pre       *Prerendered
	Freshness Freshness
	k         *known // the value read, when a sidebar's (see WithDocument, refill)
}

// Reader reads customers' documents within a time budget. Identical reads
// in flight share one Redis GET; sidebar reads of different customers go
// to Redis together under load (see getsOut). The last document read of
// each customer stays in memory, decoded, so that an unchanged document
// is not decoded again, and so that a read that cannot reach Redis in
// time answers with it and its age.
type Reader struct {
	rdb    redis.UniversalClient
	gets   *rdb.GetBatcher
	store  *orders.Store
	budget time.Duration
	now    func() time.Time
	last   *lru.Cache[string, *known]

	mu      sync.Mutex
	flights map[flightKey]*flight // fetches in flight
}

// flightKey names a fetch: a document, and the render read with it.
type flightKey struct{ doc, field string }

// flight is one fetch that identical reads share.
type flight struct {
	done chan struct{} // closed once k or err is set
	k    *known
	pre  *Prerendered // a sidebar's render read with k, if current
	err  error
}

// known is a document as last read from Redis. A document read for a
// sidebar is kept as stored, renders and all, and decoded only when
// something needs it (a stale answer, a render past its hour): a read
// served from the render does not pay for it. The value stays for a
// refill, which puts a render into that very value.
type known struct {
	rev    string
	readAt time.Time

	once sync.Once
	raw  string // the stored value, renders and all, when read as such
	doc  *orders.Document
	err  error
}

// document is the decoded document.
func (k *known) document() (*orders.Document, error) {
	k.once.Do(func() {
		if k.doc == nil && k.err == nil {
			_, k.doc, k.err = orders.DecodeDocument([]byte(k.raw))
		}
	})
	return k.doc, k.err
}

// getsOut is how many sidebar GETs, or pipelines of them, a reader has
// out at once; later reads gather into one pipeline meanwhile. Two keep
// Redis busy while the next pipeline gathers, and a read alone never
// waits. On two shared cores, reads of customers spread over 100,000
// went from about 0.85 to about 0.92 of a plain GET handler's rate, with
// one out as with two; two gave the lower median latency. On a Redis
// Cluster, the count is per master (see rdb.GetBatcher).
const getsOut = 2

// NewReader returns a Reader that waits at most budget for Redis and
// remembers the last document of up to lastKnown customers.
func NewReader(client redis.UniversalClient, store *orders.Store, budget time.Duration, lastKnown int, now func() time.Time) *Reader {
	last, err := lru.New[string, *known](max(lastKnown, 1))
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Reader{rdb: client, gets: rdb.NewGetBatcher(client, budget, getsOut), store: store, budget: budget, now: now, last: last, flights: map[flightKey]*flight{}}
}

// Read returns a customer's document. It never fails: past the budget, or
// when Redis errs, it answers with the last known document marked stale,
// or with StateUnavailable and an empty document.
func (r *Reader) Read(ctx context.Context, merchant, email string) Snapshot {
	return r.ReadSidebar(ctx, merchant, email, "")
}

// ReadSidebar is Read for a sidebar whose renders are kept under field
// (View.renderField): one GET reads the document's value, renders
// included, and the snapshot holds the sidebar's render when it has one
// (the document is then decoded only if the render cannot serve).
func (r *Reader) ReadSidebar(ctx context.Context, merchant, email, field string) Snapshot {
	key := r.store.DocKey(merchant, email)
	var f *flight
	var led bool
	if field != "" {
		f, led = r.share(flightKey{key, field}, func(f *flight) error { return r.fetchPre(ctx, f, key, email, field) })
	} else {
		f, led = r.share(flightKey{doc: key}, func(f *flight) (err error) {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.budget)
			defer cancel()
			f.k, err = r.fetch(fctx, key, email)
			return err
		})
	}
	var why error
	if !led {
		why = r.wait(ctx, f)
	}
	if why == nil {
		if why = f.err; why == nil {
			if f.pre != nil {
				return Snapshot{Rev: f.k.rev, Pre: f.pre, k: f.k, Freshness: Freshness{State: StateOK}}
			}
			doc, err := f.k.document()
			if err == nil {
				return Snapshot{Rev: f.k.rev, Doc: doc, k: f.k, Freshness: Freshness{State: StateOK}}
			}
			why = err
		}
	}
	return r.fallback(ctx, key, email, why)
}

// wait waits for a fetch another read leads, at most the budget.
func (r *Reader) wait(ctx context.Context, f *flight) error {
	deadline := time.NewTimer(r.budget)
	defer deadline.Stop()
	select {
	case <-f.done:
		return nil
	case <-deadline.C:
		return fmt.Errorf("no answer from redis within %s", r.budget)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WithDocument is snap with its document decoded, for a render that
// cannot serve (its links are of an hour past); past a decoding error,
// the fallback's answer.
func (r *Reader) WithDocument(ctx context.Context, merchant, email string, snap Snapshot) Snapshot {
	if snap.Pre == nil || snap.k == nil {
		return snap
	}
	doc, err := snap.k.document()
	if err != nil {
		return r.fallback(ctx, r.store.DocKey(merchant, email), email, err)
	}
	snap.Doc, snap.Pre = doc, nil
	return snap
}

// fallback is the answer of a read that failed: the last known document,
// marked stale, or StateUnavailable and an empty document.
func (r *Reader) fallback(ctx context.Context, key, email string, why error) Snapshot {
	zerolog.Ctx(ctx).Warn().Err(why).Msg("widget answered from memory")
	if k, ok := r.last.Get(key); ok {
		if doc, err := k.document(); err == nil {
			return Snapshot{Rev: k.rev, Doc: doc, Freshness: Freshness{State: StateStale, AsOf: k.readAt, Age: r.now().Sub(k.readAt)}}
		}
	}
	return Snapshot{Doc: &orders.Document{Customer: orders.Customer{Email: orders.NormalizeEmail(email)}, Orders: []orders.Order{}}, Freshness: Freshness{State: StateUnavailable}}
}

// share returns the fetch in flight for key, or runs one, on the caller's
// goroutine (led is then true). A fetch is detached from its request,
// under the budget: the leader giving up must not fail the reads sharing
// it. Its deadline holds whatever Redis does: every connection's reads
// and writes, its dial and the pool's wait follow the context's deadline
// (rdb.Open enables ContextTimeoutEnabled).
func (r *Reader) share(key flightKey, fetch func(*flight) error) (f *flight, led bool) {
	r.mu.Lock()
	if f, ok := r.flights[key]; ok {
		r.mu.Unlock()
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	r.flights[key] = f
	r.mu.Unlock()
	f.err = fetch(f)
	r.mu.Lock()
	delete(r.flights, key)
	r.mu.Unlock()
	close(f.done)
	return f, true
}

// fetchScript is a conditional GET: with the revision the reader already
// holds, an unchanged document answers 1 instead of its 10+ KB. It is
// still one round trip, and a missing document answers nil.
var fetchScript = redis.NewScript(`
local rev = redis.call("GETRANGE", KEYS[1], 0, ` + strconv.Itoa(orders.RevLen-1) + `)
if rev == "" then return false end
if rev == ARGV[1] then return 1 end
return redis.call("GET", KEYS[1])`)

// fetch is the one round trip of a read: the conditional GET when this
// replica holds the customer's document, a plain GET otherwise, which
// costs Redis a fraction of running the script for the same answer.
func (r *Reader) fetch(ctx context.Context, key, email string) (*known, error) {
	prev, _ := r.last.Get(key)
	var res any
	var err error
	if prev != nil {
		res, err = fetchScript.Run(ctx, r.rdb, []string{key}, prev.rev).Result()
	} else {
		res, err = r.rdb.Get(ctx, key).Result()
	}
	now := r.now()
	if errors.Is(err, redis.Nil) {
		k := &known{doc: &orders.Document{Customer: orders.Customer{Email: orders.NormalizeEmail(email)}, Orders: []orders.Order{}}, readAt: now}
		r.last.Add(key, k)
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if n, ok := res.(int64); ok && n == 1 && prev != nil {
		// Unchanged: keep the decoded document, note the read.
		doc, err := prev.document()
		if err != nil {
			return nil, err
		}
		k := &known{rev: prev.rev, doc: doc, readAt: now}
		r.last.Add(key, k)
		return k, nil
	}
	raw, ok := res.(string)
	if !ok {
		return nil, fmt.Errorf("widgets: unexpected answer %T from the document fetch", res)
	}
	rev, doc, err := orders.DecodeDocument([]byte(raw))
	if err != nil {
		return nil, err
	}
	k := &known{rev: rev, doc: doc, readAt: now}
	r.last.Add(key, k)
	return k, nil
}

// fetchPre is the one round trip of a sidebar read: one GET of the
// customer's document, whose value holds its sidebars' renders after it,
// sent with other customers' under load (the batcher keeps the budget).
// The value is kept as it is (decoded only if needed), for a stale answer
// later and for a refill.
func (r *Reader) fetchPre(ctx context.Context, f *flight, key, email, field string) error {
	// As a string: the render sent is a part of it, never a copy.
	raw, err := r.gets.Get(ctx, key)
	now := r.now()
	if errors.Is(err, redis.Nil) {
		f.k = &known{doc: &orders.Document{Customer: orders.Customer{Email: orders.NormalizeEmail(email)}, Orders: []orders.Order{}}, readAt: now}
		r.last.Add(key, f.k)
		return nil
	}
	if err != nil {
		return err
	}
	if len(raw) < orders.RevLen {
		return errors.New("widgets: stored document has no revision")
	}
	f.k = &known{rev: raw[:orders.RevLen], raw: raw, readAt: now}
	r.last.Add(key, f.k)
	if b := orders.StoredRender(raw, field); b != "" {
		if p, err := decodePrerendered(b); err == nil && p.Rev == f.k.rev {
			f.pre = p
		}
	}
	return nil
}
