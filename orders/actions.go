package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// How an action goes. Request records it on its order, as
// synchronizing, with its audit entry and its push event, in the
// transaction that writes the order; then an asynq task (TypeAction)
// asks the marketplace. The task reads the order back: once the order
// shows the action's effect, the action is confirmed; a marketplace
// that refuses it settles it as refused, with its reason, and leaves
// the order as it was.
//
// Exactly once. The task marks the action as tried before each call to
// the marketplace. An attempt that finds the mark (the previous one
// timed out, or its process was killed after the marketplace answered)
// reads the order first, and acts only if the effect is not there.
// Acting again is harmless anyway for every action but a partial line
// cancellation (see connectors.OrderActor), whose quantities before are
// kept to tell.

// TypeAction performs one action on a marketplace order.
const TypeAction = "orders:action"

// ActionsQueue is where actions run. An agent waits for them: they go
// before everything else, in the interactive class of the account's
// budget.
const ActionsQueue = "actions"

// ActionPayload names the action and its attempt.
type ActionPayload struct {
	Merchant string `json:"merchant"`
	ID       string `json:"id"`
	Attempt  int    `json:"attempt"`
}

// Timings of an action's task.
const (
	// actionKeep is how long an action's record stays readable by id.
	actionKeep = 90 * 24 * time.Hour
	// lookAgainAfter is how long the marketplace is given to finish an
	// action whose answer was lost, or to show one it took, before the
	// order is read again.
	lookAgainAfter = 3 * time.Second
	// maxLooks bounds the reads of an order that does not show an
	// action the marketplace took: past them the action failed.
	maxLooks = 40
	// maxAudit bounds a merchant's audit trail; the oldest go first.
	maxAudit = 100_000
)

// AuditEntry is one line of a merchant's audit trail: an action asked
// for, refused at once, or settled by the marketplace.
type AuditEntry struct {
	// Cursor is the entry's position, for paging.
	Cursor   string    `json:"cursor"`
	At       time.Time `json:"at"`
	ActionID string    `json:"action_id"`
	Attempt  int       `json:"attempt"`
	Store    string    `json:"store"`
	OrderID  string    `json:"order_id"`
	Kind     string    `json:"action"`
	// Result is requested, confirmed, refused or failed.
	Result string     `json:"result"`
	Reason string     `json:"reason,omitempty"`
	Args   ActionArgs `json:"args"`
	By     Actor      `json:"by"`
}

// ActionsOptions configure Actions.
type ActionsOptions struct {
	Config *config.Config
	Store  *Store
	// Actors are the marketplace accounts' connectors that act on
	// orders, by account id.
	Actors map[string]connectors.OrderActor
	// Updater schedules what follows a change of the read model (its
	// relay to push subscribers, its documents' expiries).
	Updater *Updater
	Queue   Enqueuer
	Shards  jobs.Shards
	Now     func() time.Time
}

// Actions performs agents' and integrators' actions on marketplace
// orders.
type Actions struct {
	o ActionsOptions
}

// NewActions returns the actions service.
func NewActions(o ActionsOptions) *Actions {
	return &Actions{o: o}
}

// account is the marketplace account that acts on the orders of store
// that marketplace sold: a store may sell on several. An order whose
// marketplace is unknown goes to the store's one account, if it has one.
func (a *Actions) account(merchant, store, marketplace string) (*config.Merchant, config.Marketplace, connectors.OrderActor, bool) {
	m, ok := a.o.Config.Merchant(merchant)
	if !ok {
		return nil, config.Marketplace{}, nil, false
	}
	var found []config.Marketplace
	for _, mk := range m.Marketplaces {
		if a.o.Actors[mk.ID] != nil && mk.Store == store && (marketplace == "" || strings.EqualFold(mk.Name, marketplace)) {
			found = append(found, mk)
		}
	}
	if len(found) != 1 {
		return m, config.Marketplace{}, nil, false
	}
	return m, found[0], a.o.Actors[found[0].ID], true
}

// storeActs tells whether any account of store acts on orders.
func (a *Actions) storeActs(merchant, store string) bool {
	m, ok := a.o.Config.Merchant(merchant)
	if !ok {
		return false
	}
	for _, mk := range m.Marketplaces {
		if mk.Store == store && a.o.Actors[mk.ID] != nil {
			return true
		}
	}
	return false
}

