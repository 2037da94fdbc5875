package memledger

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// liveHeap is the heap still reachable after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// remembered counts the outcomes every account remembers.
func (l *Ledger) remembered() int {
	n, _ := l.queued()
	return n
}

// queued is how many outcomes are remembered and how many queue slots the
// accounts keep allocated for them.
func (l *Ledger) queued() (remembered, slots int) {
	l.accounts.Range(func(_, v any) bool {
		a := v.(*account)
		a.mu.Lock()
		remembered += a.outcomes.size()
		slots += cap(a.outcomes.queue)
		a.mu.Unlock()
		return true
	})
	return remembered, slots
}

// requestID is shaped like extproc's: a random process prefix and a counter.
func requestID(n int) quota.RequestID {
	return quota.RequestID("tg-5f3a9c0d12e47b68-" + strconv.FormatInt(int64(n), 36))
}

// accountID is shaped like a user's e-mail.
func accountID(i int) quota.AccountID {
	return quota.AccountID("user" + strconv.Itoa(i) + "@example.com")
}

// request is one exchange: a hold, then its settlement.
func request(t testing.TB, l *Ledger, acct quota.AccountID, id quota.RequestID) {
	a := quota.Account{ID: acct, Allowance: 1 << 40}
	if _, err := l.Reserve(t.Context(), a, id, quota.Hold{Prompt: 100, Completion: 400}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Settle(t.Context(), a, id, quota.Usage{Prompt: 100, Completion: 250}); err != nil {
		t.Fatal(err)
	}
}

// TestOutcomeMemory measures what 10,000 accounts of 10 settled requests
// each cost, and checks that once SettledTTL has passed the outcomes are
// gone even though none of those accounts calls again: calls from one other
// account are enough to sweep them all.
func TestOutcomeMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 outcomes")
	}
	const accounts, requests = 10_000, 10
	clk := &fakeClock{t: time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)}
	l := New(Options{Now: clk.Now, SettledTTL: time.Hour})
	start := liveHeap()
	n := 0
	for range requests {
		for i := range accounts {
			request(t, l, accountID(i), requestID(n))
			n++
			clk.t = clk.t.Add(time.Millisecond)
		}
	}
	full := liveHeap()
	if got := l.remembered(); got != accounts*requests {
		t.Fatalf("remembered %d outcomes, want %d", got, accounts*requests)
	}

	clk.t = clk.t.Add(time.Hour)
	other := quota.Account{ID: "other@example.com", Allowance: 1000}
	calls := accounts/sweepAccounts + 1
	for range calls {
		clk.t = clk.t.Add(sweepEvery)
		if _, err := l.Reserve(t.Context(), other, "x", quota.Hold{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.remembered(); got != 0 {
		t.Fatalf("%d calls after the retention passed, %d outcomes are still remembered", calls, got)
	}
	empty := liveHeap()
	perAccount := float64(empty-start) / accounts
	perOutcome := float64(full-empty) / (accounts * requests)
	t.Logf("%d accounts × %d requests: %.0f B per account without outcomes, %.0f B per remembered outcome (id included)",
		accounts, requests, perAccount, perOutcome)
	if perOutcome > 160 {
		t.Errorf("a remembered outcome costs %.0f B, want at most 160", perOutcome)
	}
	runtime.KeepAlive(l)
}

// TestSoakMemoryStaysFlat runs 100,000 requests from 10,000 accounts, each
// account busy for ten requests and then silent, over twenty retention
// periods of the virtual clock. What the ledger remembers, and its live
// heap, must be the same halfway and at the end: bounded by the retention,
// not by the traffic.
func TestSoakMemoryStaysFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 100,000 requests")
	}
	const (
		accounts = 10_000
		requests = 100_000
		step     = 2 * time.Millisecond // between requests
		ttl      = 10 * time.Second
	)
	for _, tt := range []struct {
		name    string
		account func(k int) int
	}{
		// Each account busy for ten requests, then silent: only the sweep
		// forgets what it left.
		{"bursts", func(k int) int { return k / 10 % accounts }},
		// A tenth of the accounts in turn, each calling again well within
		// the retention: an account's own calls forget its outcomes while
		// some are always remembered, so its queue must be compacted
		// before it drains.
		{"round robin", func(k int) int { return k % (accounts / 10) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)}
			l := New(Options{Now: clk.Now, SettledTTL: ttl})
			n := 0
			for i := range accounts { // every account exists before the soak
				request(t, l, accountID(i), requestID(n))
				n++
			}
			// Within the retention, plus what one round of the sweep lags behind.
			bound := int(ttl/step) + accounts/sweepAccounts + pruneBatch
			var mid struct {
				remembered int
				heap       uint64
			}
			for k := range requests {
				clk.t = clk.t.Add(step)
				request(t, l, accountID(tt.account(k)), requestID(n))
				n++
				if k+1 != requests/2 && k+1 != requests {
					continue
				}
				remembered, slots := l.queued()
				heap := liveHeap()
				t.Logf("after %d requests: %d outcomes remembered in %d queue slots, live heap %d KiB", k+1, remembered, slots, heap>>10)
				if remembered > bound {
					t.Fatalf("after %d requests %d outcomes are remembered, want at most %d", k+1, remembered, bound)
				}
				// A queue keeps about twice what it holds, plus a slot or
				// two; one that only grows until it drains would keep
				// every slot it ever used.
				if slots > 3*remembered+accounts {
					t.Fatalf("after %d requests the queues keep %d slots for %d outcomes", k+1, slots, remembered)
				}
				if k+1 == requests/2 {
					mid.remembered, mid.heap = remembered, heap
					continue
				}
				if heap > mid.heap+mid.heap/10+256<<10 {
					t.Fatalf("live heap grew from %d KiB halfway to %d KiB at the end", mid.heap>>10, heap>>10)
				}
			}
		})
	}
}
