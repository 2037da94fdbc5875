package redisledger

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

//go:embed reserve.lua
var reserveLua string

var reserveScript = newScript(reserveLua)

// Reserve implements [quota.Ledger.Reserve].
func (l *Ledger) Reserve(ctx context.Context, acct quota.Account, id quota.RequestID, h quota.Hold) (quota.Reservation, error) {
	now := l.now()
	minute := unixMinute(now)
	require := 0
	if h.RequireCompletion {
		require = 1
	}
	r, err := l.call(ctx, reserveScript, acct.ID, now,
		string(id), int64(acct.Allowance), acct.RPM, minute,
		int64(max(0, h.Prompt)), int64(max(0, h.Completion)), require,
		now.Add(l.holdTTL).UnixMilli())
	if err != nil {
		return quota.Reservation{}, fmt.Errorf("redisledger: reserve %s: %w", acct.ID, err)
	}
	switch r.status {
	case statusOK, statusExisting:
		return quota.Reservation{ID: id, Prompt: quota.Tokens(r.x), Completion: quota.Tokens(r.y), Balance: r.balance(acct.ID)}, nil
	case statusRateLimited:
		return quota.Reservation{}, &quota.Refusal{
			Reason:     quota.ErrRateLimited,
			Balance:    r.balance(acct.ID),
			RetryAfter: time.Unix((minute+1)*60, 0).Sub(now),
		}
	case statusExhausted:
		return quota.Reservation{}, &quota.Refusal{Reason: quota.ErrQuotaExhausted, Balance: r.balance(acct.ID)}
	case statusFinished:
		return quota.Reservation{}, fmt.Errorf("redisledger: reserve %s: %w", acct.ID, quota.ErrFinished)
	}
	return quota.Reservation{}, fmt.Errorf("redisledger: reserve %s: unexpected status %d", acct.ID, r.status)
}

// unixMinute is the rate-limit window t falls in: the Unix minute, the same
// in every zone and on every replica.
func unixMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}
