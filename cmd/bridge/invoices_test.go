package main

import (
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/gorgiasfake"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
	"github.com/helpdesk-bridge/bridge/invoices/pdftest"
)

// TestInvoiceAttachSendsPDFToMiraklAndUploads: an agent's Gorgias reply
// with "Invoice: attach" sends the order's invoice as a PDF on the Mirakl
// thread and uploads it to the order (OR74); the same webhook delivered
// twice, and the invoice attached again, give one number and one upload.
func TestInvoiceAttachSendsPDFToMiraklAndUploads(t *testing.T) {
	h := newHarness(t, harnessOptions{before: func(h *harness) {
		set := invoiceSettings()
		set.Prefix, set.Digits = "FA-", 5
		h.cfg.Merchants[0].Stores[0].Invoices = set
		h.maxReplyFile = 10 << 20
	}})
	// The order comes into the read model from Mirakl, with its prices
	// and the buyer's billing address, as the orders sync reads it.
	if _, err := h.mkl.PutOrder(miraklShop, mapi.Order{
		OrderID: "ORDER-9", OrderState: mapi.StateShipped, CurrencyISOCode: "EUR", CustomerNotificationEmail: actionsBuyer,
		TotalPrice: "25.00", Price: "25.00", ShippingPrice: "0",
		Customer: mapi.Customer{CustomerID: "c-9", Firstname: "Jeanne", Lastname: "Martin", BillingAddress: &mapi.Address{
			Firstname: "Jeanne", Lastname: "Martin", Street1: "3 place de la Gare", ZipCode: "67000", City: "Strasbourg", Country: "France", CountryISOCode: "FRA",
		}},
		OrderLines: []mapi.OrderLine{{OrderLineID: "ORDER-9-1", OfferSKU: "MUG", ProductTitle: "Mug", Quantity: 2, Price: "25.00", OrderLineState: mapi.StateShipped}},
	}); err != nil {
		t.Fatal(err)
	}
	h.syncOrders(t, 1)
	eventually(t, 20*time.Second, "the order in the read model", func() bool { return h.widgetOrder("ORDER-9") != nil })
	th, ticket := h.mirrorThread(miraklfake.ThreadSeed{
		EntityType: mapi.EntityOrder, EntityID: "ORDER-9", Topic: "Invoice please", CustomerID: "c-9", CustomerName: buyerName,
		Message: miraklfake.MessageSeed{Body: "Could I have the invoice of my order?"},
	})

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
	text := pdftest.Text(t, r.Files[0].Content)
	for _, want := range []string{"FA-00001", "ACME France SAS", "Total TTC", "25,00", "Strasbourg"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF lacks %q:\n%s", want, text)
		}
	}
	docs := h.mkl.Documents(miraklShop, "ORDER-9")
	if len(docs) != 1 || docs[0].Type != mapi.DocCustomerInvoice || docs[0].FileName != "facture-FA-00001.pdf" {
		t.Fatalf("order documents %+v, want the one invoice", docs)
	}
	if !strings.Contains(pdftest.Text(t, docs[0].Content), "FA-00001") {
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
	if w := h.widgetOrder("ORDER-9"); w == nil || w["invoice_url"] == "" {
		t.Errorf("the sidebar shows no invoice link for the order: %v", w)
	}
}
