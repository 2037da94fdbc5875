// Package memledger keeps quota books in process memory: the embedded default
// for `tokengate dev` and for `tokengate serve` without Redis. It follows the
// same contract as redisledger (both pass ledgertest), but its books die with
// the process and are not shared between replicas.
//
// Each account has its own mutex, so requests for different accounts never
// wait on each other. Work that grows with an account's history is kept off
// the hot path: the earliest hold expiry is remembered, so holds are scanned
// only when one is due, and settled or released request ids are forgotten in
// the order they were written, a bounded batch per call.
package memledger
