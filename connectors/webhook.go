package connectors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// WebhookEvent is a helpdesk's notice that something happened on a ticket,
// read from a verified webhook delivery. Each connector's ParseWebhook
// verifies the delivery (signature or shared secret) before it reads a
// single field.
type WebhookEvent struct {
	TicketID string
	// MessageID is the helpdesk's id of the message the event is about,
	// when its payload can name it (Gorgias); empty otherwise (Zendesk has
	// no placeholder for it), and the caller finds the new messages with
	// ListMessages.
	MessageID string
	// DeliveryID is the same for every delivery of one event, so that a
	// redelivery can be recognised and dropped; empty when the helpdesk
	// sent nothing to derive it from.
	DeliveryID string
	// Status is the ticket's status after the event (an agent may reply and
	// solve at once), or empty when the payload did not say or said
	// something the connector does not know.
	Status Status
	// AgentReply is true when the event may be a public message by one of
	// the account's agents, the only kind the bridge relays to the
	// customer; it is false when the payload shows otherwise (a customer's
	// message, an internal note). The caller confirms on the message
	// itself, which it reads with ListMessages anyway (public, not from the
	// customer, no external id the bridge wrote it with). Events that are
	// no reply verify fine and are to be acknowledged and ignored, because
	// helpdesks disable endpoints that keep failing.
	AgentReply bool
	// At is when the helpdesk says the event happened, or zero when the
	// delivery does not say: the caller then takes the time it received
	// it. A status is applied only if newer than the one in place.
	At time.Time
}

// WebhookError is why a delivery was refused. It unwraps to
// ErrUnauthorized when the delivery could not be authenticated (a missing
// or wrong secret or signature, a stale timestamp: answer 401) and to
// ErrInvalid when it was authentic but unreadable (answer 400).
type WebhookError struct {
	// Field is the header or the body field at fault.
	Field string
	// Reason is a fixed description, never the value received: a payload
	// may carry customer data and a header a guessed secret.
	Reason string
	Kind   error
}

func (e *WebhookError) Error() string {
	return fmt.Sprintf("webhook %s: %v: %s", e.Field, e.Kind, e.Reason)
}

func (e *WebhookError) Unwrap() error { return e.Kind }

// WebhookUnauthorized reports a delivery that could not be authenticated.
func WebhookUnauthorized(field, reason string) error {
	return &WebhookError{Field: field, Reason: reason, Kind: ErrUnauthorized}
}

// WebhookMalformed reports an authentic delivery that cannot be read.
func WebhookMalformed(field, reason string) error {
	return &WebhookError{Field: field, Reason: reason, Kind: ErrInvalid}
}

// WebhookField returns the header or field a ParseWebhook error names, or
// "" for any other error.
func WebhookField(err error) string {
	var we *WebhookError
	if errors.As(err, &we) {
		return we.Field
	}
	return ""
}

var errNotScalar = errors.New("not a string, number or boolean")

// FlexString reads a JSON string, number or boolean as its text, and null
// as "": helpdesks render webhook placeholders as either, and an admin may
// drop the quotes around an id.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = FlexString(s)
		return nil
	}
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if bytes.Equal(raw, []byte("null")) {
		*f = ""
		return nil
	}
	if raw[0] == '{' || raw[0] == '[' {
		return errNotScalar
	}
	*f = FlexString(raw)
	return nil
}