// byID is the account an action was recorded with.
func (a *Actions) byID(merchant, account string) (*config.Merchant, config.Marketplace, connectors.OrderActor, bool) {
	m, ok := a.o.Config.Merchant(merchant)
	if !ok {
		return nil, config.Marketplace{}, nil, false
	}
	mk, ok := m.Marketplace(account)
	if !ok || a.o.Actors[account] == nil {
		return m, config.Marketplace{}, nil, false
	}
	return m, mk, a.o.Actors[account], true
}

// Allowed lists the actions that may be asked for o now: those its
// status allows, when a marketplace account of its store acts on
// orders, and none while an action waits for the marketplace.
func (a *Actions) Allowed(merchant string, o Order) []string {
	if o.Action != nil && o.Action.State == Synchronizing {
		return nil
	}
	if _, _, _, ok := a.account(merchant, o.Store, o.Marketplace); !ok {
		return nil
	}
	return StatusActions(o.Status)
}

// Order reads one order, with its latest action.
func (a *Actions) Order(ctx context.Context, merchant, store, orderID string) (Order, error) {
	agg, err := a.o.Store.stored(ctx, merchant, store, orderID)
	if err != nil {
		return Order{}, err
	}
	if agg.Order == nil {
		return Order{}, orderNotFound(store, orderID)
	}
	return agg.view(), nil
}

func orderNotFound(store, orderID string) error {
	return httpapi.Errorf(http.StatusNotFound, CodeOrderNotFound, "order_id", "order_id: the bridge knows no order %s in store %s", orderID, store)
}

// Get returns an action by id.
func (a *Actions) Get(ctx context.Context, merchant, id string) (Action, error) {
	rec, err := a.o.Store.readAction(ctx, a.o.Store.rdb, merchant, id)
	if err != nil {
		return Action{}, err
	}
	if rec == nil {
		return Action{}, httpapi.Errorf(http.StatusNotFound, CodeActionNotFound, "id", "id: no action %s (records are kept %d days)", id, int(actionKeep.Hours()/24))
	}
	return *rec, nil
}

// Request asks for an action on an order. The same action with the same
// arguments, asked again while it waits or once it was confirmed, is the
// same action: its record is returned and nothing is done twice. Asked
// again once refused or failed, it is tried again.
//
// An action the order's status does not allow is refused at once: the
// refusal is recorded on the order and in the audit trail, and the
// error (409 action_not_allowed) says why.
func (a *Actions) Request(ctx context.Context, req ActionRequest) (Action, error) {
	if err := req.normalize(); err != nil {
		return Action{}, err
	}
	unsupported := func(marketplace string) error {
		if marketplace != "" {
			marketplace = " sold on " + marketplace
		}
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeActionUnsupported, "store",
			"store: no marketplace account of store %s acts on its orders%s; actions need one (a Mirakl account)", req.Store, marketplace)
	}
	if !a.storeActs(req.Merchant, req.Store) {
		return Action{}, unsupported("")
	}
	id := actionID(req.Merchant, req.Store, req.OrderID, req.Kind, req.Args)
	now := a.o.Now().UTC()
	s := a.o.Store
	var rec Action
	var refusal error
	res, err := s.update(ctx, req.Merchant, req.Store, req.OrderID, func(w *watchSet, agg *aggregate) (mutation, error) {
		rkey := s.actionKey(req.Merchant, id)
		if err := w.watch(ctx, rkey); err != nil {
			return mutation{}, err
		}
		prev, err := s.readAction(ctx, w.tx, req.Merchant, id)
		if err != nil {
			return mutation{}, err
		}
		if prev != nil && (prev.State == Synchronizing || prev.State == Confirmed) {
			rec = *prev
			return mutation{}, nil
		}
		if agg.Order == nil {
			return mutation{}, orderNotFound(req.Store, req.OrderID)
		}
		_, mk, _, ok := a.account(req.Merchant, req.Store, agg.Order.Order.Marketplace)
		if !ok {
			return mutation{}, unsupported(agg.Order.Order.Marketplace)
		}
		if cur := agg.Action; cur != nil && cur.State == Synchronizing {
			return mutation{}, httpapi.Errorf(http.StatusConflict, CodeActionPending, "action",
				"order %s waits for the marketplace to confirm an earlier action (%s, %s); ask again once it is settled", req.OrderID, cur.Kind, cur.ID)
		}
		rec = Action{
			ID: id, Store: req.Store, OrderID: req.OrderID, Account: mk.ID, Kind: req.Kind, Args: req.Args,
			State: Synchronizing, Attempt: 1, RequestedAt: now, By: req.By,
		}
		if prev != nil {
			rec.Attempt = prev.Attempt + 1
		}
		event := EventActionRequested
		if status := agg.Order.Order.Status; !slices.Contains(StatusActions(status), req.Kind) {
			rec.State, rec.Reason, rec.SettledAt = Refused, notAllowed(req.Kind, req.OrderID, status), &now
			event = EventActionRefused
			refusal = httpapi.Errorf(http.StatusConflict, CodeActionNotAllowed, "action", "%s (recorded as action %s)", rec.Reason, id)
		}
		agg.Action = rec.summary()
		return mutation{
			changed: true, event: outboxEntry(event, rec, req.Store, req.OrderID, agg, now),
			extra: s.recordAction(ctx, req.Merchant, rec, now),
		}, nil
	})
	if err != nil {
		return Action{}, err
	}
	if err := a.o.Updater.after(ctx, req.Merchant, res); err != nil {
		return Action{}, err
	}
	if refusal != nil {
		zerolog.Ctx(ctx).Info().Str("action_id", id).Str("action", req.Kind).Str("source", req.By.Source).Msg("order action refused: the order's status does not allow it")
		return rec, refusal
	}
	if rec.State == Synchronizing {
		// Again for an action found waiting: the request that recorded
		// it may have failed before enqueuing its task.
		if err := a.enqueue(ctx, req.Merchant, rec); err != nil {
			return Action{}, err
		}
		zerolog.Ctx(ctx).Info().Str("action_id", id).Str("action", req.Kind).Str("source", req.By.Source).Int("attempt", rec.Attempt).Msg("order action requested")
	}
	return rec, nil
}

