// Package fault injects failures into the fakes of external APIs, so that
// tests and the demo can show how the bridge behaves when a vendor answers
// 429, fails with a 5xx, or hangs past the client's timeout.
package fault

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Fault is one failure, applied to one request.
type Fault struct {
	// Status, when non-zero, is answered instead of the real response.
	Status int
	// RetryAfter is sent as Retry-After (whole seconds) with Status.
	RetryAfter time.Duration
	// Hang delays the answer. Combined with After, the request takes effect
	// and only its answer is late: the client times out on a call that
	// succeeded, the worst case for idempotency.
	Hang time.Duration
	// After applies the fault after the real handler ran: the request takes
	// effect but its answer is lost (replaced by Status, or delayed by Hang).
	After bool
	// Late holds the request for Hang, whether or not the client is still
	// waiting, and then handles it anyway, as a slow server does: a client
	// that timed out meanwhile sees a failure, yet the request takes effect
	// Hang after it arrived. Done, when set, is closed once it has.
	Late bool
	Done chan struct{}
	// Match, when set, restricts the fault to requests it accepts; other
	// requests pass through and the fault stays queued.
	Match func(*http.Request) bool
}

// Injector queues faults and applies them, in order, to the requests that
// pass through its middleware. The zero value is ready to use.
type Injector struct {
	mu     sync.Mutex
	queue  []Fault
	served int
}

// Push queues faults; each is used by one request.
func (in *Injector) Push(fs ...Fault) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.queue = append(in.queue, fs...)
}

// Repeat queues n copies of f.
func (in *Injector) Repeat(n int, f Fault) {
	for i := 0; i < n; i++ {
		in.Push(f)
	}
}

// Pending is the number of faults not yet used.
func (in *Injector) Pending() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.queue)
}

// Served is the number of faults used so far.
func (in *Injector) Served() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.served
}

// Clear drops the faults not yet used.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.queue = nil
}

func (in *Injector) next(r *http.Request) (Fault, bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i, f := range in.queue {
		if f.Match == nil || f.Match(r) {
			in.queue = append(in.queue[:i:i], in.queue[i+1:]...)
			in.served++
			return f, true
		}
	}
	return Fault{}, false
}

// Middleware applies queued faults to the requests reaching next.
func (in *Injector) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := in.next(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if f.Late {
			late(next, w, r, f)
			return
		}
		if f.After {
			// Run the real handler against a discarded response.
			next.ServeHTTP(discard{h: http.Header{}}, r)
		}
		if f.Hang > 0 {
			select {
			case <-time.After(f.Hang):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case f.Status != 0:
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(`{"error":"injected fault"}`))
		case f.After:
			// The handler's answer was discarded: the connection just ends.
			panic(http.ErrAbortHandler)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// late handles r after f.Hang, on its own context, so that the client
// giving up does not cancel it.
func late(next http.Handler, w http.ResponseWriter, r *http.Request, f Fault) {
	if f.Done != nil {
		defer close(f.Done)
	}
	// Read the body now, while the connection is open.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	time.Sleep(f.Hang)
	r2 := r.Clone(context.WithoutCancel(r.Context()))
	r2.Body = io.NopCloser(bytes.NewReader(body))
	if r.Context().Err() != nil {
		next.ServeHTTP(discard{h: http.Header{}}, r2)
		return
	}
	next.ServeHTTP(w, r2)
}

type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
