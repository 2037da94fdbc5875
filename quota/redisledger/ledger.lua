-- ledger.lua is the common head of every script: the account's books, the
-- expiry sweep and the allowance-then-prepaid debit. Each script is this file
-- followed by its own body, so all of them share one definition of the rules.
--
-- KEYS (every key the scripts touch; all carry the account's {a:<id>} tag):
--   1 acct    hash  allowance, prepaid, reserved, rpm_minute, rpm_count
--   2 holds   hash  request id -> "prompt,completion,expires_ms"
--   3 exp     zset  request id -> expires_ms
--   4 done    hash  request id -> "s,<usage>" | "r" | "e,<allowance>,<prepaid>,<over>"
--                   settled at usage | released | expired, charged from each
--   5 done_at zset  request id -> ms after which done forgets it
--   6 period  hash  used   (this period's; the key names the month)
-- ARGV 1..3 are common, the body's own arguments follow:
--   1 now_ms  2 period_ttl_ms  3 settled_ttl_ms
-- Time comes from the caller, never from Redis TIME, so every replica and
-- every test clock agrees on which period and minute a call falls in. Key
-- TTLs are relative for the same reason: they survive clock skew.

local K_ACCT, K_HOLDS, K_EXP, K_DONE, K_DONE_AT, K_PERIOD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local NOW = tonumber(ARGV[1])
local PERIOD_TTL = ARGV[2]
local SETTLED_TTL = tonumber(ARGV[3])

-- Forget at most this many old outcomes per call: a call after a quiet spell
-- costs no more than any other, and each call writes far fewer.
local PRUNE_BATCH = 64

local UNKNOWN, OK, DUPLICATE, EXISTING, EXHAUSTED, RATE_LIMITED = -1, 0, 1, 2, 3, 4

-- Lua numbers are doubles; "%d" keeps counters integral where tostring
-- would switch to exponent notation that HINCRBY and Go cannot read.
local function int(n) return string.format('%d', n) end

local A -- the account's books, loaded by load() and written by save()

local function load()
	local v = redis.call('HMGET', K_ACCT, 'allowance', 'prepaid', 'reserved', 'rpm_minute', 'rpm_count')
	if not v[1] then
		return false
	end
	A = {
		allowance = tonumber(v[1]),
		prepaid = tonumber(v[2]) or 0,
		reserved = tonumber(v[3]) or 0,
		rpm_minute = tonumber(v[4]) or 0,
		rpm_count = tonumber(v[5]) or 0,
		used = tonumber(redis.call('HGET', K_PERIOD, 'used')) or 0,
		dirty = false,
	}
	return true
end

local function save()
	if not A.dirty then
		return
	end
	redis.call('HSET', K_ACCT, 'allowance', int(A.allowance), 'prepaid', int(A.prepaid),
		'reserved', int(A.reserved), 'rpm_minute', int(A.rpm_minute), 'rpm_count', int(A.rpm_count))
	redis.call('HSET', K_PERIOD, 'used', int(A.used))
	redis.call('PEXPIRE', K_PERIOD, PERIOD_TTL)
end

-- reply is what every script returns: a status, two values the script
-- names, and the books.
local function reply(status, x, y)
	return { status, x or 0, y or 0, A.allowance, A.used, A.reserved, A.prepaid }
end

local function remaining()
	return math.max(0, math.max(0, A.allowance - A.used) + A.prepaid - A.reserved)
end

-- debit draws n from what is left of the allowance, then from prepaid; what
-- neither covers still lands in used, so overspend is measured. It returns
-- the three parts, in the order they were drawn.
local function debit(n)
	if n <= 0 then
		return 0, 0, 0
	end
	local from_allowance = math.min(n, math.max(0, A.allowance - A.used))
	local from_prepaid = math.min(n - from_allowance, math.max(0, A.prepaid))
	local over = n - from_allowance - from_prepaid
	A.used = A.used + from_allowance + over
	A.prepaid = A.prepaid - from_prepaid
	A.dirty = true
	return from_allowance, from_prepaid, over
end

-- undo gives back the last n tokens of an earlier draw, newest first:
-- overspend, then prepaid, then allowance. Right after the draw that leaves
-- the books as a debit of the smaller figure would have; later, used is
-- floored at zero rather than minting prepaid tokens.
local function undo(from_allowance, from_prepaid, over, n)
	n = math.min(math.max(0, n), from_allowance + from_prepaid + over)
	local back_over = math.min(n, over)
	local back_prepaid = math.min(n - back_over, from_prepaid)
	A.prepaid = A.prepaid + back_prepaid
	A.used = math.max(0, A.used - (n - back_prepaid))
	A.dirty = true
end

-- outcome parses a done entry: its kind and, for "e", how the expiry charge
-- was drawn.
local function outcome(id)
	local v = redis.call('HGET', K_DONE, id)
	if not v then
		return nil
	end
	local kind, a, p, o = string.match(v, '^(%a),?(%d*),?(%d*),?(%d*)$')
	return kind, tonumber(a) or 0, tonumber(p) or 0, tonumber(o) or 0
end

-- remember records how id left the books, kept for SETTLED_TTL. The key TTL
-- is a backstop that drops the lot for an account that goes quiet.
local function remember(id, v)
	redis.call('HSET', K_DONE, id, v)
	redis.call('ZADD', K_DONE_AT, int(NOW + SETTLED_TTL), id)
	redis.call('PEXPIRE', K_DONE, int(SETTLED_TTL))
	redis.call('PEXPIRE', K_DONE_AT, int(SETTLED_TTL))
end

-- correct moves an expiry charge to the actual usage: it debits or gives
-- back the signed difference and returns it.
local function correct(from_allowance, from_prepaid, over, actual)
	local diff = actual - (from_allowance + from_prepaid + over)
	if diff > 0 then
		debit(diff)
	else
		undo(from_allowance, from_prepaid, over, -diff)
	end
	return diff
end

-- take removes a live hold and returns what it held, or nil.
local function take(id)
	local h = redis.call('HGET', K_HOLDS, id)
	if not h then
		return nil
	end
	local p, c = string.match(h, '^(%d+),(%d+),')
	local held = tonumber(p) + tonumber(c)
	redis.call('HDEL', K_HOLDS, id)
	redis.call('ZREM', K_EXP, id)
	A.reserved = A.reserved - held
	A.dirty = true
	return held, tonumber(p), tonumber(c)
end

-- advance charges every hold due at NOW at what it holds, into the current
-- period, and forgets a batch of old outcomes.
local function advance()
	local due = redis.call('ZRANGEBYSCORE', K_EXP, '-inf', int(NOW))
	for _, id in ipairs(due) do
		local held = take(id)
		if held then
			local a, p, o = debit(held)
			remember(id, 'e,' .. int(a) .. ',' .. int(p) .. ',' .. int(o))
		else
			redis.call('ZREM', K_EXP, id)
		end
	end
	local old = redis.call('ZRANGEBYSCORE', K_DONE_AT, '-inf', int(NOW), 'LIMIT', 0, PRUNE_BATCH)
	if #old > 0 then
		redis.call('HDEL', K_DONE, unpack(old))
		redis.call('ZREM', K_DONE_AT, unpack(old))
	end
end

