package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
)

// Task types.
const (
	TypeApply   = "widget:apply"
	TypeRefresh = "widget:refresh"
)

// Queue is the asynq queue widget tasks run in.
const Queue = "widgets"

// RefreshPayload asks for one customer's document to be rebuilt.
type RefreshPayload struct {
	Merchant  string `json:"merchant"`
	EmailHash string `json:"email_hash"`
}

// NewApplyTask wraps a change, in its order's queue among shards. Its id
// derives from the event, so that a redelivered event enqueues nothing.
func NewApplyTask(merchant, eventID string, c Change, shards jobs.Shards) (*asynq.Task, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("widgets: apply task: %w", err)
	}
	sum := sha256.Sum256([]byte(merchant + "\x00" + eventID))
	queue := shards.Queue(Queue, merchant+"\x00"+c.Store+"\x00"+c.OrderID)
	return asynq.NewTask(TypeApply, payload, asynq.Queue(queue), asynq.TaskID("widget-apply-"+hex.EncodeToString(sum[:16]))), nil
}

// Enqueuer is the part of asynq.Client the Updater uses.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Updater applies changes to the read model and schedules the rebuilds
// that retention needs.
type Updater struct {
	store  *Store
	queue  Enqueuer
	shards jobs.Shards
}

// NewUpdater returns an Updater whose refreshes go to their customer's
// queue among shards.
func NewUpdater(store *Store, queue Enqueuer, shards jobs.Shards) *Updater {
	return &Updater{store: store, queue: queue, shards: shards}
}

// Apply upserts a change, and makes sure a relay of the merchant's
// recorded changes follows it: unchanged too, since an earlier attempt
// may have recorded the change and failed before enqueuing the relay.
func (u *Updater) Apply(ctx context.Context, c Change) error {
	res, err := u.store.Apply(ctx, c)
	if err != nil {
		return err
	}
	return u.after(ctx, c.Merchant, res)
}

// after schedules what follows a write of merchant's read model: the
// rebuilds its documents' expiries need, and the relay of its changes.
func (u *Updater) after(ctx context.Context, merchant string, res Applied) error {
	if err := u.schedule(ctx, res.Expiries); err != nil {
		return err
	}
	task, opts := relayTask(merchant, u.store.now(), u.shards)
	_, err := u.queue.EnqueueContext(ctx, task, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("orders: enqueue the relay of %s: %w", merchant, err)
	}
	return nil
}

// Refresh rebuilds a customer's document.
func (u *Updater) Refresh(ctx context.Context, p RefreshPayload) error {
	res, err := u.store.Refresh(ctx, p.Merchant, p.EmailHash)
	if err != nil {
		return err
	}
	return u.schedule(ctx, res.Expiries)
}

// schedule enqueues a refresh for when each document's oldest order falls
// out of retention. The task id names the time, so that the many changes
// of one customer schedule it once.
func (u *Updater) schedule(ctx context.Context, expiries []Expiry) error {
	for _, e := range expiries {
		payload, _ := json.Marshal(RefreshPayload{Merchant: e.Merchant, EmailHash: e.EmailHash})
		id := "widget-refresh-" + e.Merchant + "-" + e.EmailHash + "-" + strconv.FormatInt(e.At.Unix(), 10)
		queue := u.shards.Queue(Queue, e.Merchant+"\x00"+e.EmailHash)
		_, err := u.queue.EnqueueContext(ctx, asynq.NewTask(TypeRefresh, payload), asynq.Queue(queue), asynq.TaskID(id), asynq.ProcessAt(e.At.Add(time.Second)))
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
			return fmt.Errorf("widgets: schedule refresh: %w", err)
		}
	}
	return nil
}

// Handlers are the asynq handlers of the widget tasks.
type Handlers struct{ u *Updater }

// NewHandlers returns the handlers.
func NewHandlers(u *Updater) *Handlers { return &Handlers{u: u} }

// Apply handles TypeApply.
func (h *Handlers) Apply(ctx context.Context, t *asynq.Task) error {
	var c Change
	if err := json.Unmarshal(t.Payload(), &c); err != nil {
		return fmt.Errorf("widgets: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return h.u.Apply(ctx, c)
}

// Refresh handles TypeRefresh.
func (h *Handlers) Refresh(ctx context.Context, t *asynq.Task) error {
	var p RefreshPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("widgets: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return h.u.Refresh(ctx, p)
}
