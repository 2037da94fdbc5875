package memledger

import (
	"context"
	"fmt"

	"github.com/iasolaris/tokengate/quota"
)

// Settle implements [quota.Ledger.Settle].
func (l *Ledger) Settle(ctx context.Context, acct quota.Account, id quota.RequestID, u quota.Usage) (quota.Settlement, error) {
	if err := ctx.Err(); err != nil {
		return quota.Settlement{}, fmt.Errorf("memledger: settle %s: %w", acct.ID, err)
	}
	now := l.now()
	a := l.lookupOrCreate(acct, now)
	defer a.mu.Unlock()

	actual := max(0, u.Prompt) + max(0, u.Completion)
	var debited quota.Tokens
	// A live hold wins over an earlier outcome: the id was reserved again,
	// so the request ran again.
	if h, ok := a.holds[id]; ok {
		delete(a.holds, id)
		a.reserved -= h.held()
		a.debit(actual)
		debited = actual
	} else if kind, charge, ok := a.outcomes.get(id); ok {
		if kind != expired {
			return quota.Settlement{Duplicate: true, Balance: a.balance()}, nil
		}
		debited = a.correct(charge, actual)
	} else {
		// Lost hold: no usage is ever dropped.
		a.debit(actual)
		debited = actual
	}
	a.outcomes.put(id, settled, draw{}, now.Add(l.settledTTL).UnixNano())
	return quota.Settlement{Debited: debited, Balance: a.balance()}, nil
}

// Release implements [quota.Ledger.Release].
func (l *Ledger) Release(ctx context.Context, acct quota.AccountID, id quota.RequestID) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memledger: release %s: %w", acct, err)
	}
	now := l.now()
	a := l.lookup(acct, now)
	if a == nil {
		return nil // nothing can be held for an account never seen
	}
	defer a.mu.Unlock()

	if h, ok := a.holds[id]; ok {
		delete(a.holds, id)
		a.reserved -= h.held()
	} else if kind, charge, ok := a.outcomes.get(id); ok {
		if kind != expired {
			return nil
		}
		// Charged at its estimate when it expired; the upstream refused it,
		// so nothing was consumed.
		a.correct(charge, 0)
	}
	a.outcomes.put(id, released, draw{}, now.Add(l.settledTTL).UnixNano())
	return nil
}
