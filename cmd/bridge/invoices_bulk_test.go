package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/orders"
)

// bulkSettings are acme-fr's invoice settings, put through the API.
const bulkSettings = `{"seller":{"name":"ACME SAS","address":"1 rue du Commerce\n75015 Paris","siren":"732 829 320","vat_number":"FR44 732829320"},
"product_vat":"20","shipping_vat":"20","prefix":"F-","digits":6}`

// apiCall sends a request with acme's API token and decodes a JSON
// answer; raw is the body as received.
func (h *harness) apiCall(method, path, body string) (int, map[string]any, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(method, h.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+acmeAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out, raw
}

// End to end through the bridge: invoice settings and a bulk job through
// the API, its chunks on the bridge's workers; the bridge stopped while
// the job runs and started again; the job finishes with every order
// invoiced once, the numbers one gapless run, all in the zip.
func TestBulkInvoicesEndToEnd(t *testing.T) {
	srv := rdbtest.Start(t)
	h := newHarness(t, harnessOptions{redisURL: "redis://" + srv.Addr + "/0"})
	if code, ans, _ := h.apiCall(http.MethodPut, "/v1/stores/acme-fr/invoice-settings", bulkSettings); code != http.StatusOK {
		t.Fatalf("settings: %d %v", code, ans)
	}
	const n = 150
	store := orders.NewStore(h.rdb, h.cfg.Redis.KeyPrefix, h.cfg.Widgets.Retention, h.cfg.Widgets.MaxOrders, time.Now)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("BULK-%03d", i)
		o := &orders.Order{
			ID: ids[i], Store: "acme-fr", Status: orders.StatusShipped, CreatedAt: time.Now().Add(-time.Hour).UTC(), Currency: "EUR",
			Buyer: orders.Buyer{Name: "Camille Durand"}, ShippingPrice: "0",
			Lines: []orders.Line{{SKU: "MUG-01", Name: "Blue mug", Quantity: 1 + i%4, UnitPrice: "9.90"}},
		}
		if _, err := store.Apply(context.Background(), orders.Change{Merchant: "acme", Store: "acme-fr", OrderID: ids[i], Email: fmt.Sprintf("b%d@example.com", i), Order: o, UpdatedAt: o.CreatedAt}); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := json.Marshal(map[string]any{"order_ids": ids, "first_number": 1})
	code, ans, _ := h.apiCall(http.MethodPost, "/v1/invoices/acme-fr/bulk", string(body))
	if code != http.StatusAccepted {
		t.Fatalf("submit: %d %v", code, ans)
	}
	status := ans["status_url"].(string)
	job := func() map[string]any {
		code, ans, _ := h.apiCall(http.MethodGet, status, "")
		if code != http.StatusOK {
			t.Fatalf("job: %d %v", code, ans)
		}
		return ans
	}
	// Stopped once the first chunk is recorded, started again.
	eventually(t, time.Minute, "the first chunk", func() bool { return job()["chunks"].(float64) >= 1 })
	h.stop()
	h.start(ModeServe)
	eventually(t, 2*time.Minute, "the job to finish", func() bool { s := job()["state"]; return s == "done" || s == "failed" })
	j := job()
	if j["state"] != "done" || j["done"].(float64) != n || j["failed"].(float64) != 0 || j["chunks"].(float64) != 2 {
		t.Fatalf("job: %v", j)
	}
	code, _, raw := h.apiCall(http.MethodGet, j["zip_url"].(string), "")
	if code != http.StatusOK {
		t.Fatalf("zip: %d %.200s", code, raw)
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("zip: %v", err)
	}
	if len(zr.File) != n {
		t.Fatalf("the zip holds %d files, want %d", len(zr.File), n)
	}
	for i, f := range zr.File {
		if want := fmt.Sprintf("F-%06d.pdf", i+1); f.Name != want {
			t.Fatalf("file %d is %s, want %s", i, f.Name, want)
		}
	}
	keys, err := h.rdb.Keys(context.Background(), h.cfg.Redis.KeyPrefix+"inv:{acme}:r:acme-fr:*").Result()
	if err != nil || len(keys) != n {
		t.Errorf("%d invoice records (%v), want %d: one per order", len(keys), err, n)
	}
}
