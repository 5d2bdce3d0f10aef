// Package api holds the wire types of the Mirakl seller (shop) API the
// bridge uses: inbox threads (M10, M11, M12, M13), orders (OR11, OR12,
// and the actions OR21, OR23, OR24, OR29, OR30) and an order's evaluation
// (OR51). The client and its fake
// share them, so that both speak exactly the same JSON.
//
// Names and shapes follow Mirakl's published seller OpenAPI description
// (components M10_Response_200, M11_Response_200, M12_Request_..._
// MessageInput, M12_Response_201, OR11_Response_200, OR12_Response_200,
// OR21_Request, OR23_Request, OR30_Request and OR30_Response_200). Mirakl asks
// integrations to accept new fields and new enum values, so enums are
// plain strings and decoding ignores unknown fields. Amounts are
// json.Number so that a decimal is kept exactly as Mirakl wrote it.
package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Participant types: who a thread is shared with and who a message is
// addressed to.
const (
	ParticipantOperator = "OPERATOR"
	ParticipantShop     = "SHOP"
	ParticipantCustomer = "CUSTOMER"
)

// Sender types: who wrote a message.
const (
	SenderOperator = "OPERATOR_USER"
	SenderShop     = "SHOP_USER"
	SenderCustomer = "CUSTOMER_USER"
)

// Topic types.
const (
	TopicFreeText   = "FREE_TEXT"
	TopicReasonCode = "REASON_CODE"
)

// Entity types, as M11's entity_type filter lists them.
const (
	EntityOrder          = "MMP_ORDER"
	EntityOffer          = "MMP_OFFER"
	EntityServiceOrder   = "MPS_ORDER"
	EntityService        = "MPS_SERVICE"
	EntitySellerOperator = "SELLER_OPERATOR"
)

// EntityTypes are the values M11 documents for entity_type.
var EntityTypes = []string{EntityOrder, EntityOffer, EntityServiceOrder, EntityService, EntitySellerOperator}

// Limits the seller API states.
const (
	// M11: seek pagination, limit 50 by default (spec) and at most 100
	// (the official PHP SDK's SeekableTrait).
	DefaultThreadLimit = 50
	MaxThreadLimit     = 100
	// M11 with_messages returns at most the last 100 messages of a thread.
	MaxListedMessages = 100
	// M12: a body of 3 to 50,000 characters, at most 1000 messages on a
	// thread, at most 50 attachments across all the threads of an entity.
	MinBodyChars            = 3
	MaxBodyChars            = 50000
	MaxMessagesPerThread    = 1000
	MaxAttachmentsPerEntity = 50
	// M12 topic values: free text of 3 to 200 characters, a reason code
	// of 1 to 200.
	MinFreeTextTopic   = 3
	MinReasonCodeTopic = 1
	MaxTopicChars      = 200
	// OR11: offset pagination, max 10 by default (the PHP SDK's
	// PageableTrait) and at most 100 (third-party sources only).
	DefaultOrderMax = 10
	MaxOrderMax     = 100
)

// Order states (order_state and order_line_state), as OR11 lists them.
// WAITING_REFUND and WAITING_REFUND_PAYMENT are deprecated; INCIDENT_OPEN
// and REFUNDED are line states only.
const (
	StateStaging             = "STAGING"
	StateWaitingAcceptance   = "WAITING_ACCEPTANCE"
	StateWaitingDebit        = "WAITING_DEBIT"
	StateWaitingDebitPayment = "WAITING_DEBIT_PAYMENT"
	StateShipping            = "SHIPPING"
	StateShipped             = "SHIPPED"
	StateToCollect           = "TO_COLLECT"
	StateReceived            = "RECEIVED"
	StateClosed              = "CLOSED"
	StateRefused             = "REFUSED"
	StateCanceled            = "CANCELED"
	StateIncidentOpen        = "INCIDENT_OPEN"
	StateRefunded            = "REFUNDED"
	StateWaitingRefund       = "WAITING_REFUND"
	StateWaitingRefundPay    = "WAITING_REFUND_PAYMENT"
)

// EvaluableStates are the states of an order its customer may have
// evaluated: shipped, received or not, and closed. UNVERIFIED: the spec
// says nothing of when a customer may evaluate; an order refused or
// cancelled whole is taken to have no evaluation.
var EvaluableStates = []string{StateShipped, StateToCollect, StateReceived, StateClosed}

