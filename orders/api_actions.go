package orders

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// actionBody is POST /v1/orders/{store}/{order_id}/actions: the action,
// its arguments, and who asks, as the integrator names them.
type actionBody struct {
	Action string `json:"action" validate:"required"`
	// Checked by Request, which names its fields without a prefix.
	ActionArgs `validate:"-"`
	Agent      string `json:"agent,omitempty" validate:"max=200"`
}

func (a *API) act(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var req actionBody
	if err := httpapi.DecodeJSONStrict("", body, &req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	sum := sha256.Sum256([]byte(httpapi.BearerToken(c.GetHeader("Authorization"))))
	rec, err := a.actions.Request(c.Request.Context(), ActionRequest{
		Merchant: httpapi.Merchant(c), Store: c.Param("store"), OrderID: c.Param("order_id"),
		Kind: req.Action, Args: req.ActionArgs,
		By: Actor{Source: "api", ID: "token:" + hex.EncodeToString(sum[:6]), Agent: req.Agent},
	})
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	status := http.StatusAccepted // the marketplace has yet to answer
	if rec.Settled() {
		status = http.StatusOK
	}
	c.Header("Location", "/v1/order-actions/"+rec.ID)
	c.JSON(status, rec)
}

func (a *API) getAction(c *gin.Context) {
	rec, err := a.actions.Get(c.Request.Context(), httpapi.Merchant(c), c.Param("id"))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rec)
}

// auditRequest is the query string of the audit trail.
type auditRequest struct {
	Store    string `form:"store" json:"store" validate:"max=100"`
	OrderID  string `form:"order_id" json:"order_id" validate:"max=100"`
	ActionID string `form:"action_id" json:"action_id" validate:"max=100"`
	Action   string `form:"action" json:"action" validate:"omitempty,oneof=accept refuse ship cancel cancel_lines"`
	Result   string `form:"result" json:"result" validate:"omitempty,oneof=requested confirmed refused failed"`
	Limit    string `form:"limit" json:"limit"`
	Cursor   string `form:"cursor" json:"cursor" validate:"max=100"`
}

func (a *API) audit(c *gin.Context) { a.listAudit(c, "", "") }

func (a *API) orderAudit(c *gin.Context) { a.listAudit(c, c.Param("store"), c.Param("order_id")) }

func (a *API) listAudit(c *gin.Context, store, orderID string) {
	var req auditRequest
	if err := c.ShouldBindQuery(&req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	if err := httpapi.Validate("", &req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	q := AuditQuery{Store: req.Store, OrderID: req.OrderID, ActionID: req.ActionID, Kind: req.Action, Result: req.Result, Cursor: req.Cursor}
	if store != "" {
		q.Store, q.OrderID = store, orderID
	}
	var err error
	if q.Limit, err = parseLimit(req.Limit); err != nil {
		httpapi.Fail(c, err)
		return
	}
	page, err := a.store.Audit(c.Request.Context(), httpapi.Merchant(c), q)
	if errors.Is(err, ErrInvalidCursor) {
		err = cursorError()
	}
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}
