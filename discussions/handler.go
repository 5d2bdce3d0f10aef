package discussions

import (
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// MaxWebhookBody bounds a helpdesk's webhook delivery: ids and flags only.
const MaxWebhookBody = 256 << 10

// RegisterWebhooks mounts the routes helpdesks and customers call: the
// helpdesks' webhooks and the signed attachment links.
func (s *Service) RegisterWebhooks(r gin.IRouter) {
	r.POST("/v1/webhooks/helpdesks/:helpdesk", httpapi.LimitBody(MaxWebhookBody), s.webhook)
	r.GET("/v1/files/:token", s.file)
}

func (s *Service) webhook(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	accepted, err := s.Receive(c.Request.Context(), c.Param("helpdesk"), c.Request.Header, body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	status := "ignored"
	if accepted {
		status = "accepted"
	}
	c.JSON(http.StatusOK, gin.H{"status": status})
}

func (s *Service) file(c *gin.Context) {
	body, ctype, name, err := s.OpenFile(c.Request.Context(), c.Param("token"))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	defer body.Close()
	h := c.Writer.Header()
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	// Always a download, never rendered by the bridge's origin.
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	c.Status(http.StatusOK)
	if _, err := io.Copy(c.Writer, body); err != nil {
		zerolog.Ctx(c.Request.Context()).Warn().Err(err).Msg("linked attachment cut short")
	}
}