// Evaluation grades. UNVERIFIED: the spec gives the grade as an integer
// without a range (its example grades 4); marketplaces built on Mirakl
// show one to five stars.
const (
	MinGrade = 1
	MaxGrade = 5
)

// Tax calculation rules of a line's taxes: with NONE, a cancellation must
// give the tax to cancel; with PROPORTIONAL_TO_AMOUNT, Mirakl computes it.
const (
	TaxRuleNone         = "NONE"
	TaxRuleProportional = "PROPORTIONAL_TO_AMOUNT"
)

// Thread is a thread as M10 and M11 answer it.
type Thread struct {
	ID                     string               `json:"id"`
	Topic                  Topic                `json:"topic"`
	Entities               []Entity             `json:"entities"`
	DateCreated            Time                 `json:"date_created"`
	DateUpdated            Time                 `json:"date_updated"`
	AuthorizedParticipants []Participant        `json:"authorized_participants"`
	CurrentParticipants    []Participant        `json:"current_participants"`
	CustomerOrganization   *Organization        `json:"customer_organization,omitempty"`
	Metadata               Metadata             `json:"metadata"`
	NoStoreReplyNeeded     []NoStoreReplyNeeded `json:"no_store_reply_needed,omitempty"`
	// Messages is always present in M10, and in M11 only with
	// with_messages=true (then at most the last 100). omitzero tells a nil
	// slice (absent) from an empty one ([]).
	Messages []Message `json:"messages,omitzero"`
}

// Topic is a thread's subject: free text, or a reason code.
type Topic struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Entity is what a thread is about, such as an order.
type Entity struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Type  string `json:"type"`
}

// Participant is a party of a thread or a message's recipient. Mirakl
// gives no id for the operator.
type Participant struct {
	DisplayName string `json:"display_name"`
	ID          string `json:"id,omitempty"`
	Type        string `json:"type"`
}

// Organization is a B2B customer's organisation.
type Organization struct {
	DisplayName string `json:"display_name"`
	ID          string `json:"id"`
}

// Metadata summarises a thread.
type Metadata struct {
	LastMessageDate Time   `json:"last_message_date"`
	LastSender      Sender `json:"last_sender"`
	// ShopReplyNeededSince is null once the shop has replied. The field is
	// required, so it is written as null rather than left out.
	ShopReplyNeededSince *Time `json:"shop_reply_needed_since"`
	TotalCount           int   `json:"total_count"`
}

// Sender is who wrote a message: a user, and the organisation (shop or
// operator) they belong to.
type Sender struct {
	DisplayName         string       `json:"display_name"`
	OrganizationDetails *Participant `json:"organization_details,omitempty"`
	Type                string       `json:"type"`
}

// NoStoreReplyNeeded records that someone marked the thread as needing no
// reply from the shop.
type NoStoreReplyNeeded struct {
	Date     Time   `json:"date"`
	UserType string `json:"user_type"`
}

// Message is one message of a thread.
type Message struct {
	ID          string        `json:"id"`
	Body        string        `json:"body"`
	DateCreated Time          `json:"date_created"`
	From        Sender        `json:"from"`
	To          []Participant `json:"to"`
	Attachments []Attachment  `json:"attachments,omitempty"`
}

// Attachment describes a file attached to a message; M13 downloads it.
type Attachment struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// ThreadList is M11's answer. The tokens are absent on the last and the
// first page respectively.
type ThreadList struct {
	Data              []Thread `json:"data"`
	NextPageToken     string   `json:"next_page_token,omitempty"`
	PreviousPageToken string   `json:"previous_page_token,omitempty"`
}

// MessageInput is M12's message_input part, sent as JSON.
type MessageInput struct {
	Body string      `json:"body"`
	To   []Recipient `json:"to"`
	// Topic, when set, changes the thread's topic.
	Topic *Topic `json:"topic,omitempty"`
}

// Recipient addresses a reply to a kind of participant, optionally to one
// of them by id.
type Recipient struct {
	ID   string `json:"id,omitempty"`
	Type string `json:"type"`
}

// ReplyCreated is M12's 201 answer.
type ReplyCreated struct {
	MessageID string `json:"message_id"`
	ThreadID  string `json:"thread_id"`
}

