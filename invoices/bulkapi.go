package invoices

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// BulkAPI serves bulk invoicing to integrators, opened by the merchant's
// API token as the other invoice routes are.
type BulkAPI struct {
	bulk   *Bulk
	tokens *httpapi.MerchantTokens
}

// NewBulkAPI returns the bulk routes on bulk, opened by tokens.
func NewBulkAPI(bulk *Bulk, tokens *httpapi.MerchantTokens) *BulkAPI {
	return &BulkAPI{bulk: bulk, tokens: tokens}
}

// Stable error codes of the bulk routes.
const (
	CodeDuplicateOrderID = "duplicate_order_id"
	CodeNoBulkJob        = "bulk_job_not_found"
	CodeBulkJobRunning   = "bulk_job_running"
)

// RegisterAPI mounts the bulk routes. The job routes' static "jobs"
// segment wins over a store of that name in /v1/invoices/{store}/{file}.
func (a *BulkAPI) RegisterAPI(r gin.IRouter) {
	auth := a.tokens.Authenticate("orders")
	r.POST("/v1/invoices/:store/bulk", auth, httpapi.LimitBody(MaxBulkBody), a.submit)
	r.GET("/v1/invoices/jobs/:id", auth, a.status)
	r.GET("/v1/invoices/jobs/:id/zip", auth, a.zip)
}

// bulkRequest is a submission: distinct order ids of the store, and the
// number of the first order that needs a new invoice.
type bulkRequest struct {
	OrderIDs    []string `json:"order_ids" validate:"required,min=1,max=10000,dive,required,max=100"`
	FirstNumber *int64   `json:"first_number" validate:"omitempty,gte=1,lte=999999999999"`
}

// jobAnswer is a job's progress with its links.
type jobAnswer struct {
	*Job
	StatusURL string `json:"status_url"`
	ZipURL    string `json:"zip_url"`
}

func answer(job *Job) jobAnswer {
	u := "/v1/invoices/jobs/" + job.ID
	return jobAnswer{Job: job, StatusURL: u, ZipURL: u + "/zip"}
}

func (a *BulkAPI) submit(c *gin.Context) {
	body, err := c.GetRawData()
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	var req bulkRequest
	if err := httpapi.DecodeJSONStrict("", body, &req); err != nil {
		httpapi.Fail(c, err)
		return
	}
	seen := make(map[string]int, len(req.OrderIDs))
	for i, id := range req.OrderIDs {
		if j, dup := seen[id]; dup {
			httpapi.Fail(c, httpapi.Errorf(http.StatusUnprocessableEntity, CodeDuplicateOrderID, fmt.Sprintf("order_ids[%d]", i),
				"order_ids[%d]: %q is order_ids[%d] already; each order once", i, id, j))
			return
		}
		seen[id] = i
	}
	var first int64
	if req.FirstNumber != nil {
		first = *req.FirstNumber
	}
	job, err := a.bulk.Submit(c.Request.Context(), httpapi.Merchant(c), c.Param("store"), req.OrderIDs, first)
	if err != nil {
		httpapi.Fail(c, bulkError(err))
		return
	}
	ans := answer(job)
	c.Header("Location", ans.StatusURL)
	c.JSON(http.StatusAccepted, ans)
}

// bulkError is apiError, with the first number named as the bulk route
// names it.
func bulkError(err error) error {
	var ne *NumberError
	if errors.As(err, &ne) {
		switch {
		case ne.First:
			return httpapi.Errorf(http.StatusUnprocessableEntity, CodeNumberBreaksSeries, "first_number", "first_number: %d is below the series' start; any number from %d is allowed for its first invoice", ne.Asked, ne.Next)
		case ne.Asked < ne.Next:
			return httpapi.Errorf(http.StatusConflict, CodeNumberTaken, "first_number", "first_number: %d is already taken; the next number allowed is %d", ne.Asked, ne.Next)
		default:
			return httpapi.Errorf(http.StatusUnprocessableEntity, CodeNumberBreaksSeries, "first_number", "first_number: %d would leave a gap in the series; the only number allowed is %d", ne.Asked, ne.Next)
		}
	}
	if errors.Is(err, ErrNoJob) {
		return httpapi.Errorf(http.StatusNotFound, CodeNoBulkJob, "id", "id: no such bulk job (jobs are kept %d days)", int(BulkTTL/(24*time.Hour)))
	}
	return apiError(err)
}

// job reads the job the path names, the merchant's only.
func (a *BulkAPI) job(c *gin.Context) (*Job, error) {
	id := c.Param("id")
	if !ValidJobID(id) {
		return nil, ErrNoJob
	}
	return a.bulk.Get(c.Request.Context(), httpapi.Merchant(c), id)
}

func (a *BulkAPI) status(c *gin.Context) {
	job, err := a.job(c)
	if err != nil {
		httpapi.Fail(c, bulkError(err))
		return
	}
	c.JSON(http.StatusOK, answer(job))
}

func (a *BulkAPI) zip(c *gin.Context) {
	job, err := a.job(c)
	if err != nil {
		httpapi.Fail(c, bulkError(err))
		return
	}
	if job.State == JobQueued || job.State == JobRunning {
		c.Header("Retry-After", "5")
		httpapi.Fail(c, httpapi.Errorf(http.StatusConflict, CodeBulkJobRunning, "id", "id: the job is %s (%d of %d orders done); the zip is ready once it is done", job.State, job.Done+job.Failed, job.Total))
		return
	}
	c.Header("Content-Type", "application/zip")
	c.Header("Content-Disposition", `attachment; filename="invoices-`+job.ID+`.zip"`)
	c.Header("Cache-Control", "private, max-age=0")
	c.Status(http.StatusOK)
	// The server's write timeout bounds a whole response; a zip of
	// thousands of PDFs may take longer, so each file extends it.
	rc := http.NewResponseController(c.Writer)
	extend := func() {
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		_ = rc.Flush()
	}
	extend()
	if err := a.bulk.WriteZip(c.Request.Context(), httpapi.Merchant(c), job, c.Writer, extend); err != nil {
		// The status is sent: cut the connection, so that the client
		// sees a failed download, not a zip without its end.
		if c.Request.Context().Err() == nil {
			zerolog.Ctx(c.Request.Context()).Error().Err(err).Str("job", job.ID).Msg("bulk invoice zip failed mid-stream")
		}
		panic(http.ErrAbortHandler)
	}
}
