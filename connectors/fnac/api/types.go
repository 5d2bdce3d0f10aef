// Package api holds the wire types of Fnac's seller API (the "mp-dialog"
// XML dialect, shared by Darty on Fnac's platform) that the connector and
// its fake both use, and the one safe way to decode its answers.
//
// Element and attribute names follow Fnac's XSDs (AuthenticationService,
// MessagesQueryService, MessagesUpdateService, base and state .xsd, from
// Fnac's own PHP client). Answers are read leniently where real answers
// were seen to differ from the XSDs (messages_query_response without its
// messages_*_result counts, with nb_total_per_page).
package api

import (
	"encoding/xml"
	"time"
)

// Namespace is the namespace of every request and answer.
const Namespace = "http://www.fnac.com/schemas/mp-dialog.xsd"

// Services, as the last element of the URL path (api.php/<service>).
const (
	ServiceAuth           = "auth"
	ServiceMessagesQuery  = "messages_query"
	ServiceMessagesUpdate = "messages_update"
)

// Response statuses (status_code, common.xsd).
const (
	StatusOK      = "OK"
	StatusActive  = "ACTIVE"
	StatusRunning = "RUNNING"
	StatusWarning = "WARNING"
	StatusError   = "ERROR"
	StatusFatal   = "FATAL"
)

// Message types, the referer's kind.
const (
	TypeOrder = "ORDER"
	TypeOffer = "OFFER"
)

// Message senders (message_from_type) and filter values (_from_type).
const (
	FromClient     = "CLIENT"
	FromCallCenter = "CALLCENTER"
	FromSeller     = "SELLER"
	FromSystem     = "SYSTEM" // accepted by the filter only
)

// Recipients of a reply (message_to).
const (
	ToClient     = "CLIENT"
	ToCallCenter = "CALLCENTER" // "allowed only if the order is in incident status"
	ToAll        = "ALL"
)

// Message states and archive flags.
const (
	StateRead   = "READ"
	StateUnread = "UNREAD"
	True        = "TRUE"
	False       = "FALSE"
)

// Actions of messages_update (message_action).
const (
	ActionMarkAsRead           = "mark_as_read"
	ActionMarkAsUnread         = "mark_as_unread"
	ActionArchive              = "archive"
	ActionMarkAsReadAndArchive = "mark_as_read_and_archive"
	ActionUnarchive            = "unarchive"
	ActionReply                = "reply"
	ActionCreate               = "create"
	ActionConfirmShopDelivery  = "confirm_shop_delivery"
)

// Reply subjects (message_subject of MessagesUpdateService.xsd).
const (
	SubjectProductInformation  = "product_information"
	SubjectShippingInformation = "shipping_information"
	SubjectOrderInformation    = "order_information"
	SubjectOfferProblem        = "offer_problem"
	SubjectOfferNotReceived    = "offer_not_received"
	SubjectOtherQuestion       = "other_question"
)

// Date filter types (order_state_constraint) and sorts used here.
const (
	DateCreatedAt = "CreatedAt"
	DateUpdatedAt = "UpdatedAt"
	SortUpdatedAt = "UPDATED_AT"
	SortCreatedAt = "CREATED_AT"
	SortAsc       = "ASC"
	SortDesc      = "DESC"
)

// Limits.
const (
	// DefaultResultsCount is results_count's XSD default; the connector
	// never asks for more, as ERR_105 ("The limit of requested elements is
	// reached by the service") shows there is a ceiling, of unknown size.
	DefaultResultsCount = 100
	// MaxReplyChars bounds a reply's message_description. The XSD states
	// no bound (xs:string): UNVERIFIED, a conservative figure.
	MaxReplyChars = 4000
)

// Error is the error element (state.xsd): <error severity code>text</error>.
type Error struct {
	Severity string `xml:"severity,attr"`
	Code     string `xml:"code,attr"`
	Text     string `xml:",chardata"`
}

// AuthRequest is <auth>.
type AuthRequest struct {
	XMLName   xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd auth"`
	PartnerID string   `xml:"partner_id"`
	ShopID    string   `xml:"shop_id"`
	Key       string   `xml:"key"`
}

// AuthResponse is <auth_response>.
type AuthResponse struct {
	XMLName  xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd auth_response"`
	Status   string   `xml:"status,attr"`
	Token    string   `xml:"token,omitempty"`
	Validity string   `xml:"validity,omitempty"`
	Version  string   `xml:"version,omitempty"`
	Errors   []Error  `xml:"error"`
}

// Header is the request_header attribute group (base.xsd), on every
// request but auth.
type Header struct {
	PartnerID string `xml:"partner_id,attr"`
	ShopID    string `xml:"shop_id,attr"`
	Token     string `xml:"token,attr,omitempty"`
}

// DateFilter is <date type><min/><max/></date>.
type DateFilter struct {
	Type string `xml:"type,attr"`
	Min  string `xml:"min,omitempty"`
	Max  string `xml:"max,omitempty"`
}

// SortBy is <sort_by type="ASC|DESC">UPDATED_AT</sort_by>.
type SortBy struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// FromTypes is <message_from_types><from_type/>*</message_from_types>.
type FromTypes struct {
	FromType []string `xml:"from_type"`
}

