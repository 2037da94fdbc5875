package memledger

import (
	"context"
	"fmt"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// Reserve implements [quota.Ledger.Reserve].
func (l *Ledger) Reserve(ctx context.Context, acct quota.Account, id quota.RequestID, h quota.Hold) (quota.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return quota.Reservation{}, fmt.Errorf("memledger: reserve %s: %w", acct.ID, err)
	}
	now := l.now()
	a := l.lookupOrCreate(acct, now)
	defer a.mu.Unlock()
	a.allowance = acct.Allowance // a plan change applies from this request on

	// A retried request keeps its hold and is not a new request for the
	// rate limit.
	if held, ok := a.holds[id]; ok {
		return quota.Reservation{ID: id, Prompt: held.prompt, Completion: held.completion, Balance: a.balance()}, nil
	}
	// A late call for a request already over holds nothing: its hold would
	// only be charged at expiry. An expired id may be held again.
	if kind, _, ok := a.outcomes.get(id); ok && kind != expired {
		return quota.Reservation{}, fmt.Errorf("memledger: reserve %s: %w", acct.ID, quota.ErrFinished)
	}

	minute := unixMinute(now)
	if acct.RPM > 0 && a.rpmMinute == minute && a.rpmCount >= acct.RPM {
		return quota.Reservation{}, &quota.Refusal{
			Reason:     quota.ErrRateLimited,
			Balance:    a.balance(),
			RetryAfter: time.Unix((minute+1)*60, 0).Sub(now),
		}
	}

	prompt, want := max(0, h.Prompt), max(0, h.Completion)
	left := a.remaining()
	grant := min(want, left-prompt)
	if left < prompt || (h.RequireCompletion && grant < 1) {
		return quota.Reservation{}, &quota.Refusal{Reason: quota.ErrQuotaExhausted, Balance: a.balance()}
	}

	expires := now.Add(l.holdTTL).UnixNano()
	a.holds[id] = hold{prompt: prompt, completion: grant, expires: expires}
	a.reserved += prompt + grant
	a.nextExpiry = min(a.nextExpiry, expires)
	if a.rpmMinute != minute {
		a.rpmMinute, a.rpmCount = minute, 0
	}
	a.rpmCount++
	return quota.Reservation{ID: id, Prompt: prompt, Completion: grant, Balance: a.balance()}, nil
}

// unixMinute is the rate-limit window now falls in; redisledger uses the same.
func unixMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}
