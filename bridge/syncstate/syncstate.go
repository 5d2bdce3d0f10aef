// Package syncstate keeps where a feature's periodic sync of an external
// account has got to: a lease, so that one replica syncs an account at a
// time; a cursor, the newest update the account has been read up to; and
// a listing, the page a paginated listing reached, so that a listing that
// stops part-way (its account's budget spent, its process killed) resumes
// there instead of starting again. Each feature names its own keys.
package syncstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store reads and writes sync state in Redis.
type Store struct{ rdb redis.UniversalClient }

// New returns a Store on rdb.
func New(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// unlockScript releases a lock only if it is still ours; renewScript
// extends it only if it is still ours.
var (
	unlockScript = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`)
	renewScript  = redis.NewScript(`if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`)
)

// Lock takes a lease on key for ttl; ok is false when another holder has
// it. While held, the lease is renewed every third of ttl, so that a long
// task keeps it; if its holder dies, it runs out within ttl.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), ok bool, err error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err = s.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil || !ok {
		return func() {}, false, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(ttl / 3)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = renewScript.Run(context.WithoutCancel(ctx), s.rdb, []string{key}, token, ttl.Milliseconds()).Err()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		_ = unlockScript.Run(context.WithoutCancel(ctx), s.rdb, []string{key}, token).Err()
	}, true, nil
}

// Cursor returns the time stored at key; zero before the first sync.
func (s *Store) Cursor(ctx context.Context, key string) (time.Time, error) {
	v, err := s.rdb.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, v)
}

// SetCursor moves the cursor at key forward, never back. The caller holds
// the account's lease, so nobody writes the cursor between the read and
// the write.
func (s *Store) SetCursor(ctx context.Context, key string, t time.Time) error {
	cur, err := s.Cursor(ctx, key)
	if err != nil {
		return err
	}
	if !t.After(cur) {
		return nil
	}
	return s.rdb.Set(ctx, key, t.UTC().Format(time.RFC3339Nano), 0).Err()
}

// Listing is where a paginated listing had got to.
type Listing struct {
	Since     time.Time `json:"since"`      // what the listing asked for
	PageToken string    `json:"page_token"` // the next page
	Newest    time.Time `json:"newest"`     // the newest update listed so far
	Queue     string    `json:"queue,omitempty"`
}

// ListingTTL bounds how long a listing can be resumed: a marketplace's
// page tokens may not last (UNVERIFIED for Mirakl: an hour is taken as the
// conservative side), and a listing older than that starts again.
const ListingTTL = time.Hour

// ResumeListing returns the listing stored at key, if any. The caller
// holds the account's lease.
func (s *Store) ResumeListing(ctx context.Context, key string) (Listing, bool, error) {
	raw, err := s.rdb.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return Listing{}, false, nil
	}
	if err != nil {
		return Listing{}, false, err
	}
	var l Listing
	if err := json.Unmarshal(raw, &l); err != nil || l.PageToken == "" {
		return Listing{}, false, nil // unreadable: list from the start
	}
	return l, true, nil
}

// SaveListing records that the listing at key reached l.PageToken.
func (s *Store) SaveListing(ctx context.Context, key string, l Listing) error {
	raw, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return s.rdb.Set(ctx, key, raw, ListingTTL).Err()
}

// EndListing forgets a listing that completed, or whose page token the
// marketplace refused.
func (s *Store) EndListing(ctx context.Context, key string) error {
	return s.rdb.Del(ctx, key).Err()
}
