// Package ratelimit paces calls to external accounts with a GCRA budget
// kept in Redis, so that every replica of the bridge draws from the same
// budget and stays under a vendor's limit instead of bouncing off its 429s.
//
// A worker never sleeps on that budget. When an account's budget is spent,
// the call fails at once with a *connectors.DeferredError that says when
// the task's turn comes; the task gives its worker back and asynq brings
// it back then (see bridge/jobs). Only a wait of a few tens of
// milliseconds is taken in place. Work for an idle account therefore never
// queues behind another account's backlog.
//
// Within one account, the budget goes to work by priority class
// (interactive replies, then alerts, then new marketplace messages, then
// bulk work). A class may only take a call while the bucket holds more
// than its headroom, so that the classes above it always find calls left;
// and a class that has waited for several call intervals without being
// served takes the next call anyway, so bulk work keeps a share and never
// starves. Deferred tasks are spread in time by their place in the
// account's line, so that they come back one after another instead of all
// at once.
//
// go-redis/redis_rate implements plain GCRA; the bridge needs priority
// classes, reservations for a whole task and refunds of what a task did
// not use, which is why the GCRA lives in this package's own script.
package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// Limit is a budget of Requests per Per, with bursts up to Burst.
type Limit struct {
	Requests int
	Per      time.Duration
	// Burst is how many calls may go at once after a quiet spell; zero
	// means Requests less a 5% margin (at least one call).
	Burst int
}

// Class is a priority class within one account's budget; lower goes first.
type Class int

// The classes, highest priority first.
const (
	Interactive Class = iota // agents' replies
	Alerts                   // alert tickets and their resolution
	Messages                 // new marketplace messages, periodic syncs
	Bulk                     // first backfills, resyncs of a whole account
	numClasses
)

var classNames = [numClasses]string{"interactive", "alerts", "messages", "bulk"}

func (c Class) String() string {
	if c < 0 || c >= numClasses {
		return fmt.Sprintf("class(%d)", int(c))
	}
	return classNames[c]
}

// headroom is the share of the bucket each class leaves to the classes
// above it: bulk work stops taking calls while fewer than 30% of the burst
// is left, so a reply or an alert arriving during a backfill goes at once.
var headroom = [numClasses]float64{0, 0.1, 0.2, 0.3}

// Reach is how many calls of a full bucket of burst work of class c may
// take before it leaves the rest to the classes above it.
func (c Class) Reach(burst int) int { return burst - int(float64(burst)*headroom[c]) }

// Tuning of the script; see take.lua.
const (
	// starveAfter: a class not served for this many call intervals while
	// it waits takes the next call whatever its headroom (about a fifth
	// of a saturated budget at least).
	starveAfter = 5
	// late is how far past its due time a deferred task still holds its
	// turn against newcomers: asynq moves due tasks back in whole seconds.
	late = 2 * time.Second
	// forgetAfter: a deferred task that has not come back this long after
	// it was due (deleted, or its account's work is done) leaves the line.
	forgetAfter = time.Minute
	// maxDefer bounds one deferral; a task further back in the line comes
	// back, finds its new place and goes again.
	maxDefer = 10 * time.Minute
	// inPlace is the longest wait a task takes in place.
	inPlace = 50 * time.Millisecond
	// outsideTask is the longest wait a caller outside any task (an HTTP
	// request) takes; past it, it is told to come back, as a 429 would.
	outsideTask = 2 * time.Second
)

// Limiter implements connectors.Limiter over Redis, and opens the pacing
// session of each task attempt (Begin, End) for bridge/jobs.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time

	mu      sync.RWMutex
	limits  map[string]gcra
	classes map[string]Class // by asynq queue

	est estimates
}

// gcra is one account's budget in the script's terms.
type gcra struct {
	interval time.Duration // between two calls at the sustained rate
	burst    int
}

// New returns a limiter whose keys start with prefix. now may be nil.
func New(rdb redis.UniversalClient, prefix string, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rdb: rdb, prefix: prefix, now: now, limits: map[string]gcra{}, classes: map[string]Class{}, est: estimates{m: map[string]*estimate{}}}
}

// Set gives key its budget. A key without one is not paced, though a 429's
// penalty still holds it back.
func (l *Limiter) Set(key string, lim Limit) {
	if lim.Requests <= 0 || lim.Per <= 0 {
		return
	}
	burst := lim.Burst
	if burst <= 0 {
		// The vendor's bucket starts filling when our first call reaches
		// it, later than we let it go; a later call that travels faster
		// arrives early. A bucket exactly as deep as the vendor's then
		// overflows it by one right after a burst: keep a margin.
		burst = max(1, lim.Requests-max(1, lim.Requests/20))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limits[key] = gcra{interval: lim.Per / time.Duration(lim.Requests), burst: burst}
}

// SetClass says which priority class the tasks of an asynq queue have.
// Tasks of other queues, and calls made outside any task, are Interactive.
func (l *Limiter) SetClass(queue string, c Class) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.classes[queue] = c
}

func (l *Limiter) limit(key string) (gcra, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	g, ok := l.limits[key]
	return g, ok
}

func (l *Limiter) classOf(queue string) Class {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.classes[queue] // Interactive when unknown
}

