package push

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// Handlers are the asynq handlers of the push tasks: they decode and
// delegate. Every error they return is the bridge's own (Redis, or the
// worker stopping), which asynq retries; a subscriber's failure is never
// one, its retry being a new task.
type Handlers struct{ p *Publisher }

// NewHandlers returns the handlers.
func NewHandlers(p *Publisher) *Handlers { return &Handlers{p: p} }

// Deliver handles TypeDeliver.
func (h *Handlers) Deliver(ctx context.Context, t *asynq.Task) error {
	var pl DeliverPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("push: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return h.p.DeliverOrder(ctx, pl)
}

// Verify handles TypeVerify.
func (h *Handlers) Verify(ctx context.Context, t *asynq.Task) error {
	var pl VerifyPayload
	if err := json.Unmarshal(t.Payload(), &pl); err != nil {
		return fmt.Errorf("push: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return h.p.VerifySubscription(ctx, pl)
}
