package orders

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 200
)

// scanBudget bounds the orders one List page reads, so that a filter few
// orders match costs a bounded amount per request: the page may then be
// short, even empty, with a cursor to go on from.
const scanBudget = 2000

// scanBatch is how many orders are read from Redis at a time, by List and
// by Export: Export's memory is a batch's, whatever the number of orders.
const scanBatch = 250

// ErrInvalidCursor is a cursor List did not return.
var ErrInvalidCursor = errors.New("orders: invalid cursor")

// Query selects a merchant's orders; a zero field selects them all.
type Query struct {
	// CreatedAfter and CreatedBefore bound the purchase date: from
	// CreatedAfter included to CreatedBefore excluded.
	CreatedAfter, CreatedBefore time.Time
	Marketplace                 string // case-insensitive
	Store                       string
	OrderID                     string
	Status                      string // normalised, one of the Status constants
	MarketplaceStatus           string // case-insensitive
	Email                       string // the customer's, normalised before comparing
	Limit                       int    // DefaultLimit when 0, at most MaxLimit
	Cursor                      string // a previous page's NextCursor
}

// Listed is an order with its customer's email, as the list and export
// show it.
type Listed struct {
	Order
	CustomerEmail string `json:"customer_email"`
}

// Page is one page of orders, most recent purchase first.
type Page struct {
	Orders []Listed `json:"orders"`
	// NextCursor continues the listing; absent on the last page. A page
	// may be short, even empty, while NextCursor is set: see scanBudget.
	NextCursor string `json:"next_cursor,omitempty"`
}

// index records an order in the merchant's index, in the transaction that
// writes it, and keeps the index as long as the longest-lived order: an
// idle merchant's index goes with its last order.
func (s *Store) index(ctx context.Context, p redis.Pipeliner, merchant, member string, createdAt time.Time, ttl time.Duration) {
	p.Eval(ctx, indexScript, []string{s.ordersKey(merchant)}, createdAt.UnixMilli(), member, ttl.Milliseconds())
}

const indexScript = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl <= 0 then
  redis.call('PERSIST', KEYS[1])
elseif redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1`

// afterScript reads the n members that follow a member in the index,
// newest first, in one step so that no write between finding the member
// and reading on shifts the page. It answers nil when the member is gone
// or has moved, for the caller to find its place by score.
var afterScript = redis.NewScript(`
local r = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not r or tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) ~= tonumber(ARGV[2]) then
  return false
end
return redis.call('ZREVRANGE', KEYS[1], r + 1, r + tonumber(ARGV[3]), 'WITHSCORES')`)

// pruneScript drops an index member whose order key is gone (expired),
// unless it came back meanwhile.
var pruneScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('ZREM', KEYS[1], ARGV[1]) end
return 1`)

// position is a place in the index: by purchase date (the score, in ms),
// newest first, and among equal dates by member, descending, as ZREVRANGE
// orders them.
type position struct {
	set    bool // false: before the first order
	score  int64
	member string
}

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

// List returns one page of the merchant's orders that q selects.
func (s *Store) List(ctx context.Context, merchant string, q Query) (Page, error) {
	return s.list(ctx, merchant, q, scanBudget)
}

