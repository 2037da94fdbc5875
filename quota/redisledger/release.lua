-- release.lua: drop the hold without a debit.
-- ARGV 4 request id
-- Returns reply(OK) or {UNKNOWN}.
local id = ARGV[4]

if not load() then
	return { UNKNOWN }
end
advance()

if not take(id) then
	local kind, a, p, o = outcome(id)
	if kind == 's' or kind == 'r' then
		save()
		return reply(OK)
	elseif kind == 'e' then
		-- Charged at its estimate when it expired; the upstream refused it,
		-- so nothing was consumed.
		correct(a, p, o, 0)
	end
end
remember(id, 'r')
save()
return reply(OK)
