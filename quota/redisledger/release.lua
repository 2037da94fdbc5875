-- release.lua: drop the hold without a debit.
-- ARGV 5 request id
-- Returns reply(OK) or {UNKNOWN}.
local id = ARGV[5]

if not load() then
	return { UNKNOWN }
end
load_outcomes()
advance()

local kind, a, p, o, month = take(id)
if not kind then
	kind, a, p, o, month = outcome(id)
	if kind and kind ~= 'e' then
		save()
		return reply(OK)
	end
end
if kind == 'e' then
	-- Charged at its estimate when it expired; the upstream refused it,
	-- so nothing was consumed.
	correct(a, p, o, 0, month)
end
remember(id, 'r')
save()
return reply(OK)
