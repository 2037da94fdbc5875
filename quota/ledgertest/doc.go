// Package ledgertest is the one contract every quota.Ledger must pass. Each
// implementation's test calls Run with a function that opens a fresh, empty
// ledger on the virtual clock and time zone the suite hands it, so the suite
// can move time across hold expiries, minutes and month boundaries without
// sleeping.
//
// Behaviour the suite pins down beyond the quota.Ledger comments, so that both
// ledgers agree on it:
//
//   - Every call for an account first charges that account's expired holds
//     (now ≥ reserved at + HoldTTL) at their held amount, into the current
//     period, through the same allowance-then-prepaid debit as a settlement,
//     and remembers that period with the charge.
//   - A Settle after its hold expired debits real − charged. When that is
//     negative the refund undoes the expiry charge newest-first: overspend,
//     then prepaid, then allowance, so the books end as a timely settlement
//     would have left them. Used is floored at zero.
//   - A charge made in an earlier period than its correction keeps that
//     period's share: a debit (real > charged) lands in the current period,
//     but a refund gives back only the prepaid part of the charge, which
//     carries over periods, still newest-first (overspend is passed over,
//     then prepaid comes back). The allowance and overspend parts counted
//     against the old period's used and are not refunded into the new one,
//     so a correction never lowers the current period's used: last month's
//     unused allowance never becomes this month's. Settlement.Debited still
//     reports real − charged.
//   - Release of a hold that expired and was charged refunds the charge the
//     same way: the upstream refused, so nothing was consumed.
//   - Release of an id that was never held (or of an unknown account) is not an
//     error, and a later Settle of that id is a duplicate that debits nothing.
//   - A live hold always wins: Settle of a held id debits the usage even if
//     the id was settled before (it was reserved again, so it ran again).
//     That holds for an id whose hold expired and was charged too: Reserve
//     holds it again, and the expiry charge stands.
//   - Reserve of an id settled or released (still remembered) holds
//     nothing and returns quota.ErrFinished, not a Refusal, before the rate
//     limit is looked at: only a call that reached the ledger after its
//     request finished can send it, and a hold made then would be charged
//     at expiry. Expired ids are not finished (above). An id only the
//     record of its end survived for (redisledger: done_at, rebuilt as
//     "f") is finished.
//   - Settled, released and expired ids are remembered for SettledTTL from
//     when they left the books (an expired hold: from its expiry charge)
//     and then forgotten; a Settle of a forgotten id debits as for a lost
//     hold.
//   - Reserving an id that is already held returns the existing reservation
//     even when the minute's rate is spent, and does not count toward it;
//     the allowance it carries is still stored.
//   - The rate-limit minute is the Unix minute; RetryAfter runs to its end.
package ledgertest
