package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/jobs"
)

// Task types.
const (
	TypeRaise   = "alert:raise"
	TypeResolve = "alert:resolve"
)

// Queue is the asynq queue alert tasks run in.
const Queue = "alerts"

// RaisePayload asks for one alert ticket in one helpdesk account.
type RaisePayload struct {
	Merchant   string        `json:"merchant"`
	Account    string        `json:"account"`
	EventID    string        `json:"event_id"`
	OccurredAt time.Time     `json:"occurred_at"`
	Kind       string        `json:"kind"` // config.Alert* constant
	OrderID    string        `json:"order_id"`
	Store      string        `json:"store"`
	Buyer      Buyer         `json:"buyer"`
	Reason     string        `json:"reason,omitempty"`
	Details    string        `json:"details,omitempty"`
	Score      int           `json:"score,omitempty"`
	Comment    string        `json:"comment,omitempty"`
	Order      *OrderDetails `json:"order,omitempty"`
}

// ResolvePayload asks to close the alerts of an order in one account.
type ResolvePayload struct {
	Merchant   string    `json:"merchant"`
	Account    string    `json:"account"`
	EventID    string    `json:"event_id"`
	OccurredAt time.Time `json:"occurred_at"`
	OrderID    string    `json:"order_id"`
	Store      string    `json:"store"`
	Details    string    `json:"details,omitempty"`
}

// key derives one stable id from an event and a helpdesk account: the task
// id, and the ticket's external id, so that every retry, redelivery or
// crash lands on the same ticket.
func key(merchant, eventID, account string) string {
	sum := sha256.Sum256([]byte(merchant + "\x00" + eventID + "\x00" + account))
	return hex.EncodeToString(sum[:16])
}

// ExternalID is the helpdesk external id of the alert ticket for p.
func (p RaisePayload) ExternalID() string {
	return "bridge-alert-" + key(p.Merchant, p.EventID, p.Account)
}

// NewRaiseTask returns the task for p, in its account's queue.
func NewRaiseTask(p RaisePayload, shards jobs.Shards) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeRaise, b, asynq.Queue(shards.Queue(Queue, p.Account)), asynq.TaskID(TypeRaise+":"+key(p.Merchant, p.EventID, p.Account)), asynq.Timeout(5*time.Minute)), nil
}

// NewResolveTask returns the task for p, in its account's queue.
func NewResolveTask(p ResolvePayload, shards jobs.Shards) (*asynq.Task, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeResolve, b, asynq.Queue(shards.Queue(Queue, p.Account)), asynq.TaskID(TypeResolve+":"+key(p.Merchant, p.EventID, p.Account)), asynq.Timeout(5*time.Minute)), nil
}
