package discussions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Task types.
const (
	TypeSync   = "discussion:sync"
	TypeMirror = "discussion:mirror"
)

// The asynq queues of discussion tasks. Each is a priority class of the
// accounts' rate-limit budgets (see cmd/bridge): an agent's reply goes
// before new messages, and a first backfill after both.
const (
	Queue        = "discussions" // new messages, syncs
	RepliesQueue = "replies"     // agents' replies
	BulkQueue    = "bulk"        // the mirrors of a first backfill
)

// SyncPayload asks for one account's threads to be fetched.
type SyncPayload struct {
	Merchant string `json:"merchant"`
	Account  string `json:"account"`
	// Full reads the whole backfill window again, as bulk work, instead
	// of what changed since the cursor.
	Full bool `json:"full,omitempty"`
}

// MirrorPayload carries one thread as a sync listed it, with all its
// messages: the mirror task needs no second call to the marketplace.
type MirrorPayload struct {
	Merchant string            `json:"merchant"`
	Account  string            `json:"account"`
	Thread   connectors.Thread `json:"thread"`
}

// NewSyncTask returns the sync task of an account, in its account's queue
// among shards.
func NewSyncTask(p SyncPayload, shards jobs.Shards) *asynq.Task {
	b, _ := json.Marshal(p)
	return asynq.NewTask(TypeSync, b, asynq.Queue(shards.Queue(Queue, p.Account)))
}

// newMirrorTask's id names the thread's version (mirrorTaskID), so that
// overlapping syncs enqueue one task per version of a thread. queue is
// Queue, or BulkQueue for a backfill.
func newMirrorTask(p MirrorPayload, queue string) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("discussions: mirror task: %w", err)
	}
	return asynq.NewTask(TypeMirror, b, asynq.Queue(queue), asynq.TaskID(mirrorTaskID(p))), nil
}

// mirrorTaskID names this version of the thread, so that a sync listing
// it again unchanged enqueues nothing. Its update time is not enough:
// some marketplaces date to the minute (Rakuten), and a message arriving
// in the minute of the last one would find the previous version's task
// (kept done for the retention) and never be mirrored. The messages the
// listing holds tell the versions apart.
func mirrorTaskID(p MirrorPayload) string {
	h := sha256.New()
	h.Write([]byte(p.Merchant + "\x00" + p.Account + "\x00" + p.Thread.ID + "\x00" + strconv.FormatInt(p.Thread.UpdatedAt.UnixNano(), 10)))
	for _, m := range p.Thread.Messages {
		h.Write([]byte("\x00" + m.ID))
	}
	return "discussion-mirror-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Handlers are the asynq handlers of the discussion tasks.
type Handlers struct{ svc *Service }

// NewHandlers returns the handlers.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Sync handles TypeSync.
func (h *Handlers) Sync(ctx context.Context, t *asynq.Task) error {
	var p SyncPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("discussions: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(h.svc.Sync(ctx, p))
}

// Mirror handles TypeMirror.
func (h *Handlers) Mirror(ctx context.Context, t *asynq.Task) error {
	var p MirrorPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("discussions: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(h.svc.Mirror(ctx, p))
}

// Reply handles TypeReply.
func (h *Handlers) Reply(ctx context.Context, t *asynq.Task) error {
	var p ReplyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("discussions: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(h.svc.Reply(ctx, p))
}

// classify marks permanent failures so that asynq stops retrying them.
func classify(err error) error {
	if errors.Is(err, ErrUnknownAccount) || connectors.IsPermanent(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}
