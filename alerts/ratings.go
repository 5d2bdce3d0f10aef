package alerts

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

// TypeRatings reads the customers' evaluations of one marketplace
// account's orders (Mirakl's OR51) and raises a bad-rating alert for each
// new one at or below the merchant's threshold, as a delivery_survey.rated
// event would: same kinds, tags, templates and helpdesk accounts. It runs
// every rating_sync_every for each account with rating_alerts, in the
// account's alerts queue.
const TypeRatings = "alert:ratings"

// RatingsPayload asks for one marketplace account's evaluations to be
// read.
type RatingsPayload struct {
	Merchant string `json:"merchant"`
	Account  string `json:"account"` // the marketplace account
}

// NewRatingsTask returns the rating sync task of a marketplace account, in
// its alerts queue among shards.
func NewRatingsTask(p RatingsPayload, shards jobs.Shards) *asynq.Task {
	b, _ := json.Marshal(p)
	return asynq.NewTask(TypeRatings, b, asynq.Queue(shards.Queue(Queue, p.Account)))
}

// RatingSyncOptions configure a RatingSync.
type RatingSyncOptions struct {
	Config *config.Config
	// Redis keeps each account's lease, cursor and listing (see keys).
	Redis redis.UniversalClient
	// Listers are the accounts' connectors that list evaluations, by
	// account id; an account with rating_alerts must have one.
	Listers map[string]connectors.EvaluationLister
	// Queue takes the raise tasks.
	Queue  jobs.Enqueuer
	Shards jobs.Shards
	Now    func() time.Time
}

// RatingSync raises bad-rating alerts from marketplace evaluations.
type RatingSync struct {
	o     RatingSyncOptions
	state *syncstate.Store
}

var _ asynq.Handler = (*RatingSync)(nil)

// NewRatingSync returns a RatingSync.
func NewRatingSync(o RatingSyncOptions) *RatingSync {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &RatingSync{o: o, state: syncstate.New(o.Redis)}
}

// ProcessTask handles TypeRatings.
func (s *RatingSync) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p RatingsPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("alerts: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(s.Sync(ctx, p.Merchant, p.Account))
}

const (
	// ratingPage is how many orders a page looks at: Mirakl asks each for
	// its evaluation, one call per order, and a listing put off part-way
	// repeats at most one page of calls.
	ratingPage = 20
	// ratingLease bounds how long a dead replica's lease keeps the others
	// from syncing the account; a live one renews it.
	ratingLease = time.Minute
)

// Sync lists the account's evaluations given or changed since its cursor,
// less the overlap, and enqueues the raise tasks of the bad ones. The
// first sync starts from now: evaluations given before rating alerts were
// switched on raise nothing.
//
// Each evaluation raises its alert once, across replicas, retries and
// listings that overlap: the raise task's id, and the ticket's external
// id, derive from the marketplace account, the order and the date the
// evaluation was given (ratingEventID), which stay the same when the
// evaluation changes: listed again, it finds its task or its ticket. (One
// that gains a comment is then raised, once, in the accounts that take
// only bad ratings with a comment.) The cursor moves, to when the listing
// started, only once the whole listing is enqueued; a listing put off part-way (the
// account's budget spent) resumes at its page. Only one sync of an
// account runs at a time, on any replica.
//
// No write here waits for a replica: Redis replicates in order, so a
// failover that loses raise tasks loses the cursor written after them
// too, and the next sync lists those evaluations again.
func (s *RatingSync) Sync(ctx context.Context, merchant, accountID string) error {
	m, mk, err := s.account(merchant, accountID)
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx).With().Str("merchant", merchant).Str("account", accountID).Logger()
	if !mk.RatingAlerts {
		// Turned off since the task was enqueued.
		log.Info().Msg("rating alerts are off for this account")
		return nil
	}
	lister := s.o.Listers[accountID]
	if lister == nil {
		return fmt.Errorf("%w: %s cannot list evaluations", ErrUnknownAccount, accountID)
	}
	unlock, ok, err := s.state.Lock(ctx, s.key(merchant, "rlock", accountID), ratingLease)
	if err != nil {
		return err
	}
	if !ok {
		log.Info().Msg("rating sync already running elsewhere")
		return nil
	}
	defer unlock()

	curKey, listKey := s.key(merchant, "rcur", accountID), s.key(merchant, "rlist", accountID)
	cursor, err := s.state.Cursor(ctx, curKey)
	if err != nil {
		return fmt.Errorf("alerts: rating cursor of %s: %w", accountID, err)
	}
	// The cursor is when the last complete listing started, on the
	// bridge's clock: the overlap covers the marketplace's clock being a
	// little behind.
	start := s.o.Now()
	since := cmp.Or(cursor, start).Add(-mk.Overlap)
	q := connectors.EvaluationQuery{Since: since, Limit: ratingPage}
	resumed, resuming, err := s.state.ResumeListing(ctx, listKey)
	if err != nil {
		return err
	}
	if resuming {
		// The listing's Newest is when it started.
		since, start = resumed.Since, resumed.Newest
		q = connectors.EvaluationQuery{PageToken: resumed.PageToken}
	}
	listed, raised := 0, 0
	for {
		page, err := lister.ListEvaluations(ctx, q)
		if resuming && q.PageToken == resumed.PageToken && connectors.IsPermanent(err) {
			// The marketplace no longer takes the token: list again.
			if err := s.state.EndListing(ctx, listKey); err != nil {
				return err
			}
			resuming, q = false, connectors.EvaluationQuery{Since: since, Limit: ratingPage}
			continue
		}
		if err != nil {
			return fmt.Errorf("alerts: list evaluations of %s: %w", accountID, err)
		}
		for _, e := range page.Evaluations {
			listed++
			n, err := s.raise(ctx, m, mk, e)
			if err != nil {
				return err
			}
			raised += n
		}
		if page.NextPageToken == "" {
			break
		}
		q = connectors.EvaluationQuery{PageToken: page.NextPageToken}
		if err := s.state.SaveListing(ctx, listKey, syncstate.Listing{Since: since, PageToken: q.PageToken, Newest: start}); err != nil {
			return err
		}
	}
	if err := s.state.SetCursor(ctx, curKey, start); err != nil {
		return err
	}
	if err := s.state.EndListing(ctx, listKey); err != nil {
		return err
	}
	log.Info().Int("evaluations", listed).Int("alerts_enqueued", raised).Msg("marketplace evaluations read")
	return nil
}

