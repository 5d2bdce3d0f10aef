package events

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// Register mounts POST /v1/events.
func (in *Intake) Register(r gin.IRouter) {
	r.POST("/v1/events", httpapi.LimitBody(MaxBody), in.handle)
}

func (in *Intake) handle(c *gin.Context) {
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	res, err := in.Receive(c.Request.Context(), Signed{
		Merchant:  c.GetHeader(HeaderMerchant),
		Timestamp: c.GetHeader(HeaderTimestamp),
		Signature: c.GetHeader(HeaderSignature),
	}, body)
	var qerr *unavailableError
	if errors.As(err, &qerr) {
		zerolog.Ctx(c.Request.Context()).Error().Err(err).Msg("event not enqueued")
		c.Header("Retry-After", "5")
		httpapi.Fail(c, httpapi.Errorf(http.StatusServiceUnavailable, CodeQueueUnavailable, "", "the event could not be stored; retry later"))
		return
	}
	var rerr *notReplicatedError
	if errors.As(err, &rerr) {
		zerolog.Ctx(c.Request.Context()).Warn().Err(err).Msg("event stored on the master but not yet on a replica")
		c.Header("Retry-After", "2")
		httpapi.Fail(c, httpapi.Errorf(http.StatusServiceUnavailable, CodeNotReplicated, "", "the event reached no Redis replica in time; retry later"))
		return
	}
	if err != nil {
		if httpapi.AsError(err).Code == CodeEventInProgress {
			c.Header("Retry-After", "1")
		}
		httpapi.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, res)
}
