-- topup.lua: add prepaid tokens, which carry over periods.
-- ARGV 5 tokens (not negative; checked by the caller)
-- Returns reply(OK) or {UNKNOWN}.
local n = tonumber(ARGV[5])

if not load() then
	return { UNKNOWN }
end
advance()
A.prepaid = A.prepaid + n
A.dirty = true
save()
return reply(OK)