// OrderList is OR11's answer.
type OrderList struct {
	Orders     []Order `json:"orders"`
	TotalCount int     `json:"total_count"`
}

// Order is an order as OR11 answers it: the fields the spec requires, and
// the optional ones the bridge reads.
type Order struct {
	OrderID            string      `json:"order_id"`
	CommercialID       string      `json:"commercial_id"`
	OrderState         string      `json:"order_state"`
	CreatedDate        Time        `json:"created_date"`
	LastUpdatedDate    Time        `json:"last_updated_date"`
	AcceptanceDecision *Time       `json:"acceptance_decision_date,omitempty"`
	Customer           Customer    `json:"customer"`
	OrderLines         []OrderLine `json:"order_lines"`
	// CustomerNotificationEmail is an anonymised address, for
	// notifications that expect no answer.
	CustomerNotificationEmail string      `json:"customer_notification_email,omitempty"`
	CurrencyISOCode           string      `json:"currency_iso_code"`
	Price                     json.Number `json:"price"`
	ShippingPrice             json.Number `json:"shipping_price"`
	TotalPrice                json.Number `json:"total_price"`
	TotalCommission           json.Number `json:"total_commission"`
	ShippingCompany           string      `json:"shipping_company,omitempty"`
	ShippingCarrierCode       string      `json:"shipping_carrier_code,omitempty"`
	ShippingTracking          string      `json:"shipping_tracking,omitempty"`
	ShippingTrackingURL       string      `json:"shipping_tracking_url,omitempty"`
	ShippingTypeCode          string      `json:"shipping_type_code"`
	ShippingTypeLabel         string      `json:"shipping_type_label"`
	ShippingZoneCode          string      `json:"shipping_zone_code"`
	ShippingZoneLabel         string      `json:"shipping_zone_label"`
	CanCancel                 bool        `json:"can_cancel"`
	CanShopShip               bool        `json:"can_shop_ship"`
	FullyRefunded             bool        `json:"fully_refunded"`
	HasCustomerMessage        bool        `json:"has_customer_message"`
	HasIncident               bool        `json:"has_incident"`
	HasInvoice                bool        `json:"has_invoice"`
	LeadtimeToShip            int         `json:"leadtime_to_ship"`
	OrderTaxMode              string      `json:"order_tax_mode"`
	Fulfillment               Fulfillment `json:"fulfillment"`
	// PaymentTypeLegacy is the deprecated paymentType, still required.
	PaymentTypeLegacy string `json:"paymentType"`
	PaymentType       string `json:"payment_type,omitempty"`
}

// Customer is who ordered. The addresses are null until the order is
// shipped or accepted, depending on the platform's setting.
type Customer struct {
	CustomerID      string   `json:"customer_id"`
	Firstname       string   `json:"firstname"`
	Lastname        string   `json:"lastname"`
	Locale          string   `json:"locale,omitempty"`
	BillingAddress  *Address `json:"billing_address"`
	ShippingAddress *Address `json:"shipping_address"`
}

// Address is a billing or shipping address; country_iso_code is ISO
// 3166-1 alpha-3.
type Address struct {
	Firstname      string `json:"firstname,omitempty"`
	Lastname       string `json:"lastname"`
	Street1        string `json:"street_1"`
	Street2        string `json:"street_2,omitempty"`
	ZipCode        string `json:"zip_code,omitempty"`
	City           string `json:"city"`
	Country        string `json:"country"`
	CountryISOCode string `json:"country_iso_code"`
}

// Fulfillment names the fulfillment center.
type Fulfillment struct {
	Center FulfillmentCenter `json:"center"`
}

// FulfillmentCenter is a fulfillment center by code.
type FulfillmentCenter struct {
	Code string `json:"code"`
}

