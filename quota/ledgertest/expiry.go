package ledgertest

import (
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

func testHoldExpiry(t *testing.T, open opener) {
	e := newEnv(t, open, setup{holdTTL: 10 * time.Minute})
	acct := quota.Account{ID: "otto@example.com", Allowance: 1000}
	e.reserve(acct, "h1", quota.Hold{Prompt: 100, Completion: 50})

	e.clock.Advance(10*time.Minute - time.Second)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Reserved: 150, Remaining: 850})
	e.reserve(acct, "h2", quota.Hold{Prompt: 10})

	// h1 is past its TTL: the next call charges it at what it held.
	e.clock.Advance(2 * time.Second)
	r := e.reserve(acct, "h3", quota.Hold{Prompt: 20})
	e.want("Reservation.Balance after h1 expired", r.Balance, counters{Allowance: 1000, Used: 150, Reserved: 30, Remaining: 820})
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 150, Reserved: 30, Remaining: 820})

	// Balance alone is a call for the account too.
	e.clock.Advance(10*time.Minute + time.Second)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 180, Remaining: 820})
}

func testLateSettle(t *testing.T, open opener) {
	// Allowance 100 and prepaid 100; a hold of 150 expires and is charged.
	// The late settlement must leave the books as a timely one would have.
	charged := counters{Allowance: 100, Used: 100, Prepaid: 50, Remaining: 50} // 100 allowance + 50 prepaid
	// After 80 more were settled without a hold first, the same charge took
	// the last 20 of the allowance, all 100 prepaid and 30 of overspend.
	overspent := counters{Allowance: 100, Used: 130, Prepaid: 0, Remaining: 0}
	for _, c := range []struct {
		name    string
		other   quota.Tokens // settled without a hold while the hold was live
		expired counters
		real    quota.Tokens
		debited quota.Tokens
		want    counters
	}{
		{"more than held", 0, charged, 200, 50, counters{Allowance: 100, Used: 100, Prepaid: 0, Remaining: 0}},
		{"exactly held", 0, charged, 150, 0, charged},
		{"less: prepaid back before allowance", 0, charged, 60, -90, counters{Allowance: 100, Used: 60, Prepaid: 100, Remaining: 140}},
		{"nothing used", 0, charged, 0, -150, counters{Allowance: 100, Used: 0, Prepaid: 100, Remaining: 200}},
		{"less: overspend back before prepaid", 80, overspent, 100, -50, counters{Allowance: 100, Used: 100, Prepaid: 20, Remaining: 20}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, open, setup{})
			acct := quota.Account{ID: "paula@example.com", Allowance: 100}
			e.reserve(acct, "seed", quota.Hold{})
			e.topUp(acct.ID, 100)
			r := e.reserve(acct, "slow", quota.Hold{Prompt: 100, Completion: 50})
			if r.Held() != 150 {
				t.Fatalf("held %d, want 150", r.Held())
			}
			if c.other > 0 {
				e.settle(acct.ID, "other", quota.Usage{Prompt: c.other})
			}
			e.clock.Advance(defaultHoldTTL + time.Second)
			e.wantBalance(acct.ID, c.expired)

			s := e.settleWant(acct.ID, "slow", quota.Usage{Prompt: c.real}, c.debited, false)
			e.want("Settlement.Balance", s.Balance, c.want)
			e.settleWant(acct.ID, "slow", quota.Usage{Prompt: c.real}, 0, true)
			e.wantBalance(acct.ID, c.want)
		})
	}
}

func testLateRefundFloor(t *testing.T, open opener) {
	at := time.Date(2026, time.November, 30, 23, 40, 0, 0, time.UTC)
	e := newEnv(t, open, setup{at: at})
	acct := quota.Account{ID: "rui@example.com", Allowance: 1000}
	e.reserve(acct, "slow", quota.Hold{Prompt: 500})
	e.clock.Advance(defaultHoldTTL + time.Minute) // 23:51, charged in November
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 500, Remaining: 500})

	// December has nothing to give back from: Used stays at zero, never
	// negative, and the refund does not turn into prepaid tokens.
	e.clock.Advance(10 * time.Minute)
	s := e.settleWant(acct.ID, "slow", quota.Usage{Prompt: 100}, -400, false)
	e.want("Settlement.Balance", s.Balance, counters{Allowance: 1000, Remaining: 1000})
	b := e.wantBalance(acct.ID, counters{Allowance: 1000, Remaining: 1000})
	if got := b.Period.Key(); got != "2026-12" {
		t.Fatalf("period %s, want 2026-12", got)
	}
}

func testReleaseAfterExpiry(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "sara@example.com", Allowance: 1000}
	e.reserve(acct, "slow", quota.Hold{Prompt: 300})
	e.clock.Advance(defaultHoldTTL + time.Second)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 300, Remaining: 700})
	// The upstream refused after all: nothing was consumed.
	e.release(acct.ID, "slow")
	e.wantBalance(acct.ID, counters{Allowance: 1000, Remaining: 1000})
	e.settleWant(acct.ID, "slow", quota.Usage{Prompt: 300}, 0, true)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Remaining: 1000})
}
