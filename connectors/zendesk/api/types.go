// Package api holds the Zendesk Support (Ticketing) API wire types the
// bridge's Zendesk connector and its fake exchange: the {"ticket": {...}}
// envelopes, comments, users, list pages and the error body.
//
// Field names follow developer.zendesk.com (Tickets, Ticket Comments, Tags,
// Side-loading) and the official tickets OpenAPI split kept beside the
// reference notes. Only the fields the bridge reads or writes are declared;
// decoding ignores the rest.
package api

import (
	"bytes"
	"encoding/json"
	"time"
)

// Ticket statuses, as Zendesk spells them.
const (
	StatusNew     = "new"
	StatusOpen    = "open"
	StatusPending = "pending"
	StatusHold    = "hold"
	StatusSolved  = "solved"
	StatusClosed  = "closed"
	// StatusDeleted is how exports show a deleted ticket; it is never
	// accepted in a request.
	StatusDeleted = "deleted"
)

// Statuses are the values a request may set.
var Statuses = []string{StatusNew, StatusOpen, StatusPending, StatusHold, StatusSolved, StatusClosed}

// Priorities and Types are the values a request may set for priority and
// type.
var (
	Priorities = []string{"urgent", "high", "normal", "low"}
	Types      = []string{"problem", "incident", "question", "task"}
)

// Error names Zendesk puts in the "error" member of an error body.
const (
	ErrRecordInvalid     = "RecordInvalid"
	ErrRecordNotFound    = "RecordNotFound"
	ErrInvalidEndpoint   = "InvalidEndpoint"
	ErrCouldNotAuth      = "Couldn't authenticate you"
	ErrIdempotentRequest = "IdempotentRequestError"
)

// Header names of the idempotency protocol on ticket creation.
const (
	HeaderIdempotencyKey    = "Idempotency-Key"
	HeaderIdempotencyLookup = "X-Idempotency-Lookup"
	LookupHit               = "hit"
	LookupMiss              = "miss"
)

// TicketRequest is the body of Create Ticket and Update Ticket.
type TicketRequest struct {
	Ticket TicketWrite `json:"ticket"`
}

// TicketWrite holds the writable ticket fields. Empty fields are left out,
// so that an update touches only what it names.
type TicketWrite struct {
	Subject     string      `json:"subject,omitempty"`
	Comment     *NewComment `json:"comment,omitempty"`
	Requester   *Requester  `json:"requester,omitempty"`
	RequesterID int64       `json:"requester_id,omitempty"`
	// Tags is a pointer so that an update can send an empty list, which
	// clears the tags; nil leaves them alone.
	Tags       *[]string `json:"tags,omitempty"`
	ExternalID string    `json:"external_id,omitempty"`
	Status     string    `json:"status,omitempty"`
	// Priority and Type are Zendesk's enumerations (Priorities, Types);
	// the bridge sets neither, the fake checks them.
	Priority string `json:"priority,omitempty"`
	Type     string `json:"type,omitempty"`
	// Metadata is write only: Zendesk stores it in the custom member of
	// the metadata of the audit the write makes (Tickets reference,
	// "metadata"; Ticket Audits reference, "custom and system data").
	Metadata map[string]any `json:"metadata,omitempty"`
}

// MetadataExternalID is the audit metadata key under which the bridge
// records the external id of the comment an update adds: comments have no
// external id of their own.
const MetadataExternalID = "helpdesk_bridge_external_id"

// NewComment is a comment as a create or update request carries it.
type NewComment struct {
	Body     string `json:"body,omitempty"`
	HTMLBody string `json:"html_body,omitempty"`
	// Public is a pointer because Zendesk carries the previous comment's
	// value over when it is absent: the bridge always sends it.
	Public   *bool `json:"public,omitempty"`
	AuthorID int64 `json:"author_id,omitempty"`
	// Uploads are tokens of Upload Files answers whose files the comment
	// attaches.
	Uploads []string `json:"uploads,omitempty"`
}

// Requester is the inline requester of Create Ticket: Zendesk finds the
// user by email or creates an end user.
type Requester struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
}

