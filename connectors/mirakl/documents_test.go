package mirakl_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

func TestInvoiceDocuments(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedMirakl(t, h, "O-1-A", api.StateShipped)
	ctx := t.Context()
	if _, err := h.fake.PutDocument(shopID, "O-1-A", "delivery.pdf", api.DocDeliveryBill, []byte("bill")); err != nil {
		t.Fatal(err)
	}
	if has, err := h.mp.HasInvoice(ctx, "O-1-A"); err != nil || has {
		t.Fatalf("HasInvoice before the upload: %v %v", has, err)
	}
	if err := h.mp.UploadInvoice(ctx, "O-1-A", "invoice-F-000001.pdf", []byte("%PDF-1.7")); err != nil {
		t.Fatal(err)
	}
	docs, err := h.mp.ListDocuments(ctx, "O-1-A")
	if err != nil || len(docs) != 2 {
		t.Fatalf("ListDocuments: %v %+v", err, docs)
	}
	if d := docs[1]; d.FileName != "invoice-F-000001.pdf" || d.Type != api.DocCustomerInvoice || d.Size != 8 || d.UploadedAt.IsZero() {
		t.Errorf("the invoice %+v", d)
	}
	if got := h.fake.Documents(shopID, "O-1-A"); string(got[1].Content) != "%PDF-1.7" {
		t.Errorf("uploaded content %q", got[1].Content)
	}
	if has, err := h.mp.HasInvoice(ctx, "O-1-A"); err != nil || !has {
		t.Errorf("HasInvoice after the upload: %v %v", has, err)
	}
	if docs, err := h.mp.ListDocuments(ctx, "NOPE-A"); err != nil || len(docs) != 0 {
		t.Errorf("documents of an unknown order: %v %+v", err, docs)
	}
}

func TestInvoiceDocumentTypePerAccount(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{fake: miraklfake.Options{DocumentTypes: []api.DocumentType{{Code: "FACTURE_CLIENT", Label: "Facture", Description: "Facture", Entity: api.DocEntityOrder}}}})
	seedMirakl(t, h, "O-1-A", api.StateShipped)
	// The default code is unknown to this operator: refused, for good.
	err := h.mp.UploadInvoice(t.Context(), "O-1-A", "invoice-1.pdf", []byte("%PDF"))
	if !errors.Is(err, connectors.ErrInvalid) || !strings.Contains(err.Error(), "Unable to retrieve document's type") {
		t.Fatalf("unknown type code: err = %v, want ErrInvalid with Mirakl's message", err)
	}
	mp, err := mirakl.New(mirakl.Options{BaseURL: h.baseURL, APIKey: apiKey, HTTPClient: h.hc, InvoiceDocumentType: "FACTURE_CLIENT"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mp.UploadInvoice(t.Context(), "O-1-A", "invoice-1.pdf", []byte("%PDF")); err != nil {
		t.Fatal(err)
	}
	if has, err := mp.HasInvoice(t.Context(), "O-1-A"); err != nil || !has {
		t.Errorf("HasInvoice with the account's code: %v %v", has, err)
	}
	if has, _ := h.mp.HasInvoice(t.Context(), "O-1-A"); has {
		t.Error("another type code sees the invoice")
	}
}

func TestUploadDocumentFailures(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	seedMirakl(t, h, "O-1-A", api.StateShipped)
	ctx := t.Context()
	for name, file := range map[string]string{"non-ASCII": "facturé.pdf", "extension": "invoice.exe", "quote": `a"b.pdf`} {
		if err := h.mp.UploadInvoice(ctx, "O-1-A", file, []byte("x")); !errors.Is(err, connectors.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid before sending", name, err)
		}
	}
	if n := h.fake.Requests()["POST /api/orders/{order_id}/documents"]; n != 0 {
		t.Errorf("%d uploads sent for refused names", n)
	}
	post := func(r *http.Request) bool { return r.Method == http.MethodPost }
	// A 5xx, or an answer lost after the upload took: uncertain.
	h.fake.Faults().Push(fault.Fault{Status: http.StatusBadGateway, After: true, Match: post})
	err := h.mp.UploadInvoice(ctx, "O-1-A", "invoice-1.pdf", []byte("%PDF"))
	if !errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("answer lost: err = %v, want ErrUncertain", err)
	}
	h.fake.Faults().Push(fault.Fault{Hang: 2 * time.Second, After: true, Match: post})
	if err := h.mp.UploadInvoice(ctx, "O-1-A", "invoice-2.pdf", []byte("%PDF")); !errors.Is(err, connectors.ErrUncertain) {
		t.Errorf("timed out: err = %v, want ErrUncertain", err)
	}
	if n := len(h.fake.Documents(shopID, "O-1-A")); n != 2 {
		t.Errorf("%d documents, want the 2 whose answers were lost", n)
	}
	// A 429 is a refusal: not uncertain.
	h.fake.Faults().Push(fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Match: post})
	if err := h.mp.UploadInvoice(ctx, "O-1-A", "invoice-3.pdf", []byte("%PDF")); errors.Is(err, connectors.ErrUncertain) || !connectors.IsRetryable(err) {
		t.Errorf("429: err = %v, want retryable, not uncertain", err)
	}
	if err := h.mp.UploadInvoice(ctx, "NOPE-A", "invoice-1.pdf", []byte("%PDF")); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("unknown order: err = %v, want ErrNotFound", err)
	}
}
