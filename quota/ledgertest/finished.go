package ledgertest

import (
	"errors"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// finished reserves expecting quota.ErrFinished.
func (e *env) finished(acct quota.Account, id quota.RequestID, h quota.Hold) {
	e.t.Helper()
	r, err := e.l.Reserve(e.t.Context(), acct, id, h)
	if !errors.Is(err, quota.ErrFinished) {
		e.t.Fatalf("Reserve(%q, %q) = %+v, %v; want ErrFinished", acct.ID, id, r, err)
	}
	var ref *quota.Refusal
	if errors.As(err, &ref) {
		e.t.Fatalf("Reserve(%q, %q): ErrFinished came as a refusal %v", acct.ID, id, ref)
	}
}

// testReserveAfterFinish: a Reserve that runs after its request was settled
// or released (one that timed out on the caller's side and reached the
// store late) holds nothing, so nothing is charged at expiry, and counts
// toward no rate limit. Once the id is forgotten it is an id like any other.
func testReserveAfterFinish(t *testing.T, open opener) {
	e := newEnv(t, open, setup{settledTTL: time.Hour})
	acct := quota.Account{ID: "zoe@example.com", Allowance: 1000, RPM: 3}
	e.reserve(acct, "settled", quota.Hold{Prompt: 100})
	e.settleWant(acct.ID, "settled", quota.Usage{Prompt: 80}, 80, false)
	e.reserve(acct, "released", quota.Hold{Prompt: 100})
	e.release(acct.ID, "released")
	e.release(acct.ID, "never held") // finish released it before Reserve ran
	// An expired hold is charged, held again, then settled: finished too.
	e.reserve(acct, "expired", quota.Hold{Prompt: 100})
	e.clock.Advance(defaultHoldTTL + time.Second)
	e.reserve(acct, "expired", quota.Hold{Prompt: 50})
	e.settleWant(acct.ID, "expired", quota.Usage{Prompt: 20}, 20, false)
	books := counters{Allowance: 1000, Used: 200, Remaining: 800}
	e.wantBalance(acct.ID, books)

	for _, id := range []quota.RequestID{"settled", "released", "never held", "expired"} {
		e.finished(acct, id, quota.Hold{Prompt: 100})
	}
	e.wantBalance(acct.ID, books)
	// Nothing was held, so nothing is charged at expiry; the minute's three
	// admissions are all still there.
	e.clock.Advance(defaultHoldTTL + time.Second)
	e.wantBalance(acct.ID, books)
	for _, id := range []quota.RequestID{"a", "b", "c"} {
		e.reserve(acct, id, quota.Hold{Prompt: 1})
		e.release(acct.ID, id)
	}
	e.settleWant(acct.ID, "released", quota.Usage{Prompt: 5}, 0, true)

	// Forgotten after SettledTTL: the id holds again.
	e.clock.Advance(time.Hour)
	r := e.reserve(acct, "settled", quota.Hold{Prompt: 100})
	e.want("Reservation.Balance", r.Balance, counters{Allowance: 1000, Used: 200, Reserved: 100, Remaining: 700})
}
