package email

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/email/imapbox"
)

// How long the store keeps what it keeps.
const (
	// seenKeep is how long a mail's key stays taken once stored: a mail
	// fetched again within it (a crash before the cursor moved, a second
	// replica, a UIDVALIDITY change) is not stored twice.
	seenKeep = 400 * 24 * time.Hour
	// fileKeep is how long an attachment's content stays downloadable:
	// mirroring copies it to the helpdesk long before.
	fileKeep = 30 * 24 * time.Hour
	// maxReferences bounds a thread's References chain.
	maxReferences = 20
	// maxUnmatched bounds the unmatched mail kept for an admin.
	maxUnmatched = 1000
	// maxAttempts bounds the optimistic retries of one write.
	maxAttempts = 50
)

// Store keeps one mailbox account's threads in Redis, every key under the
// account's hash tag (P mail:{<account>}:…), so that a mail's message,
// its thread and its indexes are written in one transaction.
type Store struct {
	rdb     redis.UniversalClient
	base    string
	account string
	now     func() time.Time
}

// NewStore returns the store of account's threads on rdb.
func NewStore(rdb redis.UniversalClient, keyPrefix, account string, now func() time.Time) *Store {
	return &Store{rdb: rdb, base: keyPrefix + "mail:{" + account + "}:", account: account, now: now}
}

