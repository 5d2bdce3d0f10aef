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
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
	"github.com/helpdesk-bridge/bridge/orders/push"
)

// The outbox: every change the read model commits is also appended, in
// the same transaction, to the merchant's change stream
// (P w:{merchant}:changes). A relay task then publishes the stream's
// entries, in order, to the merchant's push subscriptions. Written
// together, a change is never pushed without being stored, nor stored
// without being pushed, whatever fails in between.

// Order event types, as pushed.
const (
	EventCreated       = "order.created"
	EventChanged       = "order.changed"
	EventStatusChanged = "order.status_changed"
	// An action asked for, then confirmed by the marketplace, refused, or
	// failed; the order's action field says which and why.
	EventActionRequested = "order.action_requested"
	EventActionConfirmed = "order.action_confirmed"
	EventActionRefused   = "order.action_refused"
	EventActionFailed    = "order.action_failed"
)

// maxChanges bounds the stream: a relay that cannot keep up for that
// many changes (the push queue down for long) loses the oldest, which
// subscribers can still replay from what push has kept.
const maxChanges = 100_000

// changeEntry is one stream entry.
type changeEntry struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Store      string          `json:"store"`
	OrderID    string          `json:"order_id"`
	OccurredAt time.Time       `json:"occurred_at"`
	Order      json.RawMessage `json:"order"`
}

// outboxEntry is the event of type typ that a change applied to agg
// records: nothing until the order itself is known. The id derives from
// the type and the change, so that the same change applied again, here
// or by a retry, records the same event.
func outboxEntry(typ string, change any, store, orderID string, agg *aggregate, now time.Time) []byte {
	if agg.Order == nil {
		return nil
	}
	order, _ := json.Marshal(agg.view()) // plain data: cannot fail
	v, _ := json.Marshal(change)
	sum := sha256.Sum256(append([]byte(typ+"\x00"), v...))
	e := changeEntry{
		ID: "ord-" + hex.EncodeToString(sum[:16]), Type: typ, Store: store, OrderID: orderID,
		OccurredAt: now.UTC(), Order: order,
	}
	b, _ := json.Marshal(e)
	return b
}

func (s *Store) changesKey(merchant string) string { return s.base(merchant) + "changes" }

// TypeRelay publishes a merchant's recorded changes to its push
// subscriptions.
const TypeRelay = "orders:relay"

// RelayPayload names the merchant whose changes to relay.
type RelayPayload struct {
	Merchant string `json:"merchant"`
}

// relayTask is the relay of merchant's changes for the second after now.
// One per merchant and second: every change is followed by a relay that
// starts after it was recorded, however many changes the second saw.
func relayTask(merchant string, now time.Time, shards jobs.Shards) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(RelayPayload{Merchant: merchant})
	at := now.Truncate(time.Second).Add(time.Second)
	return asynq.NewTask(TypeRelay, b), []asynq.Option{
		asynq.Queue(shards.Queue(Queue, merchant)),
		asynq.TaskID("orders-relay-" + merchant + "-" + strconv.FormatInt(at.Unix(), 10)),
		asynq.ProcessAt(at),
	}
}

// Publisher takes order events to push; push.Publisher is one.
type Publisher interface {
	Publish(ctx context.Context, merchant string, ev push.Event) error
}

// Relay publishes the change stream of a merchant.
type Relay struct {
	store *Store
	pub   Publisher
	queue Enqueuer
	state *syncstate.Store
	now   func() time.Time
}

// NewRelay returns a Relay of store's streams to pub.
func NewRelay(store *Store, pub Publisher, queue Enqueuer, now func() time.Time) *Relay {
	return &Relay{store: store, pub: pub, queue: queue, state: syncstate.New(store.rdb), now: now}
}

// relayBatch is how many entries one read of the stream takes.
const relayBatch = 200

// Run publishes every entry after the merchant's relay position, in
// order, and moves the position past each batch. One relay of a
// merchant runs at a time; another that finds it busy comes back a
// second later rather than end, so that no change waits for the next
// one to be relayed.
func (r *Relay) Run(ctx context.Context, merchant string, shards jobs.Shards) error {
	key := r.store.changesKey(merchant)
	unlock, ok, err := r.state.Lock(ctx, key+":lock", time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		task, opts := relayTask(merchant, r.now(), shards)
		_, err := r.queue.EnqueueContext(ctx, task, opts...)
		if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
			return fmt.Errorf("orders: relay of %s: %w", merchant, err)
		}
		return nil
	}
	defer unlock()
	pos, err := r.store.rdb.Get(ctx, key+":pos").Result()
	if errors.Is(err, redis.Nil) {
		pos = "0"
	} else if err != nil {
		return err
	}
	for {
		entries, err := r.store.rdb.XRangeN(ctx, key, "("+pos, "+", relayBatch).Result()
		if err != nil {
			return fmt.Errorf("orders: read the changes of %s: %w", merchant, err)
		}
		if len(entries) == 0 {
			return nil
		}
		for _, x := range entries {
			var e changeEntry
			raw, _ := x.Values["e"].(string)
			if err := json.Unmarshal([]byte(raw), &e); err != nil {
				return fmt.Errorf("orders: change %s of %s: %w: %w", x.ID, merchant, err, asynq.SkipRetry)
			}
			ev := push.Event{ID: e.ID, Type: e.Type, Store: e.Store, OrderID: e.OrderID, OccurredAt: e.OccurredAt, Data: e.Order}
			switch err := r.pub.Publish(ctx, merchant, ev); {
			case errors.Is(err, push.ErrInvalidEvent):
				// Never pushable (an id or order id push refuses): skipped
				// rather than blocking the merchant's later changes.
				zerolog.Ctx(ctx).Warn().Err(err).Str("change", x.ID).Msg("order change not pushed")
			case err != nil:
				return err // from this entry again on the retry
			}
		}
		pos = entries[len(entries)-1].ID
		// The position and the trim together: the entries before it are
		// published and need not be kept.
		if _, err := r.store.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key+":pos", pos, 0)
			p.XTrimMinID(ctx, key, pos)
			return nil
		}); err != nil {
			return err
		}
	}
}

// Handler is the asynq handler of TypeRelay.
func (r *Relay) Handler(shards jobs.Shards) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		var p RelayPayload
		if err := json.Unmarshal(t.Payload(), &p); err != nil {
			return fmt.Errorf("orders: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
		}
		return r.Run(ctx, p.Merchant, shards)
	}
}
