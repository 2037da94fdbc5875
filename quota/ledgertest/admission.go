package ledgertest

import (
	"strconv"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

func testFirstSight(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "ana@example.com", Allowance: 1000}
	r := e.reserve(acct, "req-1", quota.Hold{Prompt: 100, Completion: 50})
	if r.Prompt != 100 || r.Completion != 50 {
		t.Fatalf("reservation holds %d+%d, want 100+50", r.Prompt, r.Completion)
	}
	want := counters{Allowance: 1000, Reserved: 150, Remaining: 850}
	e.want("Reservation.Balance", r.Balance, want)
	if r.Balance.Account != acct.ID {
		t.Fatalf("Reservation.Balance.Account = %q, want %q", r.Balance.Account, acct.ID)
	}
	e.wantBalance(acct.ID, want)
}

func testRequireCompletion(t *testing.T, open opener) {
	for _, c := range []struct {
		name       string
		hold       quota.Hold
		refused    bool
		completion quota.Tokens // granted when admitted
	}{
		{"prompt takes all, completion required", quota.Hold{Prompt: 100, Completion: 50, RequireCompletion: true}, true, 0},
		{"prompt takes all, completion optional", quota.Hold{Prompt: 100, Completion: 50}, false, 0},
		{"clamped to what is left", quota.Hold{Prompt: 60, Completion: 100, RequireCompletion: true}, false, 40},
		{"asked less than left", quota.Hold{Prompt: 60, Completion: 10, RequireCompletion: true}, false, 10},
		{"one token left for completion", quota.Hold{Prompt: 99, Completion: 4000, RequireCompletion: true}, false, 1},
		{"prompt alone too big", quota.Hold{Prompt: 101}, true, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, open, setup{})
			acct := quota.Account{ID: "bia@example.com", Allowance: 100}
			if c.refused {
				ref := e.refuse(acct, "r", c.hold, quota.ErrQuotaExhausted)
				e.want("Refusal.Balance", ref.Balance, counters{Allowance: 100, Remaining: 100})
				e.wantBalance(acct.ID, counters{Allowance: 100, Remaining: 100})
				return
			}
			r := e.reserve(acct, "r", c.hold)
			if r.Prompt != c.hold.Prompt || r.Completion != c.completion {
				t.Fatalf("granted %d+%d, want %d+%d", r.Prompt, r.Completion, c.hold.Prompt, c.completion)
			}
			held := c.hold.Prompt + c.completion
			e.wantBalance(acct.ID, counters{Allowance: 100, Reserved: held, Remaining: 100 - held})
		})
	}
}

func testRefusal(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "caio@example.com", Allowance: 500}
	e.reserve(acct, "past", quota.Hold{Prompt: 400, Completion: 100})
	e.settle(acct.ID, "past", quota.Usage{Prompt: 400, Completion: 50})
	e.reserve(acct, "live", quota.Hold{Prompt: 30})
	ref := e.refuse(acct, "big", quota.Hold{Prompt: 21}, quota.ErrQuotaExhausted)
	want := counters{Allowance: 500, Used: 450, Reserved: 30, Remaining: 20}
	e.want("Refusal.Balance", ref.Balance, want)
	if ref.Balance.Account != acct.ID {
		t.Fatalf("Refusal.Balance.Account = %q, want %q", ref.Balance.Account, acct.ID)
	}
	if p := quota.PeriodOf(e.clock.Now(), e.loc); !ref.Balance.Period.Start.Equal(p.Start) {
		t.Fatalf("Refusal.Balance.Period starts %v, want %v", ref.Balance.Period.Start, p.Start)
	}
	if ref.RetryAfter != 0 {
		t.Fatalf("quota refusal RetryAfter = %v, want 0", ref.RetryAfter)
	}
	// A refusal holds nothing; the exact remainder is still admitted.
	e.wantBalance(acct.ID, want)
	e.reserve(acct, "fits", quota.Hold{Prompt: 20})
	e.wantBalance(acct.ID, counters{Allowance: 500, Used: 450, Reserved: 50, Remaining: 0})
}

