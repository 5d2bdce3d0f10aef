package orders

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
)

// newListStore is a store on a redis-server of the test's own: the
// export test writes tens of thousands of orders.
func newListStore(t *testing.T, retention time.Duration) (*Store, *redis.Client, *clock) {
	t.Helper()
	srv := rdbtest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	c := &clock{t: t0}
	return NewStore(rdb, "test:", retention, 0, c.Now), rdb, c
}

// listFixture applies 30 orders over three stores, two marketplaces, all
// statuses and three customers, a minute apart, with pairs bought in the
// same millisecond.
func listFixture(t *testing.T, s *Store) []string {
	t.Helper()
	var ids []string
	for i := range 30 {
		id := fmt.Sprintf("O%02d", i)
		created := t0.Add(-time.Duration(i/2) * time.Minute) // pairs share a millisecond
		c := orderChange(id, fmt.Sprintf("buyer%d@example.com", i%3), created, t0, statuses[i%len(statuses)])
		c.Store = []string{"acme-fr", "acme-de", "acme-es"}[i%3]
		c.Order.Store = c.Store
		c.Order.Marketplace = []string{"", "carrefour"}[i%2]
		c.Order.MarketplaceStatus = []string{"", "SHIPPING"}[i%2]
		mustApply(t, s, c)
		ids = append(ids, c.Store+":"+id)
	}
	return ids
}

var statuses = Statuses

func members(p Page) []string {
	out := []string{}
	for _, o := range p.Orders {
		out = append(out, o.Store+":"+o.ID)
	}
	return out
}

// listAll pages through q, limit at a time.
func listAll(t *testing.T, s *Store, q Query, budget int) []string {
	t.Helper()
	var all []string
	for range 1000 {
		p, err := s.list(context.Background(), "acme", q, budget)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, members(p)...)
		if p.NextCursor == "" {
			return all
		}
		q.Cursor = p.NextCursor
	}
	t.Fatal("paging does not end")
	return nil
}

