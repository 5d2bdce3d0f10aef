package invoices

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/orders"
)

// API serves a merchant's invoices to their integrators, opened by the
// merchant's API token as the order routes are.
type API struct {
	maker  *Maker
	tokens *httpapi.MerchantTokens
}

// NewAPI returns the invoice API on maker, opened by tokens.
func NewAPI(maker *Maker, tokens *httpapi.MerchantTokens) *API {
	return &API{maker: maker, tokens: tokens}
}

// Stable error codes of the invoice routes, besides httpapi's.
const (
	CodeNotInvoiceable      = "order_not_invoiceable"
	CodeNumberTaken         = "number_taken"
	CodeNumberBreaksSeries  = "number_breaks_series"
	CodeNoInvoiceSettings   = "invoice_settings_missing"
	CodeNoInvoice           = "invoice_not_found"
	CodeCreditKeyUsed       = "credit_key_used"
	CodeInvalidInvoiceInput = "invalid_invoice_input"
	CodeCreditExceeds       = "credit_exceeds_invoice"
)

// MaxSettingsBody bounds a settings body: the header and footer are 4 KB
// each, the per-SKU rates a few hundred.
const MaxSettingsBody = 256 << 10

// MaxCreditBody bounds a credit note request: up to 500 lines.
const MaxCreditBody = 256 << 10

// RegisterAPI mounts the invoice routes.
func (a *API) RegisterAPI(r gin.IRouter) {
	auth := a.tokens.Authenticate("orders")
	r.GET("/v1/stores/:store/invoice-settings", auth, a.getSettings)
	r.PUT("/v1/stores/:store/invoice-settings", auth, httpapi.LimitBody(MaxSettingsBody), a.putSettings)
	r.GET("/v1/orders/:store/:order_id/invoice/next", auth, a.next)
	r.POST("/v1/orders/:store/:order_id/invoice", auth, httpapi.LimitBody(4<<10), a.generate)
	r.GET("/v1/orders/:store/:order_id/invoice", auth, a.get)
	r.GET("/v1/orders/:store/:order_id/invoice.pdf", auth, a.getPDF)
	r.POST("/v1/orders/:store/:order_id/credit-notes", auth, httpapi.LimitBody(MaxCreditBody), a.creditNote)
	// A catch-all: a prefix may hold slashes (F/2026/000001.pdf).
	r.GET("/v1/invoices/:store/*file", auth, a.documentPDF)
}

// settingsAnswer is the settings routes' answer.
type settingsAnswer struct {
	// Source is "config" or "api" (the override).
	Source   string   `json:"source"`
	Settings Settings `json:"settings"`
}

func (a *API) getSettings(c *gin.Context) {
	s, override, err := a.maker.Settings(c.Request.Context(), httpapi.Merchant(c), c.Param("store"))
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, settingsAnswer{Source: sourceOf(override), Settings: s})
}

func sourceOf(override bool) string {
	if override {
		return "api"
	}
	return "config"
}

func (a *API) putSettings(c *gin.Context) {
	body, err := c.GetRawData()
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var s Settings
	if err := httpapi.DecodeJSONStrict("", body, &s); err != nil {
		httpapi.Fail(c, err)
		return
	}
	s, err = a.maker.PutSettings(c.Request.Context(), httpapi.Merchant(c), c.Param("store"), s)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, settingsAnswer{Source: "api", Settings: s})
}

// nextAnswer is the number the order's invoice would take; Invoice is
// set when the order has one already, which a POST returns instead.
type nextAnswer struct {
	Number  string `json:"number"`
	Seq     int64  `json:"seq"`
	Invoice string `json:"invoice,omitempty"`
}

func (a *API) next(c *gin.Context) {
	ctx, merchant, store, orderID := c.Request.Context(), httpapi.Merchant(c), c.Param("store"), c.Param("order_id")
	if _, err := a.maker.orders.Order(ctx, merchant, store, orderID); err != nil {
		if _, ok := a.maker.store(merchant, store); !ok {
			err = ErrUnknownStore
		}
		httpapi.Fail(c, apiError(err))
		return
	}
	seq, number, err := a.maker.Next(ctx, merchant, store)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	ans := nextAnswer{Number: number, Seq: seq}
	if inv, err := a.maker.Existing(ctx, merchant, store, orderID); err == nil {
		ans.Invoice = inv.Number
	} else if !errors.Is(err, ErrNotFound) {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ans)
}