func testReserveSameID(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "davi@example.com", Allowance: 1000, RPM: 2}
	first := e.reserve(acct, "x", quota.Hold{Prompt: 100, Completion: 50})
	again := e.reserve(acct, "x", quota.Hold{Prompt: 300, Completion: 300})
	if again.Prompt != first.Prompt || again.Completion != first.Completion {
		t.Fatalf("second Reserve of a held id = %d+%d, want the first hold %d+%d",
			again.Prompt, again.Completion, first.Prompt, first.Completion)
	}
	e.want("second Reservation.Balance", again.Balance, counters{Allowance: 1000, Reserved: 150, Remaining: 850})
	e.reserve(acct, "y", quota.Hold{Prompt: 10}) // second admitted request this minute
	// Neither repeat counted toward RPM 2, and a repeat is not refused by it.
	e.reserve(acct, "x", quota.Hold{Prompt: 100, Completion: 50})
	e.refuse(acct, "z", quota.Hold{Prompt: 10}, quota.ErrRateLimited)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Reserved: 160, Remaining: 840})
	e.settleWant(acct.ID, "x", quota.Usage{Prompt: 100, Completion: 20}, 120, false)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 120, Reserved: 10, Remaining: 870})
}

func testPlanChange(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	id := quota.AccountID("eva@example.com")
	e.reserve(quota.Account{ID: id, Allowance: 1000}, "a", quota.Hold{Prompt: 600})
	e.settle(id, "a", quota.Usage{Prompt: 600})
	// Downgraded below what is used: refused, and the new allowance is stored.
	ref := e.refuse(quota.Account{ID: id, Allowance: 500}, "b", quota.Hold{Prompt: 1}, quota.ErrQuotaExhausted)
	e.want("Refusal.Balance", ref.Balance, counters{Allowance: 500, Used: 600})
	e.wantBalance(id, counters{Allowance: 500, Used: 600})
	// Upgraded: the next request sees the new allowance at once.
	r := e.reserve(quota.Account{ID: id, Allowance: 2000}, "c", quota.Hold{Prompt: 100})
	e.want("Reservation.Balance", r.Balance, counters{Allowance: 2000, Used: 600, Reserved: 100, Remaining: 1300})
	e.wantBalance(id, counters{Allowance: 2000, Used: 600, Reserved: 100, Remaining: 1300})
}

func testRateLimit(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "fabio@example.com", Allowance: 1000, RPM: 3}
	h := quota.Hold{Prompt: 10}
	// Refused for quota: not admitted, so not counted.
	e.refuse(acct, "huge-1", quota.Hold{Prompt: 5000}, quota.ErrQuotaExhausted)
	e.refuse(acct, "huge-2", quota.Hold{Prompt: 5000}, quota.ErrQuotaExhausted)
	for _, id := range []quota.RequestID{"m1-1", "m1-2", "m1-3"} {
		e.reserve(acct, id, h)
	}
	for _, id := range []quota.RequestID{"m1-4", "m1-5"} {
		ref := e.refuse(acct, id, h, quota.ErrRateLimited)
		if ref.RetryAfter != 40*time.Second {
			t.Fatalf("RetryAfter at :20 = %v, want 40s (until the next minute)", ref.RetryAfter)
		}
		e.want("rate Refusal.Balance", ref.Balance, counters{Allowance: 1000, Reserved: 30, Remaining: 970})
	}
	e.clock.Advance(39 * time.Second)
	if ref := e.refuse(acct, "m1-6", h, quota.ErrRateLimited); ref.RetryAfter != time.Second {
		t.Fatalf("RetryAfter at :59 = %v, want 1s", ref.RetryAfter)
	}
	// The next minute admits three again: refused requests did not count.
	e.clock.Advance(time.Second)
	for _, id := range []quota.RequestID{"m2-1", "m2-2", "m2-3"} {
		e.reserve(acct, id, h)
	}
	if ref := e.refuse(acct, "m2-4", h, quota.ErrRateLimited); ref.RetryAfter != time.Minute {
		t.Fatalf("RetryAfter at :00 = %v, want 1m", ref.RetryAfter)
	}
	e.wantBalance(acct.ID, counters{Allowance: 1000, Reserved: 60, Remaining: 940})

	unlimited := quota.Account{ID: "gil@example.com", Allowance: 1000}
	for i := range 20 {
		e.reserve(unlimited, quota.RequestID("u"+strconv.Itoa(i)), quota.Hold{Prompt: 1})
	}
}
