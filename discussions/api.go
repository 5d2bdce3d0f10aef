package discussions

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Stable error codes of the discussion API, besides httpapi's.
const (
	CodeMissingToken           = httpapi.CodeMissingToken
	CodeInvalidToken           = httpapi.CodeInvalidToken
	CodeMarketplaceUnavailable = "marketplace_unavailable"
	CodeMarketplaceError       = "marketplace_error"
)

// Request body limits of the discussion API.
const (
	MaxStatusBody   = 64 << 10 // 100 discussions' ids
	MaxTicketIDBody = 4 << 10
)

// RegisterAPI mounts the discussion API, for a merchant's integrators:
// their bearer token (merchants[].api_tokens) decides the merchant, and
// only that merchant's discussions are ever reached. Another merchant's
// discussion is answered 404 like one that does not exist, so that ids
// reveal nothing.
func (s *Service) RegisterAPI(r gin.IRouter) {
	h := &apiHandler{svc: s}
	g := r.Group("/v1/discussions", httpapi.MerchantAPITokens(s.o.Config).Authenticate("discussions"))
	g.GET("", h.list)
	g.PATCH("/status", httpapi.LimitBody(MaxStatusBody), h.setStatus)
	g.GET("/:account/:thread", h.get)
	g.POST("/:account/:thread/read", h.setRead(true))
	g.POST("/:account/:thread/unread", h.setRead(false))
	g.PUT("/:account/:thread/merchant-ticket-id", httpapi.LimitBody(MaxTicketIDBody), h.setMerchantTicketID)
	g.POST("/:account/:thread/resync", h.resync)
	g.POST("/:account/resync", h.resyncAccount)
}

// apiHandler serves the discussion API.
type apiHandler struct {
	svc *Service
}

// listRequest is GET /v1/discussions's query. The json names are the
// parameters', for the error's field.
type listRequest struct {
	Type        string   `form:"type" json:"type" validate:"omitempty,oneof=order product other"`
	Marketplace string   `form:"marketplace" json:"marketplace" validate:"max=100"`
	Status      []string `form:"status" json:"status" validate:"max=4,dive,oneof=open pending solved closed"`
	Read        string   `form:"read" json:"read" validate:"omitempty,oneof=true false"`
	OrderID     string   `form:"order_id" json:"order_id" validate:"max=255"`
	Participant string   `form:"participant" json:"participant" validate:"max=255"`
	Subject     string   `form:"subject" json:"subject" validate:"max=255"`
	Limit       string   `form:"limit" json:"limit"`
	Cursor      string   `form:"cursor" json:"cursor" validate:"max=1024"`
}

func (h *apiHandler) list(c *gin.Context) {
	var req listRequest
	if err := c.ShouldBindQuery(&req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	// A filter given empty selects everything, status= as type= does.
	req.Status = slices.DeleteFunc(req.Status, func(s string) bool { return s == "" })
	if err := httpapi.Validate("", &req); err != nil {
		var e *httpapi.Error
		if errors.As(err, &e) {
			// A repeated parameter is named as the parameter: status, not status[1].
			e.Field, _, _ = strings.Cut(e.Field, "[")
		}
		httpapi.Fail(c, err)
		return
	}
	q := Query{
		Type: req.Type, Marketplace: req.Marketplace, Statuses: req.Status, OrderID: req.OrderID,
		Participant: req.Participant, Subject: req.Subject, Cursor: req.Cursor,
	}
	if req.Read != "" {
		read := req.Read == "true"
		q.Read = &read
	}
	if req.Limit != "" {
		n, err := strconv.Atoi(req.Limit)
		if err != nil || n < 1 || n > MaxLimit {
			httpapi.Fail(c, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "limit", "limit must be an integer from 1 to %d", MaxLimit))
			return
		}
		q.Limit = n
	}
	page, err := h.svc.List(c.Request.Context(), merchantOf(c), q)
	if err != nil {
		httpapi.Fail(c, apiError(c, err))
		return
	}
	c.JSON(http.StatusOK, page)
}

func (h *apiHandler) get(c *gin.Context) {
	d, err := h.svc.Discussion(c.Request.Context(), merchantOf(c), c.Param("account"), c.Param("thread"))
	if err != nil {
		httpapi.Fail(c, apiError(c, err))
		return
	}
	c.JSON(http.StatusOK, d)
}

// statusRequest is PATCH /v1/discussions/status's body.
type statusRequest struct {
	Discussions []threadRefRequest `json:"discussions" validate:"required,min=1,max=100,dive"`
	Status      string             `json:"status" validate:"required,oneof=open pending solved closed"`
}

type threadRefRequest struct {
	Account  string `json:"account" validate:"required,max=255"`
	ThreadID string `json:"thread_id" validate:"required,max=255"`
}

