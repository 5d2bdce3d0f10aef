package discussions

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// MaxStatusChange is how many discussions one SetStatus changes at most.
const MaxStatusChange = 100

// MaxMerchantTicketID is the longest merchant ticket id, in characters.
const MaxMerchantTicketID = 255

// scanBudget bounds the discussions one List page reads, so that a filter
// few discussions match costs a bounded amount per request: the page may
// then be short, with a cursor to go on from.
const scanBudget = 2000

// scanBatch is how many discussions List reads from Redis at a time.
const scanBatch = 250

// Errors of the discussion API's operations.
var (
	ErrInvalidCursor           = errors.New("discussions: invalid cursor")
	ErrInvalidStatus           = errors.New("discussions: invalid status")
	ErrInvalidMerchantTicketID = errors.New("discussions: invalid merchant ticket id")
	// ErrContended is an update that kept losing to concurrent writes of
	// the same discussions; the caller may try again.
	ErrContended = fmt.Errorf("discussions: too many concurrent updates: %w", connectors.ErrUnavailable)
)

// ThreadRef names one discussion of a merchant.
type ThreadRef struct {
	Account  string `json:"account"`
	ThreadID string `json:"thread_id"`
}

// MissingError is a discussion, among several asked for, that the merchant
// does not have.
type MissingError struct {
	Index int // in the list asked for
	Ref   ThreadRef
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("discussions: discussion %d (%s/%s) not found", e.Index, e.Ref.Account, e.Ref.ThreadID)
}

func (e *MissingError) Unwrap() error { return ErrNotFound }

// Query selects a merchant's discussions; a zero field selects them all.
// Text fields match case-insensitively.
type Query struct {
	Type        string   // order, product or other
	Marketplace string   // the marketplace's name, e.g. carrefour
	Statuses    []string // any of these
	Read        *bool
	OrderID     string // the order an order thread is about, exactly
	// Participant is contained in a participant's display name, the
	// customer's name or the customer's email.
	Participant string
	Subject     string // contained in the subject
	Limit       int    // DefaultLimit when 0, at most MaxLimit
	Cursor      string // a previous page's NextCursor
}

// Page is one page of discussions, most recently updated first.
type Page struct {
	Discussions []Discussion `json:"discussions"`
	// NextCursor continues the listing; absent on the last page. A page
	// may be short, even empty, while NextCursor is set: see scanBudget.
	NextCursor string `json:"next_cursor,omitempty"`
}

// List returns one page of the merchant's discussions that q selects.
// Pages follow the discussions' update times; a discussion updated while
// a client pages through moves to the front, where a new listing finds it.
func (s *Service) List(ctx context.Context, merchant string, q Query) (Page, error) {
	return s.list(ctx, merchant, q, scanBudget)
}

func (s *Service) list(ctx context.Context, merchant string, q Query, budget int) (Page, error) {
	limit := min(q.Limit, MaxLimit)
	if limit < 1 {
		limit = DefaultLimit
	}
	from, err := decodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	match := newMatcher(q)
	page := Page{Discussions: []Discussion{}}
	// at is the last position considered: the next page starts after it.
	at := from
	for budget > 0 {
		n := min(scanBatch, budget)
		entries, end, err := s.o.Store.scan(ctx, merchant, at, n)
		if err != nil {
			return Page{}, err
		}
		budget -= n
		for _, e := range entries {
			if e.found && match(e.d) {
				if len(page.Discussions) == limit {
					// One more than the page holds: there is a next page,
					// and it starts with this one.
					page.NextCursor = at.encode()
					return page, nil
				}
				page.Discussions = append(page.Discussions, presentable(e.d))
			}
			at = e.at
		}
		if end {
			return page, nil
		}
	}
	page.NextCursor = at.encode()
	return page, nil
}

