package invoices

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

const (
	bulkToken   = "acme-bulk-token-0123456789abcdef"
	globexToken = "globex-bulk-token-0123456789abcd"
)

// bulkRig is the bulk jobs of acme (stores acme-fr, with settings, and
// acme-de, without) and globex on a Redis of the test's own, their API
// on a test server, and the workers that run their chunks.
type bulkRig struct {
	t     *testing.T
	rdb   *redis.Client // checked to stay in one slot per call
	raw   *redis.Client // asynq's
	bulk  *Bulk
	store *orders.Store
	srv   *httptest.Server
}

func newBulkRig(t *testing.T, chunk int) *bulkRig {
	t.Helper()
	addr := rdbtest.Start(t).Addr
	r := &bulkRig{t: t, rdb: redis.NewClient(&redis.Options{Addr: addr}), raw: redis.NewClient(&redis.Options{Addr: addr})}
	t.Cleanup(func() { _ = r.rdb.Close(); _ = r.raw.Close() })
	r.rdb.AddHook(rdbtest.NewSlotCheck(t, r.raw))
	set := validSettings()
	set.HeaderHTML = ""
	cfg := &config.Config{Merchants: []config.Merchant{
		{ID: "acme", Stores: []config.Store{{ID: "acme-fr", Invoices: &set}, {ID: "acme-de"}}},
		{ID: "globex", Stores: []config.Store{{ID: "globex-fr", Invoices: &set}}},
	}}
	now := func() time.Time { return time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) }
	r.store = orders.NewStore(r.rdb, "test:", 0, 0, now)
	maker := NewMaker(NewService(r.rdb, "test:", NewRedisFiles(r.rdb, "test:", 0), now), r.store, cfg)
	client := asynq.NewClientFromRedisClient(r.raw)
	r.bulk = NewBulk(maker, BulkOptions{Queue: client, Now: now, ChunkSize: chunk, Renderers: 2})
	e := httpapi.NewEngine(zerolog.Nop(), nil)
	NewBulkAPI(r.bulk, httpapi.NewMerchantTokens(map[string][]string{"acme": {bulkToken}, "globex": {globexToken}})).RegisterAPI(e)
	r.srv = httptest.NewServer(e)
	t.Cleanup(r.srv.Close)
	return r
}

// startWorkers runs the chunks, as a bridge's workers do; the server
// stops when the test ends (or earlier, by Shutdown).
func (r *bulkRig) startWorkers() *asynq.Server {
	r.t.Helper()
	srv := asynq.NewServerFromRedisClient(r.raw, asynq.Config{
		Concurrency: 2, Queues: map[string]int{BulkQueue: 1}, ShutdownTimeout: 200 * time.Millisecond,
		TaskCheckInterval: 20 * time.Millisecond, LogLevel: asynq.FatalLevel,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond },
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(TypeBulk, r.bulk.Handler)
	if err := srv.Start(mux); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(srv.Shutdown)
	return srv
}

// seed puts orders ids in acme-fr, each its own customer's, priced.
func (r *bulkRig) seed(ids ...string) {
	r.t.Helper()
	ctx := context.Background()
	for i, id := range ids {
		o := &orders.Order{
			ID: id, Store: "acme-fr", Status: orders.StatusShipped, CreatedAt: time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC), Currency: "EUR",
			Buyer:           orders.Buyer{Name: "Zoé Müller"},
			ShippingAddress: &orders.Address{Name: "Zoé Müller", Line1: "3 place de la Gare", PostalCode: "67000", City: "Strasbourg", Country: "FR"},
			ShippingPrice:   "4.90",
			Lines: []orders.Line{
				{SKU: "TSHIRT", Name: "T-shirt", Quantity: 1 + i%3, UnitPrice: "19.99"},
				{SKU: "BOOK", Name: "Livre", Quantity: 1, UnitPrice: "12.34", Discount: "2.34"},
			},
		}
		c := orders.Change{Merchant: "acme", Store: "acme-fr", OrderID: id, Email: "c" + strconv.Itoa(i) + "-" + id + "@example.com", Order: o, UpdatedAt: o.CreatedAt}
		if _, err := r.store.Apply(ctx, c); err != nil {
			r.t.Fatal(err)
		}
	}
}