// OrderLine is one line of an order.
type OrderLine struct {
	OrderLineID          string        `json:"order_line_id"`
	OrderLineIndex       int           `json:"order_line_index"`
	OrderLineState       string        `json:"order_line_state"`
	OfferID              int64         `json:"offer_id"`
	OfferSKU             string        `json:"offer_sku"`
	OfferStateCode       string        `json:"offer_state_code"`
	ProductSKU           string        `json:"product_sku"`
	ProductTitle         string        `json:"product_title"`
	Description          string        `json:"description"`
	CategoryCode         string        `json:"category_code"`
	CategoryLabel        string        `json:"category_label"`
	Quantity             int           `json:"quantity"`
	Price                json.Number   `json:"price"` // without shipping
	PriceUnit            json.Number   `json:"price_unit"`
	ShippingPrice        json.Number   `json:"shipping_price"`
	TotalPrice           json.Number   `json:"total_price"`
	TotalCommission      json.Number   `json:"total_commission"`
	CommissionFee        json.Number   `json:"commission_fee"`
	CommissionRateVAT    json.Number   `json:"commission_rate_vat"`
	CommissionVAT        json.Number   `json:"commission_vat"`
	CanRefund            bool          `json:"can_refund"`
	CreatedDate          Time          `json:"created_date"`
	LastUpdatedDate      Time          `json:"last_updated_date"`
	Cancelations         []Cancelation `json:"cancelations"`
	Refunds              []Empty       `json:"refunds"`
	ProductMedias        []Empty       `json:"product_medias"`
	OrderLineExtraFields []Empty       `json:"order_line_additional_fields"`
	ShippedDate          *Time         `json:"shipped_date,omitempty"`
	OrderLineStateReason string        `json:"order_line_state_reason_code,omitempty"`
	// Taxes and ShippingTaxes are the taxes on the price and on the
	// shipping price.
	Taxes         []Tax `json:"taxes,omitempty"`
	ShippingTaxes []Tax `json:"shipping_taxes,omitempty"`
}

// Tax is a tax on a line's price or shipping price.
type Tax struct {
	Code   string      `json:"code"`
	Amount json.Number `json:"amount"`
	Rate   json.Number `json:"rate,omitempty"`
	// CalculationRule is TaxRuleNone or TaxRuleProportional.
	CalculationRule string `json:"tax_calculation_rule"`
}

// Cancelation is a cancellation recorded on a line (OR30), as OR11 lists
// it: the fields the spec requires and those the bridge reads.
type Cancelation struct {
	ID                    string      `json:"id"`
	Quantity              int         `json:"quantity"`
	Amount                json.Number `json:"amount"`
	ShippingAmount        json.Number `json:"shipping_amount"`
	ReasonCode            string      `json:"reason_code,omitempty"`
	CreatedDate           Time        `json:"created_date"`
	CommissionAmount      json.Number `json:"commission_amount"`
	CommissionTaxes       []Empty     `json:"commission_taxes"`
	CommissionTotalAmount json.Number `json:"commission_total_amount"`
	Taxes                 []TaxAmount `json:"taxes,omitempty"`
	ShippingTaxes         []TaxAmount `json:"shipping_taxes,omitempty"`
}

// TaxAmount is an amount of one tax, cancelled or to cancel.
type TaxAmount struct {
	Code   string      `json:"code"`
	Amount json.Number `json:"amount"`
}

// OrderDetail is an order as OR12 answers it. Mirakl deprecates OR12 for
// OR11 with order_ids, which the client uses; the fake still serves it.
// It is OR11's order with the fields OR12 requires besides, null where
// Mirakl's own example has them null.
type OrderDetail struct {
	Order
	AcceptanceDecision    *Time             `json:"acceptance_decision_date"`
	OrderStateReasonCode  *string           `json:"order_state_reason_code"`
	OrderStateReasonLabel *string           `json:"order_state_reason_label"`
	OrderLines            []OrderLineDetail `json:"order_lines"`
}

// OrderLineDetail is an order line as OR12 answers it.
type OrderLineDetail struct {
	OrderLine
	DebitedDate                 *Time       `json:"debited_date"`
	ReceivedDate                *Time       `json:"received_date"`
	ShippedDate                 *Time       `json:"shipped_date"`
	OrderLineStateReasonCode    *string     `json:"order_line_state_reason_code"`
	OrderLineStateReasonLabel   *string     `json:"order_line_state_reason_label"`
	ShippingPriceUnit           json.Number `json:"shipping_price_unit"`
	ShippingPriceAdditionalUnit json.Number `json:"shipping_price_additional_unit"`
}

// AcceptInput is OR21's body: a decision for every line of the order.
type AcceptInput struct {
	OrderLines []LineDecision `json:"order_lines"`
}

// LineDecision accepts or refuses one line.
type LineDecision struct {
	Accepted bool   `json:"accepted"`
	ID       string `json:"id"`
}

