package ledgertest

import (
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

func testPeriodRollover(t *testing.T, open opener) {
	sp, err := time.LoadLocation("America/Sao_Paulo")
	if err != nil {
		t.Fatal(err)
	}
	// 20:00 on 31 March in São Paulo is 23:00 UTC: March in both zones.
	e := newEnv(t, open, setup{loc: sp, at: time.Date(2026, time.March, 31, 20, 0, 0, 0, sp), holdTTL: 12 * time.Hour})
	acct := quota.Account{ID: "tiago@example.com", Allowance: 1000}
	e.reserve(acct, "march", quota.Hold{Prompt: 400})
	e.settle(acct.ID, "march", quota.Usage{Prompt: 400})
	e.topUp(acct.ID, 250)
	e.reserve(acct, "open", quota.Hold{Prompt: 100}) // in flight across midnight
	march := counters{Allowance: 1000, Used: 400, Reserved: 100, Prepaid: 250, Remaining: 750}
	e.wantBalance(acct.ID, march)

	// 22:00 in São Paulo is already 1 April in UTC; the period must not turn.
	e.clock.Advance(2 * time.Hour)
	if b := e.wantBalance(acct.ID, march); b.Period.Key() != "2026-03" {
		t.Fatalf("at 22:00 São Paulo the period is %s, want 2026-03", b.Period.Key())
	}

	// 01:00 on 1 April in São Paulo: used resets, prepaid and holds carry.
	e.clock.Advance(3 * time.Hour)
	b := e.wantBalance(acct.ID, counters{Allowance: 1000, Reserved: 100, Prepaid: 250, Remaining: 1150})
	if want := time.Date(2026, time.April, 1, 0, 0, 0, 0, sp); !b.Period.Start.Equal(want) || b.Period.Key() != "2026-04" {
		t.Fatalf("period starts %v (%s), want %v", b.Period.Start, b.Period.Key(), want)
	}
	// The hold from March settles into April.
	s := e.settleWant(acct.ID, "open", quota.Usage{Prompt: 80}, 80, false)
	e.want("Settlement.Balance", s.Balance, counters{Allowance: 1000, Used: 80, Prepaid: 250, Remaining: 1170})
}