// do sends a request with acme's token (or token, when set) and decodes
// a JSON answer.
func (r *bulkRig) do(method, path, body, token string) (int, map[string]any, http.Header) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.srv.URL+path, strings.NewReader(body))
	if token == "" {
		token = bulkToken
	}
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			r.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func (r *bulkRig) submit(store string, ids []string, first int64) string {
	r.t.Helper()
	req := map[string]any{"order_ids": ids}
	if first != 0 {
		req["first_number"] = first
	}
	b, _ := json.Marshal(req)
	code, ans, h := r.do(http.MethodPost, "/v1/invoices/"+store+"/bulk", string(b), "")
	if code != http.StatusAccepted {
		r.t.Fatalf("submit: %d %v", code, ans)
	}
	id, _ := ans["id"].(string)
	if h.Get("Location") != "/v1/invoices/jobs/"+id || ans["status_url"] != h.Get("Location") || ans["state"] != JobQueued {
		r.t.Fatalf("submit answer: %v, Location %q", ans, h.Get("Location"))
	}
	return id
}

func (r *bulkRig) job(id string) map[string]any {
	r.t.Helper()
	code, ans, _ := r.do(http.MethodGet, "/v1/invoices/jobs/"+id, "", "")
	if code != http.StatusOK {
		r.t.Fatalf("job: %d %v", code, ans)
	}
	return ans
}

// waitFinished polls the job until it is done or failed.
func (r *bulkRig) waitFinished(id string) map[string]any {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j := r.job(id)
		if j["state"] == JobDone || j["state"] == JobFailed {
			return j
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("job still %v after 2 minutes: %v", j["state"], j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zipFiles downloads the job's zip: its files' names and contents, in
// order.
func (r *bulkRig) zipFiles(id string) ([]string, [][]byte) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, r.srv.URL+"/v1/invoices/jobs/"+id+"/zip", nil)
	req.Header.Set("Authorization", "Bearer "+bulkToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/zip" {
		r.t.Fatalf("zip: %d %s %v: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), err, raw)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		r.t.Fatalf("the zip does not read: %v", err)
	}
	var names []string
	var files [][]byte
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			r.t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			r.t.Fatal(err)
		}
		names, files = append(names, f.Name), append(files, b)
	}
	return names, files
}

func orderIDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return ids
}

// checkRun checks that the zip holds one distinct PDF per name, and that
// the names are F-<from> on, one gapless run in the job's order.
func checkRun(t *testing.T, names []string, files [][]byte, from, n int) {
	t.Helper()
	if len(names) != n {
		t.Fatalf("the zip holds %d files, want %d", len(names), n)
	}
	seen := map[[32]byte]string{}
	for i, name := range names {
		if want := fmt.Sprintf("F-%06d.pdf", from+i); name != want {
			t.Fatalf("file %d is %s, want %s: the numbers are not one gapless run in the job's order", i, name, want)
		}
		if !bytes.HasPrefix(files[i], []byte("%PDF-")) {
			t.Fatalf("%s is not a PDF", name)
		}
		sum := sha256.Sum256(files[i])
		if other, dup := seen[sum]; dup {
			t.Fatalf("%s and %s are the same bytes", name, other)
		}
		seen[sum] = name
	}
}