// TrackingInput is OR23's body. A registered carrier is given by its code
// (Mirakl builds the tracking URL), another one by its name and, when it
// has one, its URL.
type TrackingInput struct {
	CarrierCode         string `json:"carrier_code,omitempty"`
	CarrierName         string `json:"carrier_name,omitempty"`
	CarrierStandardCode string `json:"carrier_standard_code,omitempty"`
	CarrierURL          string `json:"carrier_url,omitempty"`
	TrackingNumber      string `json:"tracking_number,omitempty"`
}

// CancelationsInput is OR30's body.
type CancelationsInput struct {
	Cancelations []CancelationInput `json:"cancelations"`
	OrderTaxMode string             `json:"order_tax_mode,omitempty"`
}

// CancelationInput cancels part of one line: a quantity, an amount of its
// price and of its shipping price, and the taxes on them whose rule is
// TaxRuleNone.
type CancelationInput struct {
	OrderLineID     string      `json:"order_line_id"`
	Quantity        int         `json:"quantity"`
	Amount          json.Number `json:"amount"`
	ShippingAmount  json.Number `json:"shipping_amount"`
	ReasonCode      string      `json:"reason_code"`
	CurrencyISOCode string      `json:"currency_iso_code,omitempty"`
	Taxes           []TaxAmount `json:"taxes,omitempty"`
	ShippingTaxes   []TaxAmount `json:"shipping_taxes,omitempty"`
}

// CancelationsCreated is OR30's answer.
type CancelationsCreated struct {
	Cancelations []CancelationCreated `json:"cancelations"`
	OrderTaxMode string               `json:"order_tax_mode"`
}

// CancelationCreated is one cancellation OR30 created.
type CancelationCreated struct {
	CancelationID   string      `json:"cancelation_id"`
	OrderLineID     string      `json:"order_line_id"`
	Quantity        int         `json:"quantity"`
	Amount          json.Number `json:"amount"`
	ShippingAmount  json.Number `json:"shipping_amount"`
	ReasonCode      string      `json:"reason_code"`
	CurrencyISOCode string      `json:"currency_iso_code,omitempty"`
	Taxes           []TaxAmount `json:"taxes,omitempty"`
	ShippingTaxes   []TaxAmount `json:"shipping_taxes,omitempty"`
}

// Evaluation is an order's evaluation as OR51 answers it: the customer's
// grade, comment and assessments, and the reply of the shop or the
// operator, if any.
type Evaluation struct {
	Assessments     []Assessment     `json:"assessments"`
	Comment         string           `json:"comment,omitempty"`
	CustomerID      string           `json:"customer_id"`
	Date            Time             `json:"date"`
	Firstname       string           `json:"firstname"`
	Grade           int              `json:"grade"`
	LastUpdatedDate Time             `json:"last_updated_date"`
	Lastname        string           `json:"lastname"`
	Reply           *EvaluationReply `json:"reply,omitempty"`
	Visible         bool             `json:"visible"`
}

// Assessment is the customer's answer to one of the operator's questions,
// e.g. "Delivery deadline respected": "true". Its label is localized.
type Assessment struct {
	Code     string `json:"code"`
	Label    string `json:"label"`
	Response string `json:"response"`
}

// EvaluationReply is the reply to an evaluation, of 1 to 1000 characters.
type EvaluationReply struct {
	Comment string `json:"comment"`
	Date    Time   `json:"date"`
	Type    string `json:"type"` // ReplyShop or ReplyOperator
}

// Who replied to an evaluation.
const (
	ReplyOperator = "OPERATOR"
	ReplyShop     = "SHOP"
)

// Empty stands for the items of a required list the bridge neither reads
// nor writes: refunds, medias, custom fields and commission taxes.
type Empty = json.RawMessage

// ErrorResponse is the body of an error answer: the HTTP status and a
// message. The spec documents no error body for these operations; the
// shape is that of the official Java SDK's MiraklErrorResponseBean
// (status, message), which Mirakl-side code mocks as {"message": ...}.
type ErrorResponse struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

// Time is a Mirakl timestamp. Mirakl writes ISO 8601 in UTC, with or
// without milliseconds ("2018-10-02T08:36:36.479Z"); Time reads any RFC
// 3339 form, and a zoneless one as UTC, and writes Mirakl's own form.
type Time struct{ time.Time }

