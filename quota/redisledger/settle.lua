-- settle.lua: replace the hold with the real usage, once.
-- ARGV 4 request id  5 real usage
-- Returns reply(OK, debited), reply(DUPLICATE) or {UNKNOWN}.
local id = ARGV[4]
local real = tonumber(ARGV[5])

if not load() then
	return { UNKNOWN }
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
