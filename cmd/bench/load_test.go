package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/widgets"
)

func TestMedian(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []float64
		want float64
	}{
		{"one", []float64{7}, 7},
		{"odd, unsorted", []float64{30, 10, 20}, 20},
		{"even is the mean of the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"an outlier does not move it", []float64{100, 101, 5, 99, 102}, 100},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
}

func TestTargetResult(t *testing.T) {
	t.Parallel()
	// Three rounds of one second at 100, 300 and 200 requests per second;
	// the latencies of all rounds make one distribution.
	// The counter went up by 51 and 150 in the first two rounds and could
	// not be read in the third.
	rounds := []roundResult{
		{ok: 100, elapsed: time.Second, latencies: ms(5, 1), failures: map[string]int{"status 503": 2}, firstFail: "503 first", counted: 51},
		{ok: 300, elapsed: time.Second, latencies: ms(4, 2), failures: map[string]int{}, bodyBytes: 12, counted: 150},
		{ok: 200, elapsed: time.Second, latencies: ms(3, 100), failures: map[string]int{"status 503": 1, "error": 4}, firstFail: "dial", counted: -1},
	}
	tr := newTargetResult("x", rounds)
	if got := tr.rate(); got != 200 {
		t.Errorf("rate = %v, want the median round, 200", got)
	}
	if diff := cmp.Diff([]float64{100, 300, 200}, tr.rates()); diff != "" {
		t.Errorf("rates (-want +got):\n%s", diff)
	}
	if got := tr.p(50); got != 3*time.Millisecond {
		t.Errorf("p50 = %v, want 3ms", got)
	}
	if got := tr.p(99); got != 100*time.Millisecond {
		t.Errorf("p99 = %v, want 100ms", got)
	}
	if diff := cmp.Diff(map[string]int{"status 503": 3, "error": 4}, tr.failures()); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if got := tr.countedPerRequest(); got != 0.5 {
		t.Errorf("counted per request = %v, want 201 over the 402 requests of the rounds that counted", got)
	}
	if got := newTargetResult("y", []roundResult{{ok: 1, counted: -1}}).countedPerRequest(); !math.IsNaN(got) {
		t.Errorf("counted per request with no count = %v, want NaN", got)
	}
	// Against rounds at 50, 100 and 400 req/s, round by round: 2, 3, 0.5.
	other := newTargetResult("z", []roundResult{{ok: 50, elapsed: time.Second}, {ok: 100, elapsed: time.Second}, {ok: 400, elapsed: time.Second}})
	if got := pairedRatio(tr, other); got != 2 {
		t.Errorf("paired ratio = %v, want the median of 2, 3 and 0.5", got)
	}
	if tr.failed() != 7 || tr.firstFail() != "503 first" || tr.bodyBytes() != 12 {
		t.Errorf("failed %d, first %q, body %d; want 7, %q, 12", tr.failed(), tr.firstFail(), tr.bodyBytes(), "503 first")
	}
}

func TestMergeRound(t *testing.T) {
	t.Parallel()
	got := mergeRound([]roundResult{
		{ok: 2, latencies: []time.Duration{1, 2}, failures: map[string]int{"error": 1}, firstFail: "a", bodyBytes: 10},
		{ok: 1, latencies: []time.Duration{3}, failures: map[string]int{"error": 2, "status 500": 1}, firstFail: "b"},
	}, 2*time.Second)
	if got.ok != 3 || len(got.latencies) != 3 || got.elapsed != 2*time.Second || got.firstFail != "a" || got.bodyBytes != 10 {
		t.Errorf("merged = %+v", got)
	}
	if diff := cmp.Diff(map[string]int{"error": 3, "status 500": 1}, got.failures); diff != "" {
		t.Errorf("failures (-want +got):\n%s", diff)
	}
	if r := got.rate(); r != 1.5 {
		t.Errorf("rate = %v, want 1.5", r)
	}
}

func TestParseCalls(t *testing.T) {
	t.Parallel()
	info := "# Commandstats\r\ncmdstat_getex:calls=7,usec=1\r\ncmdstat_get:calls=1234,usec=567,usec_per_call=0.46,rejected_calls=0,failed_calls=0\r\ncmdstat_set:calls=3,usec=9\r\n"
	cases := []struct {
		name, info, cmd string
		want            int64
	}{
		{"get, not getex", info, "get", 1234},
		{"set", info, "set", 3},
		{"never run", info, "mget", 0},
		{"empty", "", "get", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCalls(tc.info, tc.cmd)
			if err != nil || got != tc.want {
				t.Errorf("parseCalls(%q) = %d, %v; want %d", tc.cmd, got, err, tc.want)
			}
		})
	}
	if _, err := parseCalls("cmdstat_get:usec=1", "get"); err == nil {
		t.Error("a line without calls parsed")
	}
}

