package invoices

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Bulk invoices a selection of a store's orders as Asynq work: a job is
// a list of order ids, worked through in chunks, each chunk one task
// that issues its orders' invoices in the list's order, renders their
// PDFs, records its progress and enqueues the next chunk. No worker is
// held longer than a chunk takes, and a worker that dies mid-chunk costs
// that chunk again: issuing is idempotent per order, so the chunk's redo
// finds the invoices it issued and issues only the rest.
//
// In Redis, under the merchant's hash tag (P is the key prefix):
//
//	P inv:{<merchant>}:job:<id>       the job, a hash: store, state,
//	                        total, done, failed, chunks, cursor (the
//	                        next chunk's first index), first_number...
//	P inv:{<merchant>}:job:<id>:ids   its order ids, a list, as asked
//	P inv:{<merchant>}:job:<id>:fail  its first MaxBulkFailures
//	                        failures, a list of JSON
//
// All three expire BulkTTL after the submission; the invoices do not.
type Bulk struct {
	maker     *Maker
	queue     Enqueuer
	now       func() time.Time
	chunk     int
	renderers int
	// afterIssue, in tests, runs after each order of a chunk is issued.
	afterIssue func(ctx context.Context, cursor, i int)
}

// Enqueuer is the part of asynq.Client the bulk jobs use.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// BulkOptions configure the bulk jobs; zero values take the defaults.
type BulkOptions struct {
	Queue Enqueuer
	Now   func() time.Time
	// ChunkSize is how many orders one task invoices (DefaultBulkChunk).
	ChunkSize int
	// Renderers is how many PDFs a chunk renders at once (the CPUs, at
	// most 4).
	Renderers int
}

// Bulk limits and defaults.
const (
	// MaxBulkOrders bounds a job's order ids.
	MaxBulkOrders = 10_000
	// MaxBulkFailures bounds the failures a job keeps; it counts them all.
	MaxBulkFailures = 100
	// DefaultBulkChunk: a few seconds of work on one core (issuing is a
	// few milliseconds an order, rendering about 35): a worker is held no
	// longer, and a crash redoes no more.
	DefaultBulkChunk = 100
	// BulkTTL is how long a job's progress and its zip stay available.
	BulkTTL = 7 * 24 * time.Hour
	// MaxBulkBody bounds a submission: 10,000 ids of up to 100
	// characters, quoted.
	MaxBulkBody = 1200 << 10
)

// TypeBulk is the task that invoices one chunk of a job.
const TypeBulk = "invoices:bulk"

// BulkQueue is where the chunks run: the default queue, the lowest
// weight, so that a merchant's bulk job never delays replies or alerts.
const BulkQueue = "default"

// Job states.
const (
	JobQueued  = "queued"
	JobRunning = "running"
	JobDone    = "done"
	// JobFailed: the job stopped before its end (the first number was
	// taken meanwhile, the store lost its settings); Error says why.
	JobFailed = "failed"
)

// NewBulk returns the bulk jobs of maker's invoices.
func NewBulk(maker *Maker, o BulkOptions) *Bulk {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = DefaultBulkChunk
	}
	if o.Renderers <= 0 {
		o.Renderers = min(runtime.GOMAXPROCS(0), 4)
	}
	return &Bulk{maker: maker, queue: o.Queue, now: o.Now, chunk: o.ChunkSize, renderers: o.Renderers}
}

