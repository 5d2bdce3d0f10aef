package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// TypeAutoAccept accepts one new marketplace order, for an account with
// auto_accept.
const TypeAutoAccept = "orders:auto-accept"

// AcceptPayload names the order to accept.
type AcceptPayload struct {
	Merchant string `json:"merchant"`
	Account  string `json:"account"`
	OrderID  string `json:"order_id"`
}

// acceptKeep is how long an auto-acceptance's task id stays taken once
// done: the syncs that still see the order waiting meanwhile (the
// marketplace's state lags, or the sync ran before the acceptance)
// enqueue nothing again.
const acceptKeep = 7 * 24 * time.Hour

// newAcceptTask is the one auto-acceptance of an order: its id names the
// account and the order, so that every sync on every replica that sees it
// waiting enqueues it once.
func newAcceptTask(p AcceptPayload, shards jobs.Shards) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(p)
	return asynq.NewTask(TypeAutoAccept, b), []asynq.Option{
		asynq.Queue(shards.Queue(SyncQueue, p.Account)),
		asynq.TaskID("orders-accept-" + p.Account + "-" + p.OrderID),
		asynq.Retention(acceptKeep),
	}
}

// holdReason says why auto_accept leaves an order for an agent, or "".
func holdReason(a config.AutoAccept, o connectors.Order) string {
	if a.MaxTotal != "" {
		limit, ok1 := new(big.Rat).SetString(a.MaxTotal)
		total, ok2 := new(big.Rat).SetString(o.Total)
		switch {
		case !ok2:
			return "its total is unknown and auto_accept.max_total is set"
		case ok1 && total.Cmp(limit) > 0:
			return "its total is above auto_accept.max_total"
		}
	}
	for _, l := range o.Lines {
		if slices.Contains(a.HoldSKUs, l.SKU) {
			return "it has a SKU of auto_accept.hold_skus"
		}
	}
	return ""
}

// autoAccept enqueues the acceptance of o if the account accepts new
// orders by itself and o is one its rules do not hold.
func (s *OrderSync) autoAccept(ctx context.Context, merchant string, mk config.Marketplace, o connectors.Order) error {
	if !mk.AutoAccept.Enabled || o.Status != connectors.OrderNew || !slices.Contains(o.Actions, connectors.ActionAccept) {
		return nil
	}
	if why := holdReason(mk.AutoAccept, o); why != "" {
		zerolog.Ctx(ctx).Info().Str("account", mk.ID).Str("order_id", o.ID).Str("why", why).Msg("new order held for an agent")
		return nil
	}
	task, opts := newAcceptTask(AcceptPayload{Merchant: merchant, Account: mk.ID, OrderID: o.ID}, s.o.Shards)
	_, err := s.o.Queue.EnqueueContext(ctx, task, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("orders: enqueue the acceptance of %s: %w", o.ID, err)
	}
	return nil
}

// Acceptor accepts orders on marketplaces and puts what the marketplace
// then says of them in the read model. It does not go through Actions:
// Mirakl gives a new order's customer only once it is accepted, so the
// read model, which files orders by customer, may not hold the order
// yet. Its acceptances are in the audit trail all the same.
type Acceptor struct {
	cfg    *config.Config
	actors map[string]connectors.OrderActor // by account id
	sink   Sink
	audit  *Store
	now    func() time.Time
}

// NewAcceptor returns an Acceptor of the accounts' connectors, which
// records its acceptances in store's audit trail.
func NewAcceptor(cfg *config.Config, actors map[string]connectors.OrderActor, sink Sink, store *Store, now func() time.Time) *Acceptor {
	return &Acceptor{cfg: cfg, actors: actors, sink: sink, audit: store, now: now}
}

// record adds an acceptance to the audit trail. The acceptance is done
// whether or not its line is written: a failure is logged, not retried.
func (a *Acceptor) record(ctx context.Context, p AcceptPayload, store, result, reason string) {
	at := a.now().UTC()
	e := AuditEntry{
		At: at, ActionID: "auto_" + p.Account + "_" + p.OrderID, Attempt: 1, Store: store, OrderID: p.OrderID,
		Kind: ActAccept, Result: result, Reason: reason, By: Actor{Source: "auto_accept", ID: p.Account},
	}
	if err := a.audit.appendAudit(ctx, p.Merchant, e); err != nil {
		zerolog.Ctx(ctx).Warn().Err(err).Str("order_id", p.OrderID).Msg("automatic acceptance not written to the audit trail")
	}
}

// Accept accepts the order, then reads it back into the read model, so
// that the sidebar shows it accepted before the next sync. Accepting an
// order already accepted succeeds (the connector reads it back); an order
// the marketplace no longer lets the shop accept (the customer cancelled
// it meanwhile) is left as it is.
func (a *Acceptor) Accept(ctx context.Context, p AcceptPayload) error {
	m, ok := a.cfg.Merchant(p.Merchant)
	actor := a.actors[p.Account]
	if !ok || actor == nil {
		return fmt.Errorf("%w: %s", ErrUnknownAccount, p.Account)
	}
	mk, _ := m.Marketplace(p.Account)
	log := zerolog.Ctx(ctx).With().Str("account", p.Account).Str("order_id", p.OrderID).Logger()
	if !mk.AutoAccept.Enabled {
		log.Info().Msg("auto_accept was turned off since the order was seen; left for an agent")
		return nil
	}
	var refused *connectors.OrderActionError
	switch err := actor.Act(ctx, p.OrderID, connectors.AcceptOrder{}); {
	case errors.As(err, &refused):
		log.Info().Str("state", refused.State).Msg("the marketplace no longer lets the shop accept the order; left as it is")
		a.record(ctx, p, mk.Store, Refused, refused.Error())
		return nil
	case err != nil:
		return fmt.Errorf("orders: accept %s: %w", p.OrderID, err)
	}
	log.Info().Msg("new order accepted automatically")
	a.record(ctx, p, mk.Store, Confirmed, "")
	o, err := actor.GetOrder(ctx, p.OrderID)
	if err != nil {
		// Accepted: the next sync brings the new state.
		log.Warn().Err(err).Msg("order accepted, but not read back; the next sync shows it")
		return nil
	}
	changes, ok := ChangesFromMarketplaceOrder(m, mk.Store, mk.Name, o)
	if !ok {
		return nil
	}
	for _, c := range changes {
		if err := a.sink.Apply(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// Handler is the asynq handler of TypeAutoAccept.
func (a *Acceptor) Handler(ctx context.Context, t *asynq.Task) error {
	var p AcceptPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("orders: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	err := a.Accept(ctx, p)
	if errors.Is(err, ErrUnknownAccount) || connectors.IsPermanent(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}
