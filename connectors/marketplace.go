package connectors

import (
	"context"
	"io"
	"time"
)

// Marketplace is the port to one marketplace shop account (for example one
// Mirakl shop on one Mirakl instance): the discussions customers and the
// marketplace's operator open with the shop, and the shop's replies.
// Implementations are safe for concurrent use.
type Marketplace interface {
	// Capabilities states what the marketplace accepts, so that callers
	// can refuse a reply before sending it.
	Capabilities() MarketplaceCapabilities
	// ListThreads returns one page of the threads updated at or after
	// q.UpdatedSince, each with all its messages. The order is the
	// marketplace's own (Mirakl: most recently updated first); callers
	// must not rely on it. A thread updated while a listing pages through
	// may be missed by that listing: the next listing, with an
	// UpdatedSince no later than when this one started, sees it.
	ListThreads(ctx context.Context, q ThreadQuery) (ThreadPage, error)
	// GetThread returns one thread with all its messages, or ErrNotFound.
	GetThread(ctx context.Context, threadID string) (Thread, error)
	// Reply posts a message from the shop to a thread, for the given
	// recipients, with files. It returns the marketplace's message id.
	// Marketplaces have no idempotency key: a Reply whose answer was lost
	// may have been posted, so a caller retrying it first looks the thread
	// up (GetThread) for a shop message with the same body.
	Reply(ctx context.Context, threadID string, r Reply) (SentReply, error)
	// DownloadAttachment streams an attachment's content. The caller
	// closes the reader.
	DownloadAttachment(ctx context.Context, attachmentID string) (io.ReadCloser, AttachmentMeta, error)
}

// OrderLister is the optional ability to list the shop's orders, to feed
// the order widget.
type OrderLister interface {
	// ListOrders returns one page of the orders updated at or after
	// q.UpdatedSince. It may also return orders updated a little before
	// (Mirakl widens the window to miss nothing): callers deduplicate by
	// order id and update time.
	ListOrders(ctx context.Context, q OrderQuery) (OrderPage, error)
}

// OrderActor is the optional ability to read one order and act on it, for
// an agent answering its customer: accept or refuse it, ship it with its
// tracking, cancel it or some of its lines. Order statuses and actions are
// normalised (orders.go); what an order allows right now is in its Actions.
type OrderActor interface {
	// GetOrder returns one of the shop's orders, with its normalised
	// status and the actions it allows now, or ErrNotFound.
	GetOrder(ctx context.Context, orderID string) (Order, error)
	// Act performs one action on an order. An action the order's state
	// forbids is an *OrderActionError (permanent, ErrConflict) whose
	// message can be shown to the agent; a malformed one is ErrInvalid.
	//
	// Acting again once an action took effect succeeds without changing
	// anything (accepting an accepted order, shipping a shipped one with
	// the same tracking, cancelling a cancelled order or a cancelled
	// line), so a caller whose call failed uncertainly (ErrUncertain) may
	// simply act again. The one exception is cancelling part of a line's
	// quantity, which adds up: look the order up before trying it again.
	Act(ctx context.Context, orderID string, action OrderAction) error
}

// EvaluationLister is the optional ability to list the evaluations
// customers gave the shop's orders (a grade and perhaps a comment), to
// raise bad-rating alerts from them.
type EvaluationLister interface {
	// ListEvaluations returns one page of the evaluations given, or
	// changed, at or after q.Since. A page may hold none and still have a
	// next one: a marketplace without a listing of its own (Mirakl) reads
	// a page of orders and asks each for its evaluation. A listing may
	// also return evaluations given earlier, and one twice when orders
	// change while it pages through: callers deduplicate. An evaluation is
	// named by its order id and its CreatedAt, which stay the same when it
	// changes.
	ListEvaluations(ctx context.Context, q EvaluationQuery) (EvaluationPage, error)
}

