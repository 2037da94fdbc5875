package redisledger

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/iasolaris/tokengate/quota"
)

//go:embed settle.lua
var settleLua string

var settleScript = newScript(settleLua)

// Settle implements [quota.Ledger.Settle].
func (l *Ledger) Settle(ctx context.Context, acct quota.Account, id quota.RequestID, u quota.Usage) (quota.Settlement, error) {
	actual := max(0, u.Prompt) + max(0, u.Completion)
	r, err := l.call(ctx, settleScript, acct.ID, l.now(), string(id), int64(actual), int64(acct.Allowance))
	if err != nil {
		return quota.Settlement{}, fmt.Errorf("redisledger: settle %s: %w", acct.ID, err)
	}
	return quota.Settlement{
		Debited:   quota.Tokens(r.x),
		Duplicate: r.status == statusDuplicate,
		Balance:   r.balance(acct.ID),
	}, nil
}