// notAllowed says, in words an agent reads, why an order's status does
// not allow an action.
func notAllowed(kind, orderID, status string) string {
	msg := fmt.Sprintf("order %s is %s: it cannot be %s", orderID, status, pastTense(kind))
	if allowed := StatusActions(status); len(allowed) > 0 {
		words := make([]string, len(allowed))
		for i, k := range allowed {
			words[i] = pastTense(k)
		}
		msg += "; it can be " + strings.Join(words, ", ")
	}
	return msg
}

func pastTense(kind string) string {
	return map[string]string{
		ActAccept: "accepted", ActRefuse: "refused", ActShip: "shipped", ActCancel: "cancelled", ActCancelLines: "partly cancelled",
	}[kind]
}

func (a *Actions) enqueue(ctx context.Context, merchant string, rec Action) error {
	b, _ := json.Marshal(ActionPayload{Merchant: merchant, ID: rec.ID, Attempt: rec.Attempt})
	task := asynq.NewTask(TypeAction, b)
	_, err := a.o.Queue.EnqueueContext(ctx, task,
		asynq.Queue(a.o.Shards.Queue(ActionsQueue, rec.Account)),
		asynq.TaskID(fmt.Sprintf("orders-action-%s-%d", rec.ID, rec.Attempt)),
		asynq.MaxRetry(10))
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) && !errors.Is(err, asynq.ErrDuplicateTask) {
		return fmt.Errorf("orders: enqueue action %s: %w", rec.ID, err)
	}
	return nil
}

