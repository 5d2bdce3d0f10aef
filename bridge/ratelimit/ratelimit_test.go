package ratelimit_test

import (
	"cmp"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/ratelimit"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// newLimiter returns a limiter on the test Redis with the queue classes
// the bridge uses.
func newLimiter(rdb redis.UniversalClient) *ratelimit.Limiter {
	l := ratelimit.New(rdb, "t:", nil)
	l.SetClass("replies", ratelimit.Interactive)
	l.SetClass("alerts", ratelimit.Alerts)
	l.SetClass("discussions", ratelimit.Messages)
	l.SetClass("bulk", ratelimit.Bulk)
	return l
}

// Two limiters on one Redis stand for two replicas: together they must not
// exceed the account's budget. Outside a task, a caller waits its turn.
func TestReplicasShareOneBudget(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	a, b := newLimiter(rdb), newLimiter(rdb)
	lim := ratelimit.Limit{Requests: 5, Per: time.Second}
	a.Set("acct", lim)
	b.Set("acct", lim)
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < 10; i++ {
		l := a
		if i%2 == 1 {
			l = b
		}
		if err := l.Acquire(ctx, "acct"); err != nil {
			t.Fatal(err)
		}
	}
	// A burst of 4 (5 less the margin), then 6 more at 5/s: at least 1.2 s.
	if el := time.Since(start); el < 1100*time.Millisecond {
		t.Errorf("10 calls with a budget of 5/s took %s across two replicas, want >= 1.1s", el)
	}
}

func TestPenaltyStopsEveryReplica(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	a, b := newLimiter(rdb), newLimiter(rdb)
	ctx := context.Background()
	if err := a.Penalize(ctx, "acct", 600*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// A shorter penalty must not shorten the longer one.
	if err := b.Penalize(ctx, "acct", 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := b.Acquire(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Errorf("Acquire returned after %s during a 600ms penalty", el)
	}
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_ = a.Penalize(context.Background(), "acct", time.Second)
	if err := a.Acquire(ctx, "acct"); err == nil {
		t.Error("Acquire ignored its context's deadline")
	}
}

// Outside a task, a caller whose turn is far off is told so at once, as a
// vendor's 429 would.
func TestCallerOutsideATaskIsNotHeldLong(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 1, Per: time.Minute, Burst: 1})
	ctx := context.Background()
	if err := l.Acquire(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := l.Acquire(ctx, "acct")
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter < 50*time.Second {
		t.Errorf("err = %v, want a rate limit of about a minute", err)
	}
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Errorf("the caller was held %s", el)
	}
}

// task opens a pacing session as bridge/jobs does for each attempt.
func task(l *ratelimit.Limiter, id, typ, queue string) context.Context {
	return l.Begin(context.Background(), id, typ, queue)
}

func deferral(t *testing.T, err error) *connectors.DeferredError {
	t.Helper()
	d, ok := connectors.Deferred(err)
	if !ok {
		t.Fatalf("err = %v, want a deferral", err)
	}
	return d
}

// Inside a task, a spent budget never makes the caller wait: it is told
// at once when to come back, and it comes back then to a call.
func TestTaskIsDeferredNotBlocked(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 2, Per: time.Second, Burst: 1})
	if err := l.Acquire(task(l, "t1", "x", "alerts"), "acct"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := l.Acquire(task(l, "t2", "x", "alerts"), "acct")
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("a task waited %s for its budget; it must be deferred at once", el)
	}
	d := deferral(t, err)
	if wait := time.Until(d.Until); wait < 300*time.Millisecond || wait > 700*time.Millisecond {
		t.Errorf("deferred for %s, want the next slot, about 500ms", wait)
	}
	if d.Class != "alerts" {
		t.Errorf("class = %q, want alerts", d.Class)
	}
	time.Sleep(time.Until(d.Until))
	if err := l.Acquire(task(l, "t2", "x", "alerts"), "acct"); err != nil {
		t.Errorf("back at its due time, the task was refused: %v", err)
	}
}

