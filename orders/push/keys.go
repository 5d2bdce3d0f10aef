package push

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The key layout. P is redis.key_prefix, m the merchant, s the
// subscription. Every key of a subscription has the hash tag {m:s}, so
// each script below touches one Cluster slot; merchants' ids are slugs and
// subscriptions' ids have no colon or brace, so the tag is unambiguous.
//
//	P push:{m}:subs          set    the merchant's subscription ids
//	P push:{m:s}             hash   the subscription: url, secret, state,
//	                                counters, the owner of its handshake
//	P push:{m:s}:ev          hash   seq -> entry: the backlog's events
//	P push:{m:s}:pending     zset   "<order>\n<seq>", all at score 0: in
//	                                lexical order, each order's FIFO
//	P push:{m:s}:orders      zset   order -> seq of its oldest event: the
//	                                orders with a backlog, oldest first
//	P push:{m:s}:own         hash   order -> token of the task that owns it
//	P push:{m:s}:ids         zset   event id -> published (ms): Publish's
//	                                dedupe, for Limits.DedupeWindow
//	P push:{m:s}:log         zset   event id -> published (ms): delivered
//	                                events kept for replay
//	P push:{m:s}:logev       hash   event id -> entry, for the log
//	P push:{m:s}:dl          list   the last MaxDeliveries attempts (JSON)
//
// <order> is "<store>:<order id>". An entry is
// "<seq, 16 digits><flag>\n<published ms>\n<event id>\n<type>\n<order>\n<body>",
// flag "-", or "r" for a replayed event: the zero-padded seq first makes
// entries sort in publishing order.
type keys struct{ prefix string }

func (k keys) index(merchant string) string { return k.prefix + "push:{" + merchant + "}:subs" }

type subKeys struct {
	hash, ev, pending, orders, own, ids, log, logev, dl string
}

func (k keys) sub(merchant, sub string) subKeys {
	b := k.prefix + "push:{" + merchant + ":" + sub + "}"
	return subKeys{hash: b, ev: b + ":ev", pending: b + ":pending", orders: b + ":orders", own: b + ":own",
		ids: b + ":ids", log: b + ":log", logev: b + ":logev", dl: b + ":dl"}
}

func (s subKeys) all() []string {
	return []string{s.hash, s.ev, s.pending, s.orders, s.own, s.ids, s.log, s.logev, s.dl}
}

func orderKey(store, orderID string) string { return store + ":" + orderID }

func splitOrderKey(ok string) (store, orderID string) {
	store, orderID, _ = strings.Cut(ok, ":")
	return store, orderID
}

// entry is one stored event.
type entry struct {
	Seq       string
	Replayed  bool
	Published time.Time
	ID        string
	Type      string
	Order     string
	Body      []byte
}

// entryRest is an entry without its seq, which the script prepends.
func entryRest(published time.Time, id, typ, order string, body []byte) string {
	return "-\n" + strconv.FormatInt(published.UnixMilli(), 10) + "\n" + id + "\n" + typ + "\n" + order + "\n" + string(body)
}

func parseEntry(s string) (entry, error) {
	f := strings.SplitN(s, "\n", 6)
	if len(f) != 6 || len(f[0]) != 17 {
		return entry{}, fmt.Errorf("push: malformed outbox entry")
	}
	ms, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return entry{}, fmt.Errorf("push: malformed outbox entry: %w", err)
	}
	return entry{Seq: f[0][:16], Replayed: f[0][16] == 'r', Published: time.UnixMilli(ms), ID: f[2], Type: f[3], Order: f[4], Body: []byte(f[5])}, nil
}