func (h *apiHandler) setStatus(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var req statusRequest
	if err := httpapi.DecodeJSONStrict("", body, &req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	refs := make([]ThreadRef, len(req.Discussions))
	for i, r := range req.Discussions {
		refs[i] = ThreadRef(r)
	}
	ds, err := h.svc.SetStatus(c.Request.Context(), merchantOf(c), refs, req.Status)
	if err != nil {
		httpapi.Fail(c, apiError(c, err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"discussions": ds})
}

func (h *apiHandler) setRead(read bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		d, err := h.svc.SetRead(c.Request.Context(), merchantOf(c), c.Param("account"), c.Param("thread"), read)
		if err != nil {
			httpapi.Fail(c, apiError(c, err))
			return
		}
		c.JSON(http.StatusOK, d)
	}
}

// merchantTicketIDRequest is PUT .../merchant-ticket-id's body.
type merchantTicketIDRequest struct {
	MerchantTicketID string `json:"merchant_ticket_id" validate:"required,max=255"`
}

func (h *apiHandler) setMerchantTicketID(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var req merchantTicketIDRequest
	if err := httpapi.DecodeJSONStrict("", body, &req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	d, err := h.svc.SetMerchantTicketID(c.Request.Context(), merchantOf(c), c.Param("account"), c.Param("thread"), req.MerchantTicketID)
	if err != nil {
		httpapi.Fail(c, apiError(c, err))
		return
	}
	c.JSON(http.StatusOK, d)
}

func (h *apiHandler) resync(c *gin.Context) {
	account, thread := c.Param("account"), c.Param("thread")
	if err := h.svc.Resync(c.Request.Context(), merchantOf(c), account, thread); err != nil {
		httpapi.Fail(c, apiError(c, err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"account": account, "thread_id": thread, "status": "enqueued"})
}

func (h *apiHandler) resyncAccount(c *gin.Context) {
	account := c.Param("account")
	// full= is refused like any value but true and false: it is an
	// option, not a filter that empty would leave out.
	var full bool
	switch v, given := c.GetQuery("full"); {
	case !given || v == "false":
	case v == "true":
		full = true
	default:
		httpapi.Fail(c, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "full", "full must be true or false"))
		return
	}
	enqueued, err := h.svc.ResyncAccount(c.Request.Context(), merchantOf(c), account, full)
	if err != nil {
		httpapi.Fail(c, apiError(c, err))
		return
	}
	status := "enqueued"
	if !enqueued {
		status = "already_enqueued"
	}
	c.JSON(http.StatusAccepted, gin.H{"account": account, "status": status})
}

func merchantOf(c *gin.Context) string { return httpapi.Merchant(c) }

// apiError maps the service's errors to the API's. Messages name ids,
// never customer data.
func apiError(c *gin.Context, err error) error {
	var missing *MissingError
	var limited *connectors.RateLimitedError
	account, thread := c.Param("account"), c.Param("thread")
	switch {
	case errors.As(err, &missing):
		field := fmt.Sprintf("discussions[%d]", missing.Index)
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, field, "%s: no discussion %s/%s", field, missing.Ref.Account, missing.Ref.ThreadID)
	case errors.Is(err, ErrUnknownAccount):
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "account", "account: no marketplace account %q", account)
	case errors.Is(err, ErrNotFound), errors.Is(err, connectors.ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "thread", "thread: no discussion %s/%s", account, thread)
	case errors.Is(err, ErrInvalidCursor):
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "cursor", "cursor is not a cursor this API returned")
	case errors.Is(err, ErrInvalidStatus):
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "status", "status must be one of: open, pending, solved, closed")
	case errors.Is(err, ErrInvalidMerchantTicketID):
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "merchant_ticket_id", "merchant_ticket_id must be 1 to %d printable characters", MaxMerchantTicketID)
	case errors.Is(err, ErrContended):
		c.Header("Retry-After", "1")
		return httpapi.Errorf(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "", "the discussions are being updated; retry")
	case errors.As(err, &limited) || errors.Is(err, connectors.ErrUnavailable):
		wait := 5.0
		if limited != nil {
			wait = max(1, math.Ceil(limited.RetryAfter.Seconds()))
		}
		zerolog.Ctx(c.Request.Context()).Warn().Err(err).Msg("marketplace unavailable")
		c.Header("Retry-After", strconv.Itoa(int(wait)))
		return httpapi.Errorf(http.StatusServiceUnavailable, CodeMarketplaceUnavailable, "", "the marketplace did not answer; retry later")
	case errors.Is(err, connectors.ErrUnauthorized), errors.Is(err, connectors.ErrForbidden),
		errors.Is(err, connectors.ErrInvalid), errors.Is(err, connectors.ErrConflict), errors.Is(err, connectors.ErrTooLarge):
		zerolog.Ctx(c.Request.Context()).Error().Err(err).Msg("marketplace refused the request")
		return httpapi.Errorf(http.StatusBadGateway, CodeMarketplaceError, "", "the marketplace refused the request; the account's configuration may need attention")
	}
	return err
}
