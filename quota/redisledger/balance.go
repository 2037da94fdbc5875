package redisledger

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/iasolaris/tokengate/quota"
)

//go:embed balance.lua
var balanceLua string

// balanceScript writes too: a hold that fell due is charged by whichever
// call for the account comes first, reads included.
var balanceScript = newScript(balanceLua)

// Balance implements [quota.Ledger.Balance].
func (l *Ledger) Balance(ctx context.Context, acct quota.AccountID) (quota.Balance, error) {
	r, err := l.call(ctx, balanceScript, acct, l.now())
	if err == nil {
		err = r.known()
	}
	if err != nil {
		return quota.Balance{}, fmt.Errorf("redisledger: balance %s: %w", acct, err)
	}
	return r.balance(acct), nil
}
