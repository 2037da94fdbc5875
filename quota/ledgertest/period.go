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

func testLateCorrectionAcrossPeriods(t *testing.T, open opener) {
	// A hold reserved at 23:40 on 31 January is charged at its estimate in
	// January; its late Settle or Release comes in February, after February
	// already used 60,000. January's allowance and overspend stay
	// January's: only the prepaid part of the charge comes back.
	const feb = 60_000
	for _, c := range []struct {
		name    string
		prepaid quota.Tokens // topped up before the hold
		other   quota.Tokens // settled without a hold while the hold was live
		jan     counters     // January, after the expiry charge
		real    quota.Tokens // the late Settle's usage; < 0 releases instead
		debited quota.Tokens
		want    counters // February, after the late call
	}{
		{"release: allowance stays January's", 0, 0,
			counters{Allowance: 100_000, Used: 50_000, Remaining: 50_000},
			-1, 0, counters{Allowance: 100_000, Used: feb, Remaining: 40_000}},
		{"settle less: allowance stays January's", 0, 0,
			counters{Allowance: 100_000, Used: 50_000, Remaining: 50_000},
			1_000, -49_000, counters{Allowance: 100_000, Used: feb, Remaining: 40_000}},
		{"settle more: the difference is February's", 0, 0,
			counters{Allowance: 100_000, Used: 50_000, Remaining: 50_000},
			70_000, 20_000, counters{Allowance: 100_000, Used: feb + 20_000, Remaining: 20_000}},
		// 70,000 settled first: the charge took 30,000 of allowance and
		// 20,000 prepaid.
		{"release: prepaid comes back", 30_000, 70_000,
			counters{Allowance: 100_000, Used: 100_000, Prepaid: 10_000, Remaining: 10_000},
			-1, 0, counters{Allowance: 100_000, Used: feb, Prepaid: 30_000, Remaining: 70_000}},
		{"settle less: prepaid back first", 30_000, 70_000,
			counters{Allowance: 100_000, Used: 100_000, Prepaid: 10_000, Remaining: 10_000},
			40_000, -10_000, counters{Allowance: 100_000, Used: feb, Prepaid: 20_000, Remaining: 60_000}},
		// 80,000 settled first: the charge took 20,000 of allowance, all
		// 10,000 prepaid and 20,000 of overspend.
		{"settle less: overspend passed over before prepaid", 10_000, 80_000,
			counters{Allowance: 100_000, Used: 120_000, Prepaid: 0, Remaining: 0},
			25_000, -25_000, counters{Allowance: 100_000, Used: feb, Prepaid: 5_000, Remaining: 45_000}},
		{"release: overspend stays January's", 10_000, 80_000,
			counters{Allowance: 100_000, Used: 120_000, Prepaid: 0, Remaining: 0},
			-1, 0, counters{Allowance: 100_000, Used: feb, Prepaid: 10_000, Remaining: 50_000}},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, open, setup{at: time.Date(2026, time.January, 31, 23, 40, 0, 0, time.UTC)})
			acct := quota.Account{ID: "eve@example.com", Allowance: 100_000}
			e.reserve(acct, "long", quota.Hold{Prompt: 50_000})
			if c.prepaid > 0 {
				e.topUp(acct.ID, c.prepaid)
			}
			if c.other > 0 {
				e.settle(acct.ID, "other", quota.Usage{Prompt: c.other})
			}
			e.clock.Advance(15 * time.Minute) // 23:55: charged in January
			if b := e.wantBalance(acct.ID, c.jan); b.Period.Key() != "2026-01" {
				t.Fatalf("period %s, want 2026-01", b.Period.Key())
			}

			e.clock.Advance(10 * time.Minute) // 00:05 on 1 February
			e.reserve(acct, "feb", quota.Hold{Prompt: feb})
			e.settleWant(acct.ID, "feb", quota.Usage{Prompt: feb}, feb, false)
			if c.real < 0 {
				e.release(acct.ID, "long")
			} else {
				s := e.settleWant(acct.ID, "long", quota.Usage{Prompt: c.real}, c.debited, false)
				e.want("Settlement.Balance", s.Balance, c.want)
			}
			e.wantBalance(acct.ID, c.want)
			// Corrected once: a repeat is a duplicate.
			e.settleWant(acct.ID, "long", quota.Usage{Prompt: 1}, 0, true)
			e.wantBalance(acct.ID, c.want)
		})
	}
}
