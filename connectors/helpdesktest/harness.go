// Package helpdesktest is the contract suite every helpdesk connector
// passes, in the spirit of go-cloud's drivertest: it defines once what a
// correct connectors.Helpdesk does (idempotent create by external id,
// internal notes, tags, status, error mapping, Retry-After, timeouts,
// cancellation), and each connector joins it with a small Harness over its
// fake, or over a live sandbox account when one is configured.
package helpdesktest

import (
	"testing"

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
