// Package api holds the Gorgias REST API's wire types: what the connector
// sends and what Gorgias answers, shared by the client and its fake so that
// both speak exactly the same JSON.
//
// Field names and shapes follow developers.gorgias.com (the Ticket object,
// Create a ticket, Create a message, List tickets, tags endpoints, Errors).
// Where the reference is silent the types decode leniently: datetimes with
// or without a zone, attachment sizes as numbers or strings, nullable
// strings as "".
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Ticket statuses. Gorgias has no pending or solved state.
const (
	StatusOpen   = "open"
	StatusClosed = "closed"
)

// Channels and via values the connector uses. The channel is a free
// "legacy channel slug" in the reference; via comes from a fixed set
// (ViaValues).
const (
	ChannelAPI          = "api"
	ChannelInternalNote = "internal-note"
	ViaAPI              = "api"
)

// ViaValues is the fixed set Gorgias accepts for a ticket's or a message's
// via, as the Create a ticket reference lists it.
var ViaValues = []string{
	"aircall", "api", "chat", "contact_form", "email", "facebook",
	"facebook-mention", "facebook-messenger", "facebook-recommendations",
	"form", "gorgias_chat", "help-center", "helpdesk", "instagram",
	"instagram-ad-comment", "instagram-comment", "instagram-direct-message",
	"instagram-mention", "internal-note", "offline_capture", "phone", "rule",
	"self_service", "shopify", "sms", "twilio", "twitter",
	"twitter-direct-message", "whatsapp", "yotpo", "yotpo-review", "zendesk",
}

// Limits the reference states.
const (
	MaxExternalIDLen = 255 // ticket and message external_id
	MinMessages      = 1   // messages on ticket creation
	MaxMessages      = 500
	MaxTagNameLen    = 256
	DefaultPageLimit = 30
	MaxPageLimit     = 100
)

// Ticket is a ticket as Gorgias answers it.
type Ticket struct {
	ID         int64   `json:"id"`
	URI        string  `json:"uri,omitempty"`
	ExternalID string  `json:"external_id,omitempty"`
	Status     string  `json:"status"`
	Channel    string  `json:"channel,omitempty"`
	Via        string  `json:"via,omitempty"`
	Subject    string  `json:"subject,omitempty"`
	Language   string  `json:"language,omitempty"`
	Customer   *Person `json:"customer,omitempty"`
	Tags       []Tag   `json:"tags"`
	// Messages is filled by GET /api/tickets/{id}; list answers may omit it.
	Messages        []Message `json:"messages,omitempty"`
	CreatedDatetime *Datetime `json:"created_datetime,omitempty"`
	UpdatedDatetime *Datetime `json:"updated_datetime,omitempty"`
	ClosedDatetime  *Datetime `json:"closed_datetime,omitempty"`
	// TrashedDatetime is set when an agent moved the ticket to the trash.
	// Trashed tickets still exist and still match external_id lookups.
	TrashedDatetime *Datetime `json:"trashed_datetime"`
}

// Trashed tells whether an agent moved the ticket to the trash.
func (t Ticket) Trashed() bool { return t.TrashedDatetime != nil }

// Person is a customer, a message sender or a receiver. Gorgias identifies
// them by id or email.
type Person struct {
	ID    int64  `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
	Name  string `json:"name,omitempty"`
}

// Tag is a tag as Gorgias answers it, or a reference to one (by id or by
// name) in a ticket creation.
type Tag struct {
	ID              int64     `json:"id,omitempty"`
	Name            string    `json:"name,omitempty"`
	Description     string    `json:"description,omitempty"`
	CreatedDatetime *Datetime `json:"created_datetime,omitempty"`
	DeletedDatetime *Datetime `json:"deleted_datetime,omitempty"`
}

// Message is a ticket message, both as sent to POST /api/tickets (inside
// messages) or POST /api/tickets/{id}/messages, and as answered (by those
// and by GET /api/messages).
type Message struct {
	ID         int64  `json:"id,omitempty"`
	TicketID   int64  `json:"ticket_id,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
	Channel    string `json:"channel"`
	Via        string `json:"via"`
	// FromAgent is required by Gorgias; a pointer lets the fake tell a
	// missing field from false.
	FromAgent *bool   `json:"from_agent,omitempty"`
	Sender    *Person `json:"sender,omitempty"`
	// Receiver must stay unset on an incoming (customer) message.
	Receiver    *Person      `json:"receiver,omitempty"`
	Subject     string       `json:"subject,omitempty"`
	BodyText    string       `json:"body_text,omitempty"`
	BodyHTML    string       `json:"body_html,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
	// SentDatetime set on creation makes Gorgias import the message instead
	// of sending it to anyone.
	SentDatetime    *Datetime `json:"sent_datetime,omitempty"`
	CreatedDatetime *Datetime `json:"created_datetime,omitempty"`
	// Public is in the message object Gorgias answers (false on internal
	// notes); it is not among the documented fields of a create, so the
	// client never sends it.
	Public *bool `json:"public,omitempty"`
}

// Internal tells whether the message is an internal note.
func (m Message) Internal() bool { return m.Channel == ChannelInternalNote }

// Attachment is a file reachable at URL, attached to a message. It is also
// the File object POST /api/upload answers (as a list), which a message
// then references as one of its attachments.
type Attachment struct {
	URL         string `json:"url"`
	Name        string `json:"name,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	Size        Size   `json:"size,omitempty"`
}