func (s *Store) list(ctx context.Context, merchant string, q Query, budget int) (Page, error) {
	limit := min(q.Limit, MaxLimit)
	if limit < 1 {
		limit = DefaultLimit
	}
	at, err := decodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	match := newMatcher(q)
	page := Page{Orders: []Listed{}}
	for budget > 0 {
		n := min(scanBatch, budget)
		entries, end, err := s.scan(ctx, merchant, q, at, n)
		if err != nil {
			return Page{}, err
		}
		budget -= n
		for _, e := range entries {
			if e.found && match(e.o) {
				if len(page.Orders) == limit {
					// One more than the page holds: the next page starts
					// with this one.
					page.NextCursor = at.encode()
					return page, nil
				}
				page.Orders = append(page.Orders, e.o)
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

// Each calls fn with every order q selects, most recent purchase first,
// reading scanBatch orders at a time: memory stays that of one batch
// however many orders match. q's Limit and Cursor are ignored. An error
// of fn stops it.
func (s *Store) Each(ctx context.Context, merchant string, q Query, fn func(Listed) error) error {
	match := newMatcher(q)
	var at position
	for {
		entries, end, err := s.scan(ctx, merchant, q, at, scanBatch)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if e.found && match(e.o) {
				if err := fn(e.o); err != nil {
					return err
				}
			}
			at = e.at
		}
		if end {
			return nil
		}
	}
}

// newMatcher is the predicate of q's filters other than dates, which the
// index's scores apply.
func newMatcher(q Query) func(Listed) bool {
	email := NormalizeEmail(q.Email)
	return func(o Listed) bool {
		switch {
		case q.Marketplace != "" && !strings.EqualFold(o.Marketplace, q.Marketplace),
			q.Store != "" && o.Store != q.Store,
			q.OrderID != "" && o.ID != q.OrderID,
			q.Status != "" && o.Status != q.Status,
			q.MarketplaceStatus != "" && !strings.EqualFold(o.MarketplaceStatus, q.MarketplaceStatus),
			email != "" && o.CustomerEmail != email:
			return false
		}
		return true
	}
}

// scanned is one order of the index; found is false for one gone or past
// retention.
type scanned struct {
	at    position
	found bool
	o     Listed
}

// scan reads up to n orders after a position, within q's dates, newest
// first; end reports that none follow.
func (s *Store) scan(ctx context.Context, merchant string, q Query, after position, n int) (entries []scanned, end bool, err error) {
	index := s.ordersKey(merchant)
	zs, end, err := s.readIndex(ctx, index, q, after, n)
	if err != nil {
		return nil, false, err
	}
	for _, z := range zs {
		m, _ := z.Member.(string)
		entries = append(entries, scanned{at: position{set: true, score: int64(z.Score), member: m}})
	}
	if len(entries) == 0 {
		return nil, end, nil
	}
	keys := make([]string, len(entries))
	for i, e := range entries {
		store, order, _ := strings.Cut(e.at.member, ":")
		keys[i] = s.orderKey(merchant, store, order)
	}
	// One MGET: the merchant's keys share a slot.
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, false, fmt.Errorf("orders: read orders: %w", err)
	}
	now := s.now()
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			// Expired: its index member goes too, as a rebuild drops a
			// customer's.
			if err := pruneScript.Run(ctx, s.rdb, []string{index, keys[i]}, entries[i].at.member).Err(); err != nil {
				return nil, false, fmt.Errorf("orders: prune the index: %w", err)
			}
			continue
		}
		agg, err := decodeAggregate([]byte(str))
		if err != nil {
			return nil, false, fmt.Errorf("orders: decode %s: %w", entries[i].at.member, err)
		}
		if agg.Order == nil || !s.retained(agg.lastActivity(), now) {
			continue // past retention: hidden, and gone with its key
		}
		entries[i].o = Listed{Order: agg.view(), CustomerEmail: agg.Order.Email}
		entries[i].found = true
	}
	return entries, end, nil
}

// readIndex reads up to n index entries after a position, within q's
// dates.
func (s *Store) readIndex(ctx context.Context, index string, q Query, after position, n int) (zs []redis.Z, end bool, err error) {
	minScore := "-inf"
	if !q.CreatedAfter.IsZero() {
		minScore = strconv.FormatInt(q.CreatedAfter.UnixMilli(), 10)
	}
	if !after.set {
		maxScore := "+inf"
		if !q.CreatedBefore.IsZero() {
			maxScore = "(" + strconv.FormatInt(q.CreatedBefore.UnixMilli(), 10)
		}
		zs, err = s.rdb.ZRevRangeByScoreWithScores(ctx, index, &redis.ZRangeBy{Max: maxScore, Min: minScore, Count: int64(n)}).Result()
		if err != nil {
			return nil, false, fmt.Errorf("orders: read the index: %w", err)
		}
		return zs, len(zs) < n, nil
	}
	res, err := afterScript.Run(ctx, s.rdb, []string{index}, after.member, after.score, n).Slice()
	switch {
	case err == nil:
		for i := 0; i+1 < len(res); i += 2 {
			m, _ := res[i].(string)
			sc, _ := res[i+1].(string)
			f, _ := strconv.ParseFloat(sc, 64)
			zs = append(zs, redis.Z{Member: m, Score: f})
		}
		end = len(zs) < n
	case errors.Is(err, redis.Nil):
		// The cursor's order is gone: read from its date, past the
		// orders of that millisecond that precede it.
		score := strconv.FormatInt(after.score, 10)
		same, err := s.rdb.ZCount(ctx, index, score, score).Result()
		if err != nil {
			return nil, false, fmt.Errorf("orders: read the index: %w", err)
		}
		want := int64(n) + same
		all, err := s.rdb.ZRevRangeByScoreWithScores(ctx, index, &redis.ZRangeBy{Max: score, Min: "-inf", Count: want}).Result()
		if err != nil {
			return nil, false, fmt.Errorf("orders: read the index: %w", err)
		}
		end = int64(len(all)) < want
		for _, z := range all {
			m, _ := z.Member.(string)
			if int64(z.Score) == after.score && m >= after.member {
				continue
			}
			if len(zs) == n {
				end = false
				break
			}
			zs = append(zs, z)
		}
	default:
		return nil, false, fmt.Errorf("orders: read the index: %w", err)
	}
	// Past the purchase dates asked for: the listing ends there.
	if !q.CreatedAfter.IsZero() {
		min := q.CreatedAfter.UnixMilli()
		for i, z := range zs {
			if int64(z.Score) < min {
				return zs[:i], true, nil
			}
		}
	}
	return zs, end, nil
}
