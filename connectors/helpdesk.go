package connectors

import (
	"context"
	"io"
	"time"
)

// Helpdesk is the port to a helpdesk account. Implementations are safe for
// concurrent use.
type Helpdesk interface {
	// CreateTicket creates t unless a live (not deleted, not trashed) ticket
	// with t.ExternalID already exists, in which case it returns that one
	// with created=false. It is safe to call again after a crash: the
	// connector looks the external id up before creating. After a failure
	// wrapping ErrUncertain (no answer), the create may still land: call
	// again only once it had time to (see bridge/settle), or the look-up
	// may miss it.
	CreateTicket(ctx context.Context, t NewTicket) (ticket Ticket, created bool, err error)
	// FindTicket returns the live ticket with this external id, or ErrNotFound.
	FindTicket(ctx context.Context, externalID string) (Ticket, error)
	// GetTicket returns the ticket with this helpdesk id, or ErrNotFound.
	GetTicket(ctx context.Context, id string) (Ticket, error)
	// AddMessage appends a message or an internal note to a ticket, never
	// one the connector asks the helpdesk to send to anyone (an account's
	// own notification rules aside: see each connector's setup notes).
	// With m.ExternalID set it appends at most once: a second call with the
	// same external id (after a crash, a timeout or a duplicate task) finds
	// the first message and does nothing, provided an uncertain append
	// (ErrUncertain) was given time to land first. Concurrent calls with
	// one external id are not covered: the caller serialises them (asynq
	// task ids).
	AddMessage(ctx context.Context, ticketID string, m Message) error
	// ListMessages returns the ticket's messages and internal notes, oldest
	// first, or ErrNotFound.
	ListMessages(ctx context.Context, ticketID string) ([]TicketMessage, error)
	// DownloadAttachment fetches an attachment at a URL ListMessages gave.
	// The connector sends its credentials only to the helpdesk account's
	// own host, never to a file host elsewhere. The caller closes the body.
	// It fetches only from the hosts the account serves files from, and
	// fails with ErrRefusedURL for any other, before any request and on
	// every redirect.
	DownloadAttachment(ctx context.Context, url string) (body io.ReadCloser, contentType string, err error)
	// CheckFileURL tells, without any request, whether DownloadAttachment
	// would fetch url: nil, or an error wrapping ErrRefusedURL.
	CheckFileURL(url string) error
	// SetTags replaces the ticket's tags.
	SetTags(ctx context.Context, ticketID string, tags []string) error
	// SetStatus moves the ticket to s, in the helpdesk's own vocabulary.
	SetStatus(ctx context.Context, ticketID string, s Status) error
}

// Status is a ticket status in the bridge's vocabulary. Each connector maps
// it to its helpdesk's own: Gorgias knows open and closed, Zendesk knows
// new, open, pending, hold, solved and closed.
type Status string

const (
	StatusOpen    Status = "open"
	StatusPending Status = "pending"
	// StatusSolved is "closed" in Gorgias and "solved" in Zendesk.
	StatusSolved Status = "solved"
)

// Person is a customer or an agent as a helpdesk knows them. Its log form
// is redacted: emails and names are customer data.
type Person struct {
	Email string
	Name  string
}

// String keeps customer data out of logs and error messages.
func (Person) String() string { return "[person redacted]" }

// Attachment is a file attached to a message, reachable at URL.
type Attachment struct {
	Name        string
	ContentType string
	Size        int64
	URL         string
}

// File is a file whose content the connector copies into the helpdesk, so
// that the ticket keeps it even after the source's link expires.
type File struct {
	Name        string // with its extension: Zendesk requires it
	ContentType string // empty means application/octet-stream
	Data        []byte
}

// Message is one message to append to a ticket.
type Message struct {
	// BodyText is required; BodyHTML is optional and preferred where the
	// helpdesk renders HTML.
	BodyText string
	BodyHTML string
	// Internal marks an internal note: never sent, never visible to the
	// customer. Alert content is always internal.
	Internal bool
	// FromCustomer marks a message written by the requester (a mirrored
	// inbound message). Otherwise the message is from the account's agent.
	FromCustomer bool
	// FromOperator marks a message written by a third party who is neither
	// the customer nor one of the account's agents: a marketplace operator.
	// Helpdesks have no such author, so it is stored as an internal note
	// headed with Author.Name, which is then required.
	FromOperator bool
	// Author is the person who wrote the message, when known.
	Author Person
	// ExternalID identifies the message at its source, when it has one,
	// and makes AddMessage append it at most once. At most
	// MaxExternalIDLen.
	ExternalID string
	// Attachments are linked by URL; Files are copied into the helpdesk.
	Attachments []Attachment
	Files       []File
	// SentAt is when the message was originally written; zero means now.
	SentAt time.Time
}

// TicketMessage is a message or an internal note as a helpdesk stored it.
type TicketMessage struct {
	ID string
	// ExternalID is the external id the bridge appended the message with,
	// or the helpdesk's own when it keeps one; empty for messages the
	// bridge did not write.
	ExternalID string
	// Internal is true for an internal note, never shown to the customer.
	Internal bool
	// FromCustomer is true for the requester's own messages; the others are
	// from agents (or from the bridge on their behalf).
	FromCustomer bool
	// Author is customer or agent data: never log it.
	Author      Person
	BodyText    string
	BodyHTML    string
	Attachments []Attachment
	CreatedAt   time.Time
}

// NewTicket is what the bridge asks a helpdesk to create.
type NewTicket struct {
	// ExternalID is the bridge's idempotency key for this ticket, at most
	// 255 characters.
	ExternalID string
	Subject    string
	// Requester is the customer the ticket is about. Creating the ticket
	// must not contact them unless Message is public.
	Requester Person
	Tags      []string
	// Language is a two-letter code (en, fr), used where the helpdesk has it.
	Language string
	// Message is the ticket's first message.
	Message Message
}

// Ticket is a helpdesk ticket as the bridge sees it.
type Ticket struct {
	ID         string
	ExternalID string
	Subject    string
	Status     Status
	Tags       []string
	// RequesterEmail is customer data: never log it.
	RequesterEmail string
}

// MaxExternalIDLen is the longest external id both Gorgias and Zendesk take.
const MaxExternalIDLen = 255