// Run performs one attempt of an action: see the top of this file.
func (a *Actions) Run(ctx context.Context, p ActionPayload) error {
	s := a.o.Store
	rec, err := s.readAction(ctx, s.rdb, p.Merchant, p.ID)
	if err != nil {
		return err
	}
	if rec == nil || rec.Attempt != p.Attempt || rec.Settled() {
		return nil // expired, superseded or done
	}
	log := zerolog.Ctx(ctx).With().Str("action_id", rec.ID).Str("action", rec.Kind).Int("attempt", rec.Attempt).Logger()
	m, mk, actor, ok := a.byID(p.Merchant, rec.Account)
	if !ok {
		return a.settle(ctx, p.Merchant, *rec, Failed, fmt.Sprintf("marketplace account %s no longer acts on orders", rec.Account))
	}
	var before *connectors.Order
	if rec.Tried || needsLines(*rec) {
		o, err := actor.GetOrder(ctx, rec.OrderID)
		if errors.Is(err, connectors.ErrNotFound) {
			return a.settle(ctx, p.Merchant, *rec, Failed, fmt.Sprintf("the marketplace knows no order %s", rec.OrderID))
		}
		if err != nil {
			return a.retry(ctx, p.Merchant, *rec, err)
		}
		if rec.Tried && shows(*rec, o) {
			log.Info().Msg("order action found done by an earlier attempt")
			return a.confirm(ctx, m, mk, *rec, o)
		}
		before = &o
	}
	action, err := connectorAction(*rec, before)
	if err != nil {
		return a.settle(ctx, p.Merchant, *rec, Refused, err.Error())
	}
	if rec.Kind == ActCancelLines && rec.Before == nil && before != nil {
		rec.Before = map[string]int{}
		for _, l := range before.Lines {
			rec.Before[l.ID] = l.Canceled
		}
	}
	rec.Tried = true
	if err := a.progress(ctx, p.Merchant, *rec); err != nil {
		return err
	}
	err = actor.Act(ctx, rec.OrderID, action)
	var refused *connectors.OrderActionError
	switch {
	case errors.As(err, &refused):
		return a.settle(ctx, p.Merchant, *rec, Refused, refused.Error())
	case errors.Is(err, connectors.ErrInvalid):
		return a.settle(ctx, p.Merchant, *rec, Refused, "the marketplace refused the action's details: "+err.Error())
	case err != nil && connectors.IsPermanent(err):
		return a.settle(ctx, p.Merchant, *rec, Failed, "the marketplace refused the call: "+err.Error())
	case err != nil:
		return a.retry(ctx, p.Merchant, *rec, err)
	}
	o, err := actor.GetOrder(ctx, rec.OrderID)
	if err != nil {
		// Taken; the next attempt reads it before anything else.
		return a.retry(ctx, p.Merchant, *rec, err)
	}
	if shows(*rec, o) {
		return a.confirm(ctx, m, mk, *rec, o)
	}
	return a.lookAgain(ctx, p.Merchant, *rec)
}

