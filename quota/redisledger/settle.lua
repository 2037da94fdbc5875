-- settle.lua: replace the hold with the real usage, once.
-- ARGV 4 request id  5 real usage  6 allowance, for an account never seen
-- Returns reply(OK, debited) or reply(DUPLICATE).
local id = ARGV[4]
local real = tonumber(ARGV[5])

if not load() then
	-- Usage for an account the ledger does not know (admitted while the
	-- ledger was down, or its keys were lost) still lands: the account
	-- starts at its allowance, as on Reserve.
	A = { allowance = tonumber(ARGV[6]), prepaid = 0, reserved = 0, rpm_minute = 0, rpm_count = 0,
		used = tonumber(redis.call('HGET', K_PERIOD, 'used')) or 0, dirty = true }
end
advance()

local debited = real
-- A live hold wins over an earlier outcome: the id was reserved again, so
-- the request ran again.
if take(id) then
	debit(real)
else
	local kind, a, p, o = outcome(id)
	if kind == 's' or kind == 'r' then
		save()
		return reply(DUPLICATE)
	elseif kind == 'e' then
		debited = correct(a, p, o, real)
	else
		debit(real) -- lost hold: no usage is ever dropped
	end
end
remember(id, 's,' .. int(real))
save()
return reply(OK, debited)