// MarketplaceCapabilities states a marketplace's limits on replies. A zero
// number means the limit is unknown, not that there is none.
type MarketplaceCapabilities struct {
	// Attachments tells whether replies may carry files.
	Attachments bool
	// MaxFileBytes is the largest file a reply may carry.
	MaxFileBytes int64
	// MaxAttachmentsPerEntity bounds the files across all the threads of
	// one entity (Mirakl: 50 per order), whoever sent them.
	MaxAttachmentsPerEntity int
	// MaxMessagesPerThread bounds a thread's messages, replies included.
	MaxMessagesPerThread int
	// MinBodyChars and MaxBodyChars bound a reply's body, in characters.
	MinBodyChars int
	MaxBodyChars int
	// Recipients are the parties a reply may be addressed to.
	Recipients []PartyType
	// CallsPerListedThread is how many calls a listed thread costs on top
	// of its page's own, for a marketplace that reads each one in full
	// before the page is done (Fnac, Rakuten); 0 when a page is one call.
	CallsPerListedThread int
}

// PartyType is who takes part in a thread, in the bridge's vocabulary.
type PartyType string

const (
	PartyCustomer PartyType = "customer"
	PartyOperator PartyType = "operator" // the marketplace's own staff
	PartyShop     PartyType = "shop"     // the merchant the bridge acts for
	// PartyOther is a participant of a kind the connector does not know
	// (marketplaces add new ones).
	PartyOther PartyType = "other"
)

// Party is a participant of a thread. Its log form is redacted: a
// customer's name is customer data.
type Party struct {
	Type PartyType
	// ID is the marketplace's id for the participant, when it gives one
	// (Mirakl gives none for the operator).
	ID   string
	Name string // display name
}

// String keeps customer data out of logs and error messages.
func (p Party) String() string { return string(p.Type) + " [name redacted]" }

// Entity types, normalised. The marketplace's own type is kept in
// ThreadEntity.RawType.
const (
	EntityOrder   = "order"
	EntityProduct = "product"
	EntityOther   = "other"
)

// ThreadEntity is what a thread is about: an order, a product offer, or
// nothing in particular (a discussion between the shop and the operator).
type ThreadEntity struct {
	Type    string // EntityOrder, EntityProduct or EntityOther
	RawType string // the marketplace's own, e.g. Mirakl's MMP_ORDER
	ID      string
	Label   string
}

// Thread is a discussion with the shop, as the bridge sees it.
type Thread struct {
	ID     string
	Topic  string
	Entity ThreadEntity
	// Participants are the parties allowed in the thread, whether they
	// wrote in it yet or not.
	Participants []Party
	// Customer is the customer taking part, when there is one: a display
	// name and an id, never an email (Mirakl threads carry none; the
	// order's anonymised notification email is in Order.CustomerEmail).
	Customer *Party
	// CustomerEmail is the address the customer writes from, for
	// marketplaces whose customers write by e-mail (a relay's anonymised
	// alias, an ordinary email to the bridge); "" for the others.
	// Customer data: never log it.
	CustomerEmail string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Messages are the thread's messages, oldest first, all of them.
	Messages []ThreadMessage
	// TotalMessages is the count the marketplace states for the thread.
	TotalMessages int
}

// ThreadMessage is one message of a thread.
type ThreadMessage struct {
	ID string
	// Body is as the sender wrote it; it may contain HTML. It is customer
	// data: never log it.
	Body        string
	CreatedAt   time.Time
	From        Party
	To          []Party
	Attachments []AttachmentMeta
}

// AttachmentMeta describes a file attached to a message.
type AttachmentMeta struct {
	ID   string
	Name string
	// Size is in bytes; -1 when the marketplace did not say.
	Size int64
}

// ThreadQuery selects threads.
type ThreadQuery struct {
	// UpdatedSince keeps the threads updated at or after it; zero keeps
	// them all.
	UpdatedSince time.Time
	// Limit is the page size; 0 means the connector's default, and values
	// above the marketplace's maximum are lowered to it.
	Limit int
	// PageToken continues a listing: the previous page's NextPageToken. A
	// listing's query travels in its tokens, so the other fields are
	// ignored when it is set.
	PageToken string
}

// ThreadPage is one page of a thread listing.
type ThreadPage struct {
	Threads []Thread
	// NextPageToken fetches the next page; "" on the last one.
	NextPageToken string
}

// Reply is a message the shop sends to a thread.
type Reply struct {
	// Body is plain text. It is customer-facing content: never log it.
	Body string
	// To are the recipients; at least one, among the capabilities'.
	To    []PartyType
	Files []ReplyFile
}

