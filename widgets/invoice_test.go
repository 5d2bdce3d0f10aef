package widgets

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/orders"
)

type fakeInvoices map[string]string // order -> number

func (f fakeInvoices) OrderInvoicePDF(_ context.Context, merchant, store, orderID string) (string, []byte, error) {
	n, ok := f[merchant+"/"+store+"/"+orderID]
	if !ok {
		return "", nil, ErrNoInvoice
	}
	return n, []byte("%PDF-" + n), nil
}

var invoiceHrefRE = regexp.MustCompile(`href="([^"]*` + InvoicePath + `[^"]*)"`)

// An invoiced order's widget links to its invoice with a ticket that
// opens that invoice only; an action ticket opens no invoice, nor an
// invoice ticket an action page.
func TestInvoiceLink(t *testing.T) {
	f := newActionFixture(t, "https://bridge.example")
	f.svc.ServeInvoices(fakeInvoices{"acme/acme-fr/A": "F-000001"})
	if err := orders.NewStore(f.rdb, "test:", 0, 0, time.Now).NoteInvoice(context.Background(), "acme", "acme-fr", "A", "F-000001"); err != nil {
		t.Fatal(err)
	}
	html := f.widget(t, tokNone)
	links := invoiceHrefRE.FindAllStringSubmatch(html, -1)
	if len(links) != 1 || !strings.HasPrefix(links[0][1], "https://bridge.example"+InvoicePath+"?t=") {
		t.Fatalf("invoice links %v; want one, for order A", links)
	}
	ticket := ticketOf(t, strings.ReplaceAll(links[0][1], "&amp;", "&"))
	get := func(ticket string) (int, string) {
		r, _ := http.NewRequest(http.MethodGet, InvoicePath+"?t="+url.QueryEscape(ticket), nil)
		w := f.do(t, r)
		return w.Code, w.Body.String()
	}
	if code, body := get(ticket); code != http.StatusOK || body != "%PDF-F-000001" {
		t.Fatalf("invoice link: %d %q", code, body)
	}
	if w := f.confirm(t, ticket); w.Code != http.StatusForbidden {
		t.Errorf("an invoice ticket on the action page: %d; want 403", w.Code)
	}
	action := ticketOf(t, buttons(f.widget(t, tokShip))["ship"][0])
	if code, _ := get(action); code != http.StatusForbidden {
		t.Errorf("an action ticket as an invoice link: %d; want 403", code)
	}
	f.clock.add(3 * time.Hour)
	if code, _ := get(ticket); code != http.StatusForbidden {
		t.Errorf("an expired invoice link: %d; want 403", code)
	}
}
