package ledgertest

import (
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// testReserveAfterExpiry: an id whose hold expired and was charged can be
// reserved again. It is a new request: a new hold, and its settlement
// debits the usage, the expiry charge of the first hold standing.
func testReserveAfterExpiry(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "yara@example.com", Allowance: 1000}
	e.reserve(acct, "x", quota.Hold{Prompt: 100, Completion: 100})
	e.clock.Advance(defaultHoldTTL + time.Second)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 200, Remaining: 800})

	r := e.reserve(acct, "x", quota.Hold{Prompt: 50})
	if r.Prompt != 50 || r.Completion != 0 {
		t.Fatalf("Reserve of an expired id holds %d+%d, want a new hold of 50+0", r.Prompt, r.Completion)
	}
	e.want("Reservation.Balance", r.Balance, counters{Allowance: 1000, Used: 200, Reserved: 50, Remaining: 750})
	e.settleWant(acct.ID, "x", quota.Usage{Prompt: 40}, 40, false)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 240, Remaining: 760})
	e.settleWant(acct.ID, "x", quota.Usage{Prompt: 40}, 0, true)
}

// testOutcomeRetention: a settled, released or expired id is remembered for
// SettledTTL from when it left the books, and then forgotten, so the
// ledger's memory of outcomes stays bounded.
func testOutcomeRetention(t *testing.T, open opener) {
	e := newEnv(t, open, setup{settledTTL: time.Hour}) // starts 12:00:20
	acct := quota.Account{ID: "xavier@example.com", Allowance: 1000}
	e.reserve(acct, "s", quota.Hold{Prompt: 100})
	e.settleWant(acct.ID, "s", quota.Usage{Prompt: 80}, 80, false)
	e.release(acct.ID, "r") // never held: a later Settle is a duplicate
	e.reserve(acct, "x", quota.Hold{Prompt: 200})
	e.clock.Advance(defaultHoldTTL + time.Second) // 12:10:21: x is charged 200
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 280, Remaining: 720})

	e.clock.Advance(50*time.Minute - 2*time.Second) // 13:00:19
	e.settleWant(acct.ID, "s", quota.Usage{Prompt: 80}, 0, true)
	e.settleWant(acct.ID, "r", quota.Usage{Prompt: 5}, 0, true)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 280, Remaining: 720})

	// 13:00:21: s and r are forgotten, so settling them debits afresh.
	e.clock.Advance(2 * time.Second)
	e.settleWant(acct.ID, "s", quota.Usage{Prompt: 80}, 80, false)
	e.settleWant(acct.ID, "r", quota.Usage{Prompt: 5}, 5, false)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 365, Remaining: 635})

	// x's charge is remembered an hour from its expiry, not its reservation.
	e.clock.Advance(10*time.Minute - time.Second) // 13:10:20
	e.settleWant(acct.ID, "x", quota.Usage{Prompt: 150}, -50, false)
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: 315, Remaining: 685})
}
