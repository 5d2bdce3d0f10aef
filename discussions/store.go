package discussions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/syncstate"
)

// Discussion is one marketplace thread as the bridge tracks it: what it is
// about, its status and read state, and the helpdesk ticket it is mirrored
// into.
type Discussion struct {
	Merchant    string `json:"merchant"`
	Account     string `json:"account"`     // the marketplace shop account's id
	Marketplace string `json:"marketplace"` // e.g. carrefour
	ThreadID    string `json:"thread_id"`
	Subject     string `json:"subject"`
	// Type is what the thread is about: order, product (pre-sale) or other.
	Type        string `json:"type"`
	EntityID    string `json:"entity_id,omitempty"` // the order id, for an order
	EntityLabel string `json:"entity_label,omitempty"`
	// Participants are display names: customer data, never logged.
	Participants []string `json:"participants"`
	CustomerName string   `json:"customer_name,omitempty"`
	// CustomerEmail is the order's customer, when known: customer data.
	CustomerEmail string `json:"customer_email,omitempty"`
	Status        string `json:"status"` // open, pending, solved or closed
	Read          bool   `json:"read"`
	Helpdesk      string `json:"helpdesk"`
	TicketID      string `json:"ticket_id,omitempty"`
	// MerchantTicketID is the ticket id recorded on the discussion: the
	// bridge's own ticket, or one an integrator assigned.
	MerchantTicketID string    `json:"merchant_ticket_id,omitempty"`
	Messages         int       `json:"messages"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	LastMessageAt    time.Time `json:"last_message_at"`
	// StatusAt is when the status was last set: by the helpdesk event
	// that set it, the API call, or the mirroring of the message that
	// reopened the thread.
	// An older helpdesk event never overwrites a newer status.
	StatusAt time.Time `json:"status_at"`
	// LastReply is what became of the latest agent reply the bridge
	// handled: sent, or refused by the marketplace and why; null before
	// the first, so that the path is always there.
	LastReply *LastReply `json:"last_reply"`
}

// LastReply is the outcome of an agent's reply.
type LastReply struct {
	Status string `json:"status"` // sent or refused
	// MessageID is the helpdesk's id of the agent's message.
	MessageID string    `json:"message_id"`
	At        time.Time `json:"at"`
	// Reason says in plain words why the marketplace would not take it,
	// as the note on the ticket does; empty once sent.
	Reason string `json:"reason,omitempty"`
}

// Outcomes of an agent's reply.
const (
	ReplySent    = "sent"
	ReplyRefused = "refused"
)

// Discussion statuses.
const (
	StatusOpen    = "open"
	StatusPending = "pending"
	StatusSolved  = "solved"
	StatusClosed  = "closed"
)

// Store keeps discussions and the ledgers that make mirroring exactly
// once, in Redis. Per merchant, under one Cluster hash tag:
//
//	d:{account}:{thread}       the Discussion
//	all                        every discussion, scored by last update
//	tk:{helpdesk}:{ticket}     the discussion a ticket mirrors
//	in:{account}:{thread}      marketplace message ids already in the ticket
//	out:{helpdesk}:{ticket}    helpdesk message ids already sent back
//	own:{account}:{thread}     marketplace ids of the replies the bridge sent
//	cur:{account}              the account's sync cursor
//	ocur:{account}             the account's order sync cursor
//	pend:{helpdesk}:{message}  when a reply's send started, to find it if cut short
//	sending:{account}:{thread} the replies being sent to a thread, with their text
//	lock:{name}                leases: one sync per account, one writer per thread
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	replicas Replicas
	state    *syncstate.Store
}

// Replicas holds a write back until it reached the Redis replicas: Write
// runs write's commands (none when nil) on the master that holds key and
// waits until they, and the writes finished earlier there, reached them.
type Replicas interface {
	Write(ctx context.Context, key string, write func(p redis.Pipeliner), also ...string) error
}

// WaitForReplicas makes the record of a mirrored message count as done
// only once it reached a replica, so that a failover cannot forget it.
func (s *Store) WaitForReplicas(r Replicas) { s.replicas = r }

// replicated waits until the writes finished on key's master reached the
// replicas, when the store waits for them.
func (s *Store) replicated(ctx context.Context, key string) error {
	if s.replicas == nil {
		return nil
	}
	if err := s.replicas.Write(ctx, key, nil); err != nil {
		return fmt.Errorf("discussions: the record of a mirrored message: %w", err)
	}
	return nil
}

// enqueued waits until the tasks enqueued on queue reached the replicas,
// when the store waits for them. Past the wait the caller must not report
// the work as taken: it answers 503 and the sender tries again.
func (s *Store) enqueued(ctx context.Context, queue string) error {
	if s.replicas == nil {
		return nil
	}
	// asynq keeps each queue's keys under the queue's name as hash tag.
	if err := s.replicas.Write(ctx, "asynq:{"+queue+"}", nil); err != nil {
		return &notReplicatedError{queue: queue, err: err}
	}
	return nil
}

// notReplicatedError is a 503 to the caller, with the cause kept for the
// log.
type notReplicatedError struct {
	queue string
	err   error
}

func (e *notReplicatedError) Error() string {
	return "discussions: the tasks queued on " + e.queue + ": " + e.err.Error()
}

func (e *notReplicatedError) Unwrap() []error {
	return []error{e.err, httpapi.Errorf(http.StatusServiceUnavailable, CodeNotReplicated, "", "the delivery reached no Redis replica in time; retry later")}
}

// NewStore returns the store on rdb.
func NewStore(rdb redis.UniversalClient, keyPrefix string) *Store {
	return &Store{rdb: rdb, prefix: keyPrefix, state: syncstate.New(rdb)}
}

func (s *Store) key(merchant string, parts ...string) string {
	return s.prefix + "dsc:{" + merchant + "}:" + strings.Join(parts, ":")
}

func member(account, thread string) string { return account + ":" + thread }

// ErrNotFound is returned for a discussion the store does not have.
var ErrNotFound = errors.New("discussions: not found")

// Get returns a discussion, or ErrNotFound.
func (s *Store) Get(ctx context.Context, merchant, account, thread string) (Discussion, error) {
	raw, err := s.rdb.Get(ctx, s.key(merchant, "d", account, thread)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Discussion{}, ErrNotFound
	}
	if err != nil {
		return Discussion{}, err
	}
	var d Discussion
	if err := json.Unmarshal(raw, &d); err != nil {
		return Discussion{}, fmt.Errorf("discussions: decode %s/%s: %w", account, thread, err)
	}
	return d, nil
}

// Save writes a discussion and its indexes.
func (s *Store) Save(ctx context.Context, d Discussion) error {
	return s.save(ctx, d, "")
}

// saveOpened records a ticket just opened with the thread's message
// opening, in one transaction: a crash leaves either both or neither, and
// neither makes the next attempt find the same ticket by its external id.
// With replicas, it returns once a replica has it too.
func (s *Store) saveOpened(ctx context.Context, d Discussion, opening string) error {
	if err := s.save(ctx, d, opening); err != nil {
		return err
	}
	return s.replicated(ctx, s.key(d.Merchant, "in", d.Account, d.ThreadID))
}

func (s *Store) save(ctx context.Context, d Discussion, opening string) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if opening != "" {
			p.SAdd(ctx, s.key(d.Merchant, "in", d.Account, d.ThreadID), opening)
		}
		s.put(ctx, p, d, raw)
		return nil
	})
	return err
}

// put queues the writes of a discussion and its indexes: the record, its
// place in the merchant's list, and its ticket's way back to it.
func (s *Store) put(ctx context.Context, p redis.Pipeliner, d Discussion, raw []byte) {
	p.Set(ctx, s.key(d.Merchant, "d", d.Account, d.ThreadID), raw, 0)
	p.ZAdd(ctx, s.key(d.Merchant, "all"), redis.Z{Score: float64(d.UpdatedAt.UnixMilli()), Member: member(d.Account, d.ThreadID)})
	if d.TicketID != "" {
		p.Set(ctx, s.key(d.Merchant, "tk", d.Helpdesk, d.TicketID), member(d.Account, d.ThreadID), 0)
	}
}

// ByTicket returns the discussion a helpdesk ticket mirrors, or ErrNotFound.
func (s *Store) ByTicket(ctx context.Context, merchant, helpdesk, ticket string) (Discussion, error) {
	m, err := s.rdb.Get(ctx, s.key(merchant, "tk", helpdesk, ticket)).Result()
	if errors.Is(err, redis.Nil) {
		return Discussion{}, ErrNotFound
	}
	if err != nil {
		return Discussion{}, err
	}
	account, thread, _ := strings.Cut(m, ":")
	return s.Get(ctx, merchant, account, thread)
}

// All returns every discussion of a merchant, most recently updated first.
func (s *Store) All(ctx context.Context, merchant string) ([]Discussion, error) {
	members, err := s.rdb.ZRevRange(ctx, s.key(merchant, "all"), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, m := range members {
			account, thread, _ := strings.Cut(m, ":")
			p.Get(ctx, s.key(merchant, "d", account, thread))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	out := make([]Discussion, 0, len(cmds))
	for _, c := range cmds {
		raw, err := c.(*redis.StringCmd).Bytes()
		if err != nil {
			continue // removed meanwhile
		}
		var d Discussion
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("discussions: decode: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// recordMessage records a message appended to d's ticket in the inbound
// ledger and counts it on the discussion, in one transaction, and returns
// the discussion as stored. With replicas, it returns once a replica has
// them too: an error then leaves the task to be retried, and the retry
// finds the message in the ledger (on the master) or, after a failover
// that lost it, finds it in the ticket by its external id.
func (s *Store) recordMessage(ctx context.Context, d Discussion, messageID string, inbound bool, at time.Time) (Discussion, error) {
	in := s.key(d.Merchant, "in", d.Account, d.ThreadID)
	out, err := s.updateManyWith(ctx, d.Merchant, []ThreadRef{{Account: d.Account, ThreadID: d.ThreadID}},
		func(cur *Discussion) error { counted(cur, inbound, at); return nil },
		func(p redis.Pipeliner) { p.SAdd(ctx, in, messageID) })
	if err != nil {
		return d, err
	}
	if err := s.replicated(ctx, in); err != nil {
		return out[0], err
	}
	return out[0], nil
}

// pendingReply is a reply being sent to a thread: its text, and a time
// before its send started.
type pendingReply struct {
	Body  string    `json:"body"`
	Since time.Time `json:"since"`
}

// sending holds a thread's replies whose send started and whose outcome
// is not recorded yet, by helpdesk and message id. A send whose answer
// was lost stays there until its task looks again; a sync that meets the
// reply on the marketplace meanwhile takes it as the bridge's own, rather
// than mirror it back into the ticket.
func (s *Store) sending(merchant, account, thread string) string {
	return s.key(merchant, "sending", account, thread)
}

// startSending records that the reply is about to be sent.
func (s *Store) startSending(ctx context.Context, merchant, account, thread, reply string, r pendingReply) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	key := s.sending(merchant, account, thread)
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, reply, raw)
		p.Expire(ctx, key, 7*24*time.Hour)
		return nil
	})
	return err
}

// doneSending records the reply's outcome: the marketplace's id of the
// message it became ("" if none), among the bridge's own.
func (s *Store) doneSending(ctx context.Context, merchant, account, thread, reply, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		if id != "" {
			p.SAdd(ctx, s.own(merchant, account, thread).key, id)
		}
		p.HDel(ctx, s.sending(merchant, account, thread), reply)
		return nil
	})
	return err
}

// pendingReplies reads a thread's replies being sent.
func (s *Store) pendingReplies(ctx context.Context, merchant, account, thread string) ([]pendingReply, error) {
	vals, err := s.rdb.HVals(ctx, s.sending(merchant, account, thread)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]pendingReply, 0, len(vals))
	for _, v := range vals {
		var r pendingReply
		if json.Unmarshal([]byte(v), &r) == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// ledger is a set of ids already handled.
type ledger struct {
	s   *Store
	key string
}

func (s *Store) inbound(merchant, account, thread string) ledger {
	return ledger{s, s.key(merchant, "in", account, thread)}
}

func (s *Store) outbound(merchant, helpdesk, ticket string) ledger {
	return ledger{s, s.key(merchant, "out", helpdesk, ticket)}
}

func (s *Store) own(merchant, account, thread string) ledger {
	return ledger{s, s.key(merchant, "own", account, thread)}
}

// ids reads the whole ledger in one round trip: its holder has the
// thread's lease, so nobody else adds to it meanwhile.
func (l ledger) ids(ctx context.Context) (map[string]bool, error) {
	members, err := l.s.rdb.SMembers(ctx, l.key).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(members))
	for _, m := range members {
		out[m] = true
	}
	return out, nil
}

func (l ledger) add(ctx context.Context, id string) error {
	return l.s.rdb.SAdd(ctx, l.key, id).Err()
}

// Cursor returns the account's sync cursor; zero before the first sync.
func (s *Store) Cursor(ctx context.Context, merchant, account string) (time.Time, error) {
	return s.state.Cursor(ctx, s.key(merchant, "cur", account))
}

// SetCursor moves the cursor forward, never back; the caller holds the
// account's sync lease.
func (s *Store) SetCursor(ctx context.Context, merchant, account string, t time.Time) error {
	return s.state.SetCursor(ctx, s.key(merchant, "cur", account), t)
}

func (s *Store) listingKey(merchant, name string) string { return s.key(merchant, "listing", name) }

// resumeListing returns the listing name had got to, if any; the caller
// holds the account's lease.
func (s *Store) resumeListing(ctx context.Context, merchant, name string) (syncstate.Listing, bool, error) {
	return s.state.ResumeListing(ctx, s.listingKey(merchant, name))
}

func (s *Store) saveListing(ctx context.Context, merchant, name string, l syncstate.Listing) error {
	return s.state.SaveListing(ctx, s.listingKey(merchant, name), l)
}

func (s *Store) endListing(ctx context.Context, merchant, name string) error {
	return s.state.EndListing(ctx, s.listingKey(merchant, name))
}

// lock takes a lease on name for ttl (see syncstate.Store.Lock).
func (s *Store) lock(ctx context.Context, merchant, name string, ttl time.Duration) (unlock func(), ok bool, err error) {
	return s.state.Lock(ctx, s.key(merchant, "lock", name), ttl)
}
