package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/invoices"
	"github.com/helpdesk-bridge/bridge/orders"
)

// invoiceSettings are the bench store's invoice settings, put through the
// API (the configuration template has none).
const invoiceSettings = `{"seller":{"name":"Bench SAS","address":"12 rue de la Paix\n75002 Paris","siren":"732 829 320","siret":"73282932000074","vat_number":"FR44 732829320"},
"product_vat":"20","shipping_vat":"20","sku_vat":{"SKU-1":"5.5"},"prefix":"F-","digits":6}`

// invoicesResult is phase (q).
type invoicesResult struct {
	n                int
	job              time.Duration // the POST to the job done
	elapsed          time.Duration // the POST to the zip's last byte
	zipBytes         int64
	files            int
	polls, midPolls  int // status polls, and those that saw 0 < done < total
	issue, render    time.Duration
	startRSS         int64 // the bridge's VmRSS once ready
	peakRSS          int64 // its VmHWM after the zip
	sampledRSS       int64 // the largest VmRSS sampled while the job ran
	renderers        int
	warnings, errors int
}

// invoicesPhase measures a bulk invoice job of n orders on a bridge
// started for it alone: invoices per second from the POST to the zip's
// last byte (every invoice issued, its PDF rendered and kept, then read
// into the zip), against the same invoices issued and rendered in-process
// by invoices.Service on the same Redis; and the bridge's RSS, at start
// and at its peak.
func (r *rig) invoicesPhase(ctx context.Context, n int) (*invoicesResult, error) {
	if err := r.flush(ctx); err != nil {
		return nil, err
	}
	_, cfg, err := r.renderConfig("127.0.0.1:1", "http://127.0.0.1:1", "", "")
	if err != nil {
		return nil, err
	}
	store := orders.NewStore(r.rdb, cfg.Redis.KeyPrefix, cfg.Widgets.Retention, cfg.Widgets.MaxOrders, time.Now)
	r.logf("invoices: applying %d priced orders to the read model", n)
	if err := seedInvoiceOrders(ctx, store, n); err != nil {
		return nil, err
	}
	b, err := r.startBridge(ctx, "invoices", "http://127.0.0.1:1", "")
	if err != nil {
		return nil, err
	}
	defer b.stop()
	res := &invoicesResult{n: n, startRSS: procStatus(b.cmd.Process.Pid, "VmRSS:")}
	if _, err := r.apiCall(ctx, b, http.MethodPut, "/v1/stores/"+benchStore+"/invoice-settings", invoiceSettings, nil); err != nil {
		return nil, err
	}
	ids := make([]string, n)
	for i := range ids {
		ids[i] = invoiceOrderID(i)
	}
	body, _ := json.Marshal(map[string]any{"order_ids": ids})
	r.logf("invoices: a bulk job of %d orders", n)
	start := time.Now()
	var job struct {
		StatusURL string `json:"status_url"`
		ZipURL    string `json:"zip_url"`
		State     string `json:"state"`
		Done      int    `json:"done"`
		Failed    int    `json:"failed"`
		Total     int    `json:"total"`
	}
	if _, err := r.apiCall(ctx, b, http.MethodPost, "/v1/invoices/"+benchStore+"/bulk", string(body), &job); err != nil {
		return nil, err
	}
	status := job.StatusURL
	for job.State != invoices.JobDone {
		if job.State == invoices.JobFailed {
			return nil, b.explain(fmt.Errorf("invoices: the job failed: %+v", job))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-b.done:
			return nil, b.explain(fmt.Errorf("the bridge exited during the job: %v", b.err))
		case <-time.After(250 * time.Millisecond):
		}
		res.sampledRSS = max(res.sampledRSS, procStatus(b.cmd.Process.Pid, "VmRSS:"))
		if _, err := r.apiCall(ctx, b, http.MethodGet, status, "", &job); err != nil {
			return nil, err
		}
		res.polls++
		if job.Done > 0 && job.Done < job.Total {
			res.midPolls++
		}
	}
	res.job = time.Since(start)
	if job.Done != n || job.Failed != 0 {
		return nil, fmt.Errorf("invoices: the job invoiced %d of %d orders, %d failed", job.Done, n, job.Failed)
	}
	path := filepath.Join(r.dir, "invoices.zip")
	if res.zipBytes, err = r.download(ctx, b, job.ZipURL, path); err != nil {
		return nil, err
	}
	res.elapsed = time.Since(start)
	res.peakRSS = peakRSS(b.cmd.Process.Pid)
	res.warnings, res.errors = b.logs.warnings(), b.logs.errors()
	b.stop()
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("invoices: the zip: %w", err)
	}
	res.files = len(zr.File)
	_ = zr.Close()
	_ = os.Remove(path)
	if res.files != n {
		return nil, fmt.Errorf("invoices: the zip holds %d files, want %d", res.files, n)
	}

	res.renderers = min(runtime.GOMAXPROCS(0), 4)
	r.logf("baseline: the same %d invoices issued, then rendered by %d goroutines, in-process", n, res.renderers)
	res.issue, res.render, err = baselineInvoices(ctx, r, n, res.renderers)
	return res, err
}

func invoiceOrderID(i int) string { return "INV-" + strconv.Itoa(i) }

