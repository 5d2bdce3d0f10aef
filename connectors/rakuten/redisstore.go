package rakuten

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// RedisKeep is how long the RedisStore keeps what it keeps after it was
// last written: an item after getiteminfos last read it, a sale, an
// order's stamp and its tracking after they were last seen. Rakuten's
// contact windows close long before (30 days after delivery, a claim's
// life), and a listing reads no further back than its query; a listing
// whose since is older than this finds no item older than this either.
const RedisKeep = 400 * 24 * time.Hour

// RedisStore is a Store on Redis, shared by every replica serving the
// account, so that what getiteminfos marked read survives a crash and is
// seen by the other replicas. Every key of an account is under its hash
// tag (P rak:{<account>}:…), so that an item and its index entry are
// written in one script on a Redis Cluster too:
//
//	P rak:{<account>}:i:<item>      hash: r (ItemRecord JSON), u (update time, ms), n (messages and mails)
//	P rak:{<account>}:idx           sorted set: item → update time (ms)
//	P rak:{<account>}:s:<item>      the item's SaleRef (JSON)
//	P rak:{<account>}:st:<purchase> hash: f (fingerprint), a (first seen, ns)
//	P rak:{<account>}:tr:<purchase> the purchase's tracking (JSON)
//
// Growth is bounded: every key expires RedisKeep after its last write, and
// each item write trims the index of entries older than RedisKeep.
type RedisStore struct {
	rdb  redis.UniversalClient
	base string
	now  func() time.Time
}

var _ Store = (*RedisStore)(nil)

// NewRedisStore returns the store of account on rdb; now is the clock
// (nil: time.Now).
func NewRedisStore(rdb redis.UniversalClient, keyPrefix, account string, now func() time.Time) *RedisStore {
	if now == nil {
		now = time.Now
	}
	return &RedisStore{rdb: rdb, base: keyPrefix + "rak:{" + account + "}:", now: now}
}

func (s *RedisStore) itemKey(id string) string         { return s.base + "i:" + id }
func (s *RedisStore) idxKey() string                   { return s.base + "idx" }
func (s *RedisStore) saleKey(id string) string         { return s.base + "s:" + id }
func (s *RedisStore) stampKey(id string) string        { return s.base + "st:" + id }
func (s *RedisStore) trackingKey(id string) string     { return s.base + "tr:" + id }
func (s *RedisStore) readingKey() string               { return s.base + "reading" }
func (s *RedisStore) keepMillis() int64                { return RedisKeep.Milliseconds() }
func (s *RedisStore) oldestMillis(now time.Time) int64 { return now.Add(-RedisKeep).UnixMilli() }

// saveItem writes an item and its index entry together, unless the stored
// copy is newer: two replicas reading the same item, the slower one
// saving last, must not put back a copy without the message the faster
// one read (and getiteminfos marked read). Newer means a later update
// time, or the same minute with more messages and mails.
var saveItem = redis.NewScript(`
local u = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local old = redis.call('HMGET', KEYS[1], 'u', 'n')
if old[1] and (tonumber(old[1]) > u or (tonumber(old[1]) == u and tonumber(old[2]) > n)) then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return 0
end
redis.call('HSET', KEYS[1], 'r', ARGV[1], 'u', ARGV[2], 'n', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], u, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return 1
`)

func (s *RedisStore) SaveItem(ctx context.Context, r ItemRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("rakuten store: %w", err)
	}
	n := len(r.Info.Messages) + len(r.Info.Mails)
	err = saveItem.Run(ctx, s.rdb, []string{s.itemKey(r.ItemID), s.idxKey()},
		b, r.UpdatedAt.UnixMilli(), n, r.ItemID, s.keepMillis(), s.oldestMillis(s.now())).Err()
	if err != nil {
		return fmt.Errorf("rakuten store: save item: %w", err)
	}
	return nil
}

