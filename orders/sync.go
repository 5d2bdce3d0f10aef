package orders

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// TypeSync copies one marketplace account's orders (Mirakl's OR11) into
// the read model, so that the sidebar shows marketplace orders next to
// the ones the merchant's platform sends. It runs periodically for each
// account with sync_orders, in SyncQueue. The name is the one earlier
// releases gave it, when the sync was part of discussion mirroring: tasks
// queued before an upgrade still run.
const TypeSync = "discussion:orders"

// SyncQueue is where order syncs run: the queue of the marketplace
// account's discussion syncs, whose priority class they share, since
// both spend the same account's budget.
const SyncQueue = "discussions"

// ErrUnknownAccount is a sync task for an account or merchant the
// configuration no longer has: it is dropped, not retried.
var ErrUnknownAccount = errors.New("orders: unknown marketplace account")

// SyncPayload asks for one account's orders to be fetched.
type SyncPayload struct {
	Merchant string `json:"merchant"`
	Account  string `json:"account"`
}

// NewSyncTask returns the order sync task of an account, in its
// account's queue among shards.
func NewSyncTask(p SyncPayload, shards jobs.Shards) *asynq.Task {
	b, _ := json.Marshal(p)
	return asynq.NewTask(TypeSync, b, asynq.Queue(shards.Queue(SyncQueue, p.Account)))
}

// Sink takes the read model's changes; Updater is one. Applying a change
// again, or an older version of an order, changes nothing.
type Sink interface {
	Apply(ctx context.Context, c Change) error
}

// SyncOptions configure an OrderSync.
type SyncOptions struct {
	Config *config.Config
	// Redis keeps each account's order cursor, lease and listing (see
	// OrderSync.key), under KeyPrefix.
	Redis     redis.UniversalClient
	KeyPrefix string
	// Listers are the accounts' connectors that list orders, by account
	// id; an account with sync_orders must have one.
	Listers map[string]connectors.OrderLister
	Sink    Sink
	// Queue and Shards take the automatic acceptances of new orders, for
	// accounts with auto_accept.
	Queue  Enqueuer
	Shards jobs.Shards
	Now    func() time.Time
}

// OrderSync copies marketplace orders into the read model.
type OrderSync struct {
	o     SyncOptions
	state *syncstate.Store
}

var _ asynq.Handler = (*OrderSync)(nil)

// NewOrderSync returns an OrderSync.
func NewOrderSync(o SyncOptions) *OrderSync {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &OrderSync{o: o, state: syncstate.New(o.Redis)}
}

// syncLease is how long a dead sync's hold on its account lasts; a live
// one renews it.
const syncLease = time.Minute