// keys are one account's keys, under one hash tag so that the script's
// keys share a Cluster slot: tat, penalty, last service per class, then
// the line of each class (first seen) and its due times.
func (l *Limiter) keys(key string) []string {
	base := l.prefix + "ratelimit:{" + key + "}"
	ks := []string{base, base + ":blocked", base + ":served"}
	for c := range numClasses {
		ks = append(ks, fmt.Sprintf("%s:line:%d", base, c))
	}
	for c := range numClasses {
		ks = append(ks, fmt.Sprintf("%s:due:%d", base, c))
	}
	return ks
}

//go:embed take.lua
var takeSource string

var takeScript = redis.NewScript(takeSource)

// refundScript gives back n calls reserved but not made: the bucket
// regains them, up to full.
var refundScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call("GET", KEYS[1]) or "0")
if tat <= now then return 0 end
tat = math.max(now, tat - tonumber(ARGV[1]))
redis.call("SET", KEYS[1], tostring(tat), "PX", math.ceil(tat - now + tonumber(ARGV[2])))
return 0`)

// grant is the script's answer: go now, or come back at until.
type grant struct {
	ok    bool
	until time.Time
}

// take asks the script for n calls to key for member (a task id, or ""
// outside a task) of class c.
func (l *Limiter) take(ctx context.Context, key, member string, c Class, n int) (grant, error) {
	g, paced := l.limit(key)
	interval, burst := float64(g.interval)/float64(time.Millisecond), g.burst
	if !paced {
		interval, burst = 0, 1
	}
	args := []any{member, int(c), n, interval, burst}
	for k := range numClasses {
		args = append(args, burst-k.Reach(burst))
	}
	args = append(args, starveAfter, late.Milliseconds(), forgetAfter.Milliseconds(), maxDefer.Milliseconds())
	res, err := takeScript.Run(ctx, l.rdb, l.keys(key), args...).Int64Slice()
	if err != nil {
		return grant{}, fmt.Errorf("ratelimit: %s: %w", key, err)
	}
	if len(res) != 2 {
		return grant{}, fmt.Errorf("ratelimit: %s: unexpected answer %v", key, res)
	}
	if res[0] == 1 {
		return grant{ok: true}, nil
	}
	return grant{until: time.UnixMilli(res[1])}, nil
}

// Acquire implements connectors.Limiter. Inside a task attempt (see
// Begin), the first call to an account reserves what the task is expected
// to need there, so that its later calls go without asking again; when
// the budget is spent it returns a *connectors.DeferredError at once.
// Outside a task (an HTTP request), it waits for its turn, up to two
// seconds; a turn further off is a *connectors.RateLimitedError.
func (l *Limiter) Acquire(ctx context.Context, key string) error {
	s := sessionFrom(ctx)
	if s != nil && s.spend(key) {
		return nil
	}
	member, class, n := "", Interactive, 1
	if s != nil {
		member, class = s.id, s.class
		n = l.reservation(s.taskType, key, class)
	}
	for {
		g, err := l.take(ctx, key, member, class, n)
		if err != nil {
			return err
		}
		if g.ok {
			if s != nil {
				s.reserved(key, n)
			}
			return nil
		}
		wait := g.until.Sub(l.now())
		if s != nil && wait > inPlace {
			s.deferred(key)
			return &connectors.DeferredError{Class: class.String(), Until: g.until}
		}
		if s == nil && wait > outsideTask {
			return &connectors.RateLimitedError{RetryAfter: wait}
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// reservation is how many calls a task of taskType reserves at its first
// call to key: what such tasks needed lately, within what the class can
// ever be granted.
func (l *Limiter) reservation(taskType, key string, c Class) int {
	g, paced := l.limit(key)
	if !paced {
		return 1
	}
	most := max(1, c.Reach(g.burst))
	return min(most, l.est.get(taskType+"\x00"+key))
}

// Penalize stops every replica from calling key for d.
func (l *Limiter) Penalize(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	// Keep the longest penalty, atomically: two replicas penalising at
	// once must not let the shorter one cut the longer short.
	return penalizeScript.Run(ctx, l.rdb, []string{l.keys(key)[1]}, max(d.Milliseconds(), 1)).Err()
}

// penalizeScript sets the block for ARGV[1] ms unless it already lasts
// longer (PTTL is -2 for a missing key).
var penalizeScript = redis.NewScript(`
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[1]) then
	redis.call("SET", KEYS[1], 1, "PX", ARGV[1])
end
return 0`)

// Waiting returns, for each class, when the longest-waiting deferred task
// of any of keys was first deferred; classes with none are absent.
func (l *Limiter) Waiting(ctx context.Context, keys []string) (map[Class]time.Time, error) {
	out := map[Class]time.Time{}
	for _, key := range keys {
		ks := l.keys(key)
		for c := range numClasses {
			zs, err := l.rdb.ZRangeWithScores(ctx, ks[3+int(c)], 0, 0).Result()
			if err != nil {
				return nil, fmt.Errorf("ratelimit: %s: %w", key, err)
			}
			if len(zs) == 0 {
				continue
			}
			at := time.UnixMilli(int64(zs[0].Score))
			if old, ok := out[c]; !ok || at.Before(old) {
				out[c] = at
			}
		}
	}
	return out, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
