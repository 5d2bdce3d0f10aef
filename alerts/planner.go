package alerts

import (
	"context"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/jobs"
	"github.com/helpdesk-bridge/bridge/config"
)

// Planners returns the event kinds this package handles, for events.Intake;
// their tasks go to their account's queue among shards.
func Planners(shards jobs.Shards) map[string]events.Planner {
	p := planners{shards: shards}
	return map[string]events.Planner{
		KindActionRequired: events.PlanFunc(p.actionRequired),
		KindSurveyRated:    events.PlanFunc(p.surveyRated),
		KindActionResolved: events.PlanFunc(p.actionResolved),
	}
}

type planners struct{ shards jobs.Shards }

// CodeUnknownStore is the error code of an event naming a store its
// merchant does not have.
const CodeUnknownStore = "unknown_store"

func checkStore(m *config.Merchant, store string) error {
	if _, ok := m.Store(store); !ok {
		return httpapi.Errorf(http.StatusUnprocessableEntity, CodeUnknownStore, "data.store", "data.store: %q is not a store of merchant %q", store, m.ID)
	}
	return nil
}

// targets lists the merchant's helpdesk accounts that take alerts of kind
// for store: one ticket goes to each.
func targets(m *config.Merchant, store, kind string) []config.Helpdesk {
	var out []config.Helpdesk
	for _, h := range m.Helpdesks {
		if h.TargetsStore(store) && h.AlertEnabled(kind) {
			out = append(out, h)
		}
	}
	return out
}

func (pl planners) actionRequired(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	var d ActionRequired
	if err := httpapi.DecodeJSON("data", ev.Data, &d); err != nil {
		return nil, err
	}
	if err := checkStore(ev.Merchant, d.Store); err != nil {
		return nil, err
	}
	return pl.raiseTasks(ev, RaisePayload{
		Kind: config.AlertActionRequired, OrderID: d.OrderID, Store: d.Store, Buyer: d.Buyer,
		Reason: d.Reason, Details: d.Details, Order: d.Order,
	})
}

func (pl planners) surveyRated(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	var d SurveyRated
	if err := httpapi.DecodeJSON("data", ev.Data, &d); err != nil {
		return nil, err
	}
	if err := checkStore(ev.Merchant, d.Store); err != nil {
		return nil, err
	}
	kind, bad := badRating(ev.Merchant, d.Score, d.Comment)
	if !bad {
		return nil, nil // a good rating raises nothing
	}
	return pl.raiseTasks(ev, RaisePayload{
		Kind: kind, OrderID: d.OrderID, Store: d.Store, Buyer: d.Buyer,
		Score: d.Score, Comment: d.Comment, Order: d.Order,
	})
}

// badRating tells whether a score is bad for merchant m (at or below its
// threshold), and the alert kind it raises: with a comment when the
// comment has text. Survey events and marketplace evaluations share it.
func badRating(m *config.Merchant, score int, comment string) (kind string, bad bool) {
	if score > m.BadRating() {
		return "", false
	}
	if hasText(comment) {
		return config.AlertBadRatingWithComment, true
	}
	return config.AlertBadRatingNoComment, true
}

// raiseTasks returns one raise task per account that takes p's kind for
// p's store, each stamped with the event and the account.
func (pl planners) raiseTasks(ev events.Event, p RaisePayload) ([]*asynq.Task, error) {
	p.Merchant, p.EventID, p.OccurredAt = ev.Merchant.ID, ev.ID, ev.OccurredAt
	return raiseTasks(ev.Merchant, p, pl.shards)
}

// raiseTasks returns one raise task per account of m that takes p's kind
// for p's store, stamped with the account.
func raiseTasks(m *config.Merchant, p RaisePayload, shards jobs.Shards) ([]*asynq.Task, error) {
	var tasks []*asynq.Task
	for _, h := range targets(m, p.Store, p.Kind) {
		p.Account = h.ID
		t, err := NewRaiseTask(p, shards)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

func (pl planners) actionResolved(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	var d ActionResolved
	if err := httpapi.DecodeJSON("data", ev.Data, &d); err != nil {
		return nil, err
	}
	if err := checkStore(ev.Merchant, d.Store); err != nil {
		return nil, err
	}
	// Every account of the store, enabled or not: an alert raised before
	// the kind was disabled must still close.
	var tasks []*asynq.Task
	for _, h := range ev.Merchant.Helpdesks {
		if !h.TargetsStore(d.Store) {
			continue
		}
		t, err := NewResolveTask(ResolvePayload{
			Merchant: ev.Merchant.ID, Account: h.ID, EventID: ev.ID, OccurredAt: ev.OccurredAt,
			OrderID: d.OrderID, Store: d.Store, Details: d.Details,
		}, pl.shards)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

func hasText(s string) bool {
	for _, r := range s {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			return true
		}
	}
	return false
}