func TestListFilters(t *testing.T) {
	s, rdb, _ := newListStore(t, 0)
	ids := listFixture(t, s)
	// Newest first; within a millisecond, by member descending.
	want := slices.Clone(ids)
	slices.SortStableFunc(want, func(a, b string) int {
		ai, bi := slices.Index(ids, a), slices.Index(ids, b)
		if ai/2 != bi/2 {
			return ai/2 - bi/2
		}
		return strings.Compare(b, a)
	})
	if got := listAll(t, s, Query{}, scanBudget); !slices.Equal(got, want) {
		t.Fatalf("all orders:\n got %v\nwant %v", got, want)
	}
	if n, _ := rdb.ZCard(context.Background(), "test:w:{acme}:idx").Result(); n != 30 {
		t.Fatalf("index holds %d orders, want 30", n)
	}
	filter := func(keep func(i int) bool) []string {
		var out []string
		for _, m := range want {
			if keep(slices.Index(ids, m)) {
				out = append(out, m)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    Query
		want []string
	}{
		{"created_after, included", Query{CreatedAfter: t0.Add(-2 * time.Minute)}, filter(func(i int) bool { return i < 6 })},
		{"created_before, excluded", Query{CreatedBefore: t0.Add(-13 * time.Minute)}, filter(func(i int) bool { return i >= 28 })},
		{"both", Query{CreatedAfter: t0.Add(-5 * time.Minute), CreatedBefore: t0.Add(-3 * time.Minute)}, filter(func(i int) bool { return i >= 8 && i < 12 })},
		{"store", Query{Store: "acme-de"}, filter(func(i int) bool { return i%3 == 1 })},
		{"marketplace, any case", Query{Marketplace: "CARREFOUR"}, filter(func(i int) bool { return i%2 == 1 })},
		{"status", Query{Status: StatusShipped}, filter(func(i int) bool { return i%len(statuses) == 2 })},
		{"marketplace status", Query{MarketplaceStatus: "shipping"}, filter(func(i int) bool { return i%2 == 1 })},
		{"email, normalised", Query{Email: " Buyer2@Example.com "}, filter(func(i int) bool { return i%3 == 2 })},
		{"order id", Query{OrderID: "O07"}, []string{"acme-de:O07"}},
		{"combined", Query{Store: "acme-fr", Marketplace: "carrefour"}, filter(func(i int) bool { return i%6 == 3 })},
		{"nothing", Query{OrderID: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.Limit = 4
			if got := listAll(t, s, tc.q, scanBudget); !slices.Equal(got, tc.want) {
				t.Errorf("\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// A page reads a bounded number of orders: a filter few orders match
// gives short pages with a cursor, which still find every match.
func TestListBoundsWorkPerPage(t *testing.T) {
	s, _, _ := newListStore(t, 0)
	listFixture(t, s)
	p, err := s.list(context.Background(), "acme", Query{OrderID: "O29"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Orders) != 0 || p.NextCursor == "" {
		t.Fatalf("a page past its budget: %d orders, cursor %q; want none and a cursor", len(p.Orders), p.NextCursor)
	}
	if got := listAll(t, s, Query{OrderID: "O29"}, 5); !slices.Equal(got, []string{"acme-es:O29"}) {
		t.Fatalf("paging with a small budget found %v", got)
	}
}

// Pages are stable: orders bought or removed while a client pages
// through neither repeat nor hide the others.
func TestListPagingIsStable(t *testing.T) {
	s, rdb, _ := newListStore(t, 0)
	ids := listFixture(t, s)
	ctx := context.Background()
	first, err := s.List(ctx, "acme", Query{Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	seen := members(first)
	// A newer order, and the removal of the cursor's own order: the
	// next page starts after it all the same.
	mustApply(t, s, orderChange("NEW", "new@example.com", t0.Add(time.Hour), t0, StatusNew))
	last := first.Orders[len(first.Orders)-1]
	if err := rdb.Del(ctx, s.orderKey("acme", last.Store, last.ID)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ZRem(ctx, s.ordersKey("acme"), last.Store+":"+last.ID).Err(); err != nil {
		t.Fatal(err)
	}
	seen = append(seen, listAll(t, s, Query{Limit: 5, Cursor: first.NextCursor}, scanBudget)...)
	if len(seen) != len(ids) || slices.Contains(seen, "acme-fr:NEW") {
		t.Fatalf("paged %d orders (%v), want the %d there were at the start", len(seen), seen, len(ids))
	}
	slices.Sort(seen)
	if len(slices.Compact(seen)) != len(ids) {
		t.Fatalf("an order came twice: %v", seen)
	}
}

// An order whose key expired leaves the index when a listing meets it;
// one past retention is hidden until then.
func TestListDropsExpiredOrders(t *testing.T) {
	s, rdb, clk := newListStore(t, 24*time.Hour)
	ctx := context.Background()
	mustApply(t, s, orderChange("A", "a@example.com", t0, t0, StatusNew))
	mustApply(t, s, orderChange("B", "b@example.com", t0.Add(-time.Minute), t0.Add(-time.Hour), StatusNew))
	if ttl, _ := rdb.PTTL(ctx, s.ordersKey("acme")).Result(); ttl <= 23*time.Hour {
		t.Fatalf("the index lives %v, want as long as its longest-lived order (24h)", ttl)
	}
	if err := rdb.Del(ctx, s.orderKey("acme", "acme-fr", "A")).Err(); err != nil { // as if expired
		t.Fatal(err)
	}
	p, err := s.List(ctx, "acme", Query{})
	if err != nil || !slices.Equal(members(p), []string{"acme-fr:B"}) {
		t.Fatalf("List = %v, %v; want B only", members(p), err)
	}
	if _, err := rdb.ZScore(ctx, s.ordersKey("acme"), "acme-fr:A").Result(); err != redis.Nil {
		t.Fatalf("the expired order stays in the index: %v", err)
	}
	clk.Add(23*time.Hour + time.Minute) // B is past retention, its key not expired yet
	if p, err := s.List(ctx, "acme", Query{}); err != nil || len(p.Orders) != 0 {
		t.Fatalf("List = %v, %v; want nothing past retention", members(p), err)
	}
}

const apiToken = "acme-api-token-0123456789abcdef"

func newAPIServer(t *testing.T, s *Store) *httptest.Server {
	t.Helper()
	e := httpapi.NewEngine(zerolog.Nop(), nil)
	NewAPI(s, nil, httpapi.NewMerchantTokens(map[string][]string{"acme": {apiToken}, "globex": {"globex-api-token-0123456789abcdef"}})).RegisterAPI(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, srv *httptest.Server, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestAPIErrors(t *testing.T) {
	s, _, _ := newListStore(t, 0)
	srv := newAPIServer(t, s)
	for _, tc := range []struct {
		path, token string
		status      int
		code, field string
	}{
		{"/v1/orders", "", 401, "missing_token", "Authorization"},
		{"/v1/orders.csv", "nope", 401, "invalid_token", "Authorization"},
		{"/v1/orders?limit=0", apiToken, 422, "invalid_field", "limit"},
		{"/v1/orders?limit=201", apiToken, 422, "invalid_field", "limit"},
		{"/v1/orders?status=Lost", apiToken, 422, "invalid_field", "status"},
		{"/v1/orders?created_after=yesterday", apiToken, 422, "invalid_field", "created_after"},
		{"/v1/orders.csv?created_before=2026-13-01", apiToken, 422, "invalid_field", "created_before"},
		{"/v1/orders?created_after=2026-02-01&created_before=2026-01-01", apiToken, 422, "invalid_field", "created_before"},
		{"/v1/orders?cursor=bm9wZQ", apiToken, 422, "invalid_field", "cursor"},
		{"/v1/orders.csv?bom=yes", apiToken, 422, "invalid_field", "bom"},
		{"/v1/orders?email=" + strings.Repeat("a", 255), apiToken, 422, "invalid_field", "email"},
	} {
		resp, body := get(t, srv, tc.path, tc.token)
		var e struct{ Error httpapi.Error }
		_ = json.Unmarshal(body, &e)
		if resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Field != tc.field {
			t.Errorf("GET %.60s: %d %s %q, want %d %s %q (%s)", tc.path, resp.StatusCode, e.Error.Code, e.Error.Field, tc.status, tc.code, tc.field, body)
		}
	}
}

func TestAPIListsTheTokensMerchantOnly(t *testing.T) {
	s, _, _ := newListStore(t, 0)
	listFixture(t, s)
	other := orderChange("G1", "g@example.com", t0, t0, StatusNew)
	other.Merchant = "globex"
	mustApply(t, s, other)
	srv := newAPIServer(t, s)
	resp, body := get(t, srv, "/v1/orders?limit=3&store=acme-fr", apiToken)
	var p Page
	if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if got := members(p); !slices.Equal(got, []string{"acme-fr:O00", "acme-fr:O03", "acme-fr:O06"}) || p.NextCursor == "" {
		t.Fatalf("first page %v, cursor %q", got, p.NextCursor)
	}
	if p.Orders[0].CustomerEmail != "buyer0@example.com" || len(p.Orders[0].Lines) != 1 {
		t.Fatalf("an order lacks its details: %+v", p.Orders[0])
	}
	_, body = get(t, srv, "/v1/orders?limit=3&store=acme-fr&cursor="+p.NextCursor, apiToken)
	var p2 Page
	_ = json.Unmarshal(body, &p2)
	if got := members(p2); !slices.Equal(got, []string{"acme-fr:O09", "acme-fr:O12", "acme-fr:O15"}) {
		t.Fatalf("second page %v", got)
	}
	_, body = get(t, srv, "/v1/orders?order_id=G1", apiToken)
	if !strings.Contains(string(body), `"orders":[]`) {
		t.Fatalf("another merchant's order shows: %s", body)
	}
}

func TestExportCSV(t *testing.T) {
	s, _, _ := newListStore(t, 0)
	c := orderChange("=1+1", "jeanne@example.com", t0, t0, StatusShipped)
	c.Order.Buyer = Buyer{Name: `Jeanne "JM" Martin, Lyon`, Phone: "+33 6 12 34 56 78"}
	c.Order.Total = "-5.00"
	c.Order.ShippingAddress = &Address{Name: "Jeanne Martin", Line1: "1 rue de la Paix\nBât. B", PostalCode: "75002", City: "Paris", Country: "FR"}
	c.Order.Lines = []Line{{SKU: "@SUM(A1)", Name: "Tente", Quantity: 2}, {SKU: "SKU-2", Name: "-Piquets", Quantity: 10}}
	mustApply(t, s, c)
	mustApply(t, s, shipmentChange("=1+1", "s1", t0, "delivered"))
	mustApply(t, s, shipmentChange("=1+1", "s2", t0, "in_transit"))
	bare := orderChange("B2", "paul@example.com", t0.Add(-time.Hour), t0, StatusNew)
	bare.Order.Lines = nil
	mustApply(t, s, bare)

	srv := newAPIServer(t, s)
	resp, body := get(t, srv, "/v1/orders.csv?bom=true", apiToken)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if !bytes.HasPrefix(body, []byte("\uFEFF")) || !bytes.Contains(body, []byte("\r\n")) {
		t.Fatalf("want a BOM and CRLF line ends: %q", body[:40])
	}
	// Records end in CRLF; a line break inside a value stays as it was
	// (csv.Reader below would read CRLF and LF alike).
	if !bytes.Contains(body, []byte("\"1 rue de la Paix\nBât. B\"")) {
		t.Errorf("the address's line break was changed: %q", body)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\uFEFF"))))
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("not RFC 4180: %v\n%s", err, body)
	}
	if !slices.Equal(recs[0], Columns) {
		t.Fatalf("header %v", recs[0])
	}
	if len(recs) != 4 {
		t.Fatalf("%d rows, want a header, two lines of one order and one row for the order without lines:\n%s", len(recs), body)
	}
	col := func(row []string, name string) string { return row[slices.Index(Columns, name)] }
	for name, want := range map[string]string{
		"order_id": "'=1+1", "customer_name": `Jeanne "JM" Martin, Lyon`, "customer_phone": "'+33 6 12 34 56 78",
		"total": "-5.00", "shipping_line1": "1 rue de la Paix\nBât. B", "shipping_country": "FR",
		"shipment_statuses": "delivered; in_transit", "shipment_tracking_numbers": "TN-s1; TN-s2",
		"line_number": "1", "line_sku": "'@SUM(A1)", "line_quantity": "2", "customer_email": "jeanne@example.com",
		"created_at": "2026-11-02T09:00:00Z",
	} {
		if got := col(recs[1], name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if col(recs[2], "line_name") != "'-Piquets" || col(recs[2], "order_id") != "'=1+1" {
		t.Errorf("second line: %v", recs[2])
	}
	if col(recs[3], "order_id") != "B2" || col(recs[3], "line_sku") != "" {
		t.Errorf("an order without lines: %v", recs[3])
	}
	// Filters apply to the export too.
	_, body = get(t, srv, "/v1/orders.csv?status=New", apiToken)
	if n := bytes.Count(body, []byte("\r\n")); n != 2 {
		t.Fatalf("filtered export: %d rows:\n%s", n, body)
	}
}

// seedOrders writes n orders of merchant acme straight into Redis, each
// with lines lines, as Apply would store them.
func seedOrders(t *testing.T, s *Store, rdb *redis.Client, n, lines int) {
	t.Helper()
	ctx := context.Background()
	for start := 0; start < n; start += 1000 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := start; i < min(n, start+1000); i++ {
				id := fmt.Sprintf("ORD-%07d", i)
				o := Order{ID: id, Store: "acme-fr", Status: StatusShipped, CreatedAt: t0.Add(-time.Duration(i) * time.Second), Total: "99.90", Currency: "EUR",
					Buyer: Buyer{Name: "Jeanne Martin"}, ShippingAddress: &Address{Line1: "1 rue de la Paix", City: "Paris", Country: "FR"}}
				for l := range lines {
					o.Lines = append(o.Lines, Line{SKU: fmt.Sprintf("SKU-%d-%d", i, l), Name: "Tente de randonnée 2 places, double toit", Quantity: 1})
				}
				raw, err := encodeAggregate(&aggregate{Order: &orderEntry{V: version{UpdatedAt: t0}, Email: fmt.Sprintf("c%d@example.com", i), Order: o}})
				if err != nil {
					return err
				}
				p.Set(ctx, s.orderKey("acme", "acme-fr", id), raw, 0)
				p.ZAdd(ctx, s.ordersKey("acme"), redis.Z{Score: float64(o.CreatedAt.UnixMilli()), Member: "acme-fr:" + id})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// countingWriter counts rows and measures the heap at each flush.
type countingWriter struct {
	rows, bytes int
	peakHeap    uint64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.rows += bytes.Count(p, []byte("\r\n"))
	w.bytes += len(p)
	return len(p), nil
}

func (w *countingWriter) flush() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	w.peakHeap = max(w.peakHeap, m.HeapAlloc)
}

// The export streams: 20,000 orders of 10 lines (about 50 MB of CSV,
// several times that as decoded orders) go out with the heap of a batch.
func TestExportStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 20,000 orders")
	}
	s, rdb, _ := newListStore(t, 0)
	const n, lines = 20000, 10
	seedOrders(t, s, rdb, n, lines)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	w := &countingWriter{}
	got, err := s.Export(context.Background(), w, "acme", Query{}, ExportOptions{Flush: w.flush})
	if err != nil || got != n {
		t.Fatalf("Export = %d, %v; want %d orders", got, err, n)
	}
	if w.rows != n*lines+1 {
		t.Fatalf("%d rows, want %d", w.rows, n*lines+1)
	}
	grew := int64(w.peakHeap) - int64(before.HeapAlloc)
	t.Logf("%d MB of CSV; the heap grew by %d KB at most", w.bytes>>20, grew>>10)
	if grew > 16<<20 || grew > int64(w.bytes)/3 {
		t.Fatalf("the heap grew by %d MB exporting %d MB: the export holds more than a batch", grew>>20, w.bytes>>20)
	}
}

// Orders stored before the index existed are found once reindexed; a
// second reindex changes nothing, and another merchant's orders stay out.
func TestReindexFindsOrdersStoredBeforeTheIndex(t *testing.T) {
	s, rdb, _ := newListStore(t, 0)
	listFixture(t, s)
	want := listAll(t, s, Query{}, scanBudget)
	if len(want) < 10 {
		t.Fatalf("fixture of %d orders", len(want))
	}
	c := orderChange("G1", "g@example.com", t0, t0, StatusNew)
	c.Merchant = "globex"
	mustApply(t, s, c)
	ctx := context.Background()
	if err := rdb.Del(ctx, s.ordersKey("acme")).Err(); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, Query{}, scanBudget); len(got) != 0 {
		t.Fatalf("without an index the list finds %v", got)
	}
	for range 2 {
		n, err := s.Reindex(ctx, "acme")
		if err != nil || n != len(want) {
			t.Fatalf("Reindex = %d, %v; want %d", n, err, len(want))
		}
		if got := listAll(t, s, Query{}, scanBudget); !slices.Equal(got, want) {
			t.Fatalf("after the reindex: %v, want %v", got, want)
		}
	}
	if n, _ := s.Reindex(ctx, "globex"); n != 1 {
		t.Errorf("globex's reindex found %d orders, want its one", n)
	}
}
