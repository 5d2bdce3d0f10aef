package discussions

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
	mapi "github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/invoices"
)

// testInvoicer issues invoices with a real invoices.Service, from orders
// the test gives, as the glue over the order read model will.
type testInvoicer struct {
	svc    *invoices.Service
	set    invoices.Settings
	orders map[string]invoices.Order
	calls  atomic.Int32
	err    error // returned instead, when set
}

func (ti *testInvoicer) Invoice(ctx context.Context, merchant, store, orderID string, opt invoices.Options) (*invoices.Invoice, []byte, error) {
	ti.calls.Add(1)
	if ti.err != nil {
		return nil, nil, ti.err
	}
	o, ok := ti.orders[store+"/"+orderID]
	if !ok {
		return nil, nil, fmt.Errorf("order %s: %w", orderID, invoices.ErrNotFound)
	}
	return ti.svc.Generate(ctx, merchant, ti.set, o, opt)
}

func testInvoiceSettings() invoices.Settings {
	return invoices.Settings{
		Seller: invoices.Seller{
			Name: "ACME SAS", Address: "1 rue de la Paix\n75002 Paris", SIREN: "732829320", VATNumber: "FR44732829320",
			Mentions: "SAS au capital de 10 000 €, RCS Paris",
		},
		ProductVAT: "20", ShippingVAT: "20", Prefix: "F-", Digits: 6,
	}.Normalize()
}

// withInvoices gives the fixture's service invoices, and its thread's
// order to Mirakl and to the invoicer.
func (f *replyFixture) withInvoices() *testInvoicer {
	f.t.Helper()
	ti := &testInvoicer{
		svc: invoices.NewService(f.store.rdb, "test:", invoices.NewRedisFiles(f.store.rdb, "test:", 0), time.Now),
		set: testInvoiceSettings(),
		orders: map[string]invoices.Order{"acme-fr/ORDER-7": {
			Store: "acme-fr", ID: "ORDER-7", Currency: "EUR", Date: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC),
			Buyer: invoices.Buyer{Name: "Jeanne Martin"},
			Lines: []invoices.Line{{SKU: "MUG", Description: "Mug", Quantity: 2, UnitPrice: "12.50"}},
		}},
	}
	f.svc.o.Invoicer = ti
	if _, err := f.mkl.PutOrder(replyShop, mapi.Order{OrderID: "ORDER-7", OrderState: mapi.StateShipped, CurrencyISOCode: "EUR"}); err != nil {
		f.t.Fatal(err)
	}
	return ti
}

func (f *replyFixture) threadReplies() []string {
	var out []string
	for _, r := range f.mkl.Replies() {
		if r.ThreadID == f.thread {
			files := []string{}
			for _, file := range r.Files {
				files = append(files, file.Name)
			}
			out = append(out, r.Body+" "+strings.Join(files, ","))
		}
	}
	return out
}

func (f *replyFixture) ticketMessages() []string {
	id, _ := strconv.ParseInt(f.ticket, 10, 64)
	tk, _ := f.gorg.Ticket(id)
	var out []string
	for _, m := range tk.Messages {
		out = append(out, m.BodyText)
	}
	return out
}

func isDocuments(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/documents")
}

func TestInvoiceCommand(t *testing.T) {
	for body, want := range map[string]bool{
		"Invoice: attach\nHello":          true,
		"  invoice :ATTACH  \nHello":      true,
		"Invoice:attach":                  true,
		"Facture : joindre\nBonjour":      true,
		"facture: Joindre":                true,
		"Invoice: attached\nHello":        false,
		"Hello\nInvoice: attach":          false,
		"Please find the invoice: attach": false,
	} {
		got, rest := leadingCommands(body)
		if got.invoice != want {
			t.Errorf("%q: %v, want %v", body, got.invoice, want)
		}
		if got.invoice && strings.Contains(strings.ToLower(rest), "attach") {
			t.Errorf("%q: the line stays in %q", body, rest)
		}
	}
}

