// Package redisledger keeps quota books in Redis, shared by every tokengate
// replica. Each Ledger method is one Lua script run with EVALSHA: one round
// trip, one atomic step, so concurrent requests from any number of replicas
// can never together hold more than an account has left.
//
// Key layout, after Options.Prefix; the {a:<id>} hash tag puts all of an
// account's keys in one Redis Cluster slot, and the scripts receive every key
// they touch in KEYS:
//
//	{a:<id>}:acct        hash  allowance, prepaid, reserved, rpm_minute, rpm_count,
//	                           used + month (copy of that month's used), v (layout)
//	{a:<id>}:holds       hash  request id → "prompt,completion,expires_ms" (live)
//	                           | "e<YYYY-MM>,<allowance>,<prepaid>,<over>,forget_ms"
//	                           (expired, charged in that month)
//	{a:<id>}:exp         zset  the same entries as members "prompt,completion,<id>"
//	                           scored expires_ms, "e<YYYY-MM>,<a>,<p>,<o>,<id>" scored forget_ms
//	{a:<id>}:done        hash  request id → "s" | "r" | "e<YYYY-MM>,<a>,<p>,<o>" | "f"
//	{a:<id>}:done_at     zset  request id → when done forgets it (SettledTTL)
//	{a:<id>}:p:<YYYY-MM> hash  used, and copies of allowance and prepaid;
//	                           expires two months after the period ends
//
// Redis is a cache of the books, not the books: a key can be evicted,
// flushed or deleted by hand. Losing any one of an account's keys between
// two calls never mints a token and never charges one twice, because every
// fact is kept in two keys written by the same script, and the next call
// for the account restores the lost one before it decides anything:
//
//   - holds and exp mirror each other entry for entry, and done and
//     done_at likewise. Each call compares the sizes of the two halves, an
//     O(1) check; only when they differ does it read the pair and rebuild
//     the missing half, recomputing reserved from the live holds.
//   - A hold that expires unsettled is charged at what it holds, and the
//     charge, split into allowance, prepaid and overspend, and the month it
//     was drawn in, stays on the hold's own record in holds and exp as well
//     as in done until SettledTTL passes. A late Settle or Release corrects
//     that charge exactly whichever key is gone, and never charges the hold
//     again; a charge from an earlier month gets back only its prepaid part
//     (see ledgertest). A record written before the month was kept ("e,...")
//     is corrected as one of the current month.
//   - Settled and released ids are in done and done_at, so a repeated
//     Settle is a duplicate even when one of them is lost.
//   - The period's used is also in acct, beside the month it counts, and
//     acct's allowance and prepaid are also in the period hash; a load takes
//     the larger used, so a lost period hash never hands out a fresh
//     allowance. A lost acct hash is rebuilt from the period's copies and
//     the live holds, O(live and expired holds), never O(outcomes).
//
// What can still be lost, never turned into tokens to spend: prepaid tokens
// of an account whose acct hash is lost before its first call of a month
// (the new period hash holds no copy yet), and, with two of an account's
// keys lost together, the figures only those two held; holds and exp lost
// together leave nothing reserved, and their Settles debit the usage as for
// any lost hold. A lost acct hash also restarts the account's rate-limit
// minute. The record of the books is Postgres, from which a later layer
// rebuilds an account; Redis must run with maxmemory-policy noeviction
// (see CheckEvictionPolicy) so that losing keys stays the exception.
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
// only hash fields, set members and script arguments, never part of a key
// or of the Lua source. The current time, period and minute are computed in
// Go from the injected clock and zone, never from Redis TIME.
package redisledger
