// Package ratelimit paces calls to external accounts with a GCRA limiter
// kept in Redis, so that every replica of the bridge draws from the same
// budget and the bridge stays under a vendor's limit instead of bouncing
// off its 429s.
package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limit is a budget of Requests per Per, with bursts up to Burst.
type Limit struct {
	Requests int
	Per      time.Duration
	// Burst is how many calls may go at once after a quiet spell; zero
	// means Requests less a 5% margin (at least one call).
	Burst int
}

// Limiter implements connectors.Limiter over Redis.
type Limiter struct {
	rdb    redis.UniversalClient
	gcra   *redis_rate.Limiter
	prefix string

	mu     sync.RWMutex
	limits map[string]redis_rate.Limit
}

// New returns a limiter whose keys start with prefix.
func New(rdb redis.UniversalClient, prefix string) *Limiter {
	return &Limiter{rdb: rdb, gcra: redis_rate.NewLimiter(rdb), prefix: prefix, limits: map[string]redis_rate.Limit{}}
}

// Set gives key its budget. A key without one is not paced.
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
	l.limits[key] = redis_rate.Limit{Rate: lim.Requests, Period: lim.Per, Burst: burst}
}

func (l *Limiter) limit(key string) (redis_rate.Limit, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	lim, ok := l.limits[key]
	return lim, ok
}

func (l *Limiter) blockKey(key string) string { return l.prefix + "ratelimit:{" + key + "}:blocked" }

// Wait blocks until a call to key is allowed, honouring any penalty a 429
// left, or until ctx ends.
func (l *Limiter) Wait(ctx context.Context, key string) error {
	lim, paced := l.limit(key)
	for {
		blocked, err := l.rdb.PTTL(ctx, l.blockKey(key)).Result()
		if err != nil {
			return fmt.Errorf("ratelimit: %s: %w", key, err)
		}
		if blocked > 0 {
			if err := sleep(ctx, blocked); err != nil {
				return err
			}
			continue
		}
		if !paced {
			return nil
		}
		res, err := l.gcra.Allow(ctx, l.prefix+"ratelimit:{"+key+"}", lim)
		if err != nil {
			return fmt.Errorf("ratelimit: %s: %w", key, err)
		}
		if res.Allowed > 0 {
			return nil
		}
		if err := sleep(ctx, res.RetryAfter); err != nil {
			return err
		}
	}
}

// Penalize stops every replica from calling key for d.
func (l *Limiter) Penalize(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	// Keep the longest penalty, atomically: two replicas penalising at
	// once must not let the shorter one cut the longer short.
	return penalizeScript.Run(ctx, l.rdb, []string{l.blockKey(key)}, max(d.Milliseconds(), 1)).Err()
}

// penalizeScript sets the block for ARGV[1] ms unless it already lasts
// longer (PTTL is -2 for a missing key).
var penalizeScript = redis.NewScript(`
if redis.call("PTTL", KEYS[1]) < tonumber(ARGV[1]) then
	redis.call("SET", KEYS[1], 1, "PX", ARGV[1])
end
return 0`)

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
