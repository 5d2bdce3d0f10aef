package orders

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// Columns are the export's columns, in order. The export has one row per
// order line, the order's columns repeated on each: that is what a
// spreadsheet filters, sums and pivots without splitting cells. An order
// without lines still has one row, with empty line columns. An order's
// shipments are joined in their columns by "; ", in the same order in
// each, since they are few and rarely needed apart.
var Columns = []string{
	"order_id", "store", "marketplace", "status", "marketplace_status", "created_at", "total", "currency", "order_url",
	"customer_email", "customer_name", "customer_phone", "customer_external_id",
	"shipping_name", "shipping_line1", "shipping_line2", "shipping_postal_code", "shipping_city", "shipping_region", "shipping_country",
	"shipment_statuses", "shipment_carriers", "shipment_tracking_numbers", "shipment_tracking_urls",
	"returns", "support_requests",
	"line_number", "line_sku", "line_name", "line_quantity",
}

// bom is UTF-8's byte order mark: Excel reads a CSV file as UTF-8 only
// behind one, and other programs skip it.
const bom = "\uFEFF"

// flushEvery is how many orders the export writes between flushes, so
// that the client receives the rows as they come and nothing piles up.
const flushEvery = scanBatch

// ExportOptions shape an export.
type ExportOptions struct {
	// BOM starts the file with a UTF-8 byte order mark, for Excel.
	BOM bool
	// Flush, when set, is called after each batch of rows reached w.
	Flush func()
}

