-- reserve.lua: rate check, expiry sweep and hold in one step.
-- ARGV 4 request id  5 allowance  6 rpm (0 = no limit)  7 unix minute
--      8 prompt  9 completion wanted  10 require completion (1/0)  11 hold expires_ms
-- Returns reply(EXISTING|OK, prompt, completion), reply(RATE_LIMITED) or
-- reply(EXHAUSTED).
local id = ARGV[4]
local allowance = tonumber(ARGV[5])
local rpm = tonumber(ARGV[6])
local minute = tonumber(ARGV[7])
local prompt = tonumber(ARGV[8])
local want = tonumber(ARGV[9])
local require_completion = ARGV[10] == '1'
local expires = tonumber(ARGV[11])

if not load() then
	-- First sight: the account starts at its allowance with no prepaid.
	A = { allowance = allowance, prepaid = 0, reserved = 0, rpm_minute = 0, rpm_count = 0,
		used = tonumber(redis.call('HGET', K_PERIOD, 'used')) or 0 }
end
A.allowance = allowance -- a plan change applies from this request on
A.dirty = true
advance()

-- A retried request keeps its hold and is not a new request for the rate limit.
local h = redis.call('HGET', K_HOLDS, id)
if h then
	save()
	local p, c = string.match(h, '^(%d+),(%d+),')
	return reply(EXISTING, tonumber(p), tonumber(c))
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

redis.call('HSET', K_HOLDS, id, int(prompt) .. ',' .. int(grant) .. ',' .. int(expires))
redis.call('ZADD', K_EXP, int(expires), id)
A.reserved = A.reserved + prompt + grant
if A.rpm_minute ~= minute then
	A.rpm_minute, A.rpm_count = minute, 0
end
A.rpm_count = A.rpm_count + 1
save()
return reply(OK, prompt, grant)
