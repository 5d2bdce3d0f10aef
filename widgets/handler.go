package widgets

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// MaxHelpScoutBody bounds Help Scout's request: a conversation summary.
const MaxHelpScoutBody = 64 << 10

// Register mounts the sidebar routes.
func (s *Service) Register(r gin.IRouter) {
	r.GET("/v1/widgets/gorgias", s.read(FormatJSON))
	r.GET("/v1/widgets/zendesk", s.read(FormatZendesk))
	r.GET("/v1/widgets/html", s.read(FormatHTML))
	r.GET("/v1/widgets/gorgias/template", s.template)
	r.POST("/v1/widgets/helpscout/:sidebar", httpapi.LimitBody(MaxHelpScoutBody), s.helpScout)
	r.GET(ConfirmPath, s.confirm)
	r.POST(ActionsPath, httpapi.LimitBody(MaxActionBody), s.act)
	r.POST(CommandsPath, httpapi.LimitBody(MaxCommandBody), s.command)
	r.GET(InvoicePath, s.invoice)
}

func (s *Service) read(format string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var stores []string
		for _, v := range c.QueryArray("store") {
			for _, st := range strings.Split(v, ",") {
				if st = strings.TrimSpace(st); st != "" {
					stores = append(stores, st)
				}
			}
		}
		res, err := s.Serve(c.Request.Context(), Request{
			Token: bearer(c.GetHeader("Authorization")), Email: c.Query("email"), Stores: stores,
			IfNoneMatch: c.GetHeader("If-None-Match"), Format: format,
			AcceptsGzip: AcceptsGzip(c.GetHeader("Accept-Encoding")),
		})
		if err != nil {
			httpapi.Fail(c, err)
			return
		}
		write(c, res)
	}
}

func (s *Service) helpScout(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	res, err := s.ServeHelpScout(c.Request.Context(), c.Param("sidebar"), c.GetHeader("X-HelpScout-Signature"), body, AcceptsGzip(c.GetHeader("Accept-Encoding")))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	write(c, res)
}

func (s *Service) template(c *gin.Context) {
	v, err := s.Authenticate(bearer(c.GetHeader("Authorization")))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, GorgiasTemplate(v))
}

func write(c *gin.Context, res Response) {
	h := c.Writer.Header()
	// Whether the answer is gzipped depends on Accept-Encoding.
	h.Set("Vary", "Accept-Encoding")
	if res.ETag != "" {
		if res.Encoding != "" {
			// Another representation's bytes: a weak validator, which
			// If-None-Match still matches.
			h.Set("ETag", "W/"+res.ETag)
		} else {
			h.Set("ETag", res.ETag)
		}
		// Agents' browsers may keep it, but must ask again each time.
		h.Set("Cache-Control", "private, no-cache")
	} else {
		h.Set("Cache-Control", "no-store")
	}
	h.Set("X-Widget-Status", res.Freshness.State)
	if strings.HasPrefix(res.ContentType, "text/html") {
		// The page needs nothing but its own inline styles; links open
		// elsewhere without telling where they came from.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
	}
	if res.Status == http.StatusNotModified {
		c.Status(http.StatusNotModified)
		return
	}
	// With its length known, net/http sends the body in one write instead
	// of chunks: a widget is larger than its write buffer.
	if res.Encoding != "" {
		h.Set("Content-Encoding", res.Encoding)
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Body)))
	c.Data(res.Status, res.ContentType, res.Body)
}

// bearer takes the token out of an Authorization header.
func bearer(header string) string {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}
