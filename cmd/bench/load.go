package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// target is what the load generator reads: one URL, or one per worker.
type target struct {
	name string
	// urls: worker i reads urls[i%len(urls)]. One URL has every worker
	// read the same thing; as many as workers gives each its own.
	urls []string
	// rotate has each worker read every workers-th URL in turn, from a
	// random one, instead of urls[i] over and over: reads spread over more
	// customers than there are workers.
	rotate bool
	header http.Header
	// check, when set, tells whether a 200's body is the answer being
	// measured (the widget must be a full, fresh one); nil accepts any.
	check func(body []byte) bool
	// checkHeader, when set, does the same from a 200's headers.
	checkHeader func(http.Header) bool
}

// url is what worker reads.
func (t target) url(worker int) string { return t.urls[worker%len(t.urls)] }

// like is a baseline sent t's requests but for their path: each of t's
// URLs with its prefix from replaced by to, t's headers, and no check of
// the answer. What differs between the two targets' figures is then the
// server's work, not the requests the load generator writes. Every URL
// of t must start with from.
func (t target) like(name, from, to string) target {
	urls := make([]string, len(t.urls))
	for i, u := range t.urls {
		rest, ok := strings.CutPrefix(u, from)
		if !ok {
			panic(fmt.Sprintf("bench: %s's URL %s does not start with %s", t.name, u, from))
		}
		urls[i] = to + rest
	}
	return target{name: name, urls: urls, rotate: t.rotate, header: t.header}
}

// where names the target's URLs in messages: the first, and how many more.
func (t target) where() string {
	if len(t.urls) == 1 {
		return t.urls[0]
	}
	return fmt.Sprintf("%s and %d more", t.urls[0], len(t.urls)-1)
}

// loadGen is a closed-loop load generator: workers goroutines each send a
// request, read the whole answer, and send the next one. Every target is
// read by the same generator, client and connections settings, so that
// what differs between their figures is the server.
type loadGen struct {
	workers int
	client  *http.Client
	// counter, when set, reads a server-side count (Redis GETs) before and
	// after each round, so that a round tells how many it cost.
	counter func(context.Context) (int64, error)
}

func newLoadGen(workers int) *loadGen {
	return &loadGen{
		workers: workers,
		client: &http.Client{
			Timeout: 10 * time.Second,
			Transport: &http.Transport{
				// One kept-alive connection per worker and server, kept
				// between rounds: no round pays for dialling.
				MaxIdleConns:        0, // no limit across servers
				MaxIdleConnsPerHost: workers,
				MaxConnsPerHost:     workers,
				IdleConnTimeout:     time.Minute,
				// Bodies are compared byte for byte as the servers write
				// them: the transport would otherwise ask for gzip.
				DisableCompression: true,
			},
		},
	}
}

func (g *loadGen) close() { g.client.CloseIdleConnections() }

// roundResult is one target read for one round.
type roundResult struct {
	ok        int           // 200s that passed the check
	elapsed   time.Duration // start to the last answer
	latencies []time.Duration
	failures  map[string]int // by kind: "status 503", "error", "unexpected body"
	firstFail string         // the first failure in full, for the report
	bodyBytes int            // size of a 200's body
	counted   int64          // the counter's increase during the round; -1 unknown
}

// rate is the round's 200s per second.
func (r roundResult) rate() float64 { return perSecond(r.ok, r.elapsed) }

// round reads t with every worker for d: each worker sends requests to its
// URL until d has passed and finishes the one in flight. Only 200s that pass the
// check count and have their latency kept.
func (g *loadGen) round(ctx context.Context, t target, d time.Duration) roundResult {
	// The previous round's garbage is collected now rather than during
	// this one.
	runtime.GC()
	before := g.count(ctx)
	results := make([]roundResult, g.workers)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for i := range g.workers {
		wg.Go(func() {
			res := roundResult{failures: map[string]int{}}
			var buf bytes.Buffer
			next := i
			if t.rotate {
				// Each round starts somewhere else, so that a round does
				// not find the customers the last one read still cached.
				next += g.workers * rand.IntN(len(t.urls))
			}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				u := t.url(next)
				if t.rotate {
					next += g.workers
				}
				lat, fail, detail := g.get(ctx, t, u, &buf)
				if fail != "" {
					if ctx.Err() != nil {
						break // an interrupted request is no failure of the server
					}
					res.failures[fail]++
					if res.firstFail == "" {
						res.firstFail = detail
					}
					continue
				}
				res.ok++
				res.latencies = append(res.latencies, lat)
				res.bodyBytes = buf.Len()
			}
			results[i] = res
		})
	}
	wg.Wait()
	res := mergeRound(results, time.Since(start))
	res.counted = -1
	if after := g.count(ctx); before >= 0 && after >= before {
		res.counted = after - before
	}
	return res
}

// count reads the counter, or -1 when there is none or it fails: the
// count is context, never a reason to stop measuring.
func (g *loadGen) count(ctx context.Context) int64 {
	if g.counter == nil {
		return -1
	}
	n, err := g.counter(ctx)
	if err != nil {
		return -1
	}
	return n
}