// TestLeadingCommands: the command lines a reply starts with are read in
// either order, whatever blank lines or paragraphs (as Gorgias's and
// Zendesk's editors write them) separate them, and removed; a command
// after other text is text.
func TestLeadingCommands(t *testing.T) {
	customer, operator := connectors.PartyCustomer, connectors.PartyOperator
	for _, c := range []struct {
		body    string
		to      []connectors.PartyType
		invoice bool
		rest    string
	}{
		{"<p>Invoice: attach</p><p>To: operator</p><p>Hello</p>", []connectors.PartyType{operator}, true, "Hello"},
		{"<p>To: operator</p><p>Invoice: attach</p><p>Hello</p>", []connectors.PartyType{operator}, true, "Hello"},
		{"<div>To: both</div><div><br></div><div>Facture : joindre</div><div>Bonjour</div>", []connectors.PartyType{customer, operator}, true, "Bonjour"},
		{"To: customer\r\n\r\nInvoice: attach\r\n\r\nHello\r\nSecond line", []connectors.PartyType{customer}, true, "Hello\r\nSecond line"},
		{"\n\nTo: operator\nHello\n\nInvoice: attach", []connectors.PartyType{operator}, false, "Hello\n\nInvoice: attach"},
		{"<p>Hello</p><p>To: operator</p>", nil, false, "Hello\n\nTo: operator"},
		{"To: operator\n\nTo: customer\nHello", []connectors.PartyType{operator}, false, "To: customer\nHello"},
		{"<p>To: operator</p><p>Invoice: attach</p>", []connectors.PartyType{operator}, true, ""},
	} {
		got, rest := leadingCommands(PlainText(c.body))
		if fmt.Sprint(got.to) != fmt.Sprint(c.to) || got.invoice != c.invoice || strings.TrimSpace(rest) != c.rest {
			t.Errorf("%q: to %v invoice %v text %q, want %v %v %q", c.body, got.to, got.invoice, rest, c.to, c.invoice, c.rest)
		}
	}
}

