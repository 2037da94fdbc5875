package redisledger

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/iasolaris/tokengate/quota"
)

//go:embed topup.lua
var topUpLua string

var topUpScript = newScript(topUpLua)

// TopUp implements [quota.Ledger.TopUp]. A negative n is refused: taking
// prepaid tokens back is a correction, not a top-up.
func (l *Ledger) TopUp(ctx context.Context, acct quota.AccountID, n quota.Tokens) (quota.Balance, error) {
	if n < 0 {
		return quota.Balance{}, fmt.Errorf("redisledger: top up %s: negative amount %d", acct, n)
	}
	r, err := l.call(ctx, topUpScript, acct, l.now(), int64(n))
	if err == nil {
		err = r.known()
	}
	if err != nil {
		return quota.Balance{}, fmt.Errorf("redisledger: top up %s: %w", acct, err)
	}
	return r.balance(acct), nil
}
