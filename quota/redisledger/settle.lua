-- settle.lua: replace the hold with the real usage, once.
-- ARGV 5 request id  6 real usage  7 allowance, for an account never seen
-- Returns reply(OK, debited) or reply(DUPLICATE).
local id = ARGV[5]
local real = tonumber(ARGV[6])

-- Usage for an account the ledger does not know (admitted while the ledger
-- was down, or its keys were lost) still lands: the account starts at its
-- allowance, as on Reserve.
load(tonumber(ARGV[7]))
load_outcomes()
advance()

local debited = real
-- A live hold wins over an earlier outcome: the id was reserved again, so
-- the request ran again.
local kind, a, p, o, month = take(id)
if kind == 'h' then
	debit(real)
elseif kind == 'e' then
	debited = correct(a, p, o, real, month)
else
	kind, a, p, o, month = outcome(id)
	if kind == 'e' then
		-- Its holds record is gone before its outcome (forgotten a batch
		-- apart): the outcome's copy of the charge still corrects it.
		debited = correct(a, p, o, real, month)
	elseif kind then
		save()
		return reply(DUPLICATE)
	else
		debit(real) -- lost hold: no usage is ever dropped
	end
end
remember(id, 's')
save()
return reply(OK, debited)
