package memledger

import (
	"math"
	"sync"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// noExpiry marks an account with no live hold.
const noExpiry = math.MaxInt64

// account is one account's books. Every field is guarded by mu.
type account struct {
	mu sync.Mutex
	id quota.AccountID

	allowance quota.Tokens
	prepaid   quota.Tokens // carries over periods
	reserved  quota.Tokens // sum of holds
	period    quota.Period
	used      quota.Tokens // drawn from period's allowance, overspend included

	holds map[quota.RequestID]hold
	// nextExpiry is a lower bound on the earliest hold expiry (Unix ns), so
	// most calls skip the sweep without looking at a hold. Removing a hold
	// leaves it alone: at worst one later sweep finds nothing to do.
	nextExpiry int64

	outcomes outcomes

	rpmMinute int64 // Unix minute rpmCount counts admissions for
	rpmCount  int
}

// hold is a live reservation.
type hold struct {
	prompt, completion quota.Tokens
	expires            int64 // Unix ns; due when now ≥ expires
}

func (h hold) held() quota.Tokens { return h.prompt + h.completion }

func newAccount(acct quota.Account, p quota.Period) *account {
	return &account{
		id:         acct.ID,
		allowance:  acct.Allowance,
		period:     p,
		holds:      make(map[quota.RequestID]hold),
		nextExpiry: noExpiry,
	}
}

// advance brings the books to now: a new period starts with nothing used,
// due holds are charged, and old outcomes are forgotten.
func (a *account) advance(now time.Time, l *Ledger) {
	if !now.Before(a.period.End) {
		a.period = quota.PeriodOf(now, l.loc)
		a.used = 0
	}
	ns := now.UnixNano()
	if a.nextExpiry <= ns {
		a.sweep(ns, ns+int64(l.settledTTL))
	}
	a.outcomes.prune(ns)
}

// sweep charges every due hold at what it holds and remembers the charge, so
// a late Settle can debit or refund only the difference.
func (a *account) sweep(now, forgetAt int64) {
	next := int64(noExpiry)
	for id, h := range a.holds {
		if h.expires > now {
			next = min(next, h.expires)
			continue
		}
		delete(a.holds, id)
		a.reserved -= h.held()
		a.outcomes.put(id, expired, a.debit(h.held()), forgetAt)
	}
	a.nextExpiry = next
}

func (a *account) remaining() quota.Tokens {
	return quota.Remaining(a.allowance, a.used, a.prepaid, a.reserved)
}

func (a *account) balance() quota.Balance {
	return quota.Balance{
		Account:   a.id,
		Period:    a.period,
		Allowance: a.allowance,
		Used:      a.used,
		Reserved:  a.reserved,
		Prepaid:   a.prepaid,
		Remaining: a.remaining(),
	}
}