// Layout is how Mirakl writes timestamps, and how the client writes
// updated_since and start_update_date. Formatting truncates to the
// millisecond: a filter written with it never starts after the instant it
// stands for.
const Layout = "2006-01-02T15:04:05.000Z07:00"

// NewTime returns t as Mirakl stores it: UTC, to the millisecond.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// Ptr returns a pointer to a copy of t, for nullable fields.
func (t Time) Ptr() *Time { return &t }

func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + FormatTime(t.Time) + `"`), nil
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("time: %w", err)
	}
	parsed, err := ParseTime(s)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// FormatTime writes t in Mirakl's form, in UTC.
func FormatTime(t time.Time) string {
	return t.UTC().Format(Layout)
}

// ParseTime reads an ISO 8601 timestamp as Mirakl writes or takes it.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time: cannot parse %q as ISO 8601", s)
}

// Order documents: OR72 lists them, OR74 uploads them, DO01 lists their
// types.

// Document type codes the spec names. Codes are set per operator (DO01):
// DocCustomerInvoice is the standard invoice; a shop cannot upload the
// delivery bills (operator only) nor message attachments.
const (
	DocCustomerInvoice      = "CUSTOMER_INVOICE"
	DocDeliveryBill         = "SYSTEM_DELIVERY_BILL"
	DocShipmentDeliveryBill = "SYSTEM_SHIPMENT_DELIVERY_BILL"
	DocMessageAttachment    = "SYSTEM_MESSAGE_ATTACHMENT"
)

// Document type entities (DO01).
const (
	DocEntityOrder = "ORDER"
	DocEntityShop  = "SHOP"
)

const (
	// MaxDocumentsPerOrder: "An order can have a maximum of 50 documents"
	// (OR74).
	MaxDocumentsPerOrder = 50
	// MaxDocumentOrders is how many order ids OR72 takes at once.
	MaxDocumentOrders = 100
)

// OR74's error for an unknown type code, the one error the spec shows.
const (
	DocErrorType        = "valid_order_document.type"
	DocErrorTypeField   = "type_code"
	DocErrorTypeMessage = "Unable to retrieve document's type from the given code"
)

// DocumentExtensions are the file types OR74 takes ("Only documents of
// the following types are supported").
var DocumentExtensions = []string{"csv", "doc", "xls", "xlsx", "ppt", "pdf", "odt", "ods", "odp", "txt", "rtf", "png", "jpg", "gif", "zpl", "mov", "mp4"}

// OrderDocument is one document of an order, as OR72 lists it.
type OrderDocument struct {
	ID           int64  `json:"id"`
	FileName     string `json:"file_name"`
	FileSize     int64  `json:"file_size,omitempty"`
	DateUploaded *Time  `json:"date_uploaded,omitempty"`
	OrderID      string `json:"order_id"`
	Type         string `json:"type"`
}

// OrderDocumentList is OR72's answer.
type OrderDocumentList struct {
	OrderDocuments []OrderDocument `json:"order_documents"`
}

// DocumentsInput is OR74's order_documents part: one entry per file, by
// file name.
type DocumentsInput struct {
	OrderDocuments []DocumentInput `json:"order_documents"`
}

// DocumentInput names a file's document type. Entity is for the return
// feature only.
type DocumentInput struct {
	FileName string          `json:"file_name"`
	TypeCode string          `json:"type_code"`
	Entity   *DocumentEntity `json:"entity,omitempty"`
}

// DocumentEntity is the return a document belongs to.
type DocumentEntity struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}

// DocumentsUploaded is OR74's answer: only the documents that failed.
type DocumentsUploaded struct {
	ErrorsCount    int              `json:"errors_count"`
	OrderDocuments []DocumentFailed `json:"order_documents"`
}

// DocumentFailed is one document OR74 did not take, and why.
type DocumentFailed struct {
	Errors []DocumentError `json:"errors"`
	Input  *DocumentInput  `json:"input,omitempty"`
}

// DocumentError is one reason a document was not taken.
type DocumentError struct {
	Code    string `json:"code"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// DocumentTypeList is DO01's answer.
type DocumentTypeList struct {
	Documents []DocumentType `json:"documents"`
}

// DocumentType is a document type of the instance.
type DocumentType struct {
	Code        string   `json:"code"`
	Label       string   `json:"label"`
	Description string   `json:"description"`
	Entity      string   `json:"entity"`
	MimeTypes   []string `json:"mime_types,omitempty"`
}