// TestCommandsInParagraphs: an HTML reply whose command lines are
// paragraphs of their own goes where its "To:" line says, with the
// invoice, and neither line reaches the marketplace.
func TestCommandsInParagraphs(t *testing.T) {
	f := newReplyFixture(t, "en")
	f.withInvoices()
	f.agentWritesHTML("<p>Invoice: attach</p><p>To: operator</p><p>Hello, here is the invoice.</p>")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	f.agentWritesHTML("<div>To: operator</div><div><br></div><div>Invoice: attach</div><div>Here it is again.</div>")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	want := []string{"Hello, here is the invoice. facture-F-000001.pdf", "Here it is again. facture-F-000001.pdf"}
	if got := f.threadReplies(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	for _, r := range f.mkl.Replies() {
		if len(r.To) != 1 || r.To[0].Type != "OPERATOR" {
			t.Errorf("reply %q went to %+v, want the operator", r.Body, r.To)
		}
	}
}

// TestInvoiceAttachSendsTheInvoiceOnce: the command sends the order's
// invoice with the reply, without the command line, and uploads it to the
// order once; attaching it again reuses the number and uploads nothing.
func TestInvoiceAttachSendsTheInvoiceOnce(t *testing.T) {
	f := newReplyFixture(t, "en")
	ti := f.withInvoices()
	f.agentWrites("Invoice: attach\nHello, here is your invoice.", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	// After a "To:" line, in French: the same invoice.
	f.agentWrites("To: customer\nFacture : joindre\nLa voici de nouveau.", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	want := []string{"Hello, here is your invoice. facture-F-000001.pdf", "La voici de nouveau. facture-F-000001.pdf"}
	if got := f.threadReplies(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	for _, r := range f.mkl.Replies() {
		if c := r.Files[0].Content; !strings.HasPrefix(string(c), "%PDF") {
			t.Errorf("the file is no PDF: %.20q", c)
		}
	}
	docs := f.mkl.Documents(replyShop, "ORDER-7")
	if len(docs) != 1 || docs[0].FileName != "facture-F-000001.pdf" || docs[0].Type != mapi.DocCustomerInvoice || !strings.HasPrefix(string(docs[0].Content), "%PDF") {
		t.Errorf("order documents %+v, want the one invoice", docs)
	}
	if n := f.mkl.Requests()["POST /api/orders/{order_id}/documents"]; n != 1 {
		t.Errorf("%d uploads, want 1", n)
	}
	if next, _, _ := ti.svc.Next(context.Background(), "acme", ti.set, "acme-fr", invoices.KindInvoice); next != 2 {
		t.Errorf("next number %d: the second attach issued another invoice", next)
	}
	if d := f.discussion(); d.Messages != 3 || d.LastReply == nil || d.LastReply.Status != ReplySent {
		t.Errorf("discussion: %d messages, last reply %+v", d.Messages, d.LastReply)
	}
}

// TestInvoiceAttachRefusals: where the invoice cannot go with the reply,
// nothing goes, and a note says why.
func TestInvoiceAttachRefusals(t *testing.T) {
	for _, c := range []struct {
		name  string
		setup func(f *replyFixture)
		want  string
	}{
		{"not configured", func(f *replyFixture) {}, "invoices are not configured"},
		{"not about an order", func(f *replyFixture) {
			f.withInvoices()
			if _, err := f.store.Update(context.Background(), "acme", "acme-carrefour", f.thread, func(d *Discussion) error {
				d.Type, d.EntityID = connectors.EntityOther, ""
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}, "is not about an order"},
		{"no invoice", func(f *replyFixture) {
			f.withInvoices().orders = nil
		}, "could not be made"},
		{"too large", func(f *replyFixture) {
			f.withInvoices()
			f.svc.o.MaxReplyFile = 100
		}, "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newReplyFixture(t, "en")
			c.setup(f)
			f.agentWrites("Invoice: attach\nHello, here is your invoice.", "")
			if err := f.reply("", time.Now()); err != nil {
				t.Fatal(err)
			}
			if got := f.threadReplies(); len(got) != 0 {
				t.Errorf("sent %q", got)
			}
			if note := f.lastNote(); !strings.Contains(note, "This reply was NOT sent") || !strings.Contains(note, c.want) {
				t.Errorf("note:\n%s\nwant %q", note, c.want)
			}
			if d := f.discussion(); d.LastReply == nil || d.LastReply.Status != ReplyRefused {
				t.Errorf("last reply %+v, want refused", d.LastReply)
			}
			if n := len(f.mkl.Documents(replyShop, "ORDER-7")); n != 0 {
				t.Errorf("%d documents uploaded", n)
			}
		})
	}
	// A marketplace that takes no files, and an invoice that fails for
	// now: the first is refused, the second retried.
	f := newReplyFixture(t, "en")
	ti := f.withInvoices()
	a, err := f.svc.account("acme", "acme-carrefour")
	if err != nil {
		t.Fatal(err)
	}
	d := f.discussion()
	if _, _, why, err := f.svc.invoiceFile(context.Background(), a, &d, connectors.MarketplaceCapabilities{}); err != nil || why == nil || why.kind != refusedInvoiceNoFiles {
		t.Errorf("no files: %v %+v", err, why)
	}
	ti.err = fmt.Errorf("invoices: %w", invoices.ErrBusy)
	if _, _, why, err := f.svc.invoiceFile(context.Background(), a, &d, a.mp.Capabilities()); !errors.Is(err, invoices.ErrBusy) || why != nil {
		t.Errorf("busy series: %v %+v, want an error to retry", err, why)
	}
}

// TestUncertainInvoiceUploadIsLookedUp: an upload whose answer was lost
// holds the reply back until it settled; then the order's documents show
// it, and it is not uploaded again.
func TestUncertainInvoiceUploadIsLookedUp(t *testing.T) {
	f := newReplyFixture(t, "en")
	f.withInvoices()
	f.mkl.Faults().Push(fault.Fault{Status: http.StatusBadGateway, After: true, Match: isDocuments})
	f.agentWrites("Invoice: attach\nHello, here is your invoice.", "")
	err := f.reply("", time.Now())
	var se *connectors.SettleError
	if !errors.As(err, &se) || !errors.Is(err, connectors.ErrUncertain) {
		t.Fatalf("first attempt: %v, want an uncertain upload to settle", err)
	}
	if err := f.reply("", time.Now()); !errors.As(err, &se) {
		t.Fatalf("early retry: %v, want to wait", err)
	}
	if n := len(f.threadReplies()); n != 0 {
		t.Fatalf("%d replies sent before the upload settled", n)
	}
	time.Sleep(se.RetryAfter)
	if err := f.reply("", time.Now()); err != nil {
		t.Fatalf("retry once settled: %v", err)
	}
	if n := len(f.mkl.Documents(replyShop, "ORDER-7")); n != 1 {
		t.Errorf("%d documents on the order, want 1", n)
	}
	if n := f.mkl.Requests()["POST /api/orders/{order_id}/documents"]; n != 1 {
		t.Errorf("%d uploads, want the uncertain one only", n)
	}
	if got := f.threadReplies(); len(got) != 1 {
		t.Errorf("replies %q, want 1", got)
	}
}

// TestInvoiceUploadClaim: replicas attaching the same order's invoice at
// once upload it once; the others wait for it to settle.
func TestInvoiceUploadClaim(t *testing.T) {
	f := newReplyFixture(t, "en")
	ti := f.withInvoices()
	a, err := f.svc.account("acme", "acme-carrefour")
	if err != nil {
		t.Fatal(err)
	}
	d := f.discussion()
	inv, pdf, err := ti.Invoice(context.Background(), "acme", "acme-fr", "ORDER-7", invoices.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var done, waiting atomic.Int32
	for range 6 {
		wg.Go(func() {
			err := f.svc.uploadInvoice(context.Background(), a, &d, connectors.TicketMessage{ID: "m1"}, inv, pdf)
			var se *connectors.SettleError
			switch {
			case err == nil:
				done.Add(1)
			case errors.As(err, &se):
				waiting.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(f.mkl.Documents(replyShop, "ORDER-7")); n != 1 || done.Load()+waiting.Load() != 6 {
		t.Errorf("%d documents (want 1); %d done, %d waiting", n, done.Load(), waiting.Load())
	}
	// Once done, nothing is read or uploaded again.
	before := f.mkl.Requests()
	if err := f.svc.uploadInvoice(context.Background(), a, &d, connectors.TicketMessage{ID: "m2"}, inv, pdf); err != nil {
		t.Fatal(err)
	}
	if after := f.mkl.Requests(); after["GET /api/orders/documents"] != before["GET /api/orders/documents"] {
		t.Error("a done upload read the documents again")
	}
}

// TestRefusedInvoiceUploadIsNoted: Mirakl refuses the document (a type
// code its operator does not have): the reply still goes with the
// invoice, and a note tells the agent the order does not carry it.
func TestRefusedInvoiceUploadIsNoted(t *testing.T) {
	f := newReplyFixture(t, "fr")
	f.withInvoices()
	f.mkl.Faults().Push(fault.Fault{Status: http.StatusBadRequest, Match: isDocuments})
	f.agentWrites("Facture : joindre\nBonjour, voici votre facture.", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := f.threadReplies(); len(got) != 1 {
		t.Fatalf("replies %q, want 1", got)
	}
	id := f.ticket
	note := ""
	for _, m := range f.ticketMessages() {
		if strings.Contains(m, "documents de la commande ORDER-7") {
			note = m
		}
	}
	if note == "" || !strings.Contains(note, "F-000001") {
		t.Errorf("no note about the refused upload on ticket %s", id)
	}
	// Attached again: not uploaded again, nor noted twice.
	f.agentWrites("Facture : joindre\nLa voici encore.", "")
	if err := f.reply("", time.Now()); err != nil {
		t.Fatal(err)
	}
	// The refused upload never reached the handler (the fault answered).
	if n, looks := f.mkl.Requests()["POST /api/orders/{order_id}/documents"], f.mkl.Requests()["GET /api/orders/documents"]; n != 0 || looks != 1 {
		t.Errorf("%d uploads and %d looks after a refusal, want 0 and 1", n, looks)
	}
	if notes := strings.Count(strings.Join(f.ticketMessages(), "\n"), "documents de la commande"); notes != 1 {
		t.Errorf("%d notes about the upload, want 1", notes)
	}
}
