package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// Handlers are the asynq handlers of the alert tasks: they decode, call
// the Service and classify its errors.
type Handlers struct{ svc *Service }

// NewHandlers returns handlers over svc.
func NewHandlers(svc *Service) *Handlers { return &Handlers{svc: svc} }

// Raise handles TypeRaise.
func (h *Handlers) Raise(ctx context.Context, t *asynq.Task) error {
	var p RaisePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("alerts: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(h.svc.Raise(ctx, p))
}

// Resolve handles TypeResolve.
func (h *Handlers) Resolve(ctx context.Context, t *asynq.Task) error {
	var p ResolvePayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("alerts: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return classify(h.svc.Resolve(ctx, p))
}

// classify lets asynq retry what may succeed later and archives at once
// what cannot (a helpdesk refusing the request on its merits, an account
// removed from the configuration).
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrUnknownAccount) || connectors.IsPermanent(err) {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	return err
}
