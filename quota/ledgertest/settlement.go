package ledgertest

import (
	"errors"
	"testing"

	"github.com/iasolaris/tokengate/quota"
)

func testRemainingFormula(t *testing.T, open opener) {
	// Remaining = max(0, Allowance − Used) + Prepaid − Reserved, floored at 0.
	for _, c := range []struct {
		name                   string
		allowance, hold, topUp quota.Tokens
		usage                  quota.Tokens // settled without a hold, after the hold and top-up
		want                   counters
	}{
		{"fresh", 1000, 0, 0, 0, counters{1000, 0, 0, 0, 1000}},
		{"used and held", 1000, 200, 0, 300, counters{1000, 300, 200, 0, 500}},
		{"prepaid adds", 1000, 200, 500, 300, counters{1000, 300, 200, 500, 1000}},
		{"usage past allowance draws prepaid", 100, 30, 100, 150, counters{100, 100, 30, 50, 20}},
		{"overspend does not go negative", 100, 0, 0, 250, counters{100, 250, 0, 0, 0}},
		{"holds past what is left floor at zero", 100, 80, 0, 50, counters{100, 50, 80, 0, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, open, setup{})
			acct := quota.Account{ID: "hana@example.com", Allowance: c.allowance}
			e.reserve(acct, "held", quota.Hold{Prompt: c.hold})
			if c.topUp > 0 {
				e.topUp(acct.ID, c.topUp)
			}
			if c.usage > 0 {
				e.settleWant(acct.ID, "unheld", quota.Usage{Prompt: c.usage}, c.usage, false)
			}
			e.wantBalance(acct.ID, c.want)
		})
	}
}

func testAllowanceBeforePrepaid(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "igor@example.com", Allowance: 1000}
	e.reserve(acct, "r1", quota.Hold{Prompt: 100, Completion: 800})
	e.settleWant(acct.ID, "r1", quota.Usage{Prompt: 100, Completion: 800}, 900, false)
	b := e.topUp(acct.ID, 500)
	e.want("TopUp", b, counters{Allowance: 1000, Used: 900, Prepaid: 500, Remaining: 600})

	// 300 more: the last 100 of the allowance first, then 200 prepaid.
	e.reserve(acct, "r2", quota.Hold{Prompt: 50, Completion: 250})
	s := e.settleWant(acct.ID, "r2", quota.Usage{Prompt: 50, Completion: 250}, 300, false)
	e.want("Settlement.Balance", s.Balance, counters{Allowance: 1000, Used: 1000, Prepaid: 300, Remaining: 300})

	// Usage beyond everything: prepaid to zero, the rest is measured as
	// overspend in Used rather than dropped.
	s = e.settleWant(acct.ID, "r3", quota.Usage{Prompt: 400}, 400, false)
	e.want("Settlement.Balance", s.Balance, counters{Allowance: 1000, Used: 1100, Prepaid: 0, Remaining: 0})
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 1100, Prepaid: 0, Remaining: 0})
}

func testTopUp(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "joao@example.com", Allowance: 100}
	e.reserve(acct, "r", quota.Hold{Prompt: 100})
	e.refuse(acct, "more", quota.Hold{Prompt: 1}, quota.ErrQuotaExhausted)
	e.want("first TopUp", e.topUp(acct.ID, 50), counters{Allowance: 100, Reserved: 100, Prepaid: 50, Remaining: 50})
	e.want("second TopUp", e.topUp(acct.ID, 25), counters{Allowance: 100, Reserved: 100, Prepaid: 75, Remaining: 75})
	e.reserve(acct, "more", quota.Hold{Prompt: 75})
	e.wantBalance(acct.ID, counters{Allowance: 100, Reserved: 175, Prepaid: 75, Remaining: 0})
}

