package redisledger

import (
	"strconv"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time { return c.t }

// TestKeyTTLs checks what Redis may forget and what it must not: the
// account's books and holds never expire (prepaid carries over), a period's
// counters outlive the period by two months, and request outcomes go with
// SettledTTL.
func TestKeyTTLs(t *testing.T) {
	rdb := testClient(t)
	clk := &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now, SettledTTL: time.Hour})
	ctx := t.Context()
	acct := quota.Account{ID: "ttl@example.com", Allowance: 1000}
	for _, id := range []quota.RequestID{"a", "b"} {
		if _, err := l.Reserve(ctx, acct, id, quota.Hold{Prompt: 10}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.Settle(ctx, acct, "a", quota.Usage{Prompt: 10}); err != nil {
		t.Fatal(err)
	}
	keys := l.keys(acct.ID, quota.PeriodOf(clk.t, time.UTC))
	periodTTL := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC).Sub(clk.t)
	for _, c := range []struct {
		key      int
		min, max time.Duration // -1: no expiry
	}{
		{keyAcct, -1, -1},
		{keyHolds, -1, -1},
		{keyExp, -1, -1},
		{keyDone, time.Hour - time.Minute, time.Hour},
		{keyDoneAt, time.Hour - time.Minute, time.Hour},
		{keyPeriod, periodTTL - time.Minute, periodTTL},
	} {
		got, err := rdb.PTTL(ctx, keys[c.key]).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got < c.min || got > c.max {
			t.Errorf("PTTL %s = %v, want %v..%v", keys[c.key], got, c.min, c.max)
		}
	}
}

// TestOutcomesAreForgotten checks the done hash stays bounded by SettledTTL:
// old ids go a batch per call, recent ones stay.
func TestOutcomesAreForgotten(t *testing.T) {
	rdb := testClient(t)
	clk := &fakeClock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now, SettledTTL: time.Hour})
	ctx := t.Context()
	acct := quota.AccountID("forget@example.com")
	if _, err := l.Reserve(ctx, quota.Account{ID: acct, Allowance: 1 << 40}, "seed", quota.Hold{}); err != nil {
		t.Fatal(err)
	}
	const old = 300 // seed included
	if _, err := l.Settle(ctx, quota.Account{ID: acct}, "seed", quota.Usage{}); err != nil {
		t.Fatal(err)
	}
	for i := range old - 1 {
		if _, err := l.Settle(ctx, quota.Account{ID: acct}, quota.RequestID("old-"+strconv.Itoa(i)), quota.Usage{Prompt: 1}); err != nil {
			t.Fatal(err)
		}
	}
	keys := l.keys(acct, quota.PeriodOf(clk.t, time.UTC))
	remembered := func() int64 {
		n, err := rdb.HLen(ctx, keys[keyDone]).Result()
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rdb.ZCard(ctx, keys[keyDoneAt]).Result(); err != nil || m != n {
			t.Fatalf("done has %d ids, done_at %d (%v)", n, m, err)
		}
		return n
	}
	if n := remembered(); n != old {
		t.Fatalf("remembered %d ids, want %d", n, old)
	}

	clk.t = clk.t.Add(time.Hour)
	for calls := 1; ; calls++ {
		if _, err := l.Settle(ctx, quota.Account{ID: acct}, quota.RequestID("new-"+strconv.Itoa(calls)), quota.Usage{Prompt: 1}); err != nil {
			t.Fatal(err)
		}
		n := remembered()
		if want := int64(old - calls*64 + calls); n != max(want, int64(calls)) {
			t.Fatalf("after %d calls %d ids remembered, want %d", calls, n, max(want, int64(calls)))
		}
		if n == int64(calls) {
			break
		}
	}
	s, err := l.Settle(ctx, quota.Account{ID: acct}, "old-0", quota.Usage{Prompt: 1})
	if err != nil || s.Duplicate || s.Debited != 1 {
		t.Fatalf("Settle of a forgotten id = %+v, %v; want a fresh debit of 1", s, err)
	}
}