// Job is a bulk job's progress.
type Job struct {
	ID    string `json:"id"`
	Store string `json:"store"`
	State string `json:"state"`
	// Total is the orders asked; Done those that have their invoice
	// (issued by the job or before it), Failed those that cannot have one.
	Total  int `json:"total"`
	Done   int `json:"done"`
	Failed int `json:"failed"`
	// Chunks is how many chunks have been worked through.
	Chunks      int       `json:"chunks"`
	FirstNumber int64     `json:"first_number,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Failures    []Failure `json:"failures"`
	Error       *JobError `json:"error,omitempty"`
	cursor      int       // the next chunk's first index
	firstUsed   bool      // one of the job's orders took the first number
}

// Failure is an order the job could not invoice.
type Failure struct {
	OrderID string `json:"order_id"`
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// JobError is why a job stopped before its end.
type JobError struct {
	Code    string `json:"code"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ErrNoJob: no such job, or it expired.
var ErrNoJob = errors.New("invoices: no such bulk job")

func (b *Bulk) jobKey(merchant, id string) string { return b.maker.svc.key(merchant, "job:"+id) }

// newJobID is 12 random bytes in hex, after "bulk_".
func newJobID() string {
	var r [12]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails
	return "bulk_" + hex.EncodeToString(r[:])
}

// ValidJobID tells a job id's shape, so that a bad one is not looked up.
func ValidJobID(id string) bool {
	if len(id) != len("bulk_")+24 || id[:5] != "bulk_" {
		return false
	}
	_, err := hex.DecodeString(id[5:])
	return err == nil
}

// Submit records a job invoicing ids, which must be distinct (the API
// checks them), and enqueues its first chunk. first, when not 0, is the
// number of the first order that needs a new invoice: it must be the
// series' next (or, for its first invoice, any from the start number),
// as for one order, else a *NumberError.
func (b *Bulk) Submit(ctx context.Context, merchant, store string, ids []string, first int64) (*Job, error) {
	if _, ok := b.maker.store(merchant, store); !ok {
		return nil, ErrUnknownStore
	}
	set, _, err := b.maker.Settings(ctx, merchant, store)
	if err != nil {
		return nil, err
	}
	if first != 0 {
		if err := b.checkFirst(ctx, merchant, store, set, first); err != nil {
			return nil, err
		}
	}
	now := b.now().UTC()
	job := &Job{ID: newJobID(), Store: store, State: JobQueued, Total: len(ids), FirstNumber: first, CreatedAt: now, UpdatedAt: now, Failures: []Failure{}}
	key := b.jobKey(merchant, job.ID)
	_, err = b.maker.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "store", store, "state", JobQueued, "total", len(ids), "done", 0, "failed", 0, "chunks", 0,
			"cursor", 0, "first", first, "created", now.Format(time.RFC3339Nano), "updated", now.Format(time.RFC3339Nano))
		for start := 0; start < len(ids); start += 1000 {
			batch := make([]any, 0, 1000)
			for _, id := range ids[start:min(start+1000, len(ids))] {
				batch = append(batch, id)
			}
			p.RPush(ctx, key+":ids", batch...)
		}
		p.Expire(ctx, key, BulkTTL)
		p.Expire(ctx, key+":ids", BulkTTL)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("invoices: record the bulk job: %w", err)
	}
	if err := b.enqueue(ctx, merchant, job.ID, 0); err != nil {
		return nil, err
	}
	return job, nil
}

// checkFirst applies Options.Number's rule to a job's first number.
func (b *Bulk) checkFirst(ctx context.Context, merchant, store string, set Settings, first int64) error {
	sr := invoiceSeries(set.Normalize())
	last, _, err := b.maker.svc.position(ctx, merchant, store, sr)
	if err != nil {
		return err
	}
	switch {
	case last == 0 && first < sr.start:
		return &NumberError{Asked: first, Next: sr.start, First: true}
	case last > 0 && first != last+1:
		return &NumberError{Asked: first, Next: last + 1}
	}
	return nil
}

// bulkPayload is a chunk task's: the job, and the index of the chunk's
// first order.
type bulkPayload struct {
	Merchant string `json:"merchant"`
	Job      string `json:"job"`
	Cursor   int    `json:"cursor"`
}

// enqueue puts the chunk from cursor in the queue, once: its task id
// names it, so that a task retried after enqueuing it enqueues nothing.
func (b *Bulk) enqueue(ctx context.Context, merchant, job string, cursor int) error {
	payload, _ := json.Marshal(bulkPayload{Merchant: merchant, Job: job, Cursor: cursor})
	t := asynq.NewTask(TypeBulk, payload)
	_, err := b.queue.EnqueueContext(ctx, t, asynq.Queue(BulkQueue), asynq.TaskID("invoices-bulk-"+job+"-"+strconv.Itoa(cursor)),
		asynq.Timeout(10*time.Minute), asynq.Retention(time.Hour))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("invoices: enqueue the bulk job's chunk: %w", err)
	}
	return nil
}

