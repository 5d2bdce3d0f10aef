package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/invoices/s3test"
)

// With invoice_files in a bucket (the in-process S3 fake, see s3test), an
// invoice's PDF downloaded through the API is the bucket's object, and
// Redis keeps the record but no PDF.
func TestInvoicePDFsInBucket(t *testing.T) {
	bucket := s3test.Start(t, "acme-invoices")
	off := false
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		h.cfg.Merchants[0].Stores[0].Invoices = invoiceSettings()
		de := invoiceSettings()
		de.Prefix = "DE/2026/"
		h.cfg.Merchants[0].Stores[1].Invoices = de
		h.cfg.InvoiceFiles = config.InvoiceFiles{Kind: config.InvoiceFilesS3, S3: &config.S3Bucket{
			Endpoint: bucket.Endpoint, Bucket: bucket.Bucket, Region: s3test.Region, Prefix: "invoices/",
			AccessKey: config.NewSecret(s3test.AccessKey), SecretKey: config.NewSecret(s3test.SecretKey),
			TLS: &off, Timeout: 5 * time.Second,
		}}
	}})
	oa := loadOpenAPI(t)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	h.sendAll([][]byte{pricedOrder("i1", "FR-1001", at), pricedOrderIn("acme-de", "i2", "DE-1001", at)})
	h.settle()
	call := func(method, path string) (*http.Response, []byte) {
		return h.invoiceCall(oa, method, path, acmeAPIKey, "", nil)
	}

	for _, tc := range []struct{ order, store, number, key string }{
		{"FR-1001", "acme-fr", "F-000001", "invoices/acme/acme-fr/F-000001.pdf"},
		// A number with slashes keeps them: folders in the bucket.
		{"DE-1001", "acme-de", "DE/2026/000001", "invoices/acme/acme-de/DE/2026/000001.pdf"},
	} {
		if resp, body := call(http.MethodPost, "/v1/orders/"+tc.store+"/"+tc.order+"/invoice"); resp.StatusCode != http.StatusCreated ||
			!bytes.Contains(body, []byte(`"number":"`+tc.number+`"`)) {
			t.Fatalf("POST %s: %d %s", tc.order, resp.StatusCode, body)
		}
		// The first download renders the PDF and puts it in the bucket.
		resp, pdf := call(http.MethodGet, "/v1/orders/"+tc.store+"/"+tc.order+"/invoice.pdf")
		if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
			t.Fatalf("GET %s invoice.pdf: %d %.40q", tc.order, resp.StatusCode, pdf)
		}
		obj, ctype, ok := bucket.Object(t, tc.key)
		if !ok || !bytes.Equal(obj, pdf) || ctype != "application/pdf" {
			t.Fatalf("%s: object %q: found %v, %d bytes, %q; want the %d bytes downloaded; keys %v",
				tc.number, tc.key, ok, len(obj), ctype, len(pdf), bucket.Keys(t))
		}
		// By its number (plain HTTP: openapi.yaml's path template cannot
		// show the slashes a number may hold).
		req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/invoices/"+tc.store+"/"+tc.number+".pdf", nil)
		req.Header.Set("Authorization", "Bearer "+acmeAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !bytes.Equal(again, pdf) {
			t.Errorf("%s by its number differs from the order's: %d", tc.number, resp.StatusCode)
		}
	}
	if keys := bucket.Keys(t); len(keys) != 2 {
		t.Errorf("bucket keys %v, want the two PDFs", keys)
	}

	// Later downloads read the bucket: an object changed there (as no one
	// should) is what the API serves.
	marked := append([]byte("%PDF-1.4 from the bucket\n"), 0)
	bucket.PutRaw(t, "invoices/acme/acme-fr/F-000001.pdf", marked)
	if _, got := call(http.MethodGet, "/v1/orders/acme-fr/FR-1001/invoice.pdf"); !bytes.Equal(got, marked) {
		t.Errorf("the download is not the bucket's object: %.40q", got)
	}

	// Redis holds the records, and no PDF.
	ctx := context.Background()
	if pdfs, err := h.rdb.Keys(ctx, "*inv:{acme}:pdf:*").Result(); err != nil || len(pdfs) > 0 {
		t.Errorf("PDF keys in Redis: %v %v", pdfs, err)
	}
	if records, err := h.rdb.Keys(ctx, "*inv:{acme}:*").Result(); err != nil || len(records) == 0 {
		t.Errorf("no invoice keys in Redis: %v", err)
	}
}
