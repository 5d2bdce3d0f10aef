// Package helpdesktest is the contract suite every helpdesk connector
// passes, in the spirit of go-cloud's drivertest: it defines once what a
// correct connectors.Helpdesk does (idempotent create by external id,
// internal notes, tags, status, error mapping, Retry-After, timeouts,
// cancellation, mirrored messages with files appended exactly once,
// attachment downloads, and agents' replies arriving as verified webhook
// events), and each connector joins it with a small Harness over its fake,
// or over a live sandbox account when one is configured.
package helpdesktest

import (
	"net/http"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// HarnessMaker returns a harness over a fresh, empty helpdesk account.
// The suite calls it once per test.
type HarnessMaker func(t *testing.T) Harness

// Harness is what a connector provides to run the suite.
type Harness interface {
	// Helpdesk returns the connector under test. Its HTTP client timeout
	// must be short (at most 1 s) so that the hang test stays quick.
	Helpdesk() connectors.Helpdesk
	// WrongCredentials returns a connector to the same account whose
	// credentials the helpdesk refuses.
	WrongCredentials() connectors.Helpdesk
	// Faults returns the injector in front of the fake, or nil against a
	// live account (the fault tests then skip).
	Faults() *fault.Injector
	// Inspect returns the ticket as the helpdesk stored it, in neutral terms.
	Inspect(t *testing.T, ticketID string) Snapshot
	// Trash removes the ticket the way an agent would (Gorgias trashes it,
	// Zendesk deletes it); a later CreateTicket must not return it.
	Trash(t *testing.T, ticketID string)
	// TicketCount is the number of tickets the account holds with this
	// external id, trashed or deleted ones included.
	TicketCount(t *testing.T, externalID string) int
	// Webhooks returns the helpdesk's webhooks as the harness set them up,
	// or nil when it cannot make an agent reply (a live account): the
	// webhook tests then skip.
	Webhooks() WebhookHarness
}

// WebhookHarness drives the helpdesk's notices of agents' replies: the
// fake's agent-reply route, and the connector's ParseWebhook.
type WebhookHarness interface {
	// AgentReply makes an agent reply on the ticket as a person would in
	// the helpdesk's UI, and returns the webhook calls the helpdesk made
	// for it, in the order they arrived.
	AgentReply(t *testing.T, ticketID string, r AgentReply) []Delivery
	// Deliver returns a call carrying body, authenticated as the helpdesk
	// authenticates its calls (secret header or signature) at time at.
	Deliver(t *testing.T, body []byte, at time.Time) Delivery
	// ParseWebhook is the connector's ParseWebhook with this secret, at
	// now (for helpdesks whose calls carry a time).
	ParseWebhook(d Delivery, secret string, now time.Time) (connectors.WebhookEvent, error)
	// Secret is the secret the helpdesk was set up with.
	Secret() string
	// MaxAge is how far a call's time may be from now, or 0 when calls
	// carry no time (Gorgias): the staleness test then skips.
	MaxAge() time.Duration
}

// AgentReply is what an agent does in the helpdesk's UI.
type AgentReply struct {
	BodyText string
	BodyHTML string
	// Internal makes an internal note instead of a public reply.
	Internal bool
	// Status, when set, is applied with the reply ("reply and solve").
	Status connectors.Status
	Files  []connectors.File
	// Twice delivers the webhook call twice, as helpdesks may.
	Twice bool
}

// Delivery is one webhook call as the bridge's endpoint received it.
type Delivery struct {
	Header http.Header
	Body   []byte
	// At is when it arrived.
	At time.Time
}

// Snapshot is a ticket as the helpdesk stored it.
type Snapshot struct {
	ExternalID     string
	Subject        string
	Status         connectors.Status
	Tags           []string
	RequesterEmail string
	RequesterName  string
	Messages       []SnapshotMessage
}

// SnapshotMessage is one stored message.
type SnapshotMessage struct {
	BodyText string
	// Internal is true for an internal note (Gorgias channel
	// internal-note, Zendesk public=false).
	Internal     bool
	FromCustomer bool
}