// generateRequest is the POST's body, optional: the sequence number to
// take instead of the next one (the confirmation step's change).
type generateRequest struct {
	Number *int64 `json:"number" validate:"omitempty,gte=1,lte=999999999999"`
}

func (a *API) generate(c *gin.Context) {
	ctx, merchant, store, orderID := c.Request.Context(), httpapi.Merchant(c), c.Param("store"), c.Param("order_id")
	body, err := c.GetRawData()
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var req generateRequest
	if strings.TrimSpace(string(body)) != "" {
		if err := httpapi.DecodeJSONStrict("", body, &req); err != nil {
			httpapi.Fail(c, err)
			return
		}
	}
	var opt Options
	if req.Number != nil {
		opt.Number = *req.Number
	}
	inv, created, err := a.maker.Issue(ctx, merchant, store, orderID, opt)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, inv)
}

// wantsPDF tells whether the client asked for the PDF by its Accept
// header.
func wantsPDF(c *gin.Context) bool {
	return strings.Contains(c.GetHeader("Accept"), "application/pdf")
}

func (a *API) get(c *gin.Context) {
	if wantsPDF(c) {
		a.getPDF(c)
		return
	}
	inv, err := a.orderInvoice(c.Request.Context(), c)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, inv)
}

func (a *API) orderInvoice(ctx context.Context, c *gin.Context) (*Invoice, error) {
	merchant, store, orderID := httpapi.Merchant(c), c.Param("store"), c.Param("order_id")
	if _, ok := a.maker.store(merchant, store); !ok {
		return nil, ErrUnknownStore
	}
	inv, err := a.maker.Existing(ctx, merchant, store, orderID)
	if errors.Is(err, ErrNotFound) {
		return nil, httpapi.Errorf(http.StatusNotFound, CodeNoInvoice, "order_id", "order_id: order %s of store %s has no invoice; POST to this path issues it", orderID, store)
	}
	return inv, err
}

func (a *API) getPDF(c *gin.Context) {
	ctx := c.Request.Context()
	inv, err := a.orderInvoice(ctx, c)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	pdf, err := a.maker.svc.PDF(ctx, httpapi.Merchant(c), inv)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	servePDF(c, inv.Number, pdf)
}

// servePDF answers a document's PDF, named by its number: a number is
// letters, digits and _ . / -, the slash replaced for a file name.
func servePDF(c *gin.Context, number string, pdf []byte) {
	name := strings.ReplaceAll(number, "/", "-") + ".pdf"
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Header("Cache-Control", "private, max-age=0")
	c.Data(http.StatusOK, "application/pdf", pdf)
}

func (a *API) documentPDF(c *gin.Context) {
	number, ok := strings.CutSuffix(strings.TrimPrefix(c.Param("file"), "/"), ".pdf")
	if !ok || number == "" {
		httpapi.Fail(c, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "file", "file: ask for <number>.pdf"))
		return
	}
	merchant, store := httpapi.Merchant(c), c.Param("store")
	if _, ok := a.maker.store(merchant, store); !ok {
		httpapi.Fail(c, apiError(ErrUnknownStore))
		return
	}
	inv, pdf, err := a.maker.Document(c.Request.Context(), merchant, store, number)
	if errors.Is(err, ErrNotFound) {
		err = httpapi.Errorf(http.StatusNotFound, CodeNoInvoice, "number", "number: store %s has no invoice or credit note %s", store, number)
	}
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	servePDF(c, inv.Number, pdf)
}

// creditRequest is a credit note's request. Without lines nor shipping
// it cancels the whole invoice.
type creditRequest struct {
	// Key makes the credit note once: the refund's or the return's id.
	Key      string          `json:"key" validate:"required,max=200"`
	Lines    []creditLine    `json:"lines" validate:"max=500,dive"`
	Shipping *creditShipping `json:"shipping"`
	Reason   string          `json:"reason" validate:"required,max=500"`
}

type creditLine struct {
	SKU         string `json:"sku" validate:"max=200"`
	Description string `json:"description" validate:"required,max=500"`
	Quantity    int    `json:"quantity" validate:"gte=1,lte=1000000"`
	UnitPrice   string `json:"unit_price" validate:"required,amount"`
	Discount    string `json:"discount" validate:"omitempty,amount"`
}

type creditShipping struct {
	Description string `json:"description" validate:"max=500"`
	Price       string `json:"price" validate:"required,amount"`
	Discount    string `json:"discount" validate:"omitempty,amount"`
}

