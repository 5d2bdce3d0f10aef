package push

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
)

// Stable error codes of the subscription API, besides httpapi's.
const (
	CodeMissingToken = "missing_token"
	CodeInvalidToken = "invalid_token"
	// CodeURLNotAllowed: the URL's host is, or resolves to, an address the
	// bridge does not send to.
	CodeURLNotAllowed          = "url_not_allowed"
	CodeTooManySubscriptions   = "too_many_subscriptions"
	CodeConfiguredSubscription = "configured_subscription"
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
	h := &apiHandler{p: p, tokens: apiTokens(p.o.Config)}
	g := r.Group("/v1/orders/subscriptions", h.authenticate)
	g.POST("", httpapi.LimitBody(MaxRequestBody), h.create)
	g.GET("", h.list)
	g.GET("/:id", h.get)
	g.DELETE("/:id", h.delete)
	g.POST("/:id/resume", h.resume)
	g.POST("/:id/replay", httpapi.LimitBody(MaxRequestBody), h.replay)
}

type apiHandler struct {
	p *Publisher
	// tokens maps the SHA-256 of each API token to its merchant.
	tokens map[[sha256.Size]byte]apiToken
}

type apiToken struct {
	token    string
	merchant string // "" for a token two merchants list: it opens neither
}

// apiTokens is the discussion API's rule: the same tokens open both.
func apiTokens(cfg *config.Config) map[[sha256.Size]byte]apiToken {
	out := map[[sha256.Size]byte]apiToken{}
	for _, m := range cfg.Merchants {
		for _, sec := range m.APITokens {
			tok := sec.Reveal()
			if tok == "" {
				continue
			}
			sum := sha256.Sum256([]byte(tok))
			if prev, dup := out[sum]; dup && prev.merchant != m.ID {
				out[sum] = apiToken{token: tok}
				continue
			}
			out[sum] = apiToken{token: tok, merchant: m.ID}
		}
	}
	return out
}

const merchantKey = "push.merchant"

// authenticate finds the merchant of the bearer token, comparing in
// constant time.
func (h *apiHandler) authenticate(c *gin.Context) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(c.GetHeader("Authorization")), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		c.Header("WWW-Authenticate", `Bearer realm="orders"`)
		httpapi.Fail(c, httpapi.Errorf(http.StatusUnauthorized, CodeMissingToken, "Authorization", "Authorization: a Bearer token is required"))
		return
	}
	t, ok := h.tokens[sha256.Sum256([]byte(token))]
	if !ok || t.merchant == "" || subtle.ConstantTimeCompare([]byte(t.token), []byte(token)) != 1 {
		c.Header("WWW-Authenticate", `Bearer realm="orders", error="invalid_token"`)
		httpapi.Fail(c, httpapi.Errorf(http.StatusUnauthorized, CodeInvalidToken, "Authorization", "Authorization: the token is not a merchant's API token"))
		return
	}
	c.Set(merchantKey, t.merchant)
	ctx := c.Request.Context()
	l := zerolog.Ctx(ctx).With().Str("merchant", t.merchant).Logger()
	c.Request = c.Request.WithContext(l.WithContext(ctx))
	c.Next()
}

func merchantOf(c *gin.Context) string { return c.GetString(merchantKey) }

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
		err = httpapi.DecodeJSON("", body, dst)
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
	switch {
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