// newMatcher returns the predicate of q, with its texts lower-cased once.
func newMatcher(q Query) func(Discussion) bool {
	participant, subject := strings.ToLower(q.Participant), strings.ToLower(q.Subject)
	return func(d Discussion) bool {
		switch {
		case q.Type != "" && d.Type != q.Type,
			q.Marketplace != "" && !strings.EqualFold(d.Marketplace, q.Marketplace),
			len(q.Statuses) > 0 && !slices.Contains(q.Statuses, d.Status),
			q.Read != nil && d.Read != *q.Read,
			q.OrderID != "" && (d.Type != connectors.EntityOrder || d.EntityID != q.OrderID),
			subject != "" && !containsLower(d.Subject, subject):
			return false
		case participant == "":
			return true
		}
		return containsLower(d.CustomerEmail, participant) || containsLower(d.CustomerName, participant) ||
			slices.ContainsFunc(d.Participants, func(name string) bool { return containsLower(name, participant) })
	}
}

// containsLower tells whether s contains sub, which is lower-case already,
// ignoring case.
func containsLower(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

// presentable gives every list a JSON array, never null.
func presentable(d Discussion) Discussion {
	if d.Participants == nil {
		d.Participants = []string{}
	}
	return d
}

// Discussion returns one of the merchant's discussions, or ErrNotFound.
func (s *Service) Discussion(ctx context.Context, merchant, account, thread string) (Discussion, error) {
	d, err := s.o.Store.Get(ctx, merchant, account, thread)
	return presentable(d), err
}

// SetStatus changes the status of discussions, all or none: when one of
// them is unknown, a *MissingError names it and nothing changes.
func (s *Service) SetStatus(ctx context.Context, merchant string, refs []ThreadRef, status string) ([]Discussion, error) {
	if !slices.Contains([]string{StatusOpen, StatusPending, StatusSolved, StatusClosed}, status) {
		return nil, ErrInvalidStatus
	}
	now := s.o.Now()
	out, err := s.o.Store.updateMany(ctx, merchant, refs, func(d *Discussion) error {
		d.Status, d.StatusAt = status, now
		return nil
	})
	for i := range out {
		out[i] = presentable(out[i])
	}
	return out, err
}

// SetRead marks a discussion read or unread.
func (s *Service) SetRead(ctx context.Context, merchant, account, thread string, read bool) (Discussion, error) {
	d, err := s.o.Store.Update(ctx, merchant, account, thread, func(d *Discussion) error {
		d.Read = read
		return nil
	})
	return presentable(d), err
}

// SetMerchantTicketID records the ticket id an integrator assigned to a
// discussion, as Mirakl's assignMerchantDiscussionId does. Mirroring keeps
// using the bridge's own ticket (TicketID) and never overwrites it.
func (s *Service) SetMerchantTicketID(ctx context.Context, merchant, account, thread, id string) (Discussion, error) {
	if !validMerchantTicketID(id) {
		return Discussion{}, ErrInvalidMerchantTicketID
	}
	d, err := s.o.Store.Update(ctx, merchant, account, thread, func(d *Discussion) error {
		d.MerchantTicketID = id
		return nil
	})
	return presentable(d), err
}

// validMerchantTicketID: 1 to MaxMerchantTicketID printable characters.
func validMerchantTicketID(id string) bool {
	n := utf8.RuneCountInString(id)
	if n == 0 || n > MaxMerchantTicketID || !utf8.ValidString(id) {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool { return !unicode.IsPrint(r) })
}

// Resync fetches one thread afresh from the marketplace and enqueues its
// mirror. The task's id is new each time, unlike a sync's, which derive
// from the thread's update and would find the task done already.
func (s *Service) Resync(ctx context.Context, merchant, account, thread string) error {
	a, err := s.account(merchant, account)
	if err != nil {
		return err
	}
	t, err := a.mp.GetThread(ctx, thread)
	if err != nil {
		return fmt.Errorf("discussions: fetch thread %s of %s: %w", thread, account, err)
	}
	payload, err := json.Marshal(MirrorPayload{Merchant: merchant, Account: account, Thread: t})
	if err != nil {
		return fmt.Errorf("discussions: mirror task: %w", err)
	}
	task := asynq.NewTask(TypeMirror, payload, asynq.Queue(s.o.Shards.Queue(Queue, account)))
	id := asynq.TaskID("discussion-resync-" + strings.ToLower(rand.Text()))
	if _, err := s.o.Queue.EnqueueContext(ctx, task, id, asynq.MaxRetry(s.o.Config.Worker.MaxRetry)); err != nil {
		return fmt.Errorf("discussions: enqueue the resync of thread %s: %w: %w", thread, httpapi.ErrStoreUnavailable, err)
	}
	return nil
}

// resyncCollapse is how long a forced sync's id stays taken once the sync
// ran, so that the clicks of the same minute enqueue it once.
const resyncCollapse = time.Minute

// ResyncAccount enqueues an immediate sync of an account; a full one
// reads the whole backfill window again, as bulk work. Its task id names
// the minute, so repeated requests within a minute enqueue one sync:
// enqueued is false for those. The sync's own lease keeps it from running
// alongside the periodic one.
func (s *Service) ResyncAccount(ctx context.Context, merchant, account string, full bool) (enqueued bool, err error) {
	if _, err := s.account(merchant, account); err != nil {
		return false, err
	}
	minute := s.o.Now().UTC().Truncate(time.Minute).Format("200601021504")
	task := NewSyncTask(SyncPayload{Merchant: merchant, Account: account, Full: full}, s.o.Shards)
	kind := "now"
	if full {
		kind = "full"
	}
	_, err = s.o.Queue.EnqueueContext(ctx, task, asynq.TaskID("discussion-sync-"+kind+"-"+merchant+"-"+account+"-"+minute),
		asynq.MaxRetry(s.o.Config.Worker.MaxRetry), asynq.Retention(resyncCollapse))
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict), errors.Is(err, asynq.ErrDuplicateTask):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("discussions: enqueue the sync of %s: %w: %w", account, httpapi.ErrStoreUnavailable, err)
	}
	return true, nil
}

