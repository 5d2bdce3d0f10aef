package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
)

// fakeGorgias is the Gorgias fake served on loopback behind a recorder of
// when each call was let through and when each ticket was stored: the
// fake's own counters say how many, not when.
type fakeGorgias struct {
	*gorgiasfake.Server
	url string // the account's base URL, prefix included
	srv *http.Server

	mu      sync.Mutex
	calls   []time.Time // calls the fake answered, 429s excepted, by arrival
	tickets []ticketTime
	limited []int                // for each 429, how many calls had been let through before it
	failed  map[int]int          // other answers of 400 and above, by status
	byExt   map[string]time.Time // when each external id's ticket was stored
	added   int                  // messages appended to a ticket
}

// serveFake serves a fake account for the bench's agent on a free loopback
// port.
func serveFake(o gorgiasfake.Options, apiKey string) (*fakeGorgias, error) {
	o.Accounts = map[string]string{benchAgent: apiKey}
	o.PathPrefix = benchPrefix
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &fakeGorgias{Server: gorgiasfake.New(o), url: "http://" + l.Addr().String() + benchPrefix, failed: map[int]int{}, byExt: map[string]time.Time{}}
	f.srv = &http.Server{Handler: f, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

func (f *fakeGorgias) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = f.srv.Shutdown(ctx)
}

func (f *fakeGorgias) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	var ext string
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/tickets") {
		// Which ticket a create is for, read from a copy of its body.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		var t struct {
			ExternalID string `json:"external_id"`
		}
		_ = json.Unmarshal(body, &t)
		ext = t.ExternalID
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	f.Server.ServeHTTP(sw, r)
	done := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if sw.status == http.StatusTooManyRequests {
		f.limited = append(f.limited, len(f.calls))
		return
	}
	f.calls = append(f.calls, arrived)
	switch {
	case sw.status >= 400:
		f.failed[sw.status]++
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/tickets") && sw.status == http.StatusCreated:
		f.tickets = append(f.tickets, ticketTime{arrived: arrived, stored: done})
		if ext != "" {
			f.byExt[ext] = done
		}
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/messages") && sw.status < 300:
		f.added++
	}
}

// waitMessages waits until the tickets created and the messages appended
// to them reach n: every mail of a backfill, each its ticket's first
// message or one appended.
func (f *fakeGorgias) waitMessages(ctx context.Context, b *bridgeProc, n int, within time.Duration) error {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		got := len(f.tickets) + f.added
		f.mu.Unlock()
		if got >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return b.explain(fmt.Errorf("%d of %d messages after %s (fake: %s)", got, n, within, f.summary()))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.done:
			return b.explain(fmt.Errorf("the bridge exited with %d of %d messages: %v", got, n, b.err))
		case <-tick.C:
		}
	}
}

// createdAt is when the ticket with this external id was stored.
func (f *fakeGorgias) createdAt(ext string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.byExt[ext]
	return at, ok
}

// created counts the tickets stored.
func (f *fakeGorgias) created() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tickets)
}

// levelAt is how many calls the fake's leaky bucket, draining at rate a
// second, held at t.
func (f *fakeGorgias) levelAt(t time.Time, rate float64) float64 {
	f.mu.Lock()
	calls := slices.Clone(f.calls)
	f.mu.Unlock()
	slices.SortFunc(calls, func(a, b time.Time) int { return a.Compare(b) })
	held, last := 0.0, time.Time{}
	for _, c := range calls {
		if c.After(t) {
			break
		}
		if !last.IsZero() {
			held = max(0, held-rate*c.Sub(last).Seconds())
		}
		held, last = held+1, c
	}
	if last.IsZero() {
		return 0
	}
	return max(0, held-rate*t.Sub(last).Seconds())
}

// callsBetween counts the calls answered (429s excepted) that arrived
// between from and to.
func (f *fakeGorgias) callsBetween(from, to time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if !c.Before(from) && c.Before(to) {
			n++
		}
	}
	return n
}

// ticketTime is when the call that created a ticket arrived (comparable
// with the other calls) and when its answer was written (the ticket held).
type ticketTime struct{ arrived, stored time.Time }

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// records returns copies of what the recorder saw.
func (f *fakeGorgias) records() (calls []time.Time, tickets []ticketTime, limited []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls), slices.Clone(f.tickets), slices.Clone(f.limited)
}

// refused counts the answers of 400 and above other than 429: requests
// the bridge got wrong, which the report shows.
func (f *fakeGorgias) refused() map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.failed)
}

// waitTickets waits until n tickets are stored and returns when the first
// and the last of them were. It gives up when the bridge exits, ctx ends,
// or within passes.
func (f *fakeGorgias) waitTickets(ctx context.Context, b *bridgeProc, n int, within time.Duration) (first, last time.Time, err error) {
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		f.mu.Lock()
		got := len(f.tickets)
		if got >= n {
			first, last = f.tickets[0].stored, f.tickets[0].stored
			for _, t := range f.tickets[:n] {
				if t.stored.Before(first) {
					first = t.stored
				}
				if t.stored.After(last) {
					last = t.stored
				}
			}
		}
		f.mu.Unlock()
		if got >= n {
			return first, last, nil
		}
		if time.Now().After(deadline) {
			return first, last, b.explain(fmt.Errorf("%d of %d tickets after %s (fake: %s)", got, n, within, f.summary()))
		}
		select {
		case <-ctx.Done():
			return first, last, ctx.Err()
		case <-b.done:
			return first, last, b.explain(fmt.Errorf("the bridge exited with %d of %d tickets: %v", got, n, b.err))
		case <-tick.C:
		}
	}
}

// checkTickets confirms that the fake itself holds exactly n tickets: one
// per alert, none twice.
func (f *fakeGorgias) checkTickets(n int) error {
	tickets := f.Tickets()
	seen := make(map[string]bool, len(tickets))
	for _, t := range tickets {
		if seen[t.ExternalID] {
			return fmt.Errorf("the fake holds two tickets with external id %s", t.ExternalID)
		}
		seen[t.ExternalID] = true
	}
	if len(tickets) != n {
		return fmt.Errorf("the fake holds %d tickets, want %d", len(tickets), n)
	}
	return nil
}

func (f *fakeGorgias) summary() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return fmt.Sprintf("%d calls answered, %d answered 429, other failures %v", len(f.calls), len(f.limited), f.failed)
}
