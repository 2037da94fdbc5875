-- balance.lua: the books as of now; writes only when a hold fell due or a
-- lost key was restored.
-- Returns reply(OK) or {UNKNOWN}.
if not load() then
	return { UNKNOWN }
end
advance()
save()
return reply(OK)
