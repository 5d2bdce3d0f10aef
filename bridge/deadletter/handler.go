package deadletter

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// Register mounts the admin routes: list and replay dead letters.
func (s *Store) Register(r gin.IRouter) {
	r.GET("/v1/admin/dead-letters", s.list)
	r.POST("/v1/admin/dead-letters/:id/replay", s.replay)
}

func (s *Store) list(c *gin.Context) {
	offset, err := intParam(c, "offset", 0, 0, 1<<30)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	limit, err := intParam(c, "limit", 50, 1, 500)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	letters, total, err := s.List(c.Request.Context(), offset, limit)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"dead_letters": letters, "total": total, "offset": offset, "limit": limit})
}

func (s *Store) replay(c *gin.Context) {
	err := s.Replay(c.Request.Context(), c.Param("id"))
	if errors.Is(err, ErrNotFound) {
		httpapi.Fail(c, httpapi.Errorf(http.StatusNotFound, httpapi.CodeNotFound, "id", "id: no dead letter %q", c.Param("id")))
		return
	}
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"id": c.Param("id"), "status": "replayed"})
}

func intParam(c *gin.Context, name string, def, lo, hi int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeInvalidField, name, "%s must be an integer from %d to %d", name, lo, hi)
	}
	return n, nil
}