// lua are the functions every script shares: Redis runs each script on
// its own, so they are prepended to each.
var lua = `
local function line(e, n)
  local pos = 1
  for _ = 1, n - 1 do pos = string.find(e, "\n", pos, true) + 1 end
  local stop = string.find(e, "\n", pos, true)
  if stop then return string.sub(e, pos, stop - 1) end
  return string.sub(e, pos)
end
-- head is the seq of the order's oldest event, or nil.
local function head(pending, ok)
  local m = redis.call("ZRANGEBYLEX", pending, "[" .. ok .. "\n", "[" .. ok .. "\n\255", "LIMIT", 0, 1)
  if #m == 0 then return nil end
  return string.sub(m[1], #ok + 2)
end
-- refresh puts the order among the orders with a backlog at its head's
-- seq, or takes it out; it returns the head.
local function refresh(pending, orders, ok)
  local s = head(pending, ok)
  if s then redis.call("ZADD", orders, tonumber(s), ok) else redis.call("ZREM", orders, ok) end
  return s
end
-- push appends an event (rest: the entry without its seq) to ok's outbox.
local function push(hash, ev, pending, orders, ok, rest)
  local seq = redis.call("HINCRBY", hash, "seq", 1)
  local s = string.format("%016d", seq)
  redis.call("HSET", ev, s, s .. rest)
  redis.call("ZADD", pending, 0, ok .. "\n" .. s)
  redis.call("ZADD", orders, "NX", seq, ok)
  return s
end
-- trim drops the oldest events while the backlog holds more than max.
local function trim(hash, ev, pending, orders, max)
  local n = 0
  while redis.call("HLEN", ev) > max do
    local o = redis.call("ZRANGE", orders, 0, 0)
    if #o == 0 then break end
    local s = head(pending, o[1])
    if s then
      redis.call("ZREM", pending, o[1] .. "\n" .. s)
      redis.call("HDEL", ev, s)
      n = n + 1
    end
    refresh(pending, orders, o[1])
  end
  if n > 0 then redis.call("HINCRBY", hash, "dropped", n) end
  return n
end
-- token is a new owner token of the subscription's current incarnation.
local function token(hash)
  return redis.call("HGET", hash, "inc") .. "." .. redis.call("HINCRBY", hash, "gen", 1) .. ".0"
end
-- owner is who owns the order: its current owner, or, when the
-- subscription is active and nobody does, a new one. nil when nobody.
local function owner(hash, own, ok)
  local cur = redis.call("HGET", own, ok)
  if cur then return cur end
  if redis.call("HGET", hash, "state") ~= "active" then return nil end
  local t = token(hash)
  redis.call("HSET", own, ok, t)
  return t
end
local function record(dl, rec)
  redis.call("LPUSH", dl, rec)
  redis.call("LTRIM", dl, 0, ` + strconv.Itoa(MaxDeliveries-1) + `)
end
`

func script(body string) *redis.Script { return redis.NewScript(lua + body) }

// appendScript appends one published event unless its id was seen, drops
// the oldest events past the bound, and returns the order's owner to
// enqueue ("" when none): {status, owner, dropped}.
// KEYS: hash ev pending orders own ids. ARGV: id, order, rest, now ms,
// max backlog, dedupe cutoff ms, max ids, dedupe window ms (the ids of a
// subscription that publishes nothing more expire with it).
var appendScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone", "", 0} end
local dropped = 0
if redis.call("ZADD", KEYS[6], "NX", ARGV[4], ARGV[1]) == 1 then
  redis.call("ZREMRANGEBYSCORE", KEYS[6], "-inf", "(" .. ARGV[6])
  local over = redis.call("ZCARD", KEYS[6]) - tonumber(ARGV[7])
  if over > 0 then redis.call("ZREMRANGEBYRANK", KEYS[6], 0, over - 1) end
  redis.call("PEXPIRE", KEYS[6], ARGV[8])
  push(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[2], ARGV[3])
  redis.call("HINCRBY", KEYS[1], "published", 1)
  dropped = trim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[5]))
