-- repair.lua restores a mirrored pair of keys after Redis lost one of them
-- (evicted, flushed, deleted by hand). load() notices in O(1): the two
-- halves of a pair always have the same number of entries. Only then does a
-- repair read the whole pair, so the work on the hot path does not grow
-- with an account's history.

-- repair_holds rebuilds holds and exp as the union of the two and
-- recomputes reserved from the live holds: O(holds), live holds plus the
-- expired ones not yet forgotten, never the settled outcomes. trust_exp is
-- false for an account from an earlier layout, whose exp members are bare
-- request ids: its exp is rebuilt from holds alone.
repair_holds = function(trust_exp)
	local entries = {}
	local flat = redis.call('HGETALL', K_HOLDS)
	for i = 1, #flat, 2 do
		entries[flat[i]] = flat[i + 1]
	end
	if trust_exp then
		local members = redis.call('ZRANGE', K_EXP, 0, -1, 'WITHSCORES')
		for i = 1, #members, 2 do
			local id, entry = parse_member(members[i], members[i + 1])
			if id and not entries[id] then
				entries[id] = entry
				redis.call('HSET', K_HOLDS, id, entry)
			end
		end
	end
	redis.call('DEL', K_EXP)
	local reserved = 0
	for id, v in pairs(entries) do
		local kind, x, y, z, w, month = parse_entry(v)
		if kind == 'h' then
			redis.call('ZADD', K_EXP, int(z), live_member(id, x, y))
			reserved = reserved + x + y
		elseif kind == 'e' then
			redis.call('ZADD', K_EXP, int(w), expired_member(id, x, y, z, month))
		else
			-- Unreadable: it could be neither charged nor refunded.
			redis.call('HDEL', K_HOLDS, id)
		end
	end
	A.reserved = reserved
	A.dirty = true
end

-- repair_done rebuilds done and done_at as the union of the two. An id only
-- done_at still lists is finished ("f"), or expired with its charge from
-- its holds record; an id only done still has is forgotten SETTLED_TTL from
-- now, which may remember it longer than it would have been, never less.
repair_done = function()
	local known = {}
	local flat = redis.call('HGETALL', K_DONE)
	for i = 1, #flat, 2 do
		known[flat[i]] = true
	end
	local listed = {}
	for _, id in ipairs(redis.call('ZRANGE', K_DONE_AT, 0, -1)) do
		listed[id] = true
		if not known[id] then
			local v = redis.call('HGET', K_HOLDS, id)
			local kind, a, p, o, month
			if v then
				kind, a, p, o, _, month = parse_entry(v)
			end
			if kind == 'e' then
				redis.call('HSET', K_DONE, id, charge_record(a, p, o, month))
			else
				redis.call('HSET', K_DONE, id, 'f')
			end
		end
	end
	for id in pairs(known) do
		if not listed[id] then
			redis.call('ZADD', K_DONE_AT, int(FORGET), id)
		end
	end
	redis.call('PEXPIRE', K_DONE, int(SETTLED_TTL))
	redis.call('PEXPIRE', K_DONE_AT, int(SETTLED_TTL))
end