// 500 orders (and a few that cannot be invoiced) give a zip of 500
// distinct PDFs numbered from the first number asked, one gapless run;
// a poll while the job runs sees its progress, and the zip is refused
// until it is done.
func TestBulkInvoicesFiveHundredOrders(t *testing.T) {
	r := newBulkRig(t, 50)
	good := orderIDs("B", 500)
	r.seed(good...)
	if _, err := r.store.Apply(context.Background(), orders.Change{Merchant: "acme", Store: "acme-fr", OrderID: "NOPRICE", Email: "np@example.com",
		Order: &orders.Order{ID: "NOPRICE", Store: "acme-fr", Currency: "EUR", Buyer: orders.Buyer{Name: "Zoé"}, ShippingPrice: "0",
			Lines: []orders.Line{{SKU: "X", Quantity: 1}}, CreatedAt: time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC)}, UpdatedAt: time.Date(2026, 10, 31, 12, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	// The bad orders sit among the good ones.
	ids := append([]string{}, good[:100]...)
	ids = append(ids, "NOPRICE", "UNKNOWN")
	ids = append(ids, good[100:]...)

	// The worker stops in the middle of the job until a poll has seen
	// it there.
	var once sync.Once
	seen := make(chan struct{})
	r.bulk.afterIssue = func(ctx context.Context, cursor, i int) {
		if cursor == 200 && i == 10 {
			once.Do(func() { <-seen })
		}
	}
	r.startWorkers()
	id := r.submit("acme-fr", ids, 1000)
	// Polls may see earlier chunks' progress; the fifth chunk waits
	// until one has seen the first four's.
	for {
		j := r.job(id)
		if chunks, _ := j["chunks"].(float64); chunks == 4 {
			if j["state"] != JobRunning || j["done"].(float64) != 198 || j["failed"].(float64) != 2 {
				t.Errorf("progress after 4 chunks: %v; want running, 198 done, 2 failed", j)
			}
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if code, ans, h := r.do(http.MethodGet, "/v1/invoices/jobs/"+id+"/zip", "", ""); code != http.StatusConflict || errCode(ans) != CodeBulkJobRunning || h.Get("Retry-After") == "" {
		t.Errorf("zip while running: %d %v", code, ans)
	}
	close(seen)

	j := r.waitFinished(id)
	if j["state"] != JobDone || j["done"].(float64) != 500 || j["failed"].(float64) != 2 || j["total"].(float64) != 502 || j["chunks"].(float64) != 11 {
		t.Fatalf("finished job: %v", j)
	}
	fails, _ := j["failures"].([]any)
	if len(fails) != 2 {
		t.Fatalf("failures: %v", j["failures"])
	}
	f0, f1 := fails[0].(map[string]any), fails[1].(map[string]any)
	if f0["order_id"] != "NOPRICE" || f0["code"] != CodeNotInvoiceable || f0["field"] != "lines[0].unit_price" ||
		f1["order_id"] != "UNKNOWN" || f1["code"] != orders.CodeOrderNotFound {
		t.Errorf("failures: %v", fails)
	}
	names, files := r.zipFiles(id)
	checkRun(t, names, files, 1000, 500)
	// The same bytes at every download.
	again, files2 := r.zipFiles(id)
	if strings.Join(again, ",") != strings.Join(names, ",") || !bytes.Equal(files2[499], files[499]) {
		t.Error("a second download differs")
	}
	// Each order notes its invoice, for the sidebar.
	if o, _ := r.store.Order(context.Background(), "acme", "acme-fr", good[499]); o.Invoice != "F-001499" {
		t.Errorf("order %s notes %q", good[499], o.Invoice)
	}
}

// An order invoiced before the job keeps its invoice, is counted done and
// is in the zip; the first number goes to the first order that needs a
// new one.
func TestBulkFirstNumberSkipsInvoicedOrders(t *testing.T) {
	r := newBulkRig(t, 3)
	ids := orderIDs("P", 7)
	r.seed(ids...)
	ctx := context.Background()
	if inv, _, err := r.bulk.maker.Issue(ctx, "acme", "acme-fr", ids[0], Options{}); err != nil || inv.Seq != 1 {
		t.Fatalf("invoice before the job: %+v %v", inv, err)
	}
	r.startWorkers()
	id := r.submit("acme-fr", ids, 2)
	j := r.waitFinished(id)
	if j["done"].(float64) != 7 || j["failed"].(float64) != 0 {
		t.Fatalf("job: %v", j)
	}
	names, files := r.zipFiles(id)
	checkRun(t, names, files, 1, 7)
}

func errCode(ans map[string]any) string {
	e, _ := ans["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// Bad submissions are refused whole, each with a stable code naming the
// field; nothing is queued.
func TestBulkRefusesBadInput(t *testing.T) {
	r := newBulkRig(t, 50)
	r.seed("A-1")
	if _, _, err := r.bulk.maker.Issue(context.Background(), "acme", "acme-fr", "A-1", Options{}); err != nil {
		t.Fatal(err)
	}
	many := make([]string, MaxBulkOrders+1)
	for i := range many {
		many[i] = "O" + strconv.Itoa(i)
	}
	manyJSON, _ := json.Marshal(map[string]any{"order_ids": many})
	for _, tc := range []struct {
		name, store, body, token string
		status                   int
		code, field              string
	}{
		{"no ids", "acme-fr", `{}`, "", 422, httpapi.CodeInvalidField, "order_ids"},
		{"empty list", "acme-fr", `{"order_ids":[]}`, "", 422, httpapi.CodeInvalidField, "order_ids"},
		{"too many", "acme-fr", string(manyJSON), "", 422, httpapi.CodeInvalidField, "order_ids"},
		{"empty id", "acme-fr", `{"order_ids":["A-1",""]}`, "", 422, httpapi.CodeInvalidField, "order_ids[1]"},
		{"long id", "acme-fr", `{"order_ids":["` + strings.Repeat("x", 101) + `"]}`, "", 422, httpapi.CodeInvalidField, "order_ids[0]"},
		{"duplicate", "acme-fr", `{"order_ids":["a","b","a"]}`, "", 422, CodeDuplicateOrderID, "order_ids[2]"},
		{"not a list", "acme-fr", `{"order_ids":"a"}`, "", 400, httpapi.CodeMalformedBody, "order_ids"},
		{"not JSON", "acme-fr", `{"order_ids":`, "", 400, httpapi.CodeMalformedBody, ""},
		{"negative first", "acme-fr", `{"order_ids":["a"],"first_number":-1}`, "", 422, httpapi.CodeInvalidField, "first_number"},
		{"first taken", "acme-fr", `{"order_ids":["a"],"first_number":1}`, "", 409, CodeNumberTaken, "first_number"},
		{"first leaves a gap", "acme-fr", `{"order_ids":["a"],"first_number":5}`, "", 422, CodeNumberBreaksSeries, "first_number"},
		{"unknown store", "acme-xx", `{"order_ids":["a"]}`, "", 404, httpapi.CodeNotFound, "store"},
		{"another merchant's store", "globex-fr", `{"order_ids":["a"]}`, "", 404, httpapi.CodeNotFound, "store"},
		{"no settings", "acme-de", `{"order_ids":["a"]}`, "", 409, CodeNoInvoiceSettings, "store"},
		{"no token", "acme-fr", `{"order_ids":["a"]}`, "-", 401, "missing_token", ""},
	} {
		code, ans, _ := r.do(http.MethodPost, "/v1/invoices/"+tc.store+"/bulk", tc.body, tc.token)
		e, _ := ans["error"].(map[string]any)
		if code != tc.status || errCode(ans) != tc.code || (tc.field != "" && e["field"] != tc.field) {
			t.Errorf("%s: %d %v; want %d %s naming %q", tc.name, code, ans, tc.status, tc.code, tc.field)
		}
	}
	big := `{"order_ids":["` + strings.Repeat("x", MaxBulkBody) + `"]}`
	if code, ans, _ := r.do(http.MethodPost, "/v1/invoices/acme-fr/bulk", big, ""); code != 413 {
		t.Errorf("huge body: %d %v", code, ans)
	}
	if n, _ := r.raw.Keys(context.Background(), "asynq:{default}:t:*").Result(); len(n) != 0 {
		t.Errorf("refusals queued %d tasks", len(n))
	}

	id := r.submit("acme-fr", []string{"A-1"}, 0)
	for _, tc := range []struct{ path, token string }{
		{"/v1/invoices/jobs/bulk_000000000000000000000000", ""},
		{"/v1/invoices/jobs/nope", ""},
		{"/v1/invoices/jobs/" + id, globexToken}, // another merchant's job
		{"/v1/invoices/jobs/" + id + "/zip", globexToken},
	} {
		if code, ans, _ := r.do(http.MethodGet, tc.path, "", tc.token); code != 404 || errCode(ans) != CodeNoBulkJob {
			t.Errorf("GET %s: %d %v; want 404 %s", tc.path, code, ans, CodeNoBulkJob)
		}
	}
}

// A worker that dies in the middle of a chunk (its server shut down,
// the task handed back) leaves the job to the next worker, which
// finishes it: every order once, the numbers one gapless run.
func TestBulkWorkerDiesMidChunk(t *testing.T) {
	r := newBulkRig(t, 50)
	ids := orderIDs("K", 130)
	r.seed(ids...)
	var once sync.Once
	killed := make(chan struct{})
	var first *asynq.Server
	r.bulk.afterIssue = func(ctx context.Context, cursor, i int) {
		if cursor == 50 && i == 20 {
			once.Do(func() {
				go func() { first.Shutdown(); close(killed) }()
				<-ctx.Done() // the handler is cancelled mid-chunk
			})
		}
	}
	first = r.startWorkers()
	id := r.submit("acme-fr", ids, 0)
	<-killed
	j := r.job(id)
	if j["state"] != JobRunning || j["done"].(float64) != 50 || j["chunks"].(float64) != 1 {
		t.Fatalf("after the kill: %v; want the first chunk only", j)
	}
	r.startWorkers()
	j = r.waitFinished(id)
	if j["state"] != JobDone || j["done"].(float64) != 130 || j["chunks"].(float64) != 3 {
		t.Fatalf("finished job: %v", j)
	}
	names, files := r.zipFiles(id)
	checkRun(t, names, files, 1, 130)
	keys, err := r.raw.Keys(context.Background(), "test:inv:{acme}:r:acme-fr:*").Result()
	if err != nil || len(keys) != 130 {
		t.Errorf("%d invoice records (%v), want 130", len(keys), err)
	}
}