end
if not head(KEYS[3], ARGV[2]) then return {"ok", "", dropped} end
return {"ok", owner(KEYS[1], KEYS[5], ARGV[2]) or "", dropped}
`)

// claimScript gives the order's owner its head to deliver:
// {"deliver", entry, url, secret}, or {"stale", owner} to a task that no
// longer owns it, {"idle"} while the subscription is not active, {"empty"},
// {"gone"}. Idle and empty release the order.
// KEYS: hash ev pending orders own. ARGV: order, token.
var claimScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
local cur = redis.call("HGET", KEYS[5], ARGV[1])
if cur ~= ARGV[2] then return {"stale", cur or ""} end
if redis.call("HGET", KEYS[1], "state") ~= "active" then
  redis.call("HDEL", KEYS[5], ARGV[1])
  return {"idle"}
end
local s = refresh(KEYS[3], KEYS[4], ARGV[1])
if not s then
  redis.call("HDEL", KEYS[5], ARGV[1])
  return {"empty"}
end
local e = redis.call("HGET", KEYS[2], s)
if not e then
  redis.call("ZREM", KEYS[3], ARGV[1] .. "\n" .. s)
  return {"again"}
end
local h = redis.call("HMGET", KEYS[1], "url", "secret")
return {"deliver", e, h[1], h[2]}
`)

