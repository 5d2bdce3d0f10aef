package discussions

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/widgets"
)

// TypeOrders copies one marketplace account's orders (Mirakl's OR11) into
// the sidebar widgets' read model, so that the sidebar shows marketplace
// orders next to the ones the merchant's platform sends. It runs
// periodically for each account with sync_orders, in Queue.
const TypeOrders = "discussion:orders"

// OrdersPayload asks for one account's orders to be fetched.
type OrdersPayload struct {
	Merchant string `json:"merchant"`
	Account  string `json:"account"`
}

// NewOrdersTask returns the order sync task of an account, in its
// account's queue among shards.
func NewOrdersTask(p OrdersPayload, shards jobs.Shards) *asynq.Task {
	b, _ := json.Marshal(p)
	return asynq.NewTask(TypeOrders, b, asynq.Queue(shards.Queue(Queue, p.Account)))
}

// OrderSink takes the read model's changes; widgets.Updater is one.
// Applying a change again, or an older version of an order, changes
// nothing.
type OrderSink interface {
	Apply(ctx context.Context, c widgets.Change) error
}

// OrderSyncOptions configure an OrderSync.
type OrderSyncOptions struct {
	Config *config.Config
	// Store keeps each account's order cursor and lease, next to its
	// discussions' (the keys are ocur:{account} and lock:orders:{account}).
	Store *Store
	// Listers are the accounts' connectors that list orders, by account
	// id; an account with sync_orders must have one.
	Listers map[string]connectors.OrderLister
	Sink    OrderSink
	Now     func() time.Time
}

// OrderSync copies marketplace orders into the read model.
type OrderSync struct{ o OrderSyncOptions }

var _ asynq.Handler = (*OrderSync)(nil)

// NewOrderSync returns an OrderSync.
func NewOrderSync(o OrderSyncOptions) *OrderSync {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &OrderSync{o: o}
}

// ProcessTask handles TypeOrders.
func (s *OrderSync) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p OrdersPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("discussions: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(s.Sync(ctx, p.Merchant, p.Account))
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
	unlock, ok, err := s.o.Store.lock(ctx, merchant, "orders:"+accountID, syncLease)
	if err != nil {
		return err
	}
	if !ok {
		log.Info().Str("account", accountID).Msg("order sync already running elsewhere")
		return nil
	}
	defer unlock()

	cursor, err := s.cursor(ctx, merchant, accountID)
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
	name := "orders:" + accountID
	resumed, resuming, err := s.o.Store.resumeListing(ctx, merchant, name)
	if err != nil {
		return err
	}
	if resuming {
		since, newest = resumed.Since, latestTime(newest, resumed.Newest)
		q = connectors.OrderQuery{PageToken: resumed.PageToken}
	}
	for {
		page, err := lister.ListOrders(ctx, q)
		if resuming && q.PageToken == resumed.PageToken && connectors.IsPermanent(err) {
			if err := s.o.Store.endListing(ctx, merchant, name); err != nil {
				return err
			}
			resuming, q = false, connectors.OrderQuery{UpdatedSince: since, Limit: orderPage}
			continue
		}
		if err != nil {
			return fmt.Errorf("discussions: list orders of %s: %w", accountID, err)
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
			changes, ok := widgets.ChangesFromMarketplaceOrder(m, mk.Store, mk.Name, o)
			if !ok {
				skipped++ // no customer email: no sidebar shows it
				continue
			}
			for _, c := range changes {
				if err := s.o.Sink.Apply(ctx, c); err != nil {
					return fmt.Errorf("discussions: apply order %s of %s: %w", o.ID, accountID, err)
				}
			}
		}
		if page.NextPageToken == "" {
			break
		}
		q = connectors.OrderQuery{PageToken: page.NextPageToken}
		if err := s.o.Store.saveListing(ctx, merchant, name, syncstate.Listing{Since: since, PageToken: q.PageToken, Newest: newest}); err != nil {
			return err
		}
	}
	// As for threads, the cursor follows the marketplace's clock.
	if err := s.setCursor(ctx, merchant, accountID, newest); err != nil {
		return err
	}
	if err := s.o.Store.endListing(ctx, merchant, name); err != nil {
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
	for _, mk := range m.Marketplaces {
		if mk.ID == id {
			return m, mk, nil
		}
	}
	return nil, config.Marketplace{}, fmt.Errorf("%w: %s", ErrUnknownAccount, id)
}

// The order cursor is separate from the threads' (cur:{account}): the two
// listings advance on their own.
func (s *OrderSync) cursorKey(merchant, account string) string {
	return s.o.Store.key(merchant, "ocur", account)
}

// cursor returns the account's order cursor; zero before the first sync.
func (s *OrderSync) cursor(ctx context.Context, merchant, account string) (time.Time, error) {
	v, err := s.o.Store.rdb.Get(ctx, s.cursorKey(merchant, account)).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("discussions: order cursor of %s: %w", account, err)
	}
	return t, nil
}

// setCursor moves the order cursor forward, never back. The caller holds
// the account's lease.
func (s *OrderSync) setCursor(ctx context.Context, merchant, account string, t time.Time) error {
	cur, err := s.cursor(ctx, merchant, account)
	if err != nil {
		return err
	}
	if !t.After(cur) {
		return nil
	}
	return s.o.Store.rdb.Set(ctx, s.cursorKey(merchant, account), t.UTC().Format(time.RFC3339Nano), 0).Err()
}