func (s *Store) threadKey(tid string) string { return s.base + "t:" + tid }
func (s *Store) msgsKey(tid string) string   { return s.base + "m:" + tid }
func (s *Store) idxKey() string              { return s.base + "idx" }
func (s *Store) seenKey(k string) string     { return s.base + "s:" + k }
func (s *Store) midKey(id string) string     { return s.base + "id:" + digest(id) }
func (s *Store) orderKey(id string) string   { return s.base + "o:" + digest(id) }
func (s *Store) fileKey(id string) string    { return s.base + "f:" + id }
func (s *Store) cursorKey() string           { return s.base + "cur" }
func (s *Store) unmatchedKey() string        { return s.base + "unmatched" }
func (s *Store) unmatchedCountKey() string   { return s.base + "unmatched:n" }

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// threadRecord is a thread as stored.
type threadRecord struct {
	ID           string    `json:"id"`
	Key          string    `json:"key"`
	Topic        string    `json:"topic"`
	OrderID      string    `json:"order_id,omitempty"`
	CaseID       string    `json:"case_id,omitempty"`
	Marketplace  string    `json:"marketplace,omitempty"`
	Alias        string    `json:"alias,omitempty"`
	ReplyTo      string    `json:"reply_to,omitempty"`
	CustomerName string    `json:"customer_name,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// LastInbound and References thread a reply: In-Reply-To the buyer's
	// latest mail, References the chain so far.
	LastInbound string   `json:"last_inbound,omitempty"`
	References  []string `json:"references,omitempty"`
}

// messageRecord is one message as stored.
type messageRecord struct {
	ID          string                      `json:"id"`
	MessageID   string                      `json:"message_id,omitempty"` // the mail's Message-ID header
	Body        string                      `json:"body"`
	CreatedAt   time.Time                   `json:"created_at"`
	From        partyRecord                 `json:"from"`
	Attachments []connectors.AttachmentMeta `json:"attachments,omitempty"`
	// Uncertain marks a reply whose sending may or may not have reached
	// the relay: it is kept, so that a retry does not send it twice.
	Uncertain bool `json:"uncertain,omitempty"`
}

type partyRecord struct {
	Type connectors.PartyType `json:"type"`
	ID   string               `json:"id,omitempty"`
	Name string               `json:"name,omitempty"`
}

// file is an attachment's content and how to name it.
type file struct {
	ID          string
	Name        string
	ContentType string
	Data        []byte
}

// addition is one message to add to a thread, with what indexes it.
type addition struct {
	// Seen is the mail's dedupe key; "" for a message that is not a mail
	// read from the mailbox (a reply the bridge sent).
	Seen string
	TID  string
	// Create makes the thread when it is new; nil adds only to an
	// existing thread (ErrNotFound otherwise).
	Create func() threadRecord
	// Update edits the thread (new or existing) for this message.
	Update  func(*threadRecord)
	Message messageRecord
	Files   []file
	OrderID string
}

// errSeen is a mail already stored.
var errSeen = errors.New("email: mail already stored")

// add stores one message in its thread, once. It reports errSeen for a
// mail stored before, and connectors.ErrNotFound for a message whose
// thread does not exist and may not be created.
func (s *Store) add(ctx context.Context, a addition) error {
	tkey := s.threadKey(a.TID)
	keys := []string{tkey}
	if a.Seen != "" {
		keys = append(keys, s.seenKey(a.Seen))
	}
	for range maxAttempts {
		var refused error
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			if a.Seen != "" {
				n, err := tx.Exists(ctx, s.seenKey(a.Seen)).Result()
				if err != nil {
					return err
				}
				if n > 0 {
					refused = errSeen
					return nil
				}
			}
			t, err := s.readThread(ctx, tx, a.TID)
			switch {
			case errors.Is(err, connectors.ErrNotFound) && a.Create != nil:
				nt := a.Create()
				t = &nt
			case err != nil:
				refused = err
				return nil
			}
			a.Update(t)
			tb, _ := json.Marshal(t)
			mb, _ := json.Marshal(a.Message)
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, tkey, tb, 0)
				p.RPush(ctx, s.msgsKey(a.TID), mb)
				p.ZAdd(ctx, s.idxKey(), redis.Z{Score: float64(t.UpdatedAt.UnixMilli()), Member: a.TID})
				if a.Seen != "" {
					p.Set(ctx, s.seenKey(a.Seen), a.Message.ID, seenKeep)
				}
				if a.Message.MessageID != "" {
					p.Set(ctx, s.midKey(a.Message.MessageID), a.TID, seenKeep)
				}
				if a.OrderID != "" {
					p.Set(ctx, s.orderKey(a.OrderID), a.TID, seenKeep)
				}
				for _, f := range a.Files {
					p.HSet(ctx, s.fileKey(f.ID), "n", f.Name, "t", f.ContentType, "d", f.Data)
					p.Expire(ctx, s.fileKey(f.ID), fileKeep)
				}
				return nil
			})
			return err
		}, keys...)
		switch {
		case err == nil:
			return refused
		case errors.Is(err, redis.TxFailedErr):
			continue
		default:
			return fmt.Errorf("email: store a message of thread %s: %w", a.TID, err)
		}
	}
	return fmt.Errorf("email: store a message of thread %s: still conflicting after %d attempts", a.TID, maxAttempts)
}

// markSeen records a mail that becomes no message (unmatched, or a copy
// of nothing the store has), with its line for the admin, once. Both are
// written in one transaction: a mail marked seen without its line would
// never be listed, as reading it again finds it seen.
func (s *Store) markSeen(ctx context.Context, seen string, u UnmatchedMail) error {
	b, _ := json.Marshal(u)
	key := s.seenKey(seen)
	for range maxAttempts {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			n, err := tx.Exists(ctx, key).Result()
			if err != nil || n > 0 {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, "-", seenKeep)
				p.LPush(ctx, s.unmatchedKey(), b)
				p.LTrim(ctx, s.unmatchedKey(), 0, maxUnmatched-1)
				p.Incr(ctx, s.unmatchedCountKey())
				return nil
			})
			return err
		}, key)
		if !errors.Is(err, redis.TxFailedErr) {
			return err
		}
	}
	return fmt.Errorf("email: record an unmatched mail: still conflicting after %d attempts", maxAttempts)
}

// UnmatchedCount is how many mails became no message since the account
// began, beyond the latest ones Unmatched keeps.
func (s *Store) UnmatchedCount(ctx context.Context) (int64, error) {
	n, err := s.rdb.Get(ctx, s.unmatchedCountKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// UnmatchedMail is a mail that became no message, as an admin sees it.
type UnmatchedMail struct {
	At      time.Time `json:"at"`
	From    string    `json:"from,omitempty"`
	Subject string    `json:"subject,omitempty"`
	Reason  string    `json:"reason"`
}

// Unmatched lists the latest mail that became no message, newest first.
func (s *Store) Unmatched(ctx context.Context, n int) ([]UnmatchedMail, error) {
	raws, err := s.rdb.LRange(ctx, s.unmatchedKey(), 0, int64(n)-1).Result()
	if err != nil {
		return nil, err
	}
	out := make([]UnmatchedMail, 0, len(raws))
	for _, r := range raws {
		var u UnmatchedMail
		if json.Unmarshal([]byte(r), &u) == nil {
			out = append(out, u)
		}
	}
	return out, nil
}

func (s *Store) readThread(ctx context.Context, c redis.Cmdable, tid string) (*threadRecord, error) {
	raw, err := c.Get(ctx, s.threadKey(tid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("email: thread %s: %w", tid, connectors.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("email: read thread %s: %w", tid, err)
	}
	var t threadRecord
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("email: decode thread %s: %w", tid, err)
	}
	return &t, nil
}

// thread reads a thread with its messages.
func (s *Store) thread(ctx context.Context, tid string) (*threadRecord, []messageRecord, error) {
	var tc *redis.StringCmd
	var mc *redis.StringSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		tc = p.Get(ctx, s.threadKey(tid))
		mc = p.LRange(ctx, s.msgsKey(tid), 0, -1)
		return nil
	})
	if errors.Is(tc.Err(), redis.Nil) {
		return nil, nil, fmt.Errorf("email: thread %s: %w", tid, connectors.ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("email: read thread %s: %w", tid, err)
	}
	var t threadRecord
	if err := json.Unmarshal([]byte(tc.Val()), &t); err != nil {
		return nil, nil, fmt.Errorf("email: decode thread %s: %w", tid, err)
	}
	msgs := make([]messageRecord, 0, len(mc.Val()))
	for _, raw := range mc.Val() {
		var m messageRecord
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, nil, fmt.Errorf("email: decode a message of thread %s: %w", tid, err)
		}
		msgs = append(msgs, m)
	}
	return &t, msgs, nil
}

// threadOf finds the thread a Message-ID or an order id belongs to, "" if
// none.
func (s *Store) threadOf(ctx context.Context, messageID, orderID string) (string, error) {
	for _, k := range []struct{ key, v string }{{s.midKey(messageID), messageID}, {s.orderKey(orderID), orderID}} {
		if k.v == "" {
			continue
		}
		tid, err := s.rdb.Get(ctx, k.key).Result()
		if err == nil {
			return tid, nil
		}
		if !errors.Is(err, redis.Nil) {
			return "", err
		}
	}
	return "", nil
}

// page reads the ids of the threads updated at or after since, oldest
// update first, after a position.
func (s *Store) page(ctx context.Context, since time.Time, after string, n int) ([]string, string, error) {
	min := "-inf"
	if !since.IsZero() {
		min = strconv.FormatInt(since.UnixMilli(), 10)
	}
	var afterScore int64
	var afterID string
	if after != "" {
		b, err := base64.RawURLEncoding.DecodeString(after)
		score, id, ok := strings.Cut(string(b), ":")
		if err != nil || !ok {
			return nil, "", fmt.Errorf("%w: not a page token of this connector", connectors.ErrInvalid)
		}
		if afterScore, err = strconv.ParseInt(score, 10, 64); err != nil {
			return nil, "", fmt.Errorf("%w: not a page token of this connector", connectors.ErrInvalid)
		}
		afterID = id
		min = score // members of that score after afterID, then the later ones
	}
	zs, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{Key: s.idxKey(), Start: min, Stop: "+inf", ByScore: true, Count: int64(n) + 64}).Result()
	if err != nil {
		return nil, "", fmt.Errorf("email: list threads: %w", err)
	}
	var ids []string
	var last redis.Z
	for _, z := range zs {
		id, _ := z.Member.(string)
		if after != "" && int64(z.Score) == afterScore && id <= afterID {
			continue
		}
		if len(ids) == n {
			break
		}
		ids = append(ids, id)
		last = z
	}
	next := ""
	if len(ids) == n && len(zs) > n {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(int64(last.Score), 10) + ":" + last.Member.(string)))
	}
	return ids, next, nil
}

// cursorRecord is the mailbox cursor as stored.
type cursorRecord struct {
	UIDValidity uint32 `json:"uid_validity"`
	UID         uint32 `json:"uid"`
}

func (s *Store) cursor(ctx context.Context) (imapbox.Cursor, error) {
	raw, err := s.rdb.Get(ctx, s.cursorKey()).Bytes()
	if errors.Is(err, redis.Nil) {
		return imapbox.Cursor{}, nil
	}
	if err != nil {
		return imapbox.Cursor{}, fmt.Errorf("email: read the mailbox cursor: %w", err)
	}
	var c cursorRecord
	if err := json.Unmarshal(raw, &c); err != nil {
		return imapbox.Cursor{}, fmt.Errorf("email: decode the mailbox cursor: %w", err)
	}
	return imapbox.Cursor{UIDValidity: c.UIDValidity, LastUID: c.UID}, nil
}

// setCursor moves the cursor forward, never back: of two replicas reading
// the same mailbox, the one that lags does not undo the other's progress.
func (s *Store) setCursor(ctx context.Context, c imapbox.Cursor) error {
	b, _ := json.Marshal(cursorRecord{UIDValidity: c.UIDValidity, UID: c.LastUID})
	return cursorScript.Run(ctx, s.rdb, []string{s.cursorKey()}, b, c.UIDValidity, c.LastUID).Err()
}

var cursorScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local c = cjson.decode(cur)
  if tonumber(c.uid_validity) == tonumber(ARGV[2]) and tonumber(c.uid) >= tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1`)

// download reads an attachment.
func (s *Store) download(ctx context.Context, id string) (file, error) {
	vals, err := s.rdb.HGetAll(ctx, s.fileKey(id)).Result()
	if err != nil {
		return file{}, fmt.Errorf("email: read attachment %s: %w", id, err)
	}
	if len(vals) == 0 {
		return file{}, fmt.Errorf("email: attachment %s: %w", id, connectors.ErrNotFound)
	}
	return file{ID: id, Name: vals["n"], ContentType: vals["t"], Data: []byte(vals["d"])}, nil
}