// Ticket is a ticket as Zendesk returns it.
type Ticket struct {
	ID          int64     `json:"id"`
	URL         string    `json:"url,omitempty"`
	ExternalID  string    `json:"external_id,omitempty"`
	Subject     string    `json:"subject"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status"`
	RequesterID int64     `json:"requester_id"`
	SubmitterID int64     `json:"submitter_id,omitempty"`
	Tags        []string  `json:"tags"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Comments is not part of Zendesk's ticket JSON (List Comments returns
	// them); only the fake fills it, for tests and its demo endpoint.
	Comments []Comment `json:"comments,omitempty"`
}

// Comment is a stored comment, as List Comments returns it.
type Comment struct {
	ID          int64        `json:"id"`
	Type        string       `json:"type"`
	AuthorID    int64        `json:"author_id"`
	Body        string       `json:"body"`
	HTMLBody    string       `json:"html_body"`
	PlainBody   string       `json:"plain_body"`
	Public      bool         `json:"public"`
	Attachments []Attachment `json:"attachments"`
	CreatedAt   time.Time    `json:"created_at"`
}

// Attachment is a file attached to a comment, as Zendesk shows it. Its
// content_url may be on a host other than the account's: the reference
// warns not to send Zendesk credentials there.
type Attachment struct {
	ID          int64  `json:"id"`
	FileName    string `json:"file_name"`
	ContentURL  string `json:"content_url"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Inline      bool   `json:"inline"`
	Deleted     bool   `json:"deleted"`
}

// UploadResponse is the answer of Upload Files (POST /api/v2/uploads).
type UploadResponse struct {
	Upload Upload `json:"upload"`
}

// Upload is an upload: a token to put in a comment's uploads, valid for 60
// minutes, and the files uploaded under it so far.
type Upload struct {
	Token       string       `json:"token"`
	Attachment  *Attachment  `json:"attachment,omitempty"`
	Attachments []Attachment `json:"attachments"`
}

// Audit is one update of a ticket, as List Audits returns it.
type Audit struct {
	ID        int64         `json:"id"`
	TicketID  int64         `json:"ticket_id"`
	AuthorID  int64         `json:"author_id"`
	CreatedAt time.Time     `json:"created_at"`
	Metadata  AuditMetadata `json:"metadata"`
	Events    []AuditEvent  `json:"events"`
}

// AuditMetadata holds what the update's request put in ticket.metadata
// (Custom) and what Zendesk recorded about the client (System).
type AuditMetadata struct {
	System map[string]any `json:"system"`
	Custom map[string]any `json:"custom"`
}

