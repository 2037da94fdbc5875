package memledger

import (
	"strconv"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// TestOutcomesAreForgotten checks memory stays bounded by SettledTTL: ids
// settled long ago are dropped, a batch per call, and recent ones are kept.
func TestOutcomesAreForgotten(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)}
	l := New(Options{Now: clk.Now, SettledTTL: time.Hour})
	ctx := t.Context()
	acct := quota.Account{ID: "w@example.com", Allowance: 1 << 40}
	const old = 1000
	for i := range old {
		id := quota.RequestID("old-" + strconv.Itoa(i))
		if _, err := l.Reserve(ctx, acct, id, quota.Hold{Prompt: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Settle(ctx, acct, id, quota.Usage{Prompt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	a := l.lookup(acct.ID, clk.t)
	if got := a.outcomes.size(); got != old {
		t.Fatalf("remembered %d ids, want %d", got, old)
	}
	a.mu.Unlock()

	clk.t = clk.t.Add(time.Hour)
	calls := 0
	for {
		b, err := l.Settle(ctx, acct, quota.RequestID("new-"+strconv.Itoa(calls)), quota.Usage{Prompt: 1})
		if err != nil {
			t.Fatal(err)
		}
		calls++
		a := l.lookup(acct.ID, clk.t)
		n, queued := a.outcomes.size(), len(a.outcomes.queue)-a.outcomes.head
		a.mu.Unlock()
		if n == calls {
			if queued != calls {
				t.Fatalf("%d ids remembered but %d queued", n, queued)
			}
			break
		}
		if calls > old/pruneBatch+2 {
			t.Fatalf("after %d calls still %d ids remembered (balance %+v)", calls, n, b.Balance)
		}
	}
	// The old ids are gone: settling one again debits as a lost hold would.
	s, err := l.Settle(ctx, acct, "old-0", quota.Usage{Prompt: 1})
	if err != nil || s.Duplicate || s.Debited != 1 {
		t.Fatalf("Settle of a forgotten id = %+v, %v; want a fresh debit of 1", s, err)
	}
}

// TestSweepSkipsWhenNothingIsDue checks the earliest expiry is tracked, so
// calls before it do not look at the holds at all.
func TestSweepSkipsWhenNothingIsDue(t *testing.T) {
	start := time.Date(2026, 5, 10, 9, 0, 0, 0, time.UTC)
	clk := &fakeClock{t: start}
	l := New(Options{Now: clk.Now, HoldTTL: time.Minute})
	ctx := t.Context()
	acct := quota.Account{ID: "x@example.com", Allowance: 1000}
	for i := range 3 {
		clk.t = start.Add(time.Duration(i) * 10 * time.Second)
		if _, err := l.Reserve(ctx, acct, quota.RequestID(strconv.Itoa(i)), quota.Hold{Prompt: 10}); err != nil {
			t.Fatal(err)
		}
	}
	next := func() time.Time {
		a := l.lookup(acct.ID, clk.t)
		defer a.mu.Unlock()
		if a.nextExpiry == noExpiry {
			return time.Time{}
		}
		return time.Unix(0, a.nextExpiry).UTC()
	}
	if got, want := next(), start.Add(time.Minute); !got.Equal(want) {
		t.Fatalf("next expiry %v, want the first hold's %v", got, want)
	}
	clk.t = start.Add(65 * time.Second) // the first is due, the others not
	if got, want := next(), start.Add(70*time.Second); !got.Equal(want) {
		t.Fatalf("after the first expired, next expiry %v, want %v", got, want)
	}
	clk.t = start.Add(2 * time.Minute)
	if got := next(); !got.IsZero() {
		t.Fatalf("with no hold left, next expiry %v, want none", got)
	}
}