// TestLoadGenRound checks what the generator counts and sends: 200s that
// pass the check, failures by kind, and plain requests (no conditional
// header, no compression) over kept-alive connections.
func TestLoadGenRound(t *testing.T) {
	t.Parallel()
	var n, conns atomic.Int64
	var badHeader atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if h := r.Header.Get("If-None-Match") + r.Header.Get("Accept-Encoding"); h != "" {
			badHeader.Store(h)
		}
		if r.Header.Get("Authorization") != "Bearer t" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"version":1,"status":"ok"}`)
	})
	mux.HandleFunc("/flaky", func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, `{"version":1,"status":"ok"}`)
	})
	mux.HandleFunc("/stale", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"version":1,"status":"stale"}`)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	g := newLoadGen(4)
	defer g.close()
	ctx := context.Background()
	auth := http.Header{"Authorization": {"Bearer t"}}

	ok := g.round(ctx, target{name: "ok", urls: []string{srv.URL + "/ok"}, header: auth, check: freshWidget}, 100*time.Millisecond)
	if ok.ok == 0 || len(ok.failures) != 0 || len(ok.latencies) != ok.ok || ok.bodyBytes != len(`{"version":1,"status":"ok"}`) {
		t.Errorf("ok round: %d ok, %d latencies, failures %v (%s), body %d", ok.ok, len(ok.latencies), ok.failures, ok.firstFail, ok.bodyBytes)
	}
	if h := badHeader.Load(); h != nil {
		t.Errorf("the generator sent conditional or compression headers: %q", h)
	}
	if c := conns.Load(); c > 4 {
		t.Errorf("%d connections for 4 workers, want kept-alive ones", c)
	}

	flaky := g.round(ctx, target{name: "flaky", urls: []string{srv.URL + "/flaky"}}, 100*time.Millisecond)
	if flaky.ok == 0 || flaky.failures["status 503"] == 0 || !strings.HasPrefix(flaky.firstFail, "503 busy") {
		t.Errorf("flaky round: %d ok, failures %v, first %q", flaky.ok, flaky.failures, flaky.firstFail)
	}
	if d := flaky.ok - flaky.failures["status 503"]; d < -4 || d > 4 {
		t.Errorf("flaky round: %d ok and %d 503s, want about as many", flaky.ok, flaky.failures["status 503"])
	}

	stale := g.round(ctx, target{name: "stale", urls: []string{srv.URL + "/stale"}, check: freshWidget}, 50*time.Millisecond)
	if stale.ok != 0 || stale.failures["unexpected body"] == 0 {
		t.Errorf("stale round: %d ok, failures %v; a stale widget must not count", stale.ok, stale.failures)
	}

	noAuth := g.round(ctx, target{name: "noauth", urls: []string{srv.URL + "/ok"}}, 50*time.Millisecond)
	if noAuth.ok != 0 || noAuth.failures["status 401"] == 0 {
		t.Errorf("round without the token: %d ok, failures %v", noAuth.ok, noAuth.failures)
	}
}

// TestLoadGenURLs checks that worker i reads urls[i % len(urls)]: with
// as many URLs as workers, each is read, and by one worker at a time.
func TestLoadGenURLs(t *testing.T) {
	t.Parallel()
	const workers = 4
	var mu sync.Mutex
	hits, inFlight, overlaps := map[string]int{}, map[string]int{}, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		inFlight[r.URL.Path]++
		if inFlight[r.URL.Path] > 1 {
			overlaps++
		}
		mu.Unlock()
		time.Sleep(time.Millisecond)
		mu.Lock()
		inFlight[r.URL.Path]--
		mu.Unlock()
		io.WriteString(w, "{}")
	}))
	defer srv.Close()
	g := newLoadGen(workers)
	defer g.close()
	var urls []string
	for i := range workers {
		urls = append(urls, fmt.Sprintf("%s/c%d", srv.URL, i))
	}
	res := g.round(context.Background(), target{name: "spread", urls: urls}, 100*time.Millisecond)
	if res.ok == 0 || len(res.failures) != 0 {
		t.Fatalf("%d ok, failures %v (%s)", res.ok, res.failures, res.firstFail)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hits) != workers {
		t.Errorf("paths read: %v, want each of the %d", hits, workers)
	}
	if overlaps != 0 {
		t.Errorf("%d requests overlapped another on the same URL, want one worker per URL", overlaps)
	}
	if got := (target{urls: urls}).url(workers + 1); got != urls[1] {
		t.Errorf("worker %d reads %s, want %s", workers+1, got, urls[1])
	}
}

