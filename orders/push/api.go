package push

import (
	"errors"
	"io"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// Stable error codes of the subscription API, besides httpapi's.
const (
	// CodeURLNotAllowed: the URL's host is, or resolves to, an address the
	// bridge does not send to.
	CodeURLNotAllowed          = "url_not_allowed"
	CodeTooManySubscriptions   = "too_many_subscriptions"
	CodeConfiguredSubscription = "configured_subscription"
	// CodeSubscriptionExists: the merchant subscribes the URL already;
	// the message names that subscription's id.
	CodeSubscriptionExists = "subscription_exists"
)

// MaxRequestBody bounds the API's request bodies: a URL, or a time.
const MaxRequestBody = 4 << 10

// configID is the form of a configured subscription's id (a slug, as
// config's); ids the API makes are "sub_" and 20 hex digits. Neither
// holds a colon or a brace, which would change the keys' hash tag.
var (
	configID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	apiID    = regexp.MustCompile(`^sub_[0-9a-f]{20}$`)
)

func validSubID(id string) bool { return apiID.MatchString(id) || configID.MatchString(id) }

// Register mounts the subscription API, for a merchant's integrators:
// their bearer token (merchants[].api_tokens) decides the merchant, and
// only that merchant's subscriptions are reached; another merchant's
// answers 404 like one that does not exist.
func (p *Publisher) Register(r gin.IRouter) {
	h := &apiHandler{p: p}
	g := r.Group("/v1/orders/subscriptions", httpapi.MerchantAPITokens(p.o.Config).Authenticate("orders"))
	g.POST("", httpapi.LimitBody(MaxRequestBody), h.create)
	g.GET("", h.list)
	g.GET("/:id", h.get)
	g.DELETE("/:id", h.delete)
	g.POST("/:id/resume", h.resume)
	g.POST("/:id/replay", httpapi.LimitBody(MaxRequestBody), h.replay)
}

type apiHandler struct{ p *Publisher }

func merchantOf(c *gin.Context) string { return httpapi.Merchant(c) }

// createRequest is POST /v1/orders/subscriptions's body.
type createRequest struct {
	URL string `json:"url" validate:"required"`
}

func (h *apiHandler) create(c *gin.Context) {
	var req createRequest
	if !decode(c, &req) {
		return
	}
	s, err := h.p.Create(c.Request.Context(), merchantOf(c), req.URL)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.Header("Location", "/v1/orders/subscriptions/"+s.ID)
	c.JSON(http.StatusCreated, s)
}

func (h *apiHandler) list(c *gin.Context) {
	subs, err := h.p.List(c.Request.Context(), merchantOf(c))
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"subscriptions": subs})
}

func (h *apiHandler) get(c *gin.Context) {
	s, err := h.p.Get(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusOK, s)
}

func (h *apiHandler) delete(c *gin.Context) {
	if err := h.p.Delete(c.Request.Context(), merchantOf(c), c.Param("id")); err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *apiHandler) resume(c *gin.Context) {
	s, err := h.p.Resume(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusAccepted, s)
}

// replayRequest is POST .../replay's body.
type replayRequest struct {
	Since string `json:"since" validate:"required"`
}

func (h *apiHandler) replay(c *gin.Context) {
	var req replayRequest
	if !decode(c, &req) {
		return
	}
	since, err := time.Parse(time.RFC3339Nano, req.Since)
	if err != nil {
		httpapi.Fail(c, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "since", "since must be an RFC 3339 time such as 2026-01-10T12:00:00Z"))
		return
	}
	if since.After(h.p.o.Now()) {
		httpapi.Fail(c, httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "since", "since must not be in the future"))
		return
	}
	n, err := h.p.Replay(c.Request.Context(), merchantOf(c), c.Param("id"), since)
	if err != nil {
		httpapi.Fail(c, apiError(err))
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": c.Param("id"), "replayed": n})
}

// decode reads and validates a JSON body, answering the error itself.
func decode(c *gin.Context, dst any) bool {
	body, err := io.ReadAll(c.Request.Body)
	if err == nil {
		err = httpapi.DecodeJSONStrict("", body, dst)
	}
	if err != nil {
		httpapi.Fail(c, err)
		return false
	}
	return true
}

// apiError maps the service's errors to the API's. Messages never repeat
// a URL's path or query.
func apiError(err error) error {
	var ue *URLError
	var ee *ExistsError
	switch {
	case errors.As(err, &ee):
		return httpapi.Errorf(http.StatusConflict, CodeSubscriptionExists, "url", "url: subscribed already by subscription %s; one URL gets each event once", ee.ID)
	case errors.As(err, &ue) && errors.Is(err, ErrURLNotAllowed):
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeURLNotAllowed, "url", "%s; the bridge sends only to public addresses", ue.Error())
	case errors.As(err, &ue):
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "url", "%s", ue.Error())
	case errors.Is(err, ErrNotFound):
		return httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "id", "id: no such subscription")
	case errors.Is(err, ErrTooManySubscriptions):
		return httpapi.Errorf(http.StatusConflict, CodeTooManySubscriptions, "", "the merchant has the most subscriptions allowed; delete one first")
	case errors.Is(err, ErrConfigured):
		return httpapi.Errorf(http.StatusConflict, CodeConfiguredSubscription, "id", "id: the subscription is defined in the configuration (merchants[].order_push); remove it there")
	}
	return err
}
