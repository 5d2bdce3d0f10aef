package widgets

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// InvoicePDFs is what the sidebars need of the invoices (invoices.Maker):
// an order's invoice PDF, once issued.
type InvoicePDFs interface {
	// OrderInvoicePDF returns the number and PDF of an order's invoice,
	// or ErrNoInvoice.
	OrderInvoicePDF(ctx context.Context, merchant, store, orderID string) (number string, pdf []byte, err error)
}

// ErrNoInvoice: the order has no invoice.
var ErrNoInvoice = errors.New("widgets: the order has no invoice")

// InvoicePath is where an order's invoice link leads: a browser tab, whose
// signed ticket (t) names the sidebar, the store and the order, as an
// action button's does, valid one to two hours.
const InvoicePath = "/v1/widgets/invoice"

// invoiceTicket is the ticket's "action": no order action has this name,
// so an invoice link opens no action page, nor an action link an invoice.
const invoiceTicket = "invoice"

// ServeInvoices gives orders with an invoice a link to it in the widgets
// whose layout shows orders.invoice_url, and serves those links.
func (s *Service) ServeInvoices(p InvoicePDFs) { s.invoices = p }

func (s *Service) invoice(c *gin.Context) {
	if s.invoices == nil {
		httpapi.Fail(c, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "", "this bridge serves no invoices"))
		return
	}
	raw := c.Query("t")
	t, _, _, ok := ticketPayload(raw)
	if !ok {
		httpapi.Fail(c, errTicket)
		return
	}
	v, found := s.byID[t.Sidebar]
	if !found {
		httpapi.Fail(c, errTicket)
		return
	}
	t, err := verifyTicket(v.ticketKey, raw, s.now())
	if err != nil || t.Action != invoiceTicket || !v.Sidebar.TargetsStore(t.Store) || !v.Shows("orders", "invoice_url") {
		httpapi.Fail(c, errTicket)
		return
	}
	number, pdf, err := s.invoices.OrderInvoicePDF(c.Request.Context(), v.Merchant, t.Store, t.OrderID)
	if errors.Is(err, ErrNoInvoice) {
		httpapi.Fail(c, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "t", "the order has no invoice"))
		return
	}
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.Header("Content-Disposition", `inline; filename="`+strings.ReplaceAll(number, "/", "-")+`.pdf"`)
	c.Header("Cache-Control", "private, no-store")
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "application/pdf", pdf)
}
