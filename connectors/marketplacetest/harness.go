// Package marketplacetest is the contract suite every marketplace
// connector passes, in the spirit of go-cloud's drivertest: it defines
// once what a correct connectors.Marketplace does (listing threads page by
// page without losing or repeating one, the updated-since boundary, full
// threads beyond what a listing carries, replies to the right recipients
// with files, refused replies, attachment downloads, error mapping,
// Retry-After, cancellation, order listing for connectors that are also
// connectors.OrderLister, and for connectors.OrderActor reading an order
// and acting on it: accepting, refusing, shipping with a tracking,
// cancelling it or its lines, refusals in the wrong state, and retries
// after a lost answer; and for connectors.EvaluationLister the
// evaluations given since a moment, changed ones again, and failures
// anywhere in a page; and a session expiring mid-listing for
// marketplaces whose tokens expire), and each connector joins it with a small
// Harness over its fake, or over a live sandbox shop when one is
// configured.
package marketplacetest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// HarnessMaker returns a harness over a fresh shop account, with no
// threads and no orders when it can be seeded. The suite calls it once per
// test.
type HarnessMaker func(t *testing.T) Harness

// Harness is what a connector provides to run the suite.
type Harness interface {
	// Marketplace returns the connector under test. Its HTTP client
	// timeout must be short (at most 1 s) so that the hang test stays
	// quick.
	Marketplace() connectors.Marketplace
	// WrongCredentials returns a connector to the same account whose
	// credentials the marketplace refuses.
	WrongCredentials() connectors.Marketplace
	// Faults returns the injector in front of the fake, or nil against a
	// live account (the fault tests then skip).
	Faults() *fault.Injector
	// Seeder returns what writes in the account as customers and the
	// operator would, and reads back what the shop sent; nil when the
	// account cannot be seeded (a live sandbox), and the tests that need
	// it then skip.
	Seeder() Seeder
}

// LocalReader may be implemented by a Harness whose connector serves
// threads from the bridge's own copy of the account (mail read from a
// mailbox into Redis): only a listing, which reads the account first,
// meets wrong credentials.
type LocalReader interface {
	ReadsThreadsLocally() bool
}

// Seeder writes in the account what the connector only reads, and reads
// back what it wrote.
type Seeder interface {
	// AddThread opens a thread and returns its id.
	AddThread(t *testing.T, th SeedThread) string
	// AddMessage adds a message from a customer or the operator. It moves
	// the thread's update time to the message's.
	AddMessage(t *testing.T, threadID string, m SeedMessage)
	// PutOrder adds or replaces an order, with its lines' ids when given.
	// An order without a State is put in the marketplace's state standing
	// for its Status (a new order waits for acceptance; one in progress
	// can be shipped).
	PutOrder(t *testing.T, o connectors.Order)
	// Sent returns what the shop sent to the thread, oldest first.
	Sent(t *testing.T, threadID string) []SentMessage
}

// SeedThread is a thread as a customer (or the operator) opens it.
type SeedThread struct {
	// OrderID is the order the thread is about; "" opens a thread between
	// the shop and the operator, without a customer.
	OrderID      string
	Topic        string
	CustomerName string
	// Message opens the thread.
	Message SeedMessage
}

// SeedMessage is a message written on the marketplace.
type SeedMessage struct {
	// From is PartyCustomer or PartyOperator; "" is the customer when the
	// thread has one, else the operator. The suite seeds no operator's
	// message where the marketplace has no operator (its Recipients).
	From  connectors.PartyType
	Body  string
	Files []File
	// At is when it was written; zero means now.
	At time.Time
}

// SentMessage is a message the shop sent, as the marketplace received it.
type SentMessage struct {
	MessageID string
	Body      string
	To        []connectors.PartyType
	Files     []File
}

// File is an attachment's name and content.
type File struct {
	Name    string
	Content []byte
}

// Quirks may be implemented by a Harness whose marketplace works
// otherwise than Mirakl in ways the port allows.
type Quirks interface {
	Quirks() Quirk
}

