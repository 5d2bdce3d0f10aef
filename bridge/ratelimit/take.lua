-- take: may ARGV[3] calls to one account go now, for a caller of priority
-- class ARGV[2]? Answers {1, 0} (go: the calls are taken from the budget)
-- or {0, due} (come back at due, Unix ms).
--
-- KEYS[1]      GCRA theoretical arrival time, ms
-- KEYS[2]      penalty left by a 429 (its TTL is the pause)
-- KEYS[3]      hash: class -> when it was last served, ms
-- KEYS[4..7]   per class, the line of deferred callers: member -> first seen
-- KEYS[8..11]  per class, the same members -> when they are due back
--
-- ARGV[1]  member: the task id, "" for a caller outside a task (never queued)
-- ARGV[2]  class, 0 (interactive) to 3 (bulk)
-- ARGV[3]  n, the calls asked for
-- ARGV[4]  interval between calls at the sustained rate, ms; 0 = unpaced
-- ARGV[5]  burst, in calls
-- ARGV[6..9]  headroom of each class, in calls: what it leaves to the others
-- ARGV[10] starve: intervals without service after which a class ignores
--          its headroom
-- ARGV[11] late: how long past due a deferred caller still holds its turn, ms
-- ARGV[12] forget: how long past due a caller that never came back stays, ms
-- ARGV[13] the longest deferral, ms

local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local member, c, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local T, B = tonumber(ARGV[4]), tonumber(ARGV[5])
local starve, late, forget, longest = tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])

local function line(k) return KEYS[4 + k] end
local function due(k) return KEYS[8 + k] end

-- Callers that never came back (their task was deleted, or needed the
-- account no more) leave the line.
for k = 0, 3 do
	local gone = redis.call("ZRANGEBYSCORE", due(k), "-inf", now - forget, "LIMIT", 0, 50)
	if #gone > 0 then
		redis.call("ZREM", due(k), unpack(gone))
		redis.call("ZREM", line(k), unpack(gone))
	end
end

local queued = member ~= "" and redis.call("ZSCORE", line(c), member) ~= false

local function leave()
	if member ~= "" then
		redis.call("ZREM", line(c), member)
		redis.call("ZREM", due(c), member)
	end
end

-- defer answers "come back at ready", later by one slot for each caller
-- ahead in the account's line: higher classes, then this class's earlier
-- callers. Spreading them keeps a backlog from waking all at once, and
-- returning to the line keeps a caller's place in it.
local function defer(ready)
	local above, own = 0, 0
	for k = 0, c - 1 do
		above = above + redis.call("ZCARD", line(k))
	end
	if member ~= "" then
		if queued then
			own = redis.call("ZRANK", line(c), member)
		else
			own = redis.call("ZCARD", line(c))
			redis.call("ZADD", line(c), now, member)
		end
	end
	-- A lower class is served at least once every starve+1 slots, even
	-- behind a long line above it.
	local slots = above + own
	if c > 0 then slots = math.min(slots, own * (starve + 1)) end
	-- One call a caller ahead: those that need more come back early and
	-- are put off again, which costs a look; one that came back late
	-- would leave the account's calls unused.
	local at = ready + slots * math.max(T, 1)
	if at > now + longest then at = now + longest end
	if member ~= "" then
		redis.call("ZADD", due(c), at, member)
		local keep = math.ceil(longest + forget)
		redis.call("PEXPIRE", line(c), keep)
		redis.call("PEXPIRE", due(c), keep)
	end
	return {0, math.ceil(at)}
end

local blocked = redis.call("PTTL", KEYS[2])
if blocked > 0 then
	return defer(now + blocked)
end
if T <= 0 then
	leave()
	return {1, 0}
end

-- A class that has waited too long without service ignores the
-- priorities, so that bulk work keeps a share of a busy account.
local starving = false
if c > 0 and redis.call("ZCARD", line(c)) > 0 then
	local last = tonumber(redis.call("HGET", KEYS[3], c) or "0")
	starving = now - last > starve * T
end
local head = starving and 0 or tonumber(ARGV[6 + c])

-- Callers of a higher class (and, for a newcomer, of its own class) due
-- back about now keep their turn: a call each is left for them.
local expected = 0
if not starving then
	local top = c
	if queued then top = c - 1 end
	for k = 0, top do
		expected = expected + redis.call("ZCOUNT", due(k), now - late, now + T)
	end
end

local tat = tonumber(redis.call("GET", KEYS[1]) or "0")
if tat < now then tat = now end
local tokens = (now + B * T - tat) / T
local yield = expected > 0 and tokens - n - expected < head
if not yield and tokens - n >= head then
	tat = tat + n * T
	redis.call("SET", KEYS[1], tostring(tat), "PX", math.ceil(tat - now + B * T))
	redis.call("HSET", KEYS[3], c, math.floor(now))
	redis.call("PEXPIRE", KEYS[3], math.ceil(longest + forget))
	leave()
	return {1, 0}
end
local ready = now
local need = head + n - tokens
if need > 0 then ready = now + need * T end
if yield and ready < now + T then ready = now + T end
return defer(ready)