// Each class leaves the classes above it a share of the bucket: bulk work
// stops while interactive work still goes.
func TestHigherClassesKeepHeadroom(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 10, Per: 100 * time.Second, Burst: 10})
	bulk := 0
	for i := 0; i < 10; i++ {
		if err := l.Acquire(task(l, "b"+string(rune('a'+i)), "mirror", "bulk"), "acct"); err != nil {
			deferral(t, err)
			break
		}
		bulk++
	}
	if bulk != 7 {
		t.Errorf("bulk work took %d of 10 calls, want 7 (30%% headroom)", bulk)
	}
	if err := l.Acquire(task(l, "a1", "raise", "alerts"), "acct"); err != nil {
		t.Errorf("an alert found no call left behind bulk work: %v", err)
	}
	if err := l.Acquire(task(l, "r1", "reply", "replies"), "acct"); err != nil {
		t.Errorf("a reply found no call left behind bulk work: %v", err)
	}
}

// Deferred tasks of one account come back one after another, in the
// order they first asked, and a task that asks again keeps its place.
func TestDeferredTasksAreSpreadInLine(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 1, Per: time.Second, Burst: 1})
	if err := l.Acquire(task(l, "first", "raise", "alerts"), "acct"); err != nil {
		t.Fatal(err)
	}
	var dues []time.Time
	for _, id := range []string{"a", "b", "c", "d"} {
		dues = append(dues, deferral(t, l.Acquire(task(l, id, "raise", "alerts"), "acct")).Until)
	}
	for i := 1; i < len(dues); i++ {
		if gap := dues[i].Sub(dues[i-1]); gap < 900*time.Millisecond {
			t.Errorf("task %d is due %s after the one before it, want a slot (1s) apart", i, gap)
		}
	}
	again := deferral(t, l.Acquire(task(l, "c", "raise", "alerts"), "acct")).Until
	if d := again.Sub(dues[2]); d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("asking again moved task c from %s to %s in the line", dues[2], again)
	}
	// A reply's line is its own: it is due no later than the first alert,
	// and when both come back, the reply goes first.
	r := deferral(t, l.Acquire(task(l, "r", "reply", "replies"), "acct")).Until
	if r.After(dues[0]) {
		t.Errorf("a reply is due at %s, after the first alert waiting (%s)", r, dues[0])
	}
	time.Sleep(time.Until(dues[0]))
	deferral(t, l.Acquire(task(l, "a", "raise", "alerts"), "acct"))
	if err := l.Acquire(task(l, "r", "reply", "replies"), "acct"); err != nil {
		t.Errorf("the reply did not go first: %v", err)
	}
}

// A task's first call reserves what such tasks needed before, so that it
// does not stop halfway; what it leaves unused goes back to the account.
func TestReservationsAndRefunds(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 4, Per: 100 * time.Second, Burst: 4})

	// The first task of its type does 3 calls: it is deferred at the
	// second, and the next attempt reserves enough for the whole task.
	ctx := task(l, "t1", "mirror", "replies")
	if err := l.Acquire(ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	if err := l.Acquire(task(l, "other", "reply", "replies"), "acct"); err != nil {
		t.Fatal(err)
	}
	if err := l.Acquire(task(l, "other2", "reply", "replies"), "acct"); err != nil {
		t.Fatal(err)
	}
	if err := l.Acquire(task(l, "other3", "reply", "replies"), "acct"); err != nil {
		t.Fatal(err)
	}
	deferral(t, l.Acquire(ctx, "acct"))
	l.End(ctx)

	// A fresh budget: the next attempt reserves 4 (twice the 2 calls the
	// first one wanted) and needs only 3, then returns the fourth.
	rdb.FlushDB(context.Background())
	ctx = task(l, "t1", "mirror", "replies")
	for i := 0; i < 3; i++ {
		if err := l.Acquire(ctx, "acct"); err != nil {
			t.Fatalf("call %d of a task that reserved its calls: %v", i+1, err)
		}
	}
	// Every call is reserved: nothing is left for another task...
	deferral(t, l.Acquire(task(l, "x", "reply", "replies"), "acct"))
	l.End(ctx)
	// ...until the task returns the call it did not make.
	if err := l.Acquire(task(l, "x", "reply", "replies"), "acct"); err != nil {
		t.Errorf("the unused reservation was not returned: %v", err)
	}
}

