package orders

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// API serves a merchant's orders to their integrators: the list, the
// CSV export, the actions and their audit trail. The merchant's API
// token (merchants[].api_tokens) decides the merchant, and only its
// orders are ever reached.
type API struct {
	store   *Store
	actions *Actions
	tokens  *httpapi.MerchantTokens
}

// NewAPI returns the order API on store and actions, opened by tokens.
func NewAPI(store *Store, actions *Actions, tokens *httpapi.MerchantTokens) *API {
	return &API{store: store, actions: actions, tokens: tokens}
}

// MaxActionBody bounds an action request: a few fields and up to 500
// lines.
const MaxActionBody = 64 << 10

// RegisterAPI mounts the order routes.
func (a *API) RegisterAPI(r gin.IRouter) {
	auth := a.tokens.Authenticate("orders")
	r.GET("/v1/orders", auth, a.list)
	r.GET("/v1/orders.csv", auth, a.export)
	r.POST("/v1/orders/:store/:order_id/actions", auth, httpapi.LimitBody(MaxActionBody), a.act)
	r.GET("/v1/orders/:store/:order_id/actions", auth, a.orderAudit)
	r.GET("/v1/order-actions", auth, a.audit)
	r.GET("/v1/order-actions/:id", auth, a.getAction)
}

// Statuses are the normalised statuses, which the status filter takes.
var Statuses = []string{StatusNew, StatusInProgress, StatusShipped, StatusCanceled, StatusClosed, StatusUndefined, StatusNotProvided}

// queryRequest is the query string both routes take. The json names are
// the parameters', for the error's field.
type queryRequest struct {
	CreatedAfter      string `form:"created_after" json:"created_after"`
	CreatedBefore     string `form:"created_before" json:"created_before"`
	Marketplace       string `form:"marketplace" json:"marketplace" validate:"max=100"`
	Store             string `form:"store" json:"store" validate:"max=100"`
	OrderID           string `form:"order_id" json:"order_id" validate:"max=100"`
	Status            string `form:"status" json:"status" validate:"omitempty,oneof=New InProgress Shipped Canceled Closed Undefined NotProvided"`
	MarketplaceStatus string `form:"marketplace_status" json:"marketplace_status" validate:"max=100"`
	Email             string `form:"email" json:"email" validate:"max=254"`
	Limit             string `form:"limit" json:"limit"`
	Cursor            string `form:"cursor" json:"cursor" validate:"max=1024"`
	BOM               string `form:"bom" json:"bom" validate:"omitempty,oneof=true false"`
}

// parseQuery reads and checks the query string, naming the parameter at
// fault.
func parseQuery(c *gin.Context) (Query, queryRequest, error) {
	var req queryRequest
	if err := c.ShouldBindQuery(&req); err != nil {
		return Query{}, req, err
	}
	if err := httpapi.Validate("", &req); err != nil {
		return Query{}, req, err
	}
	q := Query{
		Marketplace: req.Marketplace, Store: req.Store, OrderID: req.OrderID, Status: req.Status,
		MarketplaceStatus: req.MarketplaceStatus, Email: req.Email, Cursor: req.Cursor,
	}
	var err error
	if q.CreatedAfter, err = ParseTime("created_after", req.CreatedAfter); err != nil {
		return Query{}, req, err
	}
	if q.CreatedBefore, err = ParseTime("created_before", req.CreatedBefore); err != nil {
		return Query{}, req, err
	}
	if err := CheckCreatedRange(q, "created_after", "created_before"); err != nil {
		return Query{}, req, err
	}
	if q.Limit, err = parseLimit(req.Limit); err != nil {
		return Query{}, req, err
	}
	if _, err := decodeCursor(q.Cursor); err != nil {
		return Query{}, req, cursorError()
	}
	return q, req, nil
}

// CheckCreatedRange refuses purchase date bounds that select nothing,
// naming the upper one as the API and the command line call them
// (before): an empty export would look like a merchant without orders.
func CheckCreatedRange(q Query, after, before string) error {
	if !q.CreatedAfter.IsZero() && !q.CreatedBefore.IsZero() && !q.CreatedAfter.Before(q.CreatedBefore) {
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, before, "%s must be later than %s", before, after)
	}
	return nil
}

// ParseTime reads a purchase date bound as the API and the command line
// take it: an RFC 3339 time, or a date (midnight UTC).
func ParseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, field, "%s must be an RFC 3339 time (2026-01-02T15:04:05Z) or a date (2026-01-02)", field)
}

// parseLimit reads a page size: 0 (the default) when absent.
func parseLimit(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "limit", "limit must be an integer from 1 to %d", MaxLimit)
	}
	return n, nil
}

func cursorError() error {
	return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "cursor", "cursor is not a cursor this API returned")
}

func (a *API) list(c *gin.Context) {
	q, _, err := parseQuery(c)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	page, err := a.store.List(c.Request.Context(), httpapi.Merchant(c), q)
	if errors.Is(err, ErrInvalidCursor) {
		err = cursorError()
	}
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}