// maxUpdateAttempts bounds the retries of an update that keeps losing
// its optimistic lock.
const maxUpdateAttempts = 20

// Update changes one discussion with fn in a read-modify-write that no
// concurrent write of the discussion can interleave with: the key is
// WATCHed, and the write is retried from a fresh read when it changed
// meanwhile, so fn may run several times. It returns the discussion as
// written, or ErrNotFound; fn's error aborts without writing.
//
// A writer that does Get and then Save instead (Reply does, under the
// thread's lease) overwrites whatever Update wrote in between. Mirror
// writes its result with Update, keeping what the API set meanwhile.
func (s *Store) Update(ctx context.Context, merchant, account, thread string, fn func(*Discussion) error) (Discussion, error) {
	out, err := s.updateMany(ctx, merchant, []ThreadRef{{Account: account, ThreadID: thread}}, fn)
	var missing *MissingError
	if errors.As(err, &missing) {
		return Discussion{}, ErrNotFound
	}
	if err != nil {
		return Discussion{}, err
	}
	return out[0], nil
}

// updateMany is Update over several discussions in one transaction: all
// of them change, or none does. Their keys share the merchant's hash tag,
// so this holds on Redis Cluster too.
func (s *Store) updateMany(ctx context.Context, merchant string, refs []ThreadRef, fn func(*Discussion) error) ([]Discussion, error) {
	return s.updateManyWith(ctx, merchant, refs, fn, nil)
}

