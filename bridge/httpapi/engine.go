package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// NewEngine returns a gin engine with the bridge's middleware, in order:
// request id and logger, recovery, access log, the classification of
// failed body reads, then metrics (when given) and the error shape. Unknown routes answer the JSON error shape too.
func NewEngine(log zerolog.Logger, metrics gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	// A path with a trailing slash or in the wrong case is an unknown
	// route, answered with the JSON 404, not a redirect with an HTML body.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	// Routes match the path as sent, so that an id holding a slash, sent
	// escaped (%2F), stays one path parameter (unescaped for the handler)
	// instead of splitting the path.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(requestContext(log), recovery(), accessLog(), classifyBodyErrors())
	if metrics != nil {
		e.Use(metrics)
	}
	e.Use(ErrorMiddleware())
	e.NoRoute(func(c *gin.Context) {
		Fail(c, Errorf(http.StatusNotFound, CodeNotFound, "", "no route for %s %s", Method(c), c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		Fail(c, Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "", "method %s is not allowed here", Method(c)))
	})
	return e
}

// requestContext gives every request an id (the caller's, if it is sane)
// and a child logger carrying it, reachable with zerolog.Ctx.
func requestContext(log zerolog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !saneID(id) {
			id = newID()
		}
		c.Header(RequestIDHeader, id)
		l := log.With().Str("request_id", id).Logger()
		c.Request = c.Request.WithContext(l.WithContext(c.Request.Context()))
		c.Next()
	}
}

func saneID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// accessLog logs the route template and never the raw URL: query strings
// carry customer emails.
func accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := Route(c)
		zerolog.Ctx(c.Request.Context()).Info().
			Str("method", Method(c)).Str("route", route).
			Int("status", c.Writer.Status()).Dur("latency", time.Since(start)).
			Msg("http request")
	}
}

func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				zerolog.Ctx(c.Request.Context()).Error().Interface("panic", r).Msg("handler panicked")
				c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"error": Errorf(http.StatusInternalServerError, CodeInternal, "", "internal error")})
			}
		}()
		c.Next()
	}
}

// LimitBody caps request bodies at n bytes; reading past it fails with a
// *http.MaxBytesError that maps to 413.
func LimitBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		c.Next()
	}
}

// BasicAuth protects admin routes. The comparison runs in constant time
// over both fields, so a wrong username costs as much as a wrong password.
func BasicAuth(username, password string) gin.HandlerFunc {
	return func(c *gin.Context) {
		u, p, ok := c.Request.BasicAuth()
		userOK := subtle.ConstantTimeCompare([]byte(u), []byte(username))
		passOK := subtle.ConstantTimeCompare([]byte(p), []byte(password))
		if !ok || userOK&passOK != 1 || password == "" {
			c.Header("WWW-Authenticate", `Basic realm="bridge admin"`)
			Fail(c, Errorf(http.StatusUnauthorized, CodeUnauthorized, "Authorization", "Authorization: admin credentials required"))
			return
		}
		c.Next()
	}
}

// Pinger is what readiness checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Health serves /healthz (the process is up) and /readyz (Redis answers
// within a second; on a Cluster, every master does: see rdb.Conn.Ping).
func Health(e *gin.Engine, redis Pinger) {
	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Second)
		defer cancel()
		if err := redis.Ping(ctx); err != nil {
			zerolog.Ctx(c.Request.Context()).Warn().Err(err).Msg("readiness: redis unreachable")
			Fail(c, Errorf(http.StatusServiceUnavailable, CodeUnavailable, "", "redis is unreachable"))
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ready", "redis": "ok"})
	})
}

// Method is the request's method as logs and metric labels may carry it:
// one of the standard methods, else "other", so that a caller cannot
// make up methods to add series or fill the logs.
func Method(c *gin.Context) string {
	switch m := c.Request.Method; m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m
	}
	return "other"
}

// Route is the request's route template ("/v1/admin/dead-letters/:id/replay"),
// the only form of a path that logs and metric labels may carry: raw paths
// and queries can hold customer data.
func Route(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return "unmatched"
}