func (a *API) creditNote(c *gin.Context) {
	ctx, merchant, store, orderID := c.Request.Context(), httpapi.Merchant(c), c.Param("store"), c.Param("order_id")
	body, err := c.GetRawData()
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var req creditRequest
	if err := httpapi.DecodeJSONStrict("", body, &req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	inv, err := a.orderInvoice(ctx, c)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	status := http.StatusCreated
	if prev, err := a.maker.svc.creditByKey(ctx, merchant, store, req.Key); err == nil {
		if prev.OrderID != orderID {
			httpapi.Fail(c, httpapi.Errorf(http.StatusConflict, CodeCreditKeyUsed, "key", "key: %q made credit note %s, of another order", req.Key, prev.Number))
			return
		}
		status = http.StatusOK
	} else if !errors.Is(err, ErrNotFound) {
		httpapi.Fail(c, err)
		return
	}
	cr := Credit{Key: req.Key, Reason: req.Reason}
	for _, l := range req.Lines {
		cr.Lines = append(cr.Lines, Line{SKU: l.SKU, Description: l.Description, Quantity: l.Quantity, UnitPrice: l.UnitPrice, Discount: l.Discount})
	}
	if s := req.Shipping; s != nil {
		cr.Shipping = &Shipping{Description: s.Description, Price: s.Price, Discount: s.Discount}
	}
	cn, _, err := a.maker.CreditNote(ctx, merchant, store, inv.Number, cr)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(status, cn)
}

// creditByKey returns the credit note made for a caller's key, or
// ErrNotFound.
func (s *Service) creditByKey(ctx context.Context, merchant, store, key string) (*Invoice, error) {
	n, err := s.rdb.Get(ctx, s.key(merchant, "k:"+store+":"+key)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("invoices: read credit key: %w", err)
	}
	return s.Get(ctx, merchant, store, n)
}

// apiError maps the maker's and the service's errors to the API's.
func apiError(err error) error {
	var (
		ni  *NotInvoiceableError
		ne  *NumberError
		ce  *CreditError
		fes FieldErrors
	)
	switch {
	case errors.As(err, &ce):
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeCreditExceeds, ce.Field, "%s", ce.Error())
	case errors.As(err, &ni):
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeNotInvoiceable, ni.Field, "%s: order %s cannot be invoiced: %s %s", ni.Field, ni.OrderID, ni.Field, ni.Msg)
	case errors.As(err, &ne) && !ne.First && ne.Asked < ne.Next:
		return httpapi.Errorf(http.StatusConflict, CodeNumberTaken, "number", "number: %d is already taken; the next number allowed is %d", ne.Asked, ne.Next)
	case errors.As(err, &ne) && ne.First:
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeNumberBreaksSeries, "number", "number: %d is below the series' start; any number from %d is allowed for its first invoice", ne.Asked, ne.Next)
	case errors.As(err, &ne):
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeNumberBreaksSeries, "number", "number: %d would leave a gap in the series; the only number allowed is %d", ne.Asked, ne.Next)
	case errors.Is(err, ErrNumberUsed):
		return httpapi.Errorf(http.StatusConflict, CodeNumberTaken, "number", "number: %v", err)
	case errors.As(err, &fes) && len(fes) > 0:
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, fes[0].Field, "%s", fes.Error())
	case errors.Is(err, ErrNoSettings):
		return httpapi.Errorf(http.StatusConflict, CodeNoInvoiceSettings, "store", "store: the store has no invoice settings: set stores[].invoices in the config, or PUT /v1/stores/{store}/invoice-settings")
	case errors.Is(err, ErrUnknownStore):
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "store", "store: the merchant has no such store")
	case errors.Is(err, orders.ErrNoOrder):
		return httpapi.Errorf(http.StatusNotFound, orders.CodeOrderNotFound, "order_id", "order_id: the bridge knows no such order in this store")
	case errors.Is(err, ErrBusy):
		return httpapi.Errorf(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "", "%v", err)
	}
	var he *httpapi.Error
	if errors.As(err, &he) {
		return he
	}
	// A credit note's lines the amounts refuse ("lines[0]: the discount
	// is more than the line").
	if msg := err.Error(); strings.HasPrefix(msg, "invoices: credit note on ") {
		_, detail, _ := strings.Cut(strings.TrimPrefix(msg, "invoices: credit note on "), ": ")
		field, _, _ := strings.Cut(detail, ":")
		if strings.HasPrefix(field, "lines[") || strings.HasPrefix(field, "shipping") {
			return httpapi.Errorf(http.StatusUnprocessableEntity, CodeInvalidInvoiceInput, field, "%s", detail)
		}
	}
	return err
}