func (s *RedisStore) ItemsSince(ctx context.Context, since time.Time) ([]ItemRecord, error) {
	ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.idxKey(), Start: strconv.FormatInt(since.UnixMilli(), 10), Stop: "+inf", ByScore: true}).Result()
	if err != nil {
		return nil, fmt.Errorf("rakuten store: items: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGet(ctx, s.itemKey(id), "r")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("rakuten store: items: %w", err)
	}
	out := make([]ItemRecord, 0, len(ids))
	for _, c := range cmds {
		b, err := c.Bytes()
		if errors.Is(err, redis.Nil) {
			continue // expired; its index entry goes with the next trim
		}
		if err != nil {
			return nil, fmt.Errorf("rakuten store: items: %w", err)
		}
		var r ItemRecord
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("rakuten store: items: %w", err)
		}
		if !r.UpdatedAt.Before(since) {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b ItemRecord) int { return a.UpdatedAt.Compare(b.UpdatedAt) })
	return out, nil
}

func (s *RedisStore) SaveSales(ctx context.Context, refs []SaleRef) error {
	if len(refs) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, r := range refs {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			p.Set(ctx, s.saleKey(r.ItemID), b, RedisKeep)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rakuten store: save sales: %w", err)
	}
	return nil
}

func (s *RedisStore) Sale(ctx context.Context, itemID string) (SaleRef, bool, error) {
	var r SaleRef
	ok, err := s.getJSON(ctx, s.saleKey(itemID), &r)
	return r, ok, err
}

// stampOrder keeps a purchase's first-seen time for as long as its
// fingerprint stays, in one step: two replicas seeing the same change
// agree on one time, and a read older than the stamp of another
// fingerprint records nothing (see Store.StampOrder). Times are
// nanoseconds as strings of the same length (until 2286), so that Lua
// compares them as strings without rounding.
var stampOrder = redis.NewScript(`
local old = redis.call('HMGET', KEYS[1], 'f', 'a')
if old[1] == ARGV[1] and old[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return old[2]
end
if old[2] and string.len(old[2]) == string.len(ARGV[2]) and old[2] > ARGV[2] then
  return ARGV[2]
end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'a', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return ARGV[2]
`)

func (s *RedisStore) StampOrder(ctx context.Context, purchaseID, fingerprint string, now time.Time) (time.Time, error) {
	// Nanoseconds as a string: a Lua number would round them.
	ns, err := stampOrder.Run(ctx, s.rdb, []string{s.stampKey(purchaseID)}, fingerprint, strconv.FormatInt(now.UnixNano(), 10), s.keepMillis()).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("rakuten store: stamp order: %w", err)
	}
	if ns == now.UnixNano() {
		return now, nil
	}
	return time.Unix(0, ns).UTC(), nil
}

func (s *RedisStore) SaveTracking(ctx context.Context, purchaseID string, t connectors.Tracking) error {
	b, err := json.Marshal(t)
	if err == nil {
		err = s.rdb.Set(ctx, s.trackingKey(purchaseID), b, RedisKeep).Err()
	}
	if err != nil {
		return fmt.Errorf("rakuten store: save tracking: %w", err)
	}
	return nil
}

func (s *RedisStore) Tracking(ctx context.Context, purchaseID string) (connectors.Tracking, bool, error) {
	var t connectors.Tracking
	ok, err := s.getJSON(ctx, s.trackingKey(purchaseID), &t)
	return t, ok, err
}

func (s *RedisStore) getJSON(ctx context.Context, key string, v any) (bool, error) {
	b, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return false, fmt.Errorf("rakuten store: %w", err)
	}
	return true, nil
}

// Reading notes the item in a sorted set by when it was first noted (NX:
// a note a lost answer left keeps its age).
func (s *RedisStore) Reading(ctx context.Context, itemID string, now time.Time) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAddNX(ctx, s.readingKey(), redis.Z{Score: float64(now.UnixMilli()), Member: itemID})
		p.PExpire(ctx, s.readingKey(), RedisKeep)
		return nil
	})
	return err
}

func (s *RedisStore) Read(ctx context.Context, itemID string) error {
	return s.rdb.ZRem(ctx, s.readingKey(), itemID).Err()
}

func (s *RedisStore) Unread(ctx context.Context, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	return s.rdb.ZRange(ctx, s.readingKey(), 0, int64(n)-1).Result()
}