// ackScript takes a delivered event out of the backlog into the log (if
// it is still there: a full backlog may have dropped it meanwhile),
// records the attempt, ends the failure streak, and says what the owner
// does next: {"more"}, {"done"}, {"idle"}, {"stale"} or {"gone"}.
// KEYS: hash ev pending orders own log logev dl. ARGV: order, token, seq,
// now ms, record, log cutoff ms, max log, retention ms (the log of a
// subscription that delivers nothing more expires whole).
var ackScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
local e = redis.call("HGET", KEYS[2], ARGV[3])
if e then
  redis.call("ZREM", KEYS[3], ARGV[1] .. "\n" .. ARGV[3])
  redis.call("HDEL", KEYS[2], ARGV[3])
  local id = line(e, 3)
  redis.call("ZADD", KEYS[6], tonumber(line(e, 2)), id)
  redis.call("HSET", KEYS[7], id, e)
  local old = redis.call("ZRANGEBYSCORE", KEYS[6], "-inf", "(" .. ARGV[6], "LIMIT", 0, 500)
  local over = redis.call("ZCARD", KEYS[6]) - #old - tonumber(ARGV[7])
  if over > 0 then
    local more = redis.call("ZRANGE", KEYS[6], #old, #old + math.min(over, 500) - 1)
    for _, v in ipairs(more) do old[#old + 1] = v end
  end
  if #old > 0 then
    redis.call("ZREM", KEYS[6], unpack(old))
    redis.call("HDEL", KEYS[7], unpack(old))
  end
  redis.call("PEXPIRE", KEYS[6], ARGV[8])
  redis.call("PEXPIRE", KEYS[7], ARGV[8])
end
local nxt = refresh(KEYS[3], KEYS[4], ARGV[1])
redis.call("HINCRBY", KEYS[1], "delivered", 1)
redis.call("HSET", KEYS[1], "last_success", ARGV[4])
redis.call("HDEL", KEYS[1], "failing_since", "fail_attempts")
record(KEYS[8], ARGV[5])
if redis.call("HGET", KEYS[5], ARGV[1]) ~= ARGV[2] then return {"stale"} end
if redis.call("HGET", KEYS[1], "state") ~= "active" then
  redis.call("HDEL", KEYS[5], ARGV[1])
  return {"idle"}
end
if not nxt then
  redis.call("HDEL", KEYS[5], ARGV[1])
  return {"done"}
end
return {"more"}
`)

// failScript records a failed attempt (an event's or the handshake's),
// pauses the subscription when it has failed without a success for the
// pause span and at least the minimum attempts, and otherwise hands the
// order (or the handshake) to the successor token: {"retry"}, {"paused"},
// {"idle"}, {"stale", owner} or {"gone"}.
// KEYS: hash own dl. ARGV: mode (deliver or verify), order, token, next
// token, now ms, record, pause after ms, min attempts.
var failScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
redis.call("HINCRBY", KEYS[1], "failed", 1)
local n = redis.call("HINCRBY", KEYS[1], "fail_attempts", 1)
local since = tonumber(redis.call("HGET", KEYS[1], "failing_since"))
if not since then
  since = tonumber(ARGV[5])
  redis.call("HSET", KEYS[1], "failing_since", ARGV[5])
end
redis.call("HSET", KEYS[1], "last_failure", ARGV[5])
record(KEYS[3], ARGV[6])
local deliver = ARGV[1] == "deliver"
local cur, want
if deliver then
  cur = redis.call("HGET", KEYS[2], ARGV[2])
  want = "active"
else
  cur = redis.call("HGET", KEYS[1], "vown")
  want = "verifying"
end
if cur ~= ARGV[3] then return {"stale", cur or ""} end
local function release()
  if deliver then redis.call("HDEL", KEYS[2], ARGV[2]) else redis.call("HDEL", KEYS[1], "vown") end
end
if redis.call("HGET", KEYS[1], "state") ~= want then
  release()
  return {"idle"}
end
if tonumber(ARGV[5]) - since >= tonumber(ARGV[7]) and n >= tonumber(ARGV[8]) then
  local why = "delivery_failed"
  if not deliver then why = "verification_failed" end
  redis.call("HSET", KEYS[1], "state", "paused", "paused_at", ARGV[5], "paused_reason", why)
  release()
  return {"paused"}
end
if deliver then redis.call("HSET", KEYS[2], ARGV[2], ARGV[4]) else redis.call("HSET", KEYS[1], "vown", ARGV[4]) end
return {"retry"}
`)

// handoverScript passes an order from a task that has run long enough to
// its successor, which is enqueued at once. KEYS: own. ARGV: order,
// token, next token.
var handoverScript = redis.NewScript(`
if redis.call("HGET", KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[3])
return 1`)

// verifyClaimScript gives the handshake's owner the URL and secret:
// {"verify", url, secret}, or {"rekick", order, token, ...} to a task
// that already verified and must enqueue the orders' owners again (its
// enqueue failed), {"stale", owner}, {"idle"} or {"gone"}.
// KEYS: hash own. ARGV: token.
var verifyClaimScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
local cur = redis.call("HGET", KEYS[1], "vown")
if cur ~= ARGV[1] then
  if redis.call("HGET", KEYS[1], "vdone") == ARGV[1] and redis.call("HGET", KEYS[1], "state") == "active" then
    local out = {"rekick"}
    for _, v in ipairs(redis.call("HGETALL", KEYS[2])) do out[#out + 1] = v end
    return out
  end
  return {"stale", cur or ""}
end
if redis.call("HGET", KEYS[1], "state") ~= "verifying" then
  redis.call("HDEL", KEYS[1], "vown")
  return {"idle"}
end
local h = redis.call("HMGET", KEYS[1], "url", "secret")
return {"verify", h[1], h[2]}
`)

// verifiedScript activates a subscription whose handshake succeeded and
// gives every order with a backlog a new owner (the tasks of an earlier
// incarnation, still waiting out a backoff, become stale):
// {"active", order, token, ...}, or {"stale", owner}, {"idle"}, {"gone"}.
// KEYS: hash orders own dl. ARGV: token, now ms, record.
var verifiedScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
local cur = redis.call("HGET", KEYS[1], "vown")
if cur ~= ARGV[1] then return {"stale", cur or ""} end
if redis.call("HGET", KEYS[1], "state") ~= "verifying" then
  redis.call("HDEL", KEYS[1], "vown")
  return {"idle"}
end
redis.call("HSET", KEYS[1], "state", "active", "verified_at", ARGV[2], "last_success", ARGV[2], "vdone", ARGV[1])
redis.call("HDEL", KEYS[1], "vown", "failing_since", "fail_attempts", "paused_at", "paused_reason")
record(KEYS[4], ARGV[3])
local out = {"active"}
for _, ok in ipairs(redis.call("ZRANGE", KEYS[2], 0, -1)) do
  local t = token(KEYS[1])
  redis.call("HSET", KEYS[3], ok, t)
  out[#out + 1] = ok
  out[#out + 1] = t
end
return out
`)

// resumeScript sends a subscription back to its handshake, with a fresh
// failure streak: {"verifying", token} or {"gone"}. KEYS: hash. ARGV: now ms.
var resumeScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
local t = token(KEYS[1])
redis.call("HSET", KEYS[1], "state", "verifying", "vown", t, "resumed_at", ARGV[1])
redis.call("HDEL", KEYS[1], "failing_since", "fail_attempts", "paused_at", "paused_reason")
return {"verifying", t}
`)

// replayScript queues again the delivered events published since a time,
// in their publishing order, after whatever each order still has pending:
// {"replayed", n, dropped, order, owner, ...} or {"gone"}.
// KEYS: hash ev pending orders own log logev. ARGV: since ms, max events,
// max backlog.
var replayScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then return {"gone"} end
local ids = redis.call("ZRANGEBYSCORE", KEYS[6], ARGV[1], "+inf", "LIMIT", 0, tonumber(ARGV[2]))
local es = {}
for i = 1, #ids, 500 do
  local got = redis.call("HMGET", KEYS[7], unpack(ids, i, math.min(i + 499, #ids)))
  for _, e in ipairs(got) do if e then es[#es + 1] = e end end
end
table.sort(es)
local touched, order = {}, {}
for _, e in ipairs(es) do
  local ok = line(e, 5)
  push(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ok, "r" .. string.sub(e, 18))
  if not touched[ok] then touched[ok] = true; order[#order + 1] = ok end
end
redis.call("HINCRBY", KEYS[1], "replayed", #es)
local dropped = trim(KEYS[1], KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[3]))
local out = {"replayed", #es, dropped}
for _, ok in ipairs(order) do
  if head(KEYS[3], ok) then
    local t = owner(KEYS[1], KEYS[5], ok)
    if t then out[#out + 1] = ok; out[#out + 1] = t end
  end
end
return out
`)

