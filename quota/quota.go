// Package quota decides who may spend tokens and keeps the books: monthly
// allowances, prepaid top-ups, in-flight reservations and their settlement.
// It knows nothing of gRPC, HTTP or SQL; the Ledger implementations live in
// sub-packages named for what they store in (redisledger, memledger) and both
// pass the one contract in ledgertest.
package quota

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// AccountID names whoever is charged: a person (keyed by e-mail) or an app.
// Defined types, not aliases: mixing an account and a request id is a compile
// error, not a production incident.
type AccountID string

// RequestID names one model call. Settlement is idempotent per RequestID, so it
// must be unique per HTTP request (Envoy's x-request-id is).
type RequestID string

// Tokens is a count of model tokens.
type Tokens int64

// Account carries the limits that apply to an account right now. They travel
// with every Reserve so that a plan change takes effect on the next request
// without a cache to invalidate in the ledger.
type Account struct {
	ID AccountID
	// Allowance is the number of tokens the account may use each period before
	// drawing on its prepaid balance.
	Allowance Tokens
	// RPM caps admitted requests per minute; 0 means no limit.
	RPM int
}

// Hold is what a request asks the ledger to set aside before it goes upstream.
type Hold struct {
	// Prompt is the estimated prompt size; the request is refused unless at
	// least this much is left.
	Prompt Tokens
	// Completion is the most completion tokens the request wants held. The
	// ledger grants min(Completion, what is left after Prompt).
	Completion Tokens
	// RequireCompletion refuses the request unless at least one completion
	// token can be granted. Hard enforcement sets it: the granted completion
	// becomes the request's max_tokens, and a cap of zero is not a request.
	RequireCompletion bool
}

// Usage is what a request really consumed, as the upstream reported it or as
// tokengate counted it when the upstream never said.
type Usage struct {
	Prompt     Tokens
	Completion Tokens
}

// Total is the number of tokens the usage debits.
func (u Usage) Total() Tokens { return u.Prompt + u.Completion }

// Reservation is an admitted hold.
type Reservation struct {
	ID RequestID
	// Prompt and Completion are what the ledger holds; Completion may be less
	// than asked for when the account is near its limit.
	Prompt     Tokens
	Completion Tokens
	// Balance is the account's balance with this hold counted.
	Balance Balance
}

// Held is the total number of tokens the reservation sets aside.
func (r Reservation) Held() Tokens { return r.Prompt + r.Completion }

// Balance is an account's position in one period.
type Balance struct {
	Account AccountID
	Period  Period
	// Allowance is the period's allowance; Used is what has been drawn from it
	// (it can pass Allowance only when prepaid tokens ran out mid-request, so
	// the overspend is measured, never hidden).
	Allowance Tokens
	Used      Tokens
	// Reserved is the sum of in-flight holds; Prepaid carries over periods.
	Reserved Tokens
	Prepaid  Tokens
	// Remaining = max(0, Allowance − Used) + Prepaid − Reserved, floored at 0.
	Remaining Tokens
}

// Settlement reports what settling one request did.
type Settlement struct {
	// Debited is what this call charged. It is zero for a request that was
	// already settled or released, and the difference from an earlier charge
	// for a request whose hold had expired and been charged at its estimate.
	Debited Tokens
	// Duplicate is true when the request had already been settled or released.
	Duplicate bool
	Balance   Balance
}

// Ledger holds every account's balance for the current period. Every method
// is one atomic step against its store: concurrent requests for one account,
// from any number of replicas, can never together hold more than the account
// has left.
type Ledger interface {
	// Reserve checks the rate limit, charges holds that expired unsettled at
	// their estimate, and sets aside the hold for id, all in one atomic step.
	// An account seen for the first time starts with acct.Allowance and no
	// prepaid tokens. A refusal is a *Refusal wrapping ErrQuotaExhausted or
	// ErrRateLimited. Reserving an id that is already held returns the
	// existing reservation. Reserving an id already settled or released,
	// for as long as the ledger remembers it, holds nothing and returns an
	// error wrapping ErrFinished: the request is over, and a hold made now
	// would only be charged at expiry. An id whose hold expired and was
	// charged is not finished: reserved again, it is held again.
	Reserve(ctx context.Context, acct Account, id RequestID, h Hold) (Reservation, error)
	// Settle replaces the hold for id with the real usage, drawing on the
	// allowance first and then on prepaid tokens. A hold that expired was
	// charged at its estimate; Settle debits or refunds the difference, but
	// a refund of a charge made in an earlier period gives back only what it
	// drew from prepaid tokens, never that period's allowance (see
	// ledgertest). Settling an id twice debits
	// once, for as long as the ledger remembers the id (its SettledTTL, from
	// when the id was settled, released or its hold expired). Settling an id
	// with no hold (lost or expired) still debits, so no
	// usage is ever dropped; an account the ledger has never seen (a request
	// admitted while the ledger was down, a store that lost its keys) starts
	// at acct.Allowance, as on Reserve.
	Settle(ctx context.Context, acct Account, id RequestID, u Usage) (Settlement, error)
	// Release drops the hold for id without a debit (the upstream refused the
	// request); an expiry charge is refunded as by a Settle of no usage.
	// Releasing an id that is not held is not an error; a later Settle of a
	// released id debits nothing.
	Release(ctx context.Context, acct AccountID, id RequestID) error
	// Balance reports the account's position in the current period, or
	// ErrUnknownAccount.
	Balance(ctx context.Context, acct AccountID) (Balance, error)
	// TopUp adds prepaid tokens, which carry over periods, to a known account,
	// or returns ErrUnknownAccount.
	TopUp(ctx context.Context, acct AccountID, n Tokens) (Balance, error)
}

var (
	// ErrQuotaExhausted means the account has fewer tokens left than the hold needs.
	ErrQuotaExhausted = errors.New("quota exhausted")
	// ErrRateLimited means the account made too many requests this minute.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnknownAccount means the ledger has never reserved for the account.
	ErrUnknownAccount = errors.New("unknown account")
	// ErrFinished means Reserve came after its request was settled or
	// released: typically a call that timed out on the caller's side and
	// reached the store after the caller had released the id. Nothing is
	// held and nothing needs undoing; it is not a refusal (no Balance) and
	// not a store failure. A Settle of the id is a duplicate, so a caller
	// must not admit the request on this answer.
	ErrFinished = errors.New("request already settled or released")
)

// Refusal says why a request was refused and what the caller has left; extproc
// renders it in the caller's API error format.
type Refusal struct {
	// Reason is ErrQuotaExhausted or ErrRateLimited.
	Reason error
	// Balance is the account's position when it was refused.
	Balance Balance
	// RetryAfter is when a rate-limited caller may try again.
	RetryAfter time.Duration
}

// Error implements error.
func (r *Refusal) Error() string {
	if errors.Is(r.Reason, ErrRateLimited) {
		return fmt.Sprintf("%v: retry after %v", r.Reason, r.RetryAfter)
	}
	return fmt.Sprintf("%v: %d tokens remaining", r.Reason, r.Balance.Remaining)
}

// Unwrap lets errors.Is(err, ErrRateLimited) see through a Refusal.
func (r *Refusal) Unwrap() error { return r.Reason }
