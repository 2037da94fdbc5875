package ledgertest

import (
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/iasolaris/tokengate/quota"
)

// contend runs f(i) for i in [0, n) on n goroutines released together, so
// they race for the account instead of queueing behind each other's start.
func contend(n int, f func(i int)) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-gate
			f(i)
		})
	}
	close(gate)
	wg.Wait()
}

// reserveAll reserves holds[i] under id "c<i>" concurrently and reports which
// were admitted; anything but an admission or a quota refusal fails the test.
func reserveAll(t *testing.T, l quota.Ledger, acct quota.Account, holds []quota.Hold) []*quota.Reservation {
	got := make([]*quota.Reservation, len(holds))
	contend(len(holds), func(i int) {
		r, err := l.Reserve(t.Context(), acct, quota.RequestID("c"+strconv.Itoa(i)), holds[i])
		switch {
		case err == nil:
			got[i] = &r
		case !errors.Is(err, quota.ErrQuotaExhausted):
			t.Errorf("Reserve c%d: %v", i, err)
		}
	})
	return got
}

// settleAll settles every admitted reservation concurrently with usage(r)
// and returns the total it should have debited.
func settleAll(t *testing.T, l quota.Ledger, acct quota.AccountID, admitted []*quota.Reservation, usage func(quota.Reservation) quota.Usage) quota.Tokens {
	var total quota.Tokens
	for _, r := range admitted {
		if r != nil {
			total += usage(*r).Total()
		}
	}
	contend(len(admitted), func(i int) {
		r := admitted[i]
		if r == nil {
			// Interleave reads with the writes; they must not disturb them.
			if _, err := l.Balance(t.Context(), acct); err != nil {
				t.Errorf("Balance: %v", err)
			}
			return
		}
		u := usage(*r)
		s, err := l.Settle(t.Context(), quota.Account{ID: acct}, r.ID, u)
		if err != nil {
			t.Errorf("Settle %s: %v", r.ID, err)
			return
		}
		if s.Debited != u.Total() || s.Duplicate {
			t.Errorf("Settle %s = Debited %d Duplicate %v, want %d false", r.ID, s.Debited, s.Duplicate, u.Total())
		}
	})
	return total
}

func testConcurrentEqual(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "ursula@example.com", Allowance: 1000}
	holds := make([]quota.Hold, 250)
	for i := range holds {
		holds[i] = quota.Hold{Prompt: 7}
	}
	admitted := reserveAll(t, e.l, acct, holds)
	n := 0
	for _, r := range admitted {
		if r != nil {
			n++
		}
	}
	if n != 1000/7 {
		t.Fatalf("admitted %d holds of 7 against 1000, want %d", n, 1000/7)
	}
	e.wantBalance(acct.ID, counters{Allowance: 1000, Reserved: 994, Remaining: 6})

	used := settleAll(t, e.l, acct.ID, admitted, func(quota.Reservation) quota.Usage { return quota.Usage{Prompt: 5} })
	e.wantBalance(acct.ID, counters{Allowance: 1000, Used: used, Remaining: 1000 - used})
}

func testConcurrentMixed(t *testing.T, open opener) {
	e := newEnv(t, open, setup{})
	acct := quota.Account{ID: "vera@example.com", Allowance: 5000}
	holds := make([]quota.Hold, 300)
	for i := range holds {
		holds[i] = quota.Hold{Prompt: quota.Tokens(i*37%61 + 1), Completion: quota.Tokens(i * 13 % 40)}
	}
	admitted := reserveAll(t, e.l, acct, holds)
	var held quota.Tokens
	for _, r := range admitted {
		if r != nil {
			held += r.Held()
		}
	}
	if held > acct.Allowance {
		t.Fatalf("admitted holds total %d, more than the allowance %d", held, acct.Allowance)
	}
	b := e.wantBalance(acct.ID, counters{Allowance: 5000, Reserved: held, Remaining: 5000 - held})
	// What is left only shrank while reserving, so every refused prompt must
	// still be bigger than it: no request was refused that would have fitted.
	for i, r := range admitted {
		if r == nil && holds[i].Prompt <= b.Remaining {
			t.Fatalf("c%d with prompt %d was refused, yet %d is left", i, holds[i].Prompt, b.Remaining)
		}
	}

	used := settleAll(t, e.l, acct.ID, admitted, func(r quota.Reservation) quota.Usage {
		return quota.Usage{Prompt: r.Prompt, Completion: r.Completion / 2}
	})
	e.wantBalance(acct.ID, counters{Allowance: 5000, Used: used, Remaining: 5000 - used})
}
