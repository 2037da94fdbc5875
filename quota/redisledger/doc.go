// Package redisledger keeps quota books in Redis, shared by every tokengate
// replica. Each Ledger method is one Lua script run with EVALSHA: one round
// trip, one atomic step, so concurrent requests from any number of replicas
// can never together hold more than an account has left.
//
// Key layout, after Options.Prefix; the {a:<id>} hash tag puts all of an
// account's keys in one Redis Cluster slot, and the scripts receive every key
// they touch in KEYS:
//
//	{a:<id>}:acct        hash  allowance, prepaid, reserved, rpm_minute, rpm_count
//	{a:<id>}:holds       hash  request id → "prompt,completion,expires_ms"
//	{a:<id>}:exp         zset  request id → expires_ms, for the expiry sweep
//	{a:<id>}:done        hash  request id → "s,<usage>" | "r" | "e,<allowance>,<prepaid>,<over>"
//	{a:<id>}:done_at     zset  request id → when done forgets it (SettledTTL)
//	{a:<id>}:p:<YYYY-MM> hash  used; expires two months after the period ends
//
// Settled, released and expired request ids live in one hash per account
// rather than a key each, because the expiry sweep discovers the ids it
// charges inside the script, where it could not declare a key per id. They
// are forgotten a bounded batch per call, and the whole hash expires once no
// request of the account has finished for SettledTTL. The rate-limit window
// is two fields of acct, to keep keys few: the minute is stored beside its
// count, so no key needs expiring.
//
// The account id is percent-escaped in keys ('%', '{' and '}'), so no id can
// end the hash tag early or reach another account's keys; request ids are
// only hash fields and script arguments, never part of a key or of the Lua
// source. The current time, period and minute are computed in Go from the
// injected clock and zone, never from Redis TIME.
package redisledger
