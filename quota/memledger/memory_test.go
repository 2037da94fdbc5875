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
	n := 0
	l.accounts.Range(func(_, v any) bool {
		a := v.(*account)
		a.mu.Lock()
		n += a.outcomes.size()
		a.mu.Unlock()
		return true
	})
	return n
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
		request(t, l, accountID(k/10%accounts), requestID(n))
		n++
		if k+1 != requests/2 && k+1 != requests {
			continue
		}
		remembered, heap := l.remembered(), liveHeap()
		t.Logf("after %d requests: %d outcomes remembered, live heap %d KiB", k+1, remembered, heap>>10)
		if remembered > bound {
			t.Fatalf("after %d requests %d outcomes are remembered, want at most %d", k+1, remembered, bound)
		}
		if k+1 == requests/2 {
			mid.remembered, mid.heap = remembered, heap
			continue
		}
		if heap > mid.heap+mid.heap/10+256<<10 {
			t.Fatalf("live heap grew from %d KiB halfway to %d KiB at the end", mid.heap>>10, heap>>10)
		}
	}
}