// raise enqueues the alerts of one evaluation, if it is bad, in every
// helpdesk account of the store that takes their kind. It returns how
// many it enqueued; one enqueued before (same id) is not counted.
func (s *RatingSync) raise(ctx context.Context, m *config.Merchant, mk config.Marketplace, e connectors.Evaluation) (int, error) {
	kind, bad := badRating(m, e.Grade, e.Comment)
	if !bad {
		return 0, nil
	}
	p := RaisePayload{
		Merchant: m.ID, EventID: ratingEventID(mk.ID, e.OrderID, e.CreatedAt), OccurredAt: e.CreatedAt,
		Kind: kind, OrderID: e.OrderID, Store: mk.Store, Buyer: evaluationBuyer(mk, e),
		Score: e.Grade, Comment: e.Comment, Order: evaluationOrder(mk, e.Order),
	}
	tasks, err := raiseTasks(m, p, s.o.Shards)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tasks {
		_, err := s.o.Queue.EnqueueContext(ctx, t, asynq.MaxRetry(s.o.Config.Worker.MaxRetry), asynq.Retention(s.o.Config.Worker.TaskRetention))
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			// Raised by an earlier listing.
		case err != nil:
			return n, fmt.Errorf("alerts: enqueue the %s alert of order %s: %w", kind, e.OrderID, err)
		default:
			n++
		}
	}
	return n, nil
}

// ratingEventID names one evaluation as an event id names an event: the
// marketplace account, the order, and when the evaluation was given. The
// raise tasks and the alert tickets derive their ids from it, and the
// ticket shows it.
func ratingEventID(account, orderID string, given time.Time) string {
	return "rating:" + account + ":" + orderID + ":" + given.UTC().Format("2006-01-02T15:04:05.000Z")
}

// evaluationBuyer is the requester of the alert: the order's customer by
// the email the marketplace gives (Mirakl's is an anonymised relay), or
// an address of the reserved .invalid domain that no mail can reach and
// that is stable for the order.
func evaluationBuyer(mk config.Marketplace, e connectors.Evaluation) Buyer {
	var b Buyer
	if o := e.Order; o != nil {
		b = Buyer{Name: o.CustomerName, Email: o.CustomerEmail}
	}
	b.Name = cmp.Or(e.CustomerName, b.Name, "unknown")
	if b.Email == "" {
		b.Email = "order-" + localPart(e.OrderID) + "@" + mk.ID + ".marketplace.invalid"
	}
	return b
}

func localPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// evaluationOrder is what the ticket shows of the order, as an event's
// "order" would give it.
func evaluationOrder(mk config.Marketplace, o *connectors.Order) *OrderDetails {
	if o == nil {
		return nil
	}
	d := &OrderDetails{Marketplace: mk.Name, Status: o.State, Total: o.Total, Currency: o.Currency}
	if !o.CreatedAt.IsZero() {
		created := o.CreatedAt
		d.CreatedAt = &created
	}
	for _, l := range o.Lines {
		d.Lines = append(d.Lines, OrderLine{SKU: l.SKU, Name: l.Title, Quantity: l.Quantity})
	}
	return d
}

func (s *RatingSync) account(merchant, id string) (*config.Merchant, config.Marketplace, error) {
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

// key is one of a marketplace account's rating keys, under its merchant's
// hash tag: rlock (the lease), rcur (the cursor) and rlist (a listing put
// off part-way).
func (s *RatingSync) key(merchant, kind, account string) string {
	return s.o.Config.Redis.KeyPrefix + "alerts:{" + merchant + "}:" + kind + ":" + account
}