// createScript stores a new subscription, waiting for its handshake:
// 1, or 0 when the id exists. KEYS: hash. ARGV: merchant, id, url,
// secret, source, now ms, incarnation.
var createScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
redis.call("HSET", KEYS[1], "merchant", ARGV[1], "id", ARGV[2], "url", ARGV[3], "secret", ARGV[4],
  "source", ARGV[5], "created", ARGV[6], "inc", ARGV[7], "gen", 1, "seq", 0, "state", "verifying",
  "vown", ARGV[7] .. ".1.0")
return 1`)

// upsertScript brings a configured subscription in line with the
// configuration: {"created", token}, {"verify", token} (its URL changed:
// it must prove itself again), {"updated"}, {"same"}, or {"conflict"}
// when the id belongs to a subscription of the API.
// KEYS: hash. ARGV: merchant, id, url, secret, now ms, incarnation.
var upsertScript = script(`
if redis.call("EXISTS", KEYS[1]) == 0 then
  redis.call("HSET", KEYS[1], "merchant", ARGV[1], "id", ARGV[2], "url", ARGV[3], "secret", ARGV[4],
    "source", "config", "created", ARGV[5], "inc", ARGV[6], "gen", 1, "seq", 0, "state", "verifying",
    "vown", ARGV[6] .. ".1.0")
  return {"created", ARGV[6] .. ".1.0"}
end
if redis.call("HGET", KEYS[1], "source") ~= "config" then return {"conflict"} end
local h = redis.call("HMGET", KEYS[1], "url", "secret")
if h[1] == ARGV[3] and h[2] == ARGV[4] then return {"same"} end
redis.call("HSET", KEYS[1], "url", ARGV[3], "secret", ARGV[4])
if h[1] == ARGV[3] then return {"updated"} end
local t = token(KEYS[1])
redis.call("HSET", KEYS[1], "state", "verifying", "vown", t)
redis.call("HDEL", KEYS[1], "failing_since", "fail_attempts", "verified_at", "paused_at", "paused_reason")
return {"verify", t}
`)