// Get returns a job's progress and its kept failures.
func (b *Bulk) Get(ctx context.Context, merchant, id string) (*Job, error) {
	key := b.jobKey(merchant, id)
	var h *redis.MapStringStringCmd
	var fails *redis.StringSliceCmd
	_, err := b.maker.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		h = p.HGetAll(ctx, key)
		fails = p.LRange(ctx, key+":fail", 0, MaxBulkFailures-1)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("invoices: read the bulk job: %w", err)
	}
	m := h.Val()
	if len(m) == 0 {
		return nil, ErrNoJob
	}
	atoi := func(k string) int { n, _ := strconv.Atoi(m[k]); return n }
	job := &Job{
		ID: id, Store: m["store"], State: m["state"], Total: atoi("total"), Done: atoi("done"), Failed: atoi("failed"),
		Chunks: atoi("chunks"), cursor: atoi("cursor"), firstUsed: m["first_used"] == "1", Failures: []Failure{},
	}
	job.FirstNumber, _ = strconv.ParseInt(m["first"], 10, 64)
	job.CreatedAt, _ = time.Parse(time.RFC3339Nano, m["created"])
	job.UpdatedAt, _ = time.Parse(time.RFC3339Nano, m["updated"])
	if e := m["error"]; e != "" {
		job.Error = &JobError{}
		_ = json.Unmarshal([]byte(e), job.Error)
	}
	for _, f := range fails.Val() {
		var fl Failure
		if json.Unmarshal([]byte(f), &fl) == nil {
			job.Failures = append(job.Failures, fl)
		}
	}
	return job, nil
}

// commitScript records a chunk's outcome, only if the job still waits
// for that chunk (cursor ARGV[1]), so that a chunk done twice (a retry
// after its commit, a task enqueued again) counts once. KEYS: the job,
// its failures. ARGV: cursor, next cursor, done, failed, first used (0
// or 1), state, updated, error JSON (or ""), then the failures.
var commitScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'cursor') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cursor', ARGV[2], 'state', ARGV[6], 'updated', ARGV[7])
redis.call('HINCRBY', KEYS[1], 'done', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'failed', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'chunks', 1)
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'first_used', '1') end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[8]) end
local room = tonumber(ARGV[9]) - redis.call('LLEN', KEYS[2])
for i = 10, #ARGV do
  if room <= 0 then break end
  redis.call('RPUSH', KEYS[2], ARGV[i])
  room = room - 1