// ProcessTask handles TypeSync.
func (s *OrderSync) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p SyncPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("orders: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	err := s.Sync(ctx, p.Merchant, p.Account)
	if errors.Is(err, ErrUnknownAccount) || connectors.IsPermanent(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}

// orderPage is how many orders one OR11 call asks for: Mirakl's maximum.
const orderPage = 100

// Sync lists the account's orders updated since its order cursor, less
// the overlap (the first time, since the backfill window), and applies
// each to the read model. The cursor moves, to the newest update listed,
// only once the whole listing is applied: a failure lists it all again
// next time, and the read model keeps the newer of two versions. Only one
// sync of an account's orders runs at a time, on any replica.
func (s *OrderSync) Sync(ctx context.Context, merchant, accountID string) error {
	m, mk, err := s.account(merchant, accountID)
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx)
	if !mk.SyncOrders {
		// Turned off since the task was enqueued.
		log.Info().Str("account", accountID).Msg("order sync is off for this account")
		return nil
	}
	lister := s.o.Listers[accountID]
	if lister == nil {
		return fmt.Errorf("%w: %s cannot list orders", ErrUnknownAccount, accountID)
	}
	unlock, ok, err := s.state.Lock(ctx, s.key(merchant, "lock", "orders:"+accountID), syncLease)
	if err != nil {
		return err
	}
	if !ok {
		log.Info().Str("account", accountID).Msg("order sync already running elsewhere")
		return nil
	}
	defer unlock()

	cursor, err := s.state.Cursor(ctx, s.key(merchant, "ocur", accountID))
	if err != nil {
		return err
	}
	since := cursor.Add(-mk.Overlap)
	if cursor.IsZero() {
		since = s.o.Now().Add(-mk.Backfill)
	}
	q := connectors.OrderQuery{UpdatedSince: since, Limit: orderPage}
	newest, listed, skipped := cursor, 0, 0
	// A listing put off part-way goes on from its page (see listing).
	listingKey := s.key(merchant, "listing", "orders:"+accountID)
	resumed, resuming, err := s.state.ResumeListing(ctx, listingKey)
	if err != nil {
		return err
	}
	if resuming {
		since, newest = resumed.Since, latest(newest, resumed.Newest)
		q = connectors.OrderQuery{PageToken: resumed.PageToken}
	}
	for {
		page, err := lister.ListOrders(ctx, q)
		if resuming && q.PageToken == resumed.PageToken && connectors.IsPermanent(err) {
			if err := s.state.EndListing(ctx, listingKey); err != nil {
				return err
			}
			resuming, q = false, connectors.OrderQuery{UpdatedSince: since, Limit: orderPage}
			continue
		}
		if err != nil {
			return fmt.Errorf("orders: list orders of %s: %w", accountID, err)
		}
		for _, o := range page.Orders {
			listed++
			// The later update wins in the read model, and the cursor
			// follows the newest: a date far ahead of the clock would
			// freeze both. Taken as updated now, the order still shows.
			if now := s.o.Now(); cmp.Or(o.UpdatedAt, o.CreatedAt).After(now.Add(s.o.Config.Widgets.MaxFutureSkew)) {
				log.Warn().Str("account", accountID).Str("order_id", o.ID).Time("updated_at", cmp.Or(o.UpdatedAt, o.CreatedAt)).
					Msg("marketplace order dated ahead of the clock; taken as updated now")
				o.UpdatedAt = now
			}
			if o.UpdatedAt.After(newest) {
				newest = o.UpdatedAt
			}
			// Orders without an email too: the shop must still accept them.
			if err := s.autoAccept(ctx, merchant, mk, o); err != nil {
				return err
			}
			changes, ok := ChangesFromMarketplaceOrder(m, mk.Store, mk.Name, o)
			if !ok {
				skipped++ // no customer email: no sidebar shows it
				continue
			}
			for _, c := range changes {
				if err := s.o.Sink.Apply(ctx, c); err != nil {
					return fmt.Errorf("orders: apply order %s of %s: %w", o.ID, accountID, err)
				}
			}
		}
		if page.NextPageToken == "" {
			break
		}
		q = connectors.OrderQuery{PageToken: page.NextPageToken}
		if err := s.state.SaveListing(ctx, listingKey, syncstate.Listing{Since: since, PageToken: q.PageToken, Newest: newest}); err != nil {
			return err
		}
	}
	// As for threads, the cursor follows the marketplace's clock.
	if err := s.state.SetCursor(ctx, s.key(merchant, "ocur", accountID), newest); err != nil {
		return err
	}
	if err := s.state.EndListing(ctx, listingKey); err != nil {
		return err
	}
	log.Info().Str("account", accountID).Int("orders", listed).Int("without_email", skipped).Msg("marketplace orders synced")
	return nil
}

func (s *OrderSync) account(merchant, id string) (*config.Merchant, config.Marketplace, error) {
	m, ok := s.o.Config.Merchant(merchant)
	if !ok {
		return nil, config.Marketplace{}, fmt.Errorf("%w: merchant %s", ErrUnknownAccount, merchant)
	}
	if mk, ok := m.Marketplace(id); ok {
		return m, mk, nil
	}
	return nil, config.Marketplace{}, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
}

// The sync's keys keep the names earlier releases gave them, under the
// discussions' family (the sync was part of discussion mirroring), so
// that an upgrade resumes from the cursor it had: P dsc:{merchant}:ocur:
// <account> (the cursor, separate from the threads' cur:), …:lock:orders:
// <account> (the lease) and …:listing:orders:<account> (a listing put off
// part-way).
func (s *OrderSync) key(merchant string, parts ...string) string {
	return s.o.KeyPrefix + "dsc:{" + merchant + "}:" + strings.Join(parts, ":")
}