func TestInterleave(t *testing.T) {
	t.Parallel()
	var order []string
	mux := http.NewServeMux()
	for _, name := range []string{"a", "b"} {
		mux.HandleFunc("/"+name, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "{}") })
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()
	g := newLoadGen(2)
	defer g.close()
	targets := []target{{name: "a", urls: []string{srv.URL + "/a"}}, {name: "b", urls: []string{srv.URL + "/b"}}}
	progress := func(_ int, t target, _ roundResult) { order = append(order, t.name) }
	res, err := g.interleave(context.Background(), targets, 10*time.Millisecond, 20*time.Millisecond, 3, progress)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "b", "a", "a", "b"}, order); diff != "" {
		t.Errorf("rounds ran in this order (-want +got):\n%s", diff)
	}
	for _, r := range res {
		if len(r.rounds) != 3 || !(r.rate() > 0) || r.failed() != 0 {
			t.Errorf("%s: %d rounds, rate %v, %d failed", r.name, len(r.rounds), r.rate(), r.failed())
		}
	}

	// A target that never answers right stops the phase at its warm-up.
	dead := append(targets, target{name: "dead", urls: []string{srv.URL + "/missing"}})
	_, err = g.interleave(context.Background(), dead, 10*time.Millisecond, 10*time.Millisecond, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "warm-up of dead") || !strings.Contains(err.Error(), "404") {
		t.Errorf("interleave with a dead target: %v, want a warm-up error naming it and its 404", err)
	}
}

// TestFreshWidget checks freshWidget against the bridge's own renderer,
// so that a change of the payload's field order shows here.
func TestFreshWidget(t *testing.T) {
	t.Parallel()
	v := widgets.NewView(benchMerchant, config.Sidebar{ID: benchSidebar, Kind: config.SidebarGorgias, Stores: []string{benchStore}})
	doc := &orders.Document{Customer: orders.Customer{Email: widgetEmail}, Orders: []orders.Order{}}
	for _, tc := range []struct {
		state string
		want  bool
	}{{widgets.StateOK, true}, {widgets.StateStale, false}, {widgets.StateUnavailable, false}} {
		body := widgets.RenderJSON(v, doc, widgets.Freshness{State: tc.state, AsOf: time.Now()})
		if got := freshWidget(body); got != tc.want {
			t.Errorf("freshWidget(%s) = %v, want %v", body, got, tc.want)
		}
	}
}

// TestWidgetEvents plans the seed with the bridge's own planners, which
// validate each event as the intake does, and checks that customers share
// no event, order or email: one customer's events must not land in
// another's widget.
func TestWidgetEvents(t *testing.T) {
	t.Parallel()
	merchant := &config.Merchant{ID: benchMerchant, Stores: []config.Store{{ID: benchStore}}}
	planners := orders.Planners(5*time.Minute, 1)
	ids, orderIDs, emails := map[string]bool{}, map[string]string{}, map[string]bool{}
	now := time.Now()
	for _, c := range append([]customer{widgetCustomer}, spreadCustomers(len(spreadBuyers)+2)...) {
		if emails[c.email] {
			t.Errorf("customer %s: email %s twice", c.tag, c.email)
		}
		emails[c.email] = true
		orderEvents, shipments, err := widgetEvents(now, "secret", c)
		if err != nil {
			t.Fatal(err)
		}
		if len(orderEvents) != widgetOrders || len(shipments) != widgetOrders {
			t.Fatalf("customer %s: %d orders and %d shipments, want %d of each", c.tag, len(orderEvents), len(shipments), widgetOrders)
		}
		for _, ev := range append(orderEvents, shipments...) {
			var e events.Event
			if err := json.Unmarshal(ev.body, &e); err != nil {
				t.Fatal(err)
			}
			if ids[e.ID] {
				t.Errorf("event id %s twice", e.ID)
			}
			ids[e.ID] = true
			if got := events.SignatureHeader("secret", ev.timestamp, ev.body); got != ev.signature {
				t.Errorf("%s: signature %s, want %s", e.ID, ev.signature, got)
			}
			e.Merchant, e.ReceivedAt = merchant, now
			p, ok := planners[e.Kind]
			if !ok {
				t.Fatalf("%s: no planner for kind %s", e.ID, e.Kind)
			}
			if tasks, err := p.Plan(context.Background(), e); err != nil || len(tasks) == 0 {
				t.Errorf("%s: planned %d tasks, %v", e.ID, len(tasks), err)
			}
			if e.Kind == orders.KindOrderUpserted {
				var o orders.OrderUpserted
				if err := json.Unmarshal(e.Data, &o); err != nil {
					t.Fatal(err)
				}
				if n := len(o.Lines); n < 2 || n > 3 {
					t.Errorf("order %s has %d lines, want 2 or 3", o.OrderID, n)
				}
				if o.Customer.Email != c.email || o.Customer.Name != c.name {
					t.Errorf("order %s is %s's, want %s's", o.OrderID, o.Customer.Email, c.email)
				}
				if other, ok := orderIDs[o.OrderID]; ok {
					t.Errorf("order %s is both %s's and %s's", o.OrderID, other, c.tag)
				}
				orderIDs[o.OrderID] = c.tag
			}
		}
	}
}

