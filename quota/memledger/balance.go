package memledger

import (
	"context"
	"fmt"

	"github.com/iasolaris/tokengate/quota"
)

// Balance implements [quota.Ledger.Balance].
func (l *Ledger) Balance(ctx context.Context, acct quota.AccountID) (quota.Balance, error) {
	if err := ctx.Err(); err != nil {
		return quota.Balance{}, fmt.Errorf("memledger: balance %s: %w", acct, err)
	}
	a := l.lookup(acct, l.now())
	if a == nil {
		return quota.Balance{}, fmt.Errorf("memledger: balance %s: %w", acct, quota.ErrUnknownAccount)
	}
	defer a.mu.Unlock()
	return a.balance(), nil
}

// TopUp implements [quota.Ledger.TopUp]. A negative n is refused: taking
// prepaid tokens back is a correction, not a top-up.
func (l *Ledger) TopUp(ctx context.Context, acct quota.AccountID, n quota.Tokens) (quota.Balance, error) {
	if err := ctx.Err(); err != nil {
		return quota.Balance{}, fmt.Errorf("memledger: top up %s: %w", acct, err)
	}
	if n < 0 {
		return quota.Balance{}, fmt.Errorf("memledger: top up %s: negative amount %d", acct, n)
	}
	a := l.lookup(acct, l.now())
	if a == nil {
		return quota.Balance{}, fmt.Errorf("memledger: top up %s: %w", acct, quota.ErrUnknownAccount)
	}
	defer a.mu.Unlock()
	a.prepaid += n
	return a.balance(), nil
}
