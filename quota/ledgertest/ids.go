package ledgertest

import (
	"testing"

	"github.com/iasolaris/tokengate/quota"
)

// oddIDs are ids a caller controls (x-request-id, a user header) shaped to
// collide with a storage key layout, escape a hash tag or inject a script.
var oddIDs = [...]string{
	"a",
	"a}",
	"a}:acct",
	"{a:a}",
	"a%7D",
	"a%257D",
	"",
	"é.user+tag@example.com",
	"x'); redis.call('FLUSHALL') --",
	"line\nbreak\r\n",
	"glob*?[]\\",
	"nul\x00byte",
}

func testOddIDs(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	// Every account holds under every request id, each with its own size, so
	// any two that shared storage would show each other's figures.
	for i, acct := range oddIDs {
		for j, req := range oddIDs {
			a := quota.Account{ID: quota.AccountID(acct), Allowance: quota.Tokens(10000 + i)}
			e.reserve(a, quota.RequestID(req), quota.Hold{Prompt: quota.Tokens(j + 1)})
		}
	}
	n := quota.Tokens(len(oddIDs))
	held := n * (n + 1) / 2
	for i, acct := range oddIDs {
		id := quota.AccountID(acct)
		allowance := quota.Tokens(10000 + i)
		e.wantBalance(id, counters{Allowance: allowance, Reserved: held, Remaining: allowance - held})
		// Settle one id per account, a different one each time.
		req := quota.RequestID(oddIDs[i])
		e.settleWant(id, req, quota.Usage{Prompt: 1000}, 1000, false)
		e.wantBalance(id, counters{Allowance: allowance, Used: 1000, Reserved: held - quota.Tokens(i+1), Remaining: allowance - 1000 - held + quota.Tokens(i+1)})
	}
	// The settlement of one account's id is no duplicate for another.
	for i, acct := range oddIDs {
		req := quota.RequestID(oddIDs[(i+1)%len(oddIDs)])
		e.settleWant(quota.AccountID(acct), req, quota.Usage{Prompt: 1}, 1, false)
	}
}
