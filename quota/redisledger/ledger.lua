-- ledger.lua is the common head of every script: the account's books, the
-- record formats, the expiry sweep and the allowance-then-prepaid debit.
-- Each script is this file, then repair.lua, then its own body, so all of
-- them share one definition of the rules.
--
-- KEYS (every key the scripts touch; all carry the account's {a:<id>} tag).
-- Each fact lives in two keys, so Redis losing any one key loses nothing:
--   1 acct    hash  allowance, prepaid, reserved, rpm_minute, rpm_count,
--                   used + month (a copy of that month's period used), v
--   2 holds   hash  request id -> "<prompt>,<completion>,<expires_ms>"  live hold
--                                 "e<month>,<allowance>,<prepaid>,<over>,<forget_ms>"
--                                 expired and charged in <month>, kept until forgotten
--   3 exp     zset  the mirror of holds, one member per entry with the same
--                   figures: "<prompt>,<completion>,<id>" scored expires_ms,
--                   "e<month>,<allowance>,<prepaid>,<over>,<id>" scored forget_ms
--   4 done    hash  request id -> "s" | "r" | "e<month>,<allowance>,<prepaid>,<over>" | "f"
--                   settled | released | expired, charged from each | finished
--                   (rebuilt from done_at, which keeps no kind)
--   5 done_at zset  request id -> ms after which done forgets it; the mirror of done
--   6 period  hash  used, allowance, prepaid (copies of acct's; the key names the month)
-- ARGV 1..4 are common, the body's own arguments follow:
--   1 now_ms  2 period_ttl_ms  3 settled_ttl_ms  4 month (the period key's)
-- Time comes from the caller, never from Redis TIME, so every replica and
-- every test clock agrees on which period and minute a call falls in. Key
-- TTLs are relative for the same reason: they survive clock skew.

local K_ACCT, K_HOLDS, K_EXP, K_DONE, K_DONE_AT, K_PERIOD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local NOW = tonumber(ARGV[1])
local PERIOD_TTL = ARGV[2]
local SETTLED_TTL = tonumber(ARGV[3])
local MONTH = ARGV[4]
local FORGET = NOW + SETTLED_TTL -- when an outcome written now is forgotten

-- LAYOUT is stored in acct as v. An account written by an earlier layout,
-- whose exp held bare request ids, gets its exp rebuilt from holds once.
local LAYOUT = '2'

-- Forget at most this many old outcomes per call: a call after a quiet spell
-- costs no more than any other, and each call writes far fewer.
local PRUNE_BATCH = 64

local UNKNOWN, OK, DUPLICATE, EXISTING, EXHAUSTED, RATE_LIMITED, FINISHED = -1, 0, 1, 2, 3, 4, 5

local BYTE_E = string.byte('e')

-- Lua numbers are doubles; "%d" keeps counters integral where tostring
-- would switch to exponent notation that HINCRBY and Go cannot read.
local function int(n) return string.format('%d', n) end

-- Record formats. Request ids come last in exp members, so any bytes they
-- hold parse back; a live entry starts with a digit, an expired one with "e"
-- and the month its charge was drawn in, which cannot hold a comma. Records
-- written before the month was kept have none ("e,..."): their month is
-- taken for the current one, as it was then.

local function live_entry(prompt, completion, expires)
	return int(prompt) .. ',' .. int(completion) .. ',' .. int(expires)
end

local function live_member(id, prompt, completion)
	return int(prompt) .. ',' .. int(completion) .. ',' .. id
end

-- charge_record is the part of an expiry record that holds, exp and done
-- share: the month and how the charge was drawn.
local function charge_record(a, p, o, month)
	return 'e' .. month .. ',' .. int(a) .. ',' .. int(p) .. ',' .. int(o)
end

local function expired_entry(a, p, o, forget, month)
	return charge_record(a, p, o, month) .. ',' .. int(forget)
end

local function expired_member(id, a, p, o, month)
	return charge_record(a, p, o, month) .. ',' .. id
end

-- parse_entry reads a holds entry: 'h', prompt, completion, expires_ms for a
-- live hold; 'e', allowance, prepaid, over, forget_ms, month for an expired
-- one; nil for anything else.
local function parse_entry(v)
	if string.byte(v, 1) == BYTE_E then
		local m, a, p, o, f = string.match(v, '^e([%d%-]*),(%d+),(%d+),(%d+),(%d+)$')
		if a then
			return 'e', tonumber(a), tonumber(p), tonumber(o), tonumber(f), m
		end
		return nil
	end
	local p, c, x = string.match(v, '^(%d+),(%d+),(%d+)$')
	if p then
		return 'h', tonumber(p), tonumber(c), tonumber(x)
	end
	return nil
end

-- parse_member turns an exp member and its score back into the request id
-- and the holds entry it mirrors, or nil.
local function parse_member(m, score)
	if string.byte(m, 1) == BYTE_E then
		local mo, a, p, o, id = string.match(m, '^e([%d%-]*),(%d+),(%d+),(%d+),(.*)$')
		if a then
			return id, 'e' .. mo .. ',' .. a .. ',' .. p .. ',' .. o .. ',' .. int(tonumber(score))
		end
		return nil
	end
	local p, c, id = string.match(m, '^(%d+),(%d+),(.*)$')
	if p then
		return id, p .. ',' .. c .. ',' .. int(tonumber(score))
	end
	return nil
end

-- outcome parses a done entry: its kind and, for "e", how the expiry charge
-- was drawn and in which month.
local function outcome(id)
	local v = redis.call('HGET', K_DONE, id)
	if not v then
		return nil
	end
	local kind = string.sub(v, 1, 1)
	if kind == 'e' then
		local m, a, p, o = string.match(v, '^e([%d%-]*),(%d+),(%d+),(%d+)$')
		return kind, tonumber(a) or 0, tonumber(p) or 0, tonumber(o) or 0, m or ''
	end
	return kind
end

-- The repairs, defined in repair.lua.
local repair_holds, repair_done

local A -- the account's books, loaded by load() and written by save()

-- load reads the books and restores whatever key Redis lost since the last
-- call. It returns false, touching nothing, for an account with no trace and
-- no default_allowance; with one, such an account starts at it.
local function load(default_allowance)
	local v = redis.call('HMGET', K_ACCT, 'allowance', 'prepaid', 'reserved', 'rpm_minute', 'rpm_count', 'used', 'month', 'v')
	local pv = redis.call('HMGET', K_PERIOD, 'used', 'allowance', 'prepaid')
	local entries = redis.call('HLEN', K_HOLDS)
	local mirrored = redis.call('ZCARD', K_EXP)
	local period_used = tonumber(pv[1])
	if v[1] then
		-- Of two copies of this month's used, the larger: a lost period
		-- hash must not hand out a fresh allowance.
		local used = period_used or 0
		if v[7] == MONTH then
			used = math.max(used, tonumber(v[6]) or 0)
		end
		A = {
			allowance = tonumber(v[1]),
			prepaid = tonumber(v[2]) or 0,
			reserved = tonumber(v[3]) or 0,
			rpm_minute = tonumber(v[4]) or 0,
			rpm_count = tonumber(v[5]) or 0,
			used = used,
			-- The period hash is lost or new this month: write its copies.
			dirty = not pv[2] or v[8] ~= LAYOUT,
		}
		if v[8] ~= LAYOUT then
			repair_holds(false)
		elseif entries ~= mirrored then
			repair_holds(true)
		elseif entries == 0 and A.reserved ~= 0 then
			A.reserved, A.dirty = 0, true -- nothing is held, so nothing stays reserved
		end
	else
		-- The acct hash is lost (or the account is new): allowance and
		-- prepaid from the period's copies, reserved from the live holds.
		-- The rate-limit minute starts afresh.
		if not pv[2] and entries == 0 and mirrored == 0 and not default_allowance then
			return false
		end
		A = {
			allowance = tonumber(pv[2]) or default_allowance or 0,
			prepaid = tonumber(pv[3]) or 0,
			reserved = 0,
			rpm_minute = 0,
			rpm_count = 0,
			used = period_used or 0,
			dirty = true,
		}
		if entries > 0 or mirrored > 0 then
			repair_holds(true)
		end
	end
	return true
end

-- load_outcomes restores done or done_at if Redis lost one. Only the
-- scripts that read outcomes call it: a lost half met by other calls only
-- gains or forgets entries the union rebuild keeps or may drop anyway.
local function load_outcomes()
	if redis.call('HLEN', K_DONE) ~= redis.call('ZCARD', K_DONE_AT) then
		repair_done()
	end
end

local function save()
	if not A.dirty then
		return
	end
	redis.call('HSET', K_ACCT, 'allowance', int(A.allowance), 'prepaid', int(A.prepaid),
		'reserved', int(A.reserved), 'rpm_minute', int(A.rpm_minute), 'rpm_count', int(A.rpm_count),
		'used', int(A.used), 'month', MONTH, 'v', LAYOUT)
	redis.call('HSET', K_PERIOD, 'used', int(A.used), 'allowance', int(A.allowance), 'prepaid', int(A.prepaid))
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

-- unreserve drops n tokens from reserved, never below zero: a repair may
-- already have left less than a hold carries.
local function unreserve(n)
	A.reserved = math.max(0, A.reserved - n)
	A.dirty = true
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

-- undo gives back the last n tokens of an earlier draw in this period,
-- newest first: overspend, then prepaid, then allowance. Right after the
-- draw that leaves the books as a debit of the smaller figure would have;
-- used is floored at zero all the same, never minting prepaid tokens.
local function undo(from_allowance, from_prepaid, over, n)
	n = math.min(math.max(0, n), from_allowance + from_prepaid + over)
	local back_over = math.min(n, over)
	local back_prepaid = math.min(n - back_over, from_prepaid)
	A.prepaid = A.prepaid + back_prepaid
	A.used = math.max(0, A.used - (n - back_prepaid))
	A.dirty = true
end

-- correct moves an expiry charge drawn in month to the actual usage: it
-- debits or gives back the signed difference and returns it. A refund of a
-- charge drawn in another month gives back only its prepaid part, which
-- carries over periods: that month's allowance and overspend counted
-- against its own used, and refunding them into this month's would hand
-- last month's unused allowance to this one. An empty month is a record
-- from before months were kept, taken for this one.
local function correct(from_allowance, from_prepaid, over, actual, month)
	local diff = actual - (from_allowance + from_prepaid + over)
	if diff > 0 then
		debit(diff)
	elseif month ~= '' and month ~= MONTH then
		-- Newest first, as undo: the overspend part is passed over, then
		-- the prepaid part comes back.
		A.prepaid = A.prepaid + math.min(math.max(0, -diff - over), from_prepaid)
		A.dirty = true
	else
		undo(from_allowance, from_prepaid, over, -diff)
	end
	return diff
end

-- remember records how id left the books, kept for SETTLED_TTL. The key TTL
-- is a backstop that drops the lot for an account that goes quiet.
local function remember(id, v)
	redis.call('HSET', K_DONE, id, v)
	redis.call('ZADD', K_DONE_AT, int(FORGET), id)
	redis.call('PEXPIRE', K_DONE, int(SETTLED_TTL))
	redis.call('PEXPIRE', K_DONE_AT, int(SETTLED_TTL))
end

-- take removes id's holds entry and its exp mirror. It returns 'h', prompt
-- and completion for a live hold (no longer reserved), 'e', how the expiry
-- charge was drawn and its month for an expired one, or nil.
local function take(id)
	local v = redis.call('HGET', K_HOLDS, id)
	if not v then
		return nil
	end
	redis.call('HDEL', K_HOLDS, id)
	local kind, x, y, z, _, month = parse_entry(v)
	if kind == 'h' then
		redis.call('ZREM', K_EXP, live_member(id, x, y))
		unreserve(x + y)
	elseif kind == 'e' then
		redis.call('ZREM', K_EXP, expired_member(id, x, y, z, month))
	end
	return kind, x, y, z, month
end

-- charge turns a live hold that fell due into its expired record: charged
-- at what it holds, into the current period, with the draw and the month
-- kept on the hold's own record and in done until SETTLED_TTL passes.
local function charge(member, prompt, completion, id)
	local held = prompt + completion
	redis.call('ZREM', K_EXP, member)
	unreserve(held)
	local a, p, o = debit(held)
	redis.call('HSET', K_HOLDS, id, expired_entry(a, p, o, FORGET, MONTH))
	redis.call('ZADD', K_EXP, int(FORGET), expired_member(id, a, p, o, MONTH))
	remember(id, charge_record(a, p, o, MONTH))
end

-- advance charges every hold due at NOW, drops expired records whose
-- retention passed, and forgets a batch of old outcomes.
local function advance()
	local due = redis.call('ZRANGEBYSCORE', K_EXP, '-inf', int(NOW))
	for _, m in ipairs(due) do
		if string.byte(m, 1) == BYTE_E then
			redis.call('ZREM', K_EXP, m)
			local id = string.match(m, '^e[%d%-]*,%d+,%d+,%d+,(.*)$')
			local v = id and redis.call('HGET', K_HOLDS, id)
			if v and string.byte(v, 1) == BYTE_E then
				redis.call('HDEL', K_HOLDS, id)
			end
		else
			local p, c, id = string.match(m, '^(%d+),(%d+),(.*)$')
			if p then
				charge(m, tonumber(p), tonumber(c), id)
			else
				redis.call('ZREM', K_EXP, m)
			end
		end
	end
	local old = redis.call('ZRANGEBYSCORE', K_DONE_AT, '-inf', int(NOW), 'LIMIT', 0, PRUNE_BATCH)
	if #old > 0 then
		redis.call('HDEL', K_DONE, unpack(old))
		redis.call('ZREM', K_DONE_AT, unpack(old))
	end
end