// A class served nothing for several slots while it waits gets the next
// call anyway: bulk work keeps a share of a busy account.
func TestStarvedClassGetsAShare(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 10, Per: time.Second, Burst: 10})
	// Bulk work takes what it may, until one task waits in line.
	for i := 0; ; i++ {
		if i == 20 {
			t.Fatal("bulk work was never put off")
		}
		if err := l.Acquire(task(l, "bulk", "mirror", "bulk"), "acct"); err != nil {
			deferral(t, err)
			break
		}
	}
	// Alerts keep the bucket below bulk's headroom for a while.
	deadline := time.Now().Add(2 * time.Second)
	served := false
	for i := 0; time.Now().Before(deadline); i++ {
		_ = l.Acquire(task(l, "alert"+time.Now().String(), "raise", "alerts"), "acct")
		if err := l.Acquire(task(l, "bulk", "mirror", "bulk"), "acct"); err == nil {
			served = true
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !served {
		t.Error("bulk work waiting behind a steady stream of alerts was never served")
	}
}

// The script runs on the embedded Redis too.
func TestEmbeddedRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 1, Per: time.Hour, Burst: 1})
	if err := l.Acquire(task(l, "a", "x", "alerts"), "acct"); err != nil {
		t.Fatal(err)
	}
	d := deferral(t, l.Acquire(task(l, "b", "x", "alerts"), "acct"))
	if wait := time.Until(d.Until); wait < 9*time.Minute || wait > 11*time.Minute {
		t.Errorf("deferred for %s, want the longest deferral, 10 minutes", wait)
	}
	if err := l.Acquire(context.Background(), "none"); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("an unpaced account: %v", err)
	}
}

// countingRoundTripper answers 200 to every call, or 429 when told to.
type countingRoundTripper struct {
	calls  int
	status int
}

func (c *countingRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	c.calls++
	status := cmp.Or(c.status, http.StatusOK)
	return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {"30"}}, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

// A vendor limit narrower than the account's (Zendesk's Update Ticket)
// paces the calls it covers on its own budget, on top of the account's,
// and leaves the others alone; a 429 to such a call holds both back.
func TestNarrowerBudget(t *testing.T) {
	rdb := rdbtest.Client(t, 5)
	l := newLimiter(rdb)
	l.Set("acct", ratelimit.Limit{Requests: 100, Per: time.Second})
	l.Set("acct:updates", ratelimit.Limit{Requests: 2, Per: time.Minute, Burst: 2})
	base := &countingRoundTripper{}
	client := &http.Client{Transport: &connectors.Transport{Base: base, System: "zendesk", Key: "acct", Limiter: l,
		Narrower: func(req *http.Request) string {
			if req.Method == http.MethodPut {
				return "acct:updates"
			}
			return ""
		}}}
	call := func(method string) error {
		req, _ := http.NewRequest(method, "http://vendor.example/api", nil)
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for i := range 2 {
		if err := call(http.MethodPut); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	var rl *connectors.RateLimitedError
	if err := call(http.MethodPut); !errors.As(err, &rl) || rl.RetryAfter < 20*time.Second {
		t.Fatalf("a third update within the minute: %v, want it held back about 30s", err)
	}
	for i := range 10 {
		if err := call(http.MethodGet); err != nil {
			t.Fatalf("read %d, outside the updates' budget: %v", i, err)
		}
	}
	if base.calls != 12 {
		t.Errorf("%d calls reached the vendor, want 2 updates and 10 reads", base.calls)
	}
	// A 429 to a call of the narrower budget holds the account back too.
	l.Set("acct:updates", ratelimit.Limit{Requests: 100, Per: time.Second})
	rdb.FlushDB(context.Background())
	base.status = http.StatusTooManyRequests
	if err := call(http.MethodPut); err != nil {
		t.Fatal(err)
	}
	base.status = 0
	for _, m := range []string{http.MethodGet, http.MethodPut} {
		if err := call(m); !errors.As(err, &rl) {
			t.Errorf("%s after a 429: %v, want it held back", m, err)
		}
	}
}