// Export writes every order q selects to w as CSV (RFC 4180: CRLF line
// ends, fields quoted when they hold a comma, quote or line break),
// UTF-8, with Columns as its header. It streams: the orders are read a
// batch at a time, whatever their number. It returns the number of
// orders written.
func (s *Store) Export(ctx context.Context, w io.Writer, merchant string, q Query, o ExportOptions) (int, error) {
	if o.BOM {
		if _, err := io.WriteString(w, bom); err != nil {
			return 0, err
		}
	}
	rw := newRecordWriter()
	if err := rw.write(Columns); err != nil {
		return 0, err
	}
	n := 0
	row := make([]string, len(Columns))
	flush := func() error {
		if _, err := w.Write(rw.out.Bytes()); err != nil {
			return err
		}
		rw.out.Reset()
		if o.Flush != nil {
			o.Flush()
		}
		return nil
	}
	err := s.Each(ctx, merchant, q, func(l Listed) error {
		for _, r := range rows(l, row) {
			if err := rw.write(r); err != nil {
				return err
			}
		}
		n++
		if n%flushEvery == 0 {
			return flush()
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	return n, flush()
}

// recordWriter writes CSV records ending in CRLF into out, leaving the
// line breaks inside fields as they are: encoding/csv's UseCRLF would also
// turn a field's LF into CRLF (and drop its lone CRs), changing the
// values. The csv.Writer quotes; each record is flushed on its own so
// that its last byte, the LF ending it, can be made CRLF.
type recordWriter struct {
	out bytes.Buffer
	cw  *csv.Writer
}

func newRecordWriter() *recordWriter {
	rw := &recordWriter{}
	rw.cw = csv.NewWriter(&rw.out)
	return rw
}

func (rw *recordWriter) write(rec []string) error {
	if err := rw.cw.Write(rec); err != nil {
		return err
	}
	rw.cw.Flush()
	if err := rw.cw.Error(); err != nil {
		return err
	}
	rw.out.Truncate(rw.out.Len() - 1) // the record's LF
	rw.out.WriteString("\r\n")
	return nil
}

// rows are the CSV rows of one order, reusing row for the order's columns.
func rows(l Listed, row []string) [][]string {
	o := &l.Order
	var a Address
	if o.ShippingAddress != nil {
		a = *o.ShippingAddress
	}
	ship := func(f func(Shipment) string) string {
		parts := make([]string, len(o.Shipments))
		for i, sh := range o.Shipments {
			parts[i] = f(sh)
		}
		return strings.Join(parts, "; ")
	}
	copy(row, []string{
		safe(o.ID), safe(o.Store), safe(o.Marketplace), safe(o.Status), safe(o.MarketplaceStatus),
		o.CreatedAt.UTC().Format(time.RFC3339), o.Total, safe(o.Currency), safe(o.URL),
		safe(l.CustomerEmail), safe(o.Buyer.Name), safe(o.Buyer.Phone), safe(o.Buyer.ExternalID),
		safe(a.Name), safe(a.Line1), safe(a.Line2), safe(a.PostalCode), safe(a.City), safe(a.Region), safe(a.Country),
		safe(ship(func(s Shipment) string { return s.Status })), safe(ship(func(s Shipment) string { return s.Carrier })),
		safe(ship(func(s Shipment) string { return s.TrackingNumber })), safe(ship(func(s Shipment) string { return s.TrackingURL })),
		strconv.Itoa(len(o.Returns)), strconv.Itoa(len(o.SupportRequests)),
	})
	const order = 26 // columns before the line's
	if len(o.Lines) == 0 {
		clear(row[order:])
		return [][]string{row}
	}
	out := make([][]string, len(o.Lines))
	for i, ln := range o.Lines {
		r := make([]string, len(Columns))
		copy(r, row[:order])
		r[order], r[order+1], r[order+2], r[order+3] = strconv.Itoa(i+1), safe(ln.SKU), safe(ln.Name), strconv.Itoa(ln.Quantity)
		out[i] = r
	}
	return out
}

// safe neutralises a field a spreadsheet would run as a formula, as OWASP
// advises: one starting with =, +, -, @, a tab or a carriage return gets
// a leading apostrophe, which spreadsheets show as text. Numbers the
// bridge formats itself (quantities, counts) and totals, which events
// validate as decimal numbers, need none.
func safe(s string) string {
	if s != "" && strings.IndexByte("=+-@\t\r", s[0]) >= 0 {
		return "'" + s
	}
	return s
}

// ExportWriteWindow is how long the export may take to write one batch of
// rows to a client.
var ExportWriteWindow = 60 * time.Second

// lazyHeaders sets the CSV response's headers at its first byte, so that
// an export failing before any row still answers the JSON error shape.
type lazyHeaders struct {
	c       *gin.Context
	started bool
}

func (l *lazyHeaders) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.c.Header("Content-Type", "text/csv; charset=utf-8")
		l.c.Header("Content-Disposition", `attachment; filename="orders.csv"`)
		l.c.Header("Cache-Control", "no-store")
		l.c.Status(http.StatusOK)
	}
	return l.c.Writer.Write(p)
}

func (a *API) export(c *gin.Context) {
	q, req, err := parseQuery(c)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	w := &lazyHeaders{c: c}
	// The server's write timeout bounds a whole response; an export of a
	// million orders takes longer. Each batch gets the window anew, so a
	// client that stops reading is still let go.
	rc := http.NewResponseController(c.Writer)
	extend := func() {
		if err := rc.SetWriteDeadline(time.Now().Add(ExportWriteWindow)); err != nil {
			zerolog.Ctx(c.Request.Context()).Warn().Err(err).Msg("order export: cannot extend the write deadline")
		}
	}
	extend()
	opts := ExportOptions{BOM: req.BOM == "true", Flush: func() { c.Writer.Flush(); extend() }}
	n, err := a.store.Export(c.Request.Context(), w, httpapi.Merchant(c), q, opts)
	if err == nil {
		return
	}
	if !w.started {
		httpapi.Fail(c, err)
		return
	}
	// The rows went out with a 200: only cutting the response short tells
	// the client the file is incomplete.
	zerolog.Ctx(c.Request.Context()).Error().Err(err).Int("orders_written", n).Msg("order export failed midway")
	panic(http.ErrAbortHandler)
}
