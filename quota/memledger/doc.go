// Package memledger keeps quota books in process memory: the embedded default
// for `tokengate dev` and for `tokengate serve` without Redis. It follows the
// same contract as redisledger (both pass ledgertest), but its books die with
// the process and are not shared between replicas.
//
// Each account has its own mutex, so requests for different accounts never
// wait on each other. Work that grows with an account's history is kept off
// the hot path: the earliest hold expiry is remembered, so holds are scanned
// only when one is due, and settled, released or expired request ids are
// forgotten in the order they were written, a bounded batch per call.
//
// Outcomes are forgotten after SettledTTL, as Redis forgets them, even for an
// account that never calls again: every call also lends a little pruning to
// a few other accounts, round-robin over all of them, skipping any that is
// busy, so no goroutine runs in the background and no call waits for
// another account. A remembered outcome costs about 130 bytes with its
// request id, an account about 750 bytes besides (see TestOutcomeMemory);
// accounts themselves are kept, since their books must be.
package memledger
