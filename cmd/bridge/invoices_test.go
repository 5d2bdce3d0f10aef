package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/invoices"
)

// orderInvoicer stands for the glue that issues an order's invoice from
// the order read model: a real invoices.Service on the bridge's Redis,
// with the order's lines given by the test.
type orderInvoicer struct {
	svc    *invoices.Service
	set    invoices.Settings
	orders map[string]invoices.Order
	calls  atomic.Int32
}

func (oi *orderInvoicer) Invoice(ctx context.Context, merchant, store, orderID string, opt invoices.Options) (*invoices.Invoice, []byte, error) {
	oi.calls.Add(1)
	o, ok := oi.orders[store+"/"+orderID]
	if !ok {
		return nil, nil, invoices.ErrNotFound
	}
	return oi.svc.Generate(ctx, merchant, oi.set, o, opt)
}

// pdfText extracts a PDF's text with pdftotext (poppler-utils).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext is missing (poppler-utils)")
		}
		t.Skip("pdftotext is not installed (poppler-utils)")
	}
	p := filepath.Join(t.TempDir(), "x.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// TestInvoiceAttachSendsPDFToMiraklAndUploads: an agent's Gorgias reply
// with "Invoice: attach" sends the order's invoice as a PDF on the Mirakl
// thread and uploads it to the order (OR74); the same webhook delivered
// twice, and the invoice attached again, give one number and one upload.
func TestInvoiceAttachSendsPDFToMiraklAndUploads(t *testing.T) {
	inv := &orderInvoicer{
		set: invoices.Settings{
			Seller: invoices.Seller{
				Name: "ACME SAS", Address: "1 rue de la Paix\n75002 Paris", SIREN: "732829320", VATNumber: "FR44732829320",
				Mentions: "SAS au capital de 10 000 €, RCS Paris",
			},
			ProductVAT: "20", ShippingVAT: "20", Prefix: "FA-", Digits: 5,
		}.Normalize(),
		orders: map[string]invoices.Order{"acme-fr/ORDER-9": {
			Store: "acme-fr", ID: "ORDER-9", Currency: "EUR", Date: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
			Buyer: invoices.Buyer{Name: buyerName},
			Lines: []invoices.Line{{SKU: "MUG", Description: "Mug", Quantity: 2, UnitPrice: "12.50"}},
		}},
	}
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		inv.svc = invoices.NewService(h.rdb, "", invoices.NewRedisFiles(h.rdb, "", 0), time.Now)
		h.invoicer, h.maxReplyFile = inv, 10<<20
	}})
	if _, err := h.mkl.PutOrder(miraklShop, mapi.Order{OrderID: "ORDER-9", OrderState: mapi.StateShipped, CurrencyISOCode: "EUR"}); err != nil {
		t.Fatal(err)
	}
	th, err := h.mkl.AddThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-9", Topic: "Invoice please", CustomerID: "c-9", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "Could I have the invoice of my order?"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.syncNow()
	ticket, ok := h.discussionTickets()["bridge-disc-carrefour-"+miraklShop+"-"+th.ID]
	if !ok {
		t.Fatal("no ticket for the thread")
	}

	h.agentReply(ticket.ID, gorgiasfake.AgentReply{
		BodyHTML:     "<p>Invoice: attach</p><p>Hello, here is the invoice of your order.</p>",
		DeliverTwice: true,
	})
	replies := h.repliesTo(th.ID)
	if len(replies) != 1 {
		t.Fatalf("%d replies in the marketplace, want 1 for a webhook delivered twice", len(replies))
	}
	r := replies[0]
	if strings.Contains(strings.ToLower(r.Body), "invoice: attach") || !strings.HasPrefix(r.Body, "Hello, here is the invoice") {
		t.Errorf("reply body %q: the command line must go, the text stay", r.Body)
	}
	if len(r.Files) != 1 || r.Files[0].Name != "facture-FA-00001.pdf" {
		t.Fatalf("files %+v, want the invoice's PDF", r.Files)
	}
	text := pdfText(t, r.Files[0].Content)
	for _, want := range []string{"FA-00001", "ACME SAS", "Total TTC", "25,00"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q:\n%s", want, text)
		}
	}
	docs := h.mkl.Documents(miraklShop, "ORDER-9")
	if len(docs) != 1 || docs[0].Type != mapi.DocCustomerInvoice || docs[0].FileName != "facture-FA-00001.pdf" {
		t.Fatalf("order documents %+v, want the one invoice", docs)
	}
	if !strings.Contains(pdfText(t, docs[0].Content), "FA-00001") {
		t.Error("the uploaded document is not the invoice")
	}

	// Attached again, in a later reply: the same invoice, no new upload.
	h.agentReply(ticket.ID, gorgiasfake.AgentReply{BodyText: "invoice : ATTACH\nHere it is again."})
	replies = h.repliesTo(th.ID)
	if len(replies) != 2 || len(replies[1].Files) != 1 || replies[1].Files[0].Name != "facture-FA-00001.pdf" {
		t.Fatalf("second reply %+v", replies)
	}
	if n := h.mkl.Requests()["POST /api/orders/{order_id}/documents"]; n != 1 {
		t.Errorf("%d uploads, want 1", n)
	}
	if n := len(h.mkl.Documents(miraklShop, "ORDER-9")); n != 1 {
		t.Errorf("%d documents on the order, want 1", n)
	}
	if next, _, err := inv.svc.Next(context.Background(), "acme", inv.set, "acme-fr", invoices.KindInvoice); err != nil || next != 2 {
		t.Errorf("next number %d (%v): want 2, one invoice issued", next, err)
	}
}
