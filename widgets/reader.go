package widgets

import (
	"context"
	"errors"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Snapshot is a customer's document as a read found it.
type Snapshot struct {
	// Rev identifies the document's content; "" for an unknown customer.
	Rev       string
	Doc       *Document
	Freshness Freshness
}

// Reader reads customers' documents within a time budget. Identical reads
// in flight share one Redis GET. The last document read of each customer
// stays in memory, decoded, so that an unchanged document is not decoded
// again, and so that a read that cannot reach Redis in time answers with
// it and its age.
type Reader struct {
	rdb    redis.UniversalClient
	store  *Store
	budget time.Duration
	now    func() time.Time
	group  singleflight.Group
	last   *lru.Cache[string, *known]
}

// known is a document as last read from Redis.
type known struct {
	rev    string
	doc    *Document
	readAt time.Time
}

// NewReader returns a Reader that waits at most budget for Redis and
// remembers the last document of up to lastKnown customers.
func NewReader(rdb redis.UniversalClient, store *Store, budget time.Duration, lastKnown int, now func() time.Time) *Reader {
	last, err := lru.New[string, *known](max(lastKnown, 1))
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &Reader{rdb: rdb, store: store, budget: budget, now: now, last: last}
}

// Read returns a customer's document. It never fails: past the budget, or
// when Redis errs, it answers with the last known document marked stale,
// or with StateUnavailable and an empty document.
func (r *Reader) Read(ctx context.Context, merchant, email string) Snapshot {
	key := r.store.DocKey(merchant, email)
	deadline := time.NewTimer(r.budget)
	defer deadline.Stop()
	// The fetch runs detached from this request, under the budget: one
	// caller giving up must not fail the others sharing the fetch.
	ch := r.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.budget)
		defer cancel()
		return r.fetch(fctx, key, email)
	})
	var why error
	select {
	case res := <-ch:
		if res.Err == nil {
			k := res.Val.(*known)
			return Snapshot{Rev: k.rev, Doc: k.doc, Freshness: Freshness{State: StateOK}}
		}
		why = res.Err
	case <-deadline.C:
		why = fmt.Errorf("no answer from redis within %s", r.budget)
	case <-ctx.Done():
		why = ctx.Err()
	}
	zerolog.Ctx(ctx).Warn().Err(why).Msg("widget answered from memory")
	if k, ok := r.last.Get(key); ok {
		return Snapshot{Rev: k.rev, Doc: k.doc, Freshness: Freshness{State: StateStale, AsOf: k.readAt, Age: r.now().Sub(k.readAt)}}
	}
	return Snapshot{Doc: &Document{Customer: Customer{Email: NormalizeEmail(email)}, Orders: []Order{}}, Freshness: Freshness{State: StateUnavailable}}
}

// fetchScript is a conditional GET: with the revision the reader already
// holds, an unchanged document answers 1 instead of its 10+ KB. It is
// still one round trip, and a missing document answers nil.
var fetchScript = redis.NewScript(`
local rev = redis.call("GETRANGE", KEYS[1], 0, ` + revLenMinusOne + `)
if rev == "" then return false end
if rev == ARGV[1] then return 1 end
return redis.call("GET", KEYS[1])`)

const revLenMinusOne = "15" // revLen - 1, as GETRANGE's inclusive end

// fetch is the one round trip of a read.
func (r *Reader) fetch(ctx context.Context, key, email string) (*known, error) {
	prev, _ := r.last.Get(key)
	held := ""
	if prev != nil {
		held = prev.rev
	}
	res, err := fetchScript.Run(ctx, r.rdb, []string{key}, held).Result()
	now := r.now()
	if errors.Is(err, redis.Nil) {
		k := &known{doc: &Document{Customer: Customer{Email: NormalizeEmail(email)}, Orders: []Order{}}, readAt: now}
		r.last.Add(key, k)
		return k, nil
	}
	if err != nil {
		return nil, err
	}
	if n, ok := res.(int64); ok && n == 1 && prev != nil {
		// Unchanged: keep the decoded document, note the read.
		k := &known{rev: prev.rev, doc: prev.doc, readAt: now}
		r.last.Add(key, k)
		return k, nil
	}
	raw, ok := res.(string)
	if !ok {
		return nil, fmt.Errorf("widgets: unexpected answer %T from the document fetch", res)
	}
	rev, doc, err := decodeDoc([]byte(raw))
	if err != nil {
		return nil, err
	}
	k := &known{rev: rev, doc: doc, readAt: now}
	r.last.Add(key, k)
	return k, nil
}