// Quirk lists those ways.
type Quirk struct {
	// ThreadPerCorrespondent: the operator writes in threads of its own,
	// not in the customer's (Fnac's call centre), so the seeder puts an
	// operator's message in the operator's thread about the same order.
	ThreadPerCorrespondent bool
	// UnlistedRecipients: the shop's messages are listed without their
	// recipients (Fnac's listing carries none), so only what the
	// marketplace received tells them.
	UnlistedRecipients bool
	// UnsizedAttachments: listings give no file sizes (Size -1); the size
	// is known once downloaded.
	UnsizedAttachments bool
	// IsReply recognises the request that posts a reply, where the reply
	// is not the only POST (every Fnac call is one).
	IsReply func(*http.Request) bool

	// Orders.

	// OrderID makes the marketplace's id of the suite's name for an
	// order, where ids have a shape of their own (Fnac's are 13
	// characters); nil keeps the names.
	OrderID func(name string) string
	// LineID makes the id of an order's n-th line (from 1) where the
	// marketplace numbers lines itself (Fnac's order_detail_id); nil is
	// "<order id>-<n>".
	LineID func(orderID string, n int) string
	// NoCommercialID: orders have no reference of their own for the
	// customer (Fnac), so CommercialID is the ID.
	NoCommercialID bool
	// UnlistedOrderUpdates: orders are read without the time of their last
	// update (Fnac), so UpdatedAt is when the order was read: not before
	// its last update, and later for a later read.
	UnlistedOrderUpdates bool
	// NoTrackingURL: shipping takes no tracking URL (Fnac's orders_update
	// has none); one given is ErrInvalid.
	NoTrackingURL bool
	// UnlistedCarrier: the carrier given when shipping is not read back
	// (Fnac's orders_query has no tracking_company).
	UnlistedCarrier bool
	// CancelReason is the reason code the suite cancels with, where the
	// marketplace has codes of its own (Fnac's refund_reason); "" is
	// Mirakl's "34".
	CancelReason string
	// WholeLinesOnly: lines are cancelled whole (Fnac); cancelling a part
	// of a line's quantity is ErrInvalid.
	WholeLinesOnly bool
	// IsOrderAction recognises the requests that act on orders, where
	// reads are not GETs (every Fnac call is a POST) or writes are not the
	// only other requests (Rakuten acts by GET); nil means every request
	// but a GET.
	IsOrderAction func(*http.Request) bool

	// RepliesToTheThread: a reply goes to its thread's correspondent only
	// (Rakuten: the buyer's thread and Rakuten's are written to by two
	// different actions), so a reply to the operator is made in an
	// operator's thread, and one to both is refused.
	RepliesToTheThread bool
	// NoFiles: messages carry no files either way (Rakuten).
	NoFiles bool
	// TimeGrain is the precision of the marketplace's times (Rakuten
	// writes dates to the minute); the suite seeds times on it. 0 means
	// a millisecond.
	TimeGrain time.Duration
	// SingleUnitLines: an order line is one unit (Rakuten sells per
	// item), so the suite seeds lines of one and cancels lines whole.
	SingleUnitLines bool
	// ListedOrder, when set, is what a listing can give back of a seeded
	// order (Rakuten's sales carry no tracking, total nor update time):
	// the suite compares seeded and listed orders through it.
	ListedOrder func(connectors.Order) connectors.Order
}

// orderID is the marketplace's id of the order the suite names name.
func (q Quirk) orderID(name string) string {
	if q.OrderID != nil {
		return q.OrderID(name)
	}
	return name
}

// lineID is the id of an order's n-th line.
func (q Quirk) lineID(orderID string, n int) string {
	if q.LineID != nil {
		return q.LineID(orderID, n)
	}
	return fmt.Sprintf("%s-%d", orderID, n)
}

func (q Quirk) cancelReason() string {
	if q.CancelReason != "" {
		return q.CancelReason
	}
	return "34"
}

func (q Quirk) isOrderAction(r *http.Request) bool {
	if q.IsOrderAction != nil {
		return q.IsOrderAction(r)
	}
	return r.Method != http.MethodGet
}

// grain is the precision the suite seeds times with.
func grain(h Harness) time.Duration {
	if g := quirks(h).TimeGrain; g > 0 {
		return g
	}
	return time.Millisecond
}

// ContactWindows may be implemented by a Harness whose marketplace lets
// the shop write only within windows of time (Rakuten: so many days after
// the order or its receipt): CloseContactWindow ages the thread's subject
// until a reply to its correspondent is outside them.
type ContactWindows interface {
	CloseContactWindow(t *testing.T, threadID string)
}

func quirks(h Harness) Quirk {
	if q, ok := h.(Quirks); ok {
		return q.Quirks()
	}
	return Quirk{}
}

// SessionExpirer may be implemented by a Harness whose marketplace hands
// out sessions (tokens) that expire: ExpireSessions makes the current ones
// expire at once, as they would between two pages of a listing.
type SessionExpirer interface {
	ExpireSessions(t *testing.T)
}