end
if #ARGV >= 10 then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
end
return 1
`)

// Handler is the asynq handler of TypeBulk: it invoices one chunk.
func (b *Bulk) Handler(ctx context.Context, t *asynq.Task) error {
	var p bulkPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("invoices: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return b.runChunk(ctx, p)
}

// runChunk invoices the orders from p.Cursor, at most a chunk of them.
func (b *Bulk) runChunk(ctx context.Context, p bulkPayload) error {
	job, err := b.Get(ctx, p.Merchant, p.Job)
	if errors.Is(err, ErrNoJob) {
		return nil // expired: nobody waits for it any more
	}
	if err != nil {
		return err
	}
	if job.State == JobDone || job.State == JobFailed {
		return nil
	}
	if job.cursor != p.Cursor {
		// Done already, by an attempt that committed and then failed to
		// enqueue the next chunk: enqueue it now.
		if job.cursor > p.Cursor && job.cursor < job.Total {
			return b.enqueue(ctx, p.Merchant, p.Job, job.cursor)
		}
		return nil
	}
	key := b.jobKey(p.Merchant, p.Job)
	ids, err := b.maker.rdb.LRange(ctx, key+":ids", int64(p.Cursor), int64(p.Cursor+b.chunk-1)).Result()
	if err != nil {
		return fmt.Errorf("invoices: read the bulk job's orders: %w", err)
	}
	firstUsed := job.firstUsed
	var (
		issued   []*Invoice
		failures []Failure
		jobErr   *JobError
	)
	for i, id := range ids {
		var opt Options
		if job.FirstNumber != 0 && !firstUsed {
			opt.Number = job.FirstNumber
		}
		inv, _, err := b.maker.Issue(ctx, p.Merchant, job.Store, id, opt)
		if err == nil {
			// The order that took the first number, now or in an attempt
			// that died before its commit: an order invoiced before the
			// job cannot hold it, the number was free at the submission.
			if opt.Number != 0 && inv.Seq == opt.Number {
				firstUsed = true
			}
			issued = append(issued, inv)
			if b.afterIssue != nil {
				b.afterIssue(ctx, p.Cursor, i)
			}
			continue
		}
		if f, ok := orderFailure(id, err); ok {
			failures = append(failures, f)
			continue
		}
		if jobErr = stopsJob(err); jobErr == nil {
			return err // Redis: the task is retried, the chunk redone
		}
		// The job stops here; what the chunk issued so far counts.
		ids = ids[:i]
		break
	}
	if err := b.render(ctx, p.Merchant, issued); err != nil {
		return err
	}
	next := p.Cursor + len(ids)
	state := JobRunning
	switch {
	case jobErr != nil:
		state = JobFailed
	case next >= job.Total:
		state = JobDone
	}
	args := []any{p.Cursor, next, len(issued), len(failures), boolArg(firstUsed), state, b.now().UTC().Format(time.RFC3339Nano), "", MaxBulkFailures}
	if jobErr != nil {
		e, _ := json.Marshal(jobErr)
		args[7] = string(e)
	}
	for _, f := range failures {
		fb, _ := json.Marshal(f)
		args = append(args, string(fb))
	}
	if err := commitScript.Run(ctx, b.maker.rdb, []string{key, key + ":fail"}, args...).Err(); err != nil {
		return fmt.Errorf("invoices: record the bulk job's progress: %w", err)
	}
	if state == JobRunning {
		return b.enqueue(ctx, p.Merchant, p.Job, next)
	}
	return nil
}

func boolArg(v bool) string {
	if v {
		return "1"
	}
	return "0"
}

// render renders and keeps the PDFs of a chunk's invoices, a few at a
// time, so that the zip only reads them. A PDF kept already is only read.
func (b *Bulk) render(ctx context.Context, merchant string, invs []*Invoice) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	work := make(chan *Invoice)
	for range min(b.renderers, len(invs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for inv := range work {
				if _, err := b.maker.svc.PDF(ctx, merchant, inv); err != nil {
					mu.Lock()
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, inv := range invs {
		work <- inv
	}
	close(work)
	wg.Wait()
	if first != nil {
		return fmt.Errorf("invoices: render the bulk job's PDFs: %w", first)
	}
	return nil
}

func cmpErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// orderFailure is an error that concerns only one order: it is recorded
// and the job goes on.
func orderFailure(id string, err error) (Failure, bool) {
	var ni *NotInvoiceableError
	switch {
	case errors.As(err, &ni):
		return Failure{OrderID: id, Code: CodeNotInvoiceable, Field: ni.Field, Message: ni.Field + " " + ni.Msg}, true
	case errors.Is(err, orders.ErrNoOrder):
		return Failure{OrderID: id, Code: orders.CodeOrderNotFound, Message: "the bridge knows no such order in this store"}, true
	}
	return Failure{}, false
}

// stopsJob is an error after which no order of the job can be invoiced
// as asked, or nil.
func stopsJob(err error) *JobError {
	var ne *NumberError
	switch {
	case errors.As(err, &ne):
		return &JobError{Code: CodeNumberTaken, Field: "first_number", Message: fmt.Sprintf("first_number: %d was taken after the job was submitted; the next number is %d", ne.Asked, ne.Next)}
	case errors.Is(err, ErrNumberUsed):
		return &JobError{Code: CodeNumberTaken, Field: "first_number", Message: "first_number: " + err.Error()}
	case errors.Is(err, ErrNoSettings):
		return &JobError{Code: CodeNoInvoiceSettings, Field: "store", Message: "store: the store's invoice settings were removed while the job ran"}
	case errors.Is(err, ErrUnknownStore):
		return &JobError{Code: httpapi.CodeNotFound, Field: "store", Message: "store: the store was removed from the configuration while the job ran"}
	}
	return nil
}