func testSettleIdempotent(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "lia@example.com", Allowance: 1000}
	e.reserve(acct, "r", quota.Hold{Prompt: 100, Completion: 100})
	s := e.settleWant(acct.ID, "r", quota.Usage{Prompt: 80, Completion: 40}, 120, false)
	want := counters{Allowance: 1000, Used: 120, Remaining: 880}
	e.want("first Settlement.Balance", s.Balance, want)
	s = e.settleWant(acct.ID, "r", quota.Usage{Prompt: 80, Completion: 40}, 0, true)
	e.want("second Settlement.Balance", s.Balance, want)
	e.settleWant(acct.ID, "r", quota.Usage{Prompt: 500}, 0, true) // a different figure changes nothing either
	e.wantBalance(acct.ID, want)
}

func testSettleWithoutHold(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "malu@example.com", Allowance: 1000}
	e.reserve(acct, "live", quota.Hold{Prompt: 100})
	s := e.settleWant(acct.ID, "lost", quota.Usage{Prompt: 30, Completion: 20}, 50, false)
	e.want("Settlement.Balance", s.Balance, counters{Allowance: 1000, Used: 50, Reserved: 100, Remaining: 850})
	e.settleWant(acct.ID, "lost", quota.Usage{Prompt: 30, Completion: 20}, 0, true)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 50, Reserved: 100, Remaining: 850})
}

func testRelease(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "nina@example.com", Allowance: 1000}
	e.reserve(acct, "r", quota.Hold{Prompt: 100, Completion: 100})
	e.reserve(acct, "other", quota.Hold{Prompt: 10})
	e.release(acct.ID, "r")
	want := counters{Allowance: 1000, Reserved: 10, Remaining: 990}
	e.wantBalance(acct.ID, want)
	e.release(acct.ID, "r") // twice is not an error
	e.settleWant(acct.ID, "r", quota.Usage{Prompt: 100, Completion: 100}, 0, true)
	e.wantBalance(acct.ID, want)

	// An id that was never held: not an error, and it stays released.
	e.release(acct.ID, "never-held")
	e.settleWant(acct.ID, "never-held", quota.Usage{Prompt: 5}, 0, true)
	e.wantBalance(acct.ID, want)
}

func testUnknownAccount(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	ctx := t.Context()
	ghost := quota.AccountID("ghost@example.com")
	if _, err := e.l.Balance(ctx, ghost); !errors.Is(err, quota.ErrUnknownAccount) {
		t.Fatalf("Balance of an unknown account: %v, want ErrUnknownAccount", err)
	}
	if _, err := e.l.TopUp(ctx, ghost, 100); !errors.Is(err, quota.ErrUnknownAccount) {
		t.Fatalf("TopUp of an unknown account: %v, want ErrUnknownAccount", err)
	}
	if err := e.l.Release(ctx, ghost, "r"); err != nil {
		t.Fatalf("Release of an unknown account: %v, want nil (nothing is held)", err)
	}
	// None of those made the account known; a refused Reserve does.
	if _, err := e.l.Balance(ctx, ghost); !errors.Is(err, quota.ErrUnknownAccount) {
		t.Fatalf("Balance after TopUp/Release of an unknown account: %v, want ErrUnknownAccount", err)
	}
	e.refuse(quota.Account{ID: ghost, Allowance: 10}, "r", quota.Hold{Prompt: 11}, quota.ErrQuotaExhausted)
	e.wantBalance(ghost, counters{Allowance: 10, Remaining: 10})
}

// testSettleUnknownAccount: usage for an account the ledger never saw (a
// request admitted while the ledger was down, or a store that lost its keys)
// still lands, and the account starts at the allowance Settle was given.
func testSettleUnknownAccount(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	ghost := quota.Account{ID: "ghost@example.com", Allowance: 100}
	s, err := e.l.Settle(t.Context(), ghost, "r", quota.Usage{Prompt: 10, Completion: 5})
	if err != nil {
		t.Fatalf("Settle of an unknown account: %v", err)
	}
	if s.Debited != 15 || s.Duplicate {
		t.Fatalf("Settle of an unknown account = %+v, want 15 debited", s)
	}
	e.wantBalance(ghost.ID, counters{Allowance: 100, Used: 15, Remaining: 85})
	e.settleWant(ghost.ID, "r", quota.Usage{Prompt: 10, Completion: 5}, 0, true)
}
