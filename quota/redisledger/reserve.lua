-- reserve.lua: rate check, expiry sweep and hold in one step.
-- ARGV 5 request id  6 allowance  7 rpm (0 = no limit)  8 unix minute
--      9 prompt  10 completion wanted  11 require completion (1/0)  12 hold expires_ms
-- Returns reply(EXISTING|OK, prompt, completion), reply(FINISHED),
-- reply(RATE_LIMITED) or reply(EXHAUSTED).
local id = ARGV[5]
local allowance = tonumber(ARGV[6])
local rpm = tonumber(ARGV[7])
local minute = tonumber(ARGV[8])
local prompt = tonumber(ARGV[9])
local want = tonumber(ARGV[10])
local require_completion = ARGV[11] == '1'
local expires = tonumber(ARGV[12])

-- First sight: the account starts at its allowance with no prepaid.
load(allowance)
load_outcomes()
A.allowance = allowance -- a plan change applies from this request on
A.dirty = true
advance()

-- A retried request keeps its hold and is not a new request for the rate limit.
local entry = redis.call('HGET', K_HOLDS, id)
if entry then
	local kind, p, c = parse_entry(entry)
	if kind == 'h' then
		save()
		return reply(EXISTING, p, c)
	end
end

-- A late call for a request already settled, released or finished holds
-- nothing: its hold would only be charged at expiry. An expired id ("e")
-- may be held again.
local kind = outcome(id)
if kind and kind ~= 'e' then
	save()
	return reply(FINISHED)
end

if rpm > 0 and A.rpm_minute == minute and A.rpm_count >= rpm then
	save()
	return reply(RATE_LIMITED)
end

local left = remaining()
local grant = math.min(want, left - prompt)
if left < prompt or (require_completion and grant < 1) then
	save()
	return reply(EXHAUSTED)
end

if entry then
	-- The id's hold expired and was charged; reserved again, the request
	-- runs again. Its outcome stays in done until the new hold ends.
	take(id)
end
redis.call('HSET', K_HOLDS, id, live_entry(prompt, grant, expires))
redis.call('ZADD', K_EXP, int(expires), live_member(id, prompt, grant))
A.reserved = A.reserved + prompt + grant
if A.rpm_minute ~= minute then
	A.rpm_minute, A.rpm_count = minute, 0
end
A.rpm_count = A.rpm_count + 1
save()
return reply(OK, prompt, grant)