// get sends one request for t to u and reads its whole answer into buf.
// It returns the latency of a good answer, or the kind of failure and its
// detail.
func (g *loadGen) get(ctx context.Context, t target, u string, buf *bytes.Buffer) (time.Duration, string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "error", err.Error()
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	buf.Reset()
	start := time.Now()
	resp, err := g.client.Do(req)
	if err != nil {
		return 0, "error", err.Error()
	}
	_, err = buf.ReadFrom(resp.Body)
	resp.Body.Close()
	lat := time.Since(start)
	switch {
	case err != nil:
		return 0, "error", fmt.Sprintf("reading the body: %v", err)
	case resp.StatusCode != http.StatusOK:
		return 0, fmt.Sprintf("status %d", resp.StatusCode), fmt.Sprintf("%d %s", resp.StatusCode, clip(buf.Bytes(), 200))
	case t.check != nil && !t.check(buf.Bytes()):
		return 0, "unexpected body", fmt.Sprintf("200 %s", clip(buf.Bytes(), 200))
	case t.checkHeader != nil && !t.checkHeader(resp.Header):
		return 0, "unexpected headers", fmt.Sprintf("200 %v", resp.Header)
	}
	return lat, "", ""
}

func clip(b []byte, n int) string {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// mergeRound adds up the workers' results of one round.
func mergeRound(parts []roundResult, elapsed time.Duration) roundResult {
	out := roundResult{elapsed: elapsed, failures: map[string]int{}}
	n := 0
	for _, p := range parts {
		n += len(p.latencies)
	}
	out.latencies = make([]time.Duration, 0, n)
	for _, p := range parts {
		out.ok += p.ok
		out.latencies = append(out.latencies, p.latencies...)
		for k, v := range p.failures {
			out.failures[k] += v
		}
		if out.firstFail == "" {
			out.firstFail = p.firstFail
		}
		if p.bodyBytes > 0 {
			out.bodyBytes = p.bodyBytes
		}
	}
	return out
}

// targetResult is every measured round of one target.
type targetResult struct {
	name      string
	rounds    []roundResult
	latencies []time.Duration // of every measured round, sorted
}

func newTargetResult(name string, rounds []roundResult) targetResult {
	t := targetResult{name: name, rounds: rounds}
	for _, r := range rounds {
		t.latencies = append(t.latencies, r.latencies...)
	}
	slices.Sort(t.latencies)
	return t
}

// rate is the median of the rounds' rates: one round disturbed by the
// rest of a shared machine moves it less than it would a mean.
func (t targetResult) rate() float64 { return median(t.rates()) }

func (t targetResult) rates() []float64 {
	out := make([]float64, len(t.rounds))
	for i, r := range t.rounds {
		out[i] = r.rate()
	}
	return out
}

func (t targetResult) p(q float64) time.Duration { return percentile(t.latencies, q) }

// failures adds up the rounds' failures by kind.
func (t targetResult) failures() map[string]int {
	out := map[string]int{}
	for _, r := range t.rounds {
		for k, v := range r.failures {
			out[k] += v
		}
	}
	return out
}

func (t targetResult) failed() int {
	n := 0
	for _, v := range t.failures() {
		n += v
	}
	return n
}

func (t targetResult) firstFail() string {
	for _, r := range t.rounds {
		if r.firstFail != "" {
			return r.firstFail
		}
	}
	return ""
}

// countedPerRequest is the counter's increase per request sent (answered
// or failed) over the rounds that measured it; NaN when none did.
func (t targetResult) countedPerRequest() float64 {
	var counted, requests int64
	for _, r := range t.rounds {
		if r.counted < 0 {
			continue
		}
		counted += r.counted
		requests += int64(r.ok)
		for _, n := range r.failures {
			requests += int64(n)
		}
	}
	if requests == 0 {
		return math.NaN()
	}
	return float64(counted) / float64(requests)
}

func (t targetResult) bodyBytes() int {
	for _, r := range t.rounds {
		if r.bodyBytes > 0 {
			return r.bodyBytes
		}
	}
	return 0
}

// pairedRatio is the median over rounds of a's rate over b's in the
// same round. The two ran seconds apart, so a shared machine's load,
// which drifts over tens of seconds, weighs on both alike: on a noisy
// machine it is steadier than the ratio of the two medians.
func pairedRatio(a, b targetResult) float64 {
	var rs []float64
	for i := range min(len(a.rounds), len(b.rounds)) {
		rs = append(rs, ratio(a.rounds[i].rate(), b.rounds[i].rate()))
	}
	return median(rs)
}

// median is the middle of xs, or the mean of the two middle values; NaN
// for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	if len(s)%2 == 1 {
		return s[mid]
	}
	return (s[mid-1] + s[mid]) / 2
}

// interleave reads every target for warmup, unmeasured, then runs rounds
// rounds of d each, the targets taking turns within each round, so that a
// machine getting busier or quieter moves every target alike. Each round
// starts one target further along, so that none always comes first, its
// server idle the longest. onRound, when set, hears of each measured
// round.
func (g *loadGen) interleave(ctx context.Context, targets []target, warmup, d time.Duration, rounds int, onRound func(round int, t target, r roundResult)) ([]targetResult, error) {
	for _, t := range targets {
		w := g.round(ctx, t, warmup)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// A target that answers nothing right would only measure its
		// failures: stop and say why.
		if w.ok == 0 {
			return nil, fmt.Errorf("warm-up of %s (%s): no good answer in %s; first failure: %s", t.name, t.where(), warmup, w.firstFail)
		}
	}
	measured := make([][]roundResult, len(targets))
	for i := range rounds {
		for k := range targets {
			j := (i + k) % len(targets)
			t := targets[j]
			r := g.round(ctx, t, d)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			measured[j] = append(measured[j], r)
			if onRound != nil {
				onRound(i+1, t, r)
			}
		}
	}
	out := make([]targetResult, len(targets))
	for j, t := range targets {
		out[j] = newTargetResult(t.name, measured[j])
	}
	return out, nil
}