// AuditEvent is one event of an audit; for a Comment event, ID is the
// comment's id.
type AuditEvent struct {
	ID          int64        `json:"id"`
	Type        string       `json:"type"`
	AuthorID    int64        `json:"author_id,omitempty"`
	Body        string       `json:"body,omitempty"`
	HTMLBody    string       `json:"html_body,omitempty"`
	Public      *bool        `json:"public,omitempty"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// AuditEventComment is the type of the event that adds a comment.
const AuditEventComment = "Comment"

// AuditList is a page of List Audits for a Ticket.
type AuditList struct {
	Audits       []Audit `json:"audits"`
	NextPage     *string `json:"next_page"`
	PreviousPage *string `json:"previous_page"`
	Count        int     `json:"count"`
}

// User is a user as Show User and the users side-load return it.
type User struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	// Role is end-user, agent or admin.
	Role string `json:"role"`
}

// TicketResponse is the body of Show, Create and Update Ticket. Users is
// filled when the request asked for ?include=users.
type TicketResponse struct {
	Ticket Ticket `json:"ticket"`
	Users  []User `json:"users,omitempty"`
}

// TicketList is a page of List Tickets (offset pagination).
type TicketList struct {
	Tickets      []Ticket `json:"tickets"`
	Users        []User   `json:"users,omitempty"`
	NextPage     *string  `json:"next_page"`
	PreviousPage *string  `json:"previous_page"`
	Count        int      `json:"count"`
}

// CommentList is a page of List Comments. Users is filled when the
// request asked for ?include=users.
type CommentList struct {
	Comments     []Comment `json:"comments"`
	Users        []User    `json:"users,omitempty"`
	NextPage     *string   `json:"next_page"`
	PreviousPage *string   `json:"previous_page"`
	Count        int       `json:"count"`
}

// UserResponse is the body of Show User.
type UserResponse struct {
	User User `json:"user"`
}

// UserRequest is the body of Create Or Update User (POST
// /api/v2/users/create_or_update), which finds the user by email and
// creates an end user when there is none.
type UserRequest struct {
	User UserWrite `json:"user"`
}

// UserWrite is the user a request creates or updates.
type UserWrite struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
	// SkipVerifyEmail keeps Zendesk from emailing a new user to verify
	// their address: the bridge must never write to a customer.
	SkipVerifyEmail bool `json:"skip_verify_email,omitempty"`
}

// Tags is the body of the Tags endpoints, both ways.
type Tags struct {
	Tags []string `json:"tags"`
}

// ErrorBody is Zendesk's error answer, for example
//
//	{"error":"RecordInvalid","description":"Record validation errors",
//	 "details":{"status":[{"description":"Status: closed prevents ticket update","error":"InvalidValue"}]}}
//
// Details maps a field name (or "base" for the whole record) to its
// problems. Their descriptions may echo the values sent, customer data
// included.
type ErrorBody struct {
	Error       ErrorName                `json:"error"`
	Description string                   `json:"description,omitempty"`
	Details     map[string][]ErrorDetail `json:"details,omitempty"`
}

// ErrorDetail is one problem with one field.
type ErrorDetail struct {
	Description string `json:"description"`
	Error       string `json:"error,omitempty"`
}

// ErrorName is the "error" member. Most endpoints send a string; some
// (403 answers among them) send an object with a title and a message, so
// both forms decode.
type ErrorName struct {
	Name    string
	Message string
}

// MarshalJSON writes the string form unless there is a message.
func (e ErrorName) MarshalJSON() ([]byte, error) {
	if e.Message == "" {
		return json.Marshal(e.Name)
	}
	return json.Marshal(struct {
		Title   string `json:"title"`
		Message string `json:"message"`
	}{e.Name, e.Message})
}

// UnmarshalJSON reads either form.
func (e *ErrorName) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("{")) {
		var o struct {
			Title   string `json:"title"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		e.Name, e.Message = o.Title, o.Message
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	e.Name, e.Message = s, ""
	return nil
}

// Webhook headers Zendesk sends with every invocation (Webhooks reference,
// "Verifying webhook authenticity"; the ids' headers from the same docs).
const (
	HeaderWebhookSignature          = "X-Zendesk-Webhook-Signature"
	HeaderWebhookSignatureTimestamp = "X-Zendesk-Webhook-Signature-Timestamp"
	HeaderWebhookID                 = "X-Zendesk-Webhook-Id"
	HeaderWebhookInvocationID       = "X-Zendesk-Webhook-Invocation-Id"
)

// WebhookRequest is the body of Create Webhook (POST /api/v2/webhooks).
type WebhookRequest struct {
	Webhook Webhook `json:"webhook"`
}

// Webhook is a webhook: where and how Zendesk calls. A webhook used by
// triggers subscribes to conditional_ticket_events. Its signing secret is
// read afterwards with GET /api/v2/webhooks/{id}/signing_secret.
type Webhook struct {
	ID            string   `json:"id,omitempty"`
	Name          string   `json:"name"`
	Endpoint      string   `json:"endpoint"`
	HTTPMethod    string   `json:"http_method"`
	RequestFormat string   `json:"request_format"`
	Status        string   `json:"status"`
	Subscriptions []string `json:"subscriptions"`
}

// TriggerRequest is the body of Create Trigger (POST /api/v2/triggers).
type TriggerRequest struct {
	Trigger Trigger `json:"trigger"`
}

// Trigger is a ticket trigger: conditions on an update, and actions.
type Trigger struct {
	Title      string     `json:"title"`
	Conditions Conditions `json:"conditions"`
	Actions    []Action   `json:"actions"`
}

// Conditions must all hold (All) and one of Any must, when Any is set.
type Conditions struct {
	All []Condition `json:"all"`
	Any []Condition `json:"any,omitempty"`
}

// Condition is one trigger condition (Conditions reference).
type Condition struct {
	Field    string `json:"field"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

// Action is one trigger action. The notification_webhook action's value
// is [webhook id, request body].
type Action struct {
	Field string `json:"field"`
	Value any    `json:"value"`
}
