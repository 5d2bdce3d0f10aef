package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/orders"
)

// ordersCall GETs an order route with acme's API token and holds the
// answer to openapi.yaml.
func (h *harness) ordersCall(oa *openAPI, path, token string) (*http.Response, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err := oa.checkResponse(req, resp, body); err != nil {
		h.t.Errorf("GET %s: the answer does not match openapi.yaml: %v\n%s", path, err, body)
	}
	return resp, body
}

// Order events in, the order list and its CSV export out.
func TestOrdersListAndExport(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	oa := loadOpenAPI(t)
	now := time.Now().UTC().Truncate(time.Second)
	events := widgetEvents(now)
	events = append(events, event("o5", orders.KindOrderUpserted, map[string]any{
		"store": "acme-de", "order_id": "DE-2002", "updated_at": now.Add(-time.Hour).Format(time.RFC3339),
		"customer":   map[string]any{"email": "=cmd@example.com", "name": "@SUM(1+1)"},
		"created_at": now.Add(-time.Hour).Format(time.RFC3339), "status": "New",
		"shipping_address": map[string]any{"name": "Jeanne Martin", "line1": "1 rue de la Paix", "postal_code": "75002", "city": "Paris", "country": "fr"},
		"lines":            []map[string]any{{"sku": "-2+3", "name": "Tent, 2 places", "quantity": 1}},
	}))
	h.sendAll(events)
	h.settle()

	if resp, body := h.ordersCall(oa, "/v1/orders", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d %s", resp.StatusCode, body)
	}
	if resp, body := h.ordersCall(oa, "/v1/orders?status=Lost", acmeAPIKey); resp.StatusCode != http.StatusUnprocessableEntity || !bytes.Contains(body, []byte(`"field":"status"`)) {
		t.Fatalf("a bad status: %d %s", resp.StatusCode, body)
	}
	resp, body := h.ordersCall(oa, "/v1/orders?limit=2", acmeAPIKey)
	var page orders.Page
	if err := json.Unmarshal(body, &page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	ids := func(p orders.Page) []string {
		var out []string
		for _, o := range p.Orders {
			out = append(out, o.ID)
		}
		return out
	}
	if got := ids(page); !slices.Equal(got, []string{"FR-9999", "DE-2002"}) || page.NextCursor == "" {
		t.Fatalf("first page %v, cursor %q", got, page.NextCursor)
	}
	_, body = h.ordersCall(oa, "/v1/orders?limit=2&cursor="+page.NextCursor, acmeAPIKey)
	var next orders.Page
	_ = json.Unmarshal(body, &next)
	if got := ids(next); !slices.Equal(got, []string{"DE-2001", "FR-1002"}) {
		t.Fatalf("second page %v", got)
	}
	_, body = h.ordersCall(oa, "/v1/orders?email=JEANNE.MARTIN@example.com&marketplace=carrefour", acmeAPIKey)
	var one orders.Page
	_ = json.Unmarshal(body, &one)
	if got := ids(one); !slices.Equal(got, []string{"FR-1001"}) || len(one.Orders[0].Shipments) != 1 {
		t.Fatalf("filtered: %s", body)
	}
	// Another merchant's token sees none of acme's orders.
	_, body = h.ordersCall(oa, "/v1/orders", globexAPIKey)
	if !bytes.Contains(body, []byte(`"orders":[]`)) {
		t.Fatalf("globex sees: %s", body)
	}

	resp, body = h.ordersCall(oa, "/v1/orders.csv", acmeAPIKey)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	if !slices.Equal(recs[0], orders.Columns) {
		t.Fatalf("header %v", recs[0])
	}
	// FR-9999 (1 line), DE-2002 (1), DE-2001 (none: 1 row), FR-1002 (1), FR-1001 (2).
	if len(recs) != 1+6 {
		t.Fatalf("%d rows:\n%s", len(recs), body)
	}
	col := func(row []string, name string) string { return row[slices.Index(orders.Columns, name)] }
	de := recs[2]
	for name, want := range map[string]string{
		"order_id": "DE-2002", "customer_email": "'=cmd@example.com", "customer_name": "'@SUM(1+1)",
		"line_sku": "'-2+3", "line_name": "Tent, 2 places", "shipping_city": "Paris", "shipping_country": "FR",
	} {
		if got := col(de, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if fr := recs[6]; col(fr, "order_id") != "FR-1001" || col(fr, "shipment_carriers") != "Colissimo" || col(fr, "line_number") != "2" {
		t.Errorf("FR-1001's second line: %v", fr)
	}

	// bridge orders export writes what the API does.
	path := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(path, []byte(h.yml), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range h.env {
		t.Setenv(k, v)
	}
	_, api := h.ordersCall(oa, "/v1/orders.csv?store=acme-de&bom=true", acmeAPIKey)
	var out, errOut strings.Builder
	if code := run([]string{"orders", "export", "-config", path, "-merchant", "acme", "-store", "acme-de", "-bom"}, &out, &errOut); code != 0 {
		t.Fatalf("bridge orders export exited %d: %s", code, errOut.String())
	}
	if out.String() != string(api) || !strings.Contains(errOut.String(), "2 orders") {
		t.Fatalf("bridge orders export wrote\n%q\nthe API\n%q\n%s", out.String(), api, errOut.String())
	}
	if code := run([]string{"orders", "export", "-config", path, "-merchant", "nobody"}, &out, &errOut); code != 2 {
		t.Fatalf("an unknown merchant: exit %d", code)
	}
	// Bounds that select nothing are refused, as the API refuses them,
	// rather than answered with an empty export.
	if resp, _ := h.ordersCall(oa, "/v1/orders.csv?created_after=2026-03-01&created_before=2026-01-01", acmeAPIKey); resp.StatusCode != 422 {
		t.Errorf("the API with reversed bounds: %d", resp.StatusCode)
	}
	out.Reset()
	errOut.Reset()
	code := run([]string{"orders", "export", "-config", path, "-merchant", "acme", "-created-after", "2026-03-01", "-created-before", "2026-01-01"}, &out, &errOut)
	if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "-created-before must be later than -created-after") {
		t.Errorf("reversed bounds: exit %d, wrote %q, said %q", code, out.String(), errOut.String())
	}
}
