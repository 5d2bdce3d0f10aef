// Package alerts turns trouble reported by an order platform into tagged,
// internal-only tickets in every helpdesk account connected to the store:
// an order blocked by an invalid address or invalid buyer information, and
// a bad delivery-satisfaction rating, with or without a comment. When the
// platform reports the problem fixed, the alert ticket gets a note and is
// closed. Helpdesk rules route the tickets by their tag.
//
// Data flows one way: events.Intake asks a Planner for the tasks of an
// event (one per event and helpdesk account, with an id derived from both),
// asynq runs them, and the Service does the work through the helpdesk port.
// Bad ratings also come from marketplaces: a RatingSync reads a marketplace
// account's order evaluations periodically and enqueues the same raise
// tasks, each evaluation standing for an event (ratings.go).
package alerts

import "time"

// Event kinds this package plans.
const (
	KindActionRequired = "order.action_required"
	KindActionResolved = "order.action_resolved"
	KindSurveyRated    = "delivery_survey.rated"
)

// Reasons an order can be blocked.
const (
	ReasonInvalidAddress   = "invalid_address"
	ReasonInvalidBuyerInfo = "invalid_buyer_information"
)

// Buyer is the customer the alert is about. Customer data: never logged.
type Buyer struct {
	Name  string `json:"name" validate:"required,max=200"`
	Email string `json:"email" validate:"required,email,max=254"`
	Phone string `json:"phone,omitempty" validate:"max=40"`
}

// OrderDetails is what the platform knows of the order, shown in the
// ticket body. Every field is optional.
type OrderDetails struct {
	Marketplace string      `json:"marketplace,omitempty" validate:"max=100"`
	Status      string      `json:"status,omitempty" validate:"max=100"`
	CreatedAt   *time.Time  `json:"created_at,omitempty"`
	Total       string      `json:"total,omitempty" validate:"max=40"`
	Currency    string      `json:"currency,omitempty" validate:"omitempty,len=3"`
	Lines       []OrderLine `json:"lines,omitempty" validate:"max=500,dive"`
}

// OrderLine is one product of the order.
type OrderLine struct {
	SKU      string `json:"sku" validate:"required,max=200"`
	Name     string `json:"name,omitempty" validate:"max=500"`
	Quantity int    `json:"quantity" validate:"gte=1"`
}

// ActionRequired is the data of an order.action_required event.
type ActionRequired struct {
	OrderID string        `json:"order_id" validate:"required,max=100,id"`
	Store   string        `json:"store" validate:"required,max=100"`
	Buyer   Buyer         `json:"buyer" validate:"required"`
	Reason  string        `json:"reason" validate:"required,oneof=invalid_address invalid_buyer_information"`
	Details string        `json:"details,omitempty" validate:"max=5000"`
	Order   *OrderDetails `json:"order,omitempty"`
}

// ActionResolved is the data of an order.action_resolved event: the
// problem that blocked the order was fixed.
type ActionResolved struct {
	OrderID string `json:"order_id" validate:"required,max=100,id"`
	Store   string `json:"store" validate:"required,max=100"`
	Details string `json:"details,omitempty" validate:"max=5000"`
}

// SurveyRated is the data of a delivery_survey.rated event.
type SurveyRated struct {
	OrderID string        `json:"order_id" validate:"required,max=100,id"`
	Store   string        `json:"store" validate:"required,max=100"`
	Buyer   Buyer         `json:"buyer" validate:"required"`
	Score   int           `json:"score" validate:"gte=1,lte=5"`
	Comment string        `json:"comment,omitempty" validate:"max=5000"`
	Order   *OrderDetails `json:"order,omitempty"`
}
