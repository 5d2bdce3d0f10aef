package gorgiasfake

import "time"

// bucket is one account's leaky bucket, kept as the time at which it will
// be empty (the GCRA form): each request adds window/capacity to it, and a
// request that would push it more than window ahead of now overflows.
type bucket struct {
	emptyAt time.Time
}

// take tries to add one request at now. It reports the requests in the
// bucket afterwards (or, when refused, now) and, when refused, how long
// until a slot frees. force admits the request even when full, for
// unthrottled fakes that still report usage.
func (b *bucket) take(now time.Time, capacity int, window time.Duration, force bool) (used int, wait time.Duration, ok bool) {
	interval := window / time.Duration(capacity)
	start := b.emptyAt
	if start.Before(now) {
		start = now
	}
	next := start.Add(interval)
	if ahead := next.Sub(now); ahead > window && !force {
		return level(start.Sub(now), interval), ahead - window, false
	}
	b.emptyAt = next
	return level(next.Sub(now), interval), 0, true
}

// level is the number of requests that take ahead to drain, rounded up.
func level(ahead, interval time.Duration) int {
	return int((ahead + interval - 1) / interval)
}

// wholeSeconds rounds d up to whole seconds, as Retry-After carries them.
func wholeSeconds(d time.Duration) int {
	return int((d + time.Second - 1) / time.Second)
}