// TestBaselinesServer runs the baselines server as the widget phase does,
// as a child process of this test binary, and reads both routes.
func TestBaselinesServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process on a real Redis")
	}
	c := rdbtest.Client(t, benchDB)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Set(ctx, get2kKey, get2kValue(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	r := &rig{o: options{redisAddr: rdbtest.Addr()}, dir: t.TempDir(), secret: randomHex(), apiKey: randomHex(), adminPW: randomHex(), sidebarToken: randomHex(), apiToken: randomHex()}
	if testing.Verbose() {
		r.o.bridgeLogs = os.Stderr
	}
	b, err := r.startBaselines(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()

	for _, tc := range []struct {
		route string
		want  string
	}{{constRoute, constPayload}, {getRoute, string(get2kValue())}} {
		resp, err := http.Get(b.url + tc.route)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || string(body) != tc.want {
			t.Errorf("GET %s: %d %s %q, want 200 application/json %q", tc.route, resp.StatusCode, resp.Header.Get("Content-Type"), clip(body, 80), clip([]byte(tc.want), 80))
		}
		if !json.Valid(body) {
			t.Errorf("GET %s: not JSON", tc.route)
		}
	}
	if len(get2kValue()) != get2kSize {
		t.Errorf("the GET baseline's value is %d bytes, want %d", len(get2kValue()), get2kSize)
	}

	g := newLoadGen(4)
	g.counter = (&rig{rdb: c}).redisGets
	defer g.close()
	res, err := g.interleave(ctx, []target{{name: "const", urls: []string{b.url + constRoute}}, {name: "get2k", urls: []string{b.url + getRoute}}}, 50*time.Millisecond, 100*time.Millisecond, 2, nil)
	if err != nil {
		t.Fatal(b.explain(err))
	}
	for _, tr := range res {
		if !(tr.rate() > 0) || tr.failed() != 0 {
			t.Errorf("%s: %v req/s, failures %v (%s)", tr.name, tr.rate(), tr.failures(), tr.firstFail())
		}
	}
	// Other packages' tests share the server and may add GETs: at least
	// one per request is all that can be asserted.
	if got := res[1].countedPerRequest(); !(got >= 1) {
		t.Errorf("the GET baseline ran %.2f Redis GETs per request, want one", got)
	}
	b.stop()
	if b.logs.errors() != 0 {
		t.Errorf("the baselines server logged %d errors:\n%s", b.logs.errors(), b.logs.tail())
	}
}

// TestLike checks that a baseline is sent the target's requests but for
// their path.
func TestLike(t *testing.T) {
	t.Parallel()
	header := http.Header{"Authorization": {"Bearer x"}, "Accept-Encoding": {"gzip"}}
	w := target{name: "widget", urls: []string{"http://b/v1/widgets/gorgias?email=a%40x.test", "http://b/v1/widgets/gorgias?email=b%40x.test"},
		rotate: true, header: header, check: func([]byte) bool { return false }, checkHeader: func(http.Header) bool { return false }}
	got := w.like("get-doc", "http://b/v1/widgets/gorgias", "http://base/baseline/get-doc")
	if diff := cmp.Diff([]string{"http://base/baseline/get-doc?email=a%40x.test", "http://base/baseline/get-doc?email=b%40x.test"}, got.urls); diff != "" {
		t.Errorf("URLs (-want +got):\n%s", diff)
	}
	if got.name != "get-doc" || !got.rotate || got.check != nil || got.checkHeader != nil {
		t.Errorf("got %+v, want get-doc, rotating like the widget, with no checks", got)
	}
	if diff := cmp.Diff(header, got.header); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	defer func() {
		if recover() == nil {
			t.Error("a URL without the prefix was taken")
		}
	}()
	w.like("get-doc", "http://other/", "http://base/")
}