// retry gives up the attempt on a failure that may pass: the marketplace
// unreachable, slow or busy. Past the task's last retry the action
// failed. A call whose outcome is unknown is looked at again once the
// marketplace has had time to finish it.
func (a *Actions) retry(ctx context.Context, merchant string, rec Action, err error) error {
	if _, deferred := connectors.Deferred(err); deferred {
		return err // its account's budget: back when it is due, not a failure
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if ok && retried >= maxRetry {
		return a.settle(ctx, merchant, rec, Failed, "the marketplace could not be reached: "+err.Error())
	}
	if errors.Is(err, connectors.ErrUncertain) {
		switch lerr := a.lookAgain(ctx, merchant, rec); {
		case lerr == nil:
			return nil // looked too often: failed
		case isSettle(lerr):
			return &connectors.SettleError{RetryAfter: lookAgainAfter, Err: err}
		default:
			return lerr
		}
	}
	return err
}

func isSettle(err error) bool {
	var se *connectors.SettleError
	return errors.As(err, &se)
}

// lookAgain comes back to an order that does not show an action the
// marketplace took, a bounded number of times.
func (a *Actions) lookAgain(ctx context.Context, merchant string, rec Action) error {
	rec.Looks++
	if rec.Looks >= maxLooks {
		return a.settle(ctx, merchant, rec, Failed, fmt.Sprintf("the marketplace took the action but order %s did not show it after %d reads", rec.OrderID, rec.Looks))
	}
	if err := a.progress(ctx, merchant, rec); err != nil {
		return err
	}
	return &connectors.SettleError{RetryAfter: lookAgainAfter}
}

// confirm puts the order as the marketplace now shows it in the read
// model, then settles the action as confirmed.
func (a *Actions) confirm(ctx context.Context, m *config.Merchant, mk config.Marketplace, rec Action, o connectors.Order) error {
	changes, _ := ChangesFromMarketplaceOrder(m, mk.Store, mk.Name, o)
	for _, c := range changes {
		if c.Store != rec.Store || c.OrderID != rec.OrderID {
			continue
		}
		res, err := a.o.Store.Apply(ctx, c)
		if err != nil {
			return err
		}
		if err := a.o.Updater.after(ctx, m.ID, res); err != nil {
			return err
		}
	}
	return a.settle(ctx, m.ID, rec, Confirmed, "")
}

// settle records the marketplace's answer: on the record, in the audit
// trail, and on the order while this action is its latest. A record
// settled or superseded meanwhile is left alone.
func (a *Actions) settle(ctx context.Context, merchant string, rec Action, state, reason string) error {
	s := a.o.Store
	now := a.o.Now().UTC()
	res, err := s.update(ctx, merchant, rec.Store, rec.OrderID, func(w *watchSet, agg *aggregate) (mutation, error) {
		if err := w.watch(ctx, s.actionKey(merchant, rec.ID)); err != nil {
			return mutation{}, err
		}
		cur, err := s.readAction(ctx, w.tx, merchant, rec.ID)
		if err != nil || cur == nil || cur.Attempt != rec.Attempt || cur.Settled() {
			return mutation{}, err
		}
		next := *cur
		next.State, next.Reason, next.SettledAt = state, reason, &now
		m := mutation{extra: s.recordAction(ctx, merchant, next, now)}
		if agg.Action != nil && agg.Action.ID == next.ID {
			agg.Action = next.summary()
			m.changed = true
			m.event = outboxEntry(settledEvent[state], next, rec.Store, rec.OrderID, agg, now)
		}
		return m, nil
	})
	if err != nil {
		return err
	}
	zerolog.Ctx(ctx).Info().Str("action_id", rec.ID).Str("action", rec.Kind).Str("state", state).Msg("order action settled")
	return a.o.Updater.after(ctx, merchant, res)
}

var settledEvent = map[string]string{Confirmed: EventActionConfirmed, Refused: EventActionRefused, Failed: EventActionFailed}

// progress saves what an attempt learnt (tried, the quantities before,
// the reads) on a record still waiting, before it goes on.
func (a *Actions) progress(ctx context.Context, merchant string, rec Action) error {
	s := a.o.Store
	key := s.actionKey(merchant, rec.ID)
	b, _ := json.Marshal(rec)
	ok, err := progressScript.Run(ctx, s.rdb, []string{key}, b, rec.Attempt, actionKeep.Milliseconds()).Bool()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("orders: save action %s: %w", rec.ID, err)
	}
	if !ok {
		return fmt.Errorf("orders: action %s was settled or asked again meanwhile: %w", rec.ID, asynq.SkipRetry)
	}
	// The mark must outlive a failover, or an attempt after it would
	// act without looking first.
	return s.replicated(ctx, key)
}