// updateManyWith is updateMany with more writes in the same transaction.
func (s *Store) updateManyWith(ctx context.Context, merchant string, refs []ThreadRef, fn func(*Discussion) error, also func(redis.Pipeliner)) ([]Discussion, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	keys := make([]string, len(refs))
	for i, r := range refs {
		keys[i] = s.key(merchant, "d", r.Account, r.ThreadID)
	}
	var out []Discussion
	txn := func(tx *redis.Tx) error {
		out = out[:0]
		raws, err := tx.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		for i, raw := range raws {
			str, ok := raw.(string)
			if !ok {
				return &MissingError{Index: i, Ref: refs[i]}
			}
			var d Discussion
			if err := json.Unmarshal([]byte(str), &d); err != nil {
				return fmt.Errorf("discussions: decode %s/%s: %w", refs[i].Account, refs[i].ThreadID, err)
			}
			before := member(d.Account, d.ThreadID)
			if err := fn(&d); err != nil {
				return err
			}
			if d.Merchant != merchant || member(d.Account, d.ThreadID) != before {
				return fmt.Errorf("discussions: an update may not move %s/%s", refs[i].Account, refs[i].ThreadID)
			}
			out = append(out, d)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, d := range out {
				raw, err := json.Marshal(d)
				if err != nil {
					return err
				}
				// With the indexes, in case fn changed what they hold.
				s.put(ctx, p, d, raw)
			}
			if also != nil {
				also(p)
			}
			return nil
		})
		return err
	}
	for attempt := range maxUpdateAttempts {
		err := s.rdb.Watch(ctx, txn, keys...)
		if !errors.Is(err, redis.TxFailedErr) {
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		// Lost to a concurrent write: read again after a short, jittered
		// pause, so that contenders do not collide again in step.
		pause := time.Duration(1+attempt) * time.Millisecond * time.Duration(1+mrand.IntN(4))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(pause):
		}
	}
	return nil, ErrContended
}

// position is a place in a merchant's discussions as List walks them:
// by update time (the index's score, in milliseconds), newest first, and
// among equal times by member, descending, as ZREVRANGE orders them.
type position struct {
	set    bool // false: before the first discussion
	score  int64
	member string
}

// encode makes the position an opaque cursor; "" before the first
// discussion.
func (p position) encode() string {
	if !p.set {
		return ""
	}
	return httpapi.EncodeCursor(p.score, p.member)
}

func decodeCursor(c string) (position, error) {
	if c == "" {
		return position{}, nil
	}
	score, member, err := httpapi.DecodeCursor(c)
	if err != nil {
		return position{}, ErrInvalidCursor
	}
	return position{set: true, score: score, member: member}, nil
}

// scanned is one discussion of the index; found is false for one removed
// since.
type scanned struct {
	at    position
	found bool
	d     Discussion
}

// scan reads up to n discussions after a position, newest first; end
// reports that none follow.
func (s *Store) scan(ctx context.Context, merchant string, after position, n int) (entries []scanned, end bool, err error) {
	index := s.key(merchant, "all")
	var zs []redis.Z
	want := int64(n)
	if !after.set {
		zs, err = s.rdb.ZRevRangeByScoreWithScores(ctx, index, &redis.ZRangeBy{Max: "+inf", Min: "-inf", Count: want}).Result()
	} else {
		// The discussions of after's own millisecond come first, those
		// at or before its member included: read past them.
		score := strconv.FormatInt(after.score, 10)
		var same int64
		if same, err = s.rdb.ZCount(ctx, index, score, score).Result(); err != nil {
			return nil, false, err
		}
		want += same
		zs, err = s.rdb.ZRevRangeByScoreWithScores(ctx, index, &redis.ZRangeBy{Max: score, Min: "-inf", Count: want}).Result()
	}
	if err != nil {
		return nil, false, err
	}
	end = int64(len(zs)) < want
	for _, z := range zs {
		m, _ := z.Member.(string)
		p := position{set: true, score: int64(z.Score), member: m}
		if after.set && p.score == after.score && p.member >= after.member {
			continue
		}
		if len(entries) == n {
			end = false
			break
		}
		entries = append(entries, scanned{at: p})
	}
	if len(entries) == 0 {
		return nil, end, nil
	}
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, e := range entries {
			account, thread, _ := strings.Cut(e.at.member, ":")
			p.Get(ctx, s.key(merchant, "d", account, thread))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, false, err
	}
	for i, c := range cmds {
		raw, err := c.(*redis.StringCmd).Bytes()
		if errors.Is(err, redis.Nil) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, false, err
		}
		if err := json.Unmarshal(raw, &entries[i].d); err != nil {
			return nil, false, fmt.Errorf("discussions: decode %s: %w", entries[i].at.member, err)
		}
		entries[i].found = true
	}
	return entries, end, nil
}