// ReplyFile is a file attached to a reply. It holds its content rather
// than a reader so that the same Reply can be sent again after a failure.
type ReplyFile struct {
	Name        string
	ContentType string // "" means application/octet-stream
	Content     []byte
}

// SentReply identifies a posted reply.
type SentReply struct {
	ThreadID  string
	MessageID string
}

// OrderQuery selects orders.
type OrderQuery struct {
	// UpdatedSince keeps the orders updated at or after it (give or take
	// the marketplace's safety margin); zero keeps them all.
	UpdatedSince time.Time
	// Limit and PageToken work as in ThreadQuery.
	Limit     int
	PageToken string
}

// OrderPage is one page of an order listing.
type OrderPage struct {
	Orders []Order
	// NextPageToken fetches the next page; "" on the last one.
	NextPageToken string
	// Total is the number of orders the whole listing holds, when the
	// marketplace says; -1 otherwise.
	Total int
}

// Order is a marketplace order, normalised enough for the order widget.
// Amounts are decimal strings exactly as the marketplace wrote them.
type Order struct {
	ID           string
	CommercialID string // the reference the customer sees
	State        string // the marketplace's own, e.g. Mirakl's SHIPPED
	// Status is State normalised.
	Status OrderStatus
	// Actions are what the shop may do to the order now, a part of
	// Status.Actions(): the marketplace may allow less at a given moment.
	Actions   []OrderActionKind
	CreatedAt time.Time
	UpdatedAt time.Time
	// CustomerEmail, CustomerName and CustomerID are customer data: never
	// log them. Mirakl's email is an anonymised relay address, which the
	// bridge treats as an ordinary email.
	CustomerEmail  string
	CustomerName   string
	CustomerID     string
	Lines          []OrderLine
	TrackingNumber string
	TrackingURL    string
	Carrier        string
	Total          string
	Currency       string
	// ShippingPrice is what the buyer paid for delivery, all lines, as
	// the marketplace gave it; "" when it gives none (invoices need it).
	ShippingPrice string
	// BillingAddress and ShippingAddress, when the marketplace gives
	// them (Mirakl: once the order is accepted or shipped, as the
	// operator set it). Customer data: never log them.
	BillingAddress  *Address
	ShippingAddress *Address
}

// Address is a postal address as a marketplace gives it.
type Address struct {
	Name       string
	Line1      string
	Line2      string
	PostalCode string
	City       string
	// Country is an ISO 3166-1 alpha-2 code, "" when the marketplace's
	// could not be read as one.
	Country string
}

// OrderLine is one line of an order.
type OrderLine struct {
	// ID names the line in actions (refusing it, cancelling it).
	ID       string
	SKU      string // the shop's own SKU
	Title    string
	Quantity int
	// Canceled is how many of its units were cancelled since it was
	// ordered (Mirakl keeps Quantity as ordered).
	Canceled int
	// Price is the line's price for all its units, without shipping,
	// and Discount what the marketplace took off it ("" for none).
	Price    string
	Discount string
	// Status is the line's own status: a refused or cancelled line of an
	// order in progress is OrderCanceled.
	Status OrderStatus
}

// EvaluationQuery selects evaluations.
type EvaluationQuery struct {
	// Since keeps the evaluations given or changed at or after it; zero
	// keeps them all.
	Since time.Time
	// Limit is how many orders a page looks at (the marketplace's page of
	// orders, or of evaluations where it lists them); 0 means the
	// connector's default. PageToken works as in ThreadQuery.
	Limit     int
	PageToken string
}

// EvaluationPage is one page of an evaluation listing.
type EvaluationPage struct {
	Evaluations []Evaluation
	// NextPageToken fetches the next page; "" on the last one.
	NextPageToken string
}

// Evaluation is a customer's evaluation of one of the shop's orders.
type Evaluation struct {
	OrderID string
	// Grade is on the marketplace's scale (Mirakl: 1 to 5, UNVERIFIED;
	// the spec states none).
	Grade int
	// Comment, CustomerName and CustomerID are customer data: never log
	// them.
	Comment      string
	CustomerName string
	CustomerID   string
	// CreatedAt is when the customer gave it; UpdatedAt when it last
	// changed (a reply, moderation).
	CreatedAt time.Time
	UpdatedAt time.Time
	// Order is the order evaluated as the listing read it, when the
	// connector has it; nil otherwise.
	Order *Order
}