// progressScript replaces a record that still waits in the same attempt.
var progressScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
local rec = cjson.decode(cur)
if rec.state ~= 'synchronizing' or tonumber(rec.attempt) ~= tonumber(ARGV[2]) then return false end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 1`)

// needsLines tells whether the action names lines by SKU, or cancels
// lines: the order's lines are read before acting.
func needsLines(rec Action) bool {
	if rec.Kind == ActCancelLines {
		return true
	}
	for _, l := range rec.Args.RefuseLines {
		if l.LineID == "" {
			return true
		}
	}
	return false
}

// lineID finds the marketplace's id of the line ref names.
func lineID(ref LineRef, o *connectors.Order) (string, error) {
	if ref.LineID != "" {
		return ref.LineID, nil
	}
	var found []string
	for _, l := range o.Lines {
		if l.SKU == ref.SKU {
			found = append(found, l.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("order %s has no line of SKU %s", o.ID, ref.SKU)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("order %s has %d lines of SKU %s: name the line by its line_id", o.ID, len(found), ref.SKU)
}

// connectorAction is the connector's form of an action; o is the order
// as read before, when the action needs its lines.
func connectorAction(rec Action, o *connectors.Order) (connectors.OrderAction, error) {
	args := rec.Args
	switch rec.Kind {
	case ActAccept:
		var refuse []string
		for _, ref := range args.RefuseLines {
			id, err := lineID(ref, o)
			if err != nil {
				return nil, err
			}
			refuse = append(refuse, id)
		}
		return connectors.AcceptOrder{RefuseLines: refuse}, nil
	case ActRefuse:
		return connectors.RefuseOrder{}, nil
	case ActShip:
		return connectors.ShipOrder{Tracking: connectors.Tracking{
			CarrierCode: args.CarrierCode, CarrierName: args.CarrierName, ShippingMethod: args.ShippingMethod,
			Number: args.TrackingNumber, URL: args.TrackingURL,
		}}, nil
	case ActCancel:
		return connectors.CancelOrder{Reason: args.Reason}, nil
	case ActCancelLines:
		c := connectors.CancelOrderLines{Reason: args.Reason}
		for _, ref := range args.Lines {
			id, err := lineID(ref, o)
			if err != nil {
				return nil, err
			}
			c.Lines = append(c.Lines, connectors.LineCancel{LineID: id, Quantity: ref.Quantity})
		}
		return c, nil
	}
	return nil, fmt.Errorf("unknown action %q", rec.Kind)
}

// shows tells whether the order, as the marketplace now gives it, shows
// the action's effect.
func shows(rec Action, o connectors.Order) bool {
	switch rec.Kind {
	case ActAccept:
		return o.Status != connectors.OrderNew && o.Status != connectors.OrderNotProvided && o.Status != connectors.OrderUndefined
	case ActRefuse, ActCancel:
		return o.Status == connectors.OrderCanceled || o.Status == connectors.OrderClosed
	case ActShip:
		return o.Status == connectors.OrderShipped || o.Status == connectors.OrderClosed
	case ActCancelLines:
		if o.Status == connectors.OrderCanceled {
			return true
		}
		for _, ref := range rec.Args.Lines {
			id, err := lineID(ref, &o)
			if err != nil {
				return false
			}
			i := slices.IndexFunc(o.Lines, func(l connectors.OrderLine) bool { return l.ID == id })
			if i < 0 {
				return false
			}
			l := o.Lines[i]
			was, known := rec.Before[id]
			if l.Status != connectors.OrderCanceled && (!known || l.Canceled <= was) {
				return false
			}
		}
		return true
	}
	return false
}

// Handler is the asynq handler of TypeAction.
func (a *Actions) Handler(ctx context.Context, t *asynq.Task) error {
	var p ActionPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("orders: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return a.Run(ctx, p)
}

// The keys: an action's record, and the merchant's audit trail, under
// the merchant's hash tag with its orders, so that both are written in
// the transaction that writes the order.
func (s *Store) actionKey(merchant, id string) string { return s.base(merchant) + "act:" + id }
func (s *Store) auditKey(merchant string) string      { return s.base(merchant) + "audit" }

// readAction returns an action's record, or nil.
func (s *Store) readAction(ctx context.Context, c redis.Cmdable, merchant, id string) (*Action, error) {
	raw, err := c.Get(ctx, s.actionKey(merchant, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("orders: read action %s: %w", id, err)
	}
	var rec Action
	if err := json.Unmarshal(raw, &rec); err != nil {
		return nil, fmt.Errorf("orders: decode action %s: %w", id, err)
	}
	return &rec, nil
}

// appendAudit adds one entry to merchant's audit trail.
func (s *Store) appendAudit(ctx context.Context, merchant string, e AuditEntry) error {
	b, _ := json.Marshal(e)
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.auditKey(merchant), MaxLen: maxAudit, Approx: true, Values: []any{"e", b}}).Err()
}

// recordAction writes an action's record and its audit entry.
func (s *Store) recordAction(ctx context.Context, merchant string, rec Action, now time.Time) func(p redis.Pipeliner) {
	b, _ := json.Marshal(rec)
	result := rec.State
	if result == Synchronizing {
		result = "requested"
	}
	e, _ := json.Marshal(AuditEntry{
		At: now, ActionID: rec.ID, Attempt: rec.Attempt, Store: rec.Store, OrderID: rec.OrderID, Kind: rec.Kind,
		Result: result, Reason: rec.Reason, Args: rec.Args, By: rec.By,
	})
	return func(p redis.Pipeliner) {
		p.Set(ctx, s.actionKey(merchant, rec.ID), b, actionKeep)
		p.XAdd(ctx, &redis.XAddArgs{Stream: s.auditKey(merchant), MaxLen: maxAudit, Approx: true, Values: []any{"e", e}})
	}
}