// invoiceOrder is the bench's order i: two or three lines, one of them
// at the reduced rate, and shipping.
func invoiceOrder(i int, at time.Time) *orders.Order {
	id := invoiceOrderID(i)
	o := &orders.Order{
		ID: id, Store: benchStore, Marketplace: "carrefour", Status: orders.StatusShipped, CreatedAt: at, Currency: "EUR",
		Buyer:           orders.Buyer{Name: "Jeanne Martin"},
		ShippingAddress: &orders.Address{Name: "Jeanne Martin", Line1: "12 rue de la Paix", PostalCode: "75002", City: "Paris", Country: "FR"},
		ShippingPrice:   "4.90",
	}
	for l := range 2 + i%2 {
		o.Lines = append(o.Lines, orders.Line{SKU: "SKU-" + strconv.Itoa(l), Name: "Blue mug", Quantity: 1 + l, UnitPrice: "12.50", Discount: "0.50"})
	}
	return o
}

// seedInvoiceOrders applies n priced orders, each its own customer's,
// with 16 writers.
func seedInvoiceOrders(ctx context.Context, store *orders.Store, n int) error {
	now := time.Now().UTC().Truncate(time.Second)
	return eachIndex(ctx, n, 16, func(i int) error {
		o := invoiceOrder(i, now.Add(-time.Hour))
		c := orders.Change{Merchant: benchMerchant, Store: benchStore, OrderID: o.ID, Email: "i" + strconv.Itoa(i) + "@example.com", Order: o, UpdatedAt: now}
		_, err := store.Apply(ctx, c)
		return err
	})
}

// baselineInvoices issues the same invoices with invoices.Service on the
// same Redis (another key prefix), one after the other as the job does,
// then renders and keeps their PDFs with renderers goroutines: the job's
// work without the read model, Asynq, HTTP and the zip.
func baselineInvoices(ctx context.Context, r *rig, n, renderers int) (issue, render time.Duration, err error) {
	const prefix = "baseline:"
	svc := invoices.NewService(r.rdb, prefix, invoices.NewRedisFiles(r.rdb, prefix, 0), time.Now)
	var set invoices.Settings
	if err := json.Unmarshal([]byte(invoiceSettings), &set); err != nil {
		return 0, 0, err
	}
	set = set.Normalize()
	at := time.Now().UTC().Add(-time.Hour)
	invs := make([]*invoices.Invoice, n)
	start := time.Now()
	for i := range invs {
		o, err := invoices.InvoiceOrder(invoiceOrder(i, at))
		if err != nil {
			return 0, 0, err
		}
		if invs[i], _, err = svc.Issue(ctx, benchMerchant, set, o, invoices.Options{}); err != nil {
			return 0, 0, err
		}
	}
	issue = time.Since(start)
	start = time.Now()
	err = eachIndex(ctx, n, renderers, func(i int) error {
		_, err := svc.PDF(ctx, benchMerchant, invs[i])
		return err
	})
	return issue, time.Since(start), err
}

// apiCall sends a request with the merchant's API token and decodes the
// JSON answer into out, when set; an answer above 299 is an error.
func (r *rig) apiCall(ctx context.Context, b *bridgeProc, method, path, body string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, b.url+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, b.explain(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, b.explain(err)
	}
	if resp.StatusCode > 299 {
		return resp.StatusCode, b.explain(fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// download writes the body of a GET to path and returns its size.
func (r *rig) download(ctx context.Context, b *bridgeProc, path, file string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+r.apiToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, b.explain(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return 0, b.explain(fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, raw))
	}
	f, err := os.Create(file)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, b.explain(fmt.Errorf("GET %s after %d bytes: %w", path, n, err))
	}
	return n, nil
}

func (q *invoicesResult) print(w io.Writer) {
	fmt.Fprintf(w, "\n(q) bulk invoices: a job of %d orders on the bridge, from the POST to the zip's last byte (%d PDFs, %.1f MB)\n", q.n, q.files, float64(q.zipBytes)/(1<<20))
	bridge, base := perSecond(q.n, q.elapsed), perSecond(q.n, q.issue+q.render)
	fmt.Fprintf(w, "  bridge invoices/s %9.1f   in-process Service invoices/s %9.1f   ratio %.3f   <- headline\n", bridge, base, ratio(bridge, base))
	fmt.Fprintf(w, "  job (issue and render) %s, zip %s; baseline: issue %s, render %s (%d goroutines)\n",
		q.job.Round(time.Millisecond), (q.elapsed - q.job).Round(time.Millisecond), q.issue.Round(time.Millisecond), q.render.Round(time.Millisecond), q.renderers)
	fmt.Fprintf(w, "  progress: %d of %d status polls saw 0 < done < total; bridge log lines: %d warnings, %d errors\n", q.midPolls, q.polls, q.warnings, q.errors)
	if q.peakRSS <= 0 || q.startRSS <= 0 {
		fmt.Fprintln(w, "  bridge RSS: not measured (no /proc)")
		return
	}
	fmt.Fprintf(w, "  bridge RSS: %.1f MB at start, peak %.1f MB (VmHWM; largest sampled during the job %.1f MB), peak/start %.2f\n",
		float64(q.startRSS)/(1<<20), float64(q.peakRSS)/(1<<20), float64(q.sampledRSS)/(1<<20), ratio(float64(q.peakRSS), float64(q.startRSS)))
}
