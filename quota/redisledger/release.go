package redisledger

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/iasolaris/tokengate/quota"
)

//go:embed release.lua
var releaseLua string

var releaseScript = newScript(releaseLua)

// Release implements [quota.Ledger.Release]. For an account with no books
// it does nothing: nothing can be held there.
func (l *Ledger) Release(ctx context.Context, acct quota.AccountID, id quota.RequestID) error {
	if _, err := l.call(ctx, releaseScript, acct, l.now(), string(id)); err != nil {
		return fmt.Errorf("redisledger: release %s: %w", acct, err)
	}
	return nil
}