// Upload types, the type query parameter of POST /api/upload. A plain
// attachment is private, the default.
const (
	UploadAttachment       = "attachment"
	UploadPublicAttachment = "public_attachment"
)

// UploadTypes are the values the reference lists for the type parameter.
var UploadTypes = []string{UploadAttachment, UploadPublicAttachment, "profile_picture", "widget_picture"}

// Integration is an integration as POST /api/integrations takes it. The
// bridge only describes HTTP integrations: the admin's way of having
// Gorgias call a URL when something happens. It holds a secret header:
// never log it.
type Integration struct {
	ID   int64            `json:"id,omitempty"`
	Name string           `json:"name"`
	Type string           `json:"type"`
	HTTP *HTTPIntegration `json:"http,omitempty"`
}

// IntegrationTypeHTTP is the type of an HTTP integration.
const IntegrationTypeHTTP = "http"

// HTTPIntegration is the http object of an HTTP integration.
type HTTPIntegration struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers,omitempty"`
	// Form is the request body: each value is a template whose {{...}}
	// variables Gorgias fills in (public integration code sends it as an
	// object of strings, which is what this type takes).
	Form                map[string]string `json:"form,omitempty"`
	RequestContentType  string            `json:"request_content_type,omitempty"`
	ResponseContentType string            `json:"response_content_type,omitempty"`
	// Triggers maps trigger names to true. The current reference spells
	// them with hyphens, the v1.1 example with underscores.
	Triggers map[string]bool `json:"triggers"`
}

// Triggers of HTTP integrations, in the current reference's spelling.
const (
	TriggerTicketCreated        = "ticket-created"
	TriggerTicketUpdated        = "ticket-updated"
	TriggerTicketMessageCreated = "ticket-message-created"
)

// Fires tells whether the integration is subscribed to trigger, in either
// spelling.
func (h HTTPIntegration) Fires(trigger string) bool {
	return h.Triggers[trigger] || h.Triggers[strings.ReplaceAll(trigger, "-", "_")]
}

// CreateTicketRequest is the body of POST /api/tickets.
type CreateTicketRequest struct {
	Customer   *Person   `json:"customer,omitempty"`
	ExternalID string    `json:"external_id,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	Via        string    `json:"via,omitempty"`
	Status     string    `json:"status,omitempty"`
	Language   string    `json:"language,omitempty"`
	Tags       []Tag     `json:"tags,omitempty"`
	Messages   []Message `json:"messages"`
}

// UpdateTicketRequest is the body of PUT /api/tickets/{id}; unset fields
// are left as they are.
type UpdateTicketRequest struct {
	Status          string    `json:"status,omitempty"`
	Subject         string    `json:"subject,omitempty"`
	TrashedDatetime *Datetime `json:"trashed_datetime,omitempty"`
}

// SetTicketTagsRequest is the body of PUT /api/tickets/{id}/tags, which
// replaces the ticket's tags. IDs must never be nil: [] clears the tags.
type SetTicketTagsRequest struct {
	IDs []int64 `json:"ids"`
}

// CreateTagRequest is the body of POST /api/tags.
type CreateTagRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// List is the answer of every list endpoint.
type List[T any] struct {
	Object string `json:"object,omitempty"`
	URI    string `json:"uri,omitempty"`
	Data   []T    `json:"data"`
	Meta   Meta   `json:"meta"`
}

// Meta carries the cursors of a list answer. A nil cursor means there is
// nothing more in that direction. Cursors are opaque and short-lived.
type Meta struct {
	PrevCursor *string `json:"prev_cursor"`
	NextCursor *string `json:"next_cursor"`
}

// ErrorResponse is the body of an error answer as the fake writes it. The
// reference only says to "read the error attribute"; its inner shape is
// not documented, so clients must also accept a plain string there.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the error attribute: a message and, for validation
// failures, the reasons per field path ("messages.0.via").
type ErrorDetail struct {
	Msg  string              `json:"msg"`
	Data map[string][]string `json:"data,omitempty"`
}

// Datetime is a Gorgias timestamp. Gorgias writes naive ISO 8601 in UTC
// with microseconds ("2019-07-05T14:42:00.384938"), which time.Time cannot
// decode; some answers carry an offset instead. Datetime reads both and
// writes Gorgias's own form.
type Datetime struct{ time.Time }

const naiveLayout = "2006-01-02T15:04:05.999999999"

// wireLayout is how Gorgias writes datetimes: naive UTC, microseconds.
const wireLayout = "2006-01-02T15:04:05.000000"

// NewDatetime returns t as Gorgias stores it: UTC, to the microsecond.
func NewDatetime(t time.Time) *Datetime {
	return &Datetime{t.UTC().Truncate(time.Microsecond)}
}

func (d Datetime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.UTC().Format(wireLayout) + `"`), nil
}

func (d *Datetime) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("datetime: %w", err)
	}
	for _, layout := range []string{time.RFC3339Nano, naiveLayout} {
		if t, err := time.Parse(layout, s); err == nil {
			d.Time = t.UTC()
			return nil
		}
	}
	return fmt.Errorf("datetime: cannot parse %q", s)
}

// Size is an attachment size in bytes. Gorgias's file object example writes
// it as a string ("784554"), so it is read from a number or a string and
// written as a number.
type Size int64

func (s *Size) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	raw := string(bytes.Trim(b, `"`))
	if raw == "" {
		*s = 0
		return nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return fmt.Errorf("size: %w", err)
	}
	*s = Size(n)
	return nil
}
