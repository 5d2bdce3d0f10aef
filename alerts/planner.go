package alerts

import (
	"context"
	"net/http"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
)

// Planners returns the event kinds this package handles, for events.Intake.
func Planners() map[string]events.Planner {
	return map[string]events.Planner{
		KindActionRequired: events.PlanFunc(planActionRequired),
		KindSurveyRated:    events.PlanFunc(planSurveyRated),
		KindActionResolved: events.PlanFunc(planActionResolved),
	}
}

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

func planActionRequired(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	var d ActionRequired
	if err := httpapi.DecodeJSON("data", ev.Data, &d); err != nil {
		return nil, err
	}
	if err := checkStore(ev.Merchant, d.Store); err != nil {
		return nil, err
	}
	return raiseTasks(ev, RaisePayload{
		Kind: config.AlertActionRequired, OrderID: d.OrderID, Store: d.Store, Buyer: d.Buyer,
		Reason: d.Reason, Details: d.Details, Order: d.Order,
	})
}

func planSurveyRated(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	var d SurveyRated
	if err := httpapi.DecodeJSON("data", ev.Data, &d); err != nil {
		return nil, err
	}
	if err := checkStore(ev.Merchant, d.Store); err != nil {
		return nil, err
	}
	if d.Score > ev.Merchant.BadRatingThreshold {
		return nil, nil // a good rating raises nothing
	}
	kind := config.AlertBadRatingNoComment
	if hasText(d.Comment) {
		kind = config.AlertBadRatingWithComment
	}
	return raiseTasks(ev, RaisePayload{
		Kind: kind, OrderID: d.OrderID, Store: d.Store, Buyer: d.Buyer,
		Score: d.Score, Comment: d.Comment, Order: d.Order,
	})
}

// raiseTasks returns one raise task per account that takes p's kind for
// p's store, each stamped with the event and the account.
func raiseTasks(ev events.Event, p RaisePayload) ([]*asynq.Task, error) {
	p.Merchant, p.EventID, p.OccurredAt = ev.Merchant.ID, ev.ID, ev.OccurredAt
	var tasks []*asynq.Task
	for _, h := range targets(ev.Merchant, p.Store, p.Kind) {
		p.Account = h.ID
		t, err := NewRaiseTask(p)
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, t)
	}
	return tasks, nil
}

func planActionResolved(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
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
		})
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