// MessagesQuery is <messages_query>. Paging comes first, as the XSD's
// sequence wants; the filters after it may come in any order.
type MessagesQuery struct {
	XMLName xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd messages_query"`
	Header
	ResultsCount int         `xml:"results_count,attr,omitempty"`
	Paging       int         `xml:"paging,omitempty"`
	Date         *DateFilter `xml:"date,omitempty"`
	MessageType  string      `xml:"message_type,omitempty"`
	Archived     string      `xml:"message_archived,omitempty"`
	State        string      `xml:"message_state,omitempty"`
	MessageID    string      `xml:"message_id,omitempty"`
	OrderID      string      `xml:"order_fnac_id,omitempty"`
	OfferID      string      `xml:"offer_fnac_id,omitempty"`
	SortBy       *SortBy     `xml:"sort_by,omitempty"`
	FromTypes    *FromTypes  `xml:"message_from_types,omitempty"`
}

// MessagesQueryResponse is <messages_query_response>.
type MessagesQueryResponse struct {
	XMLName        xml.Name  `xml:"http://www.fnac.com/schemas/mp-dialog.xsd messages_query_response"`
	Status         string    `xml:"status,attr"`
	UnreadResult   *int      `xml:"messages_unread_result,omitempty"`
	ReadResult     *int      `xml:"messages_read_result,omitempty"`
	Errors         []Error   `xml:"error"`
	Page           int       `xml:"page,omitempty"`
	TotalPaging    int       `xml:"total_paging,omitempty"`
	NbTotalPerPage int       `xml:"nb_total_per_page,omitempty"`
	NbTotalResult  int       `xml:"nb_total_result"`
	Messages       []Message `xml:"message"`
}

// Referer is <message_referer type="ORDER|OFFER">id</message_referer>.
type Referer struct {
	Type string `xml:"type,attr"`
	ID   string `xml:",chardata"`
}

// From is <message_from type="CLIENT|CALLCENTER|SELLER">name</message_from>.
type From struct {
	Type string `xml:"type,attr"`
	Name string `xml:",chardata"`
}

// File is <message_file><name/><url/><filetype/></message_file>.
type File struct {
	Name     string `xml:"name"`
	URL      string `xml:"url"`
	FileType string `xml:"filetype"`
}

// Message is one <message> of messages_query_response.
type Message struct {
	State       string  `xml:"state,attr"`
	Archived    string  `xml:"archived,attr"`
	ID          string  `xml:"message_id"`
	Referer     Referer `xml:"message_referer"`
	From        *From   `xml:"message_from,omitempty"`
	OfferTitle  string  `xml:"message_offer_title,omitempty"`
	Subject     string  `xml:"message_subject"`
	Description string  `xml:"message_description"`
	CreatedAt   string  `xml:"created_at"`
	UpdatedAt   string  `xml:"updated_at"`
	Answer      string  `xml:"answer,omitempty"`
	AnswerAt    string  `xml:"answer_at,omitempty"`
	Files       []File  `xml:"message_file"`
	Errors      []Error `xml:"error"`
}

// MessagesUpdate is <messages_update>.
type MessagesUpdate struct {
	XMLName xml.Name `xml:"http://www.fnac.com/schemas/mp-dialog.xsd messages_update"`
	Header
	Messages []MessageUpdate `xml:"message"`
}

// MessageUpdate is one <message action id> of messages_update.
type MessageUpdate struct {
	Action      string `xml:"action,attr"`
	ID          string `xml:"id,attr"`
	To          string `xml:"message_to,omitempty"`
	Subject     string `xml:"message_subject,omitempty"`
	Description string `xml:"message_description,omitempty"`
	Type        string `xml:"message_type,omitempty"`
}

// MessagesUpdateResponse is <messages_update_response>.
type MessagesUpdateResponse struct {
	XMLName  xml.Name        `xml:"http://www.fnac.com/schemas/mp-dialog.xsd messages_update_response"`
	Status   string          `xml:"status,attr"`
	Errors   []Error         `xml:"error"`
	Messages []MessageStatus `xml:"message"`
}

// MessageStatus is one <message status id> of messages_update_response.
type MessageStatus struct {
	Status string  `xml:"status,attr"`
	ID     string  `xml:"id,attr"`
	Errors []Error `xml:"error"`
}

// FormatTime writes an xs:dateTime as Fnac's samples do (offset, seconds),
// keeping fractions of a second when there are some, so that a lower
// bound is never rounded up.
func FormatTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.999999999Z07:00") }

// ParseTime reads an xs:dateTime. Real answers write single-digit hours
// ("2016-10-28T9:50:04+01:00"), which Go's layout parsing accepts.
func ParseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// Envelope is what every answer has: its status and its root errors.
type Envelope interface {
	RootStatus() string
	RootErrors() []Error
	// Items is how many items (messages) the answer reports on: an answer
	// with items was processed, whatever its root says.
	Items() int
}

func (r *AuthResponse) Items() int           { return 0 }
func (r *MessagesQueryResponse) Items() int  { return len(r.Messages) }
func (r *MessagesUpdateResponse) Items() int { return len(r.Messages) }

func (r *AuthResponse) RootStatus() string            { return r.Status }
func (r *AuthResponse) RootErrors() []Error           { return r.Errors }
func (r *MessagesQueryResponse) RootStatus() string   { return r.Status }
func (r *MessagesQueryResponse) RootErrors() []Error  { return r.Errors }
func (r *MessagesUpdateResponse) RootStatus() string  { return r.Status }
func (r *MessagesUpdateResponse) RootErrors() []Error { return r.Errors }
