package redisledger

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/quota"
)

// TestCrossPeriodCorrectionSurvivesLoss releases, in February, a hold
// charged at expiry in January, with each key that records the charge's
// month lost in between (holds and exp together too, which leaves only
// done's copy). Every copy keeps the month, so January's allowance never
// becomes February's.
func TestCrossPeriodCorrectionSurvivesLoss(t *testing.T) {
	rdb := testClient(t)
	acct := quota.Account{ID: "eve@example.com", Allowance: 100_000}
	jan := time.Date(2026, time.January, 31, 23, 40, 0, 0, time.UTC)
	for _, lost := range [][]int{nil, {keyHolds}, {keyExp}, {keyDone}, {keyDoneAt}, {keyHolds, keyExp}} {
		names := []string{"nothing"}
		if len(lost) > 0 {
			names = nil
		}
		for _, k := range lost {
			names = append(names, [keyCount]string{"acct", "holds", "exp", "done", "done_at", "period"}[k])
		}
		t.Run(strings.Join(names, "+")+" lost", func(t *testing.T) {
			clk := &fakeClock{t: jan}
			l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now, HoldTTL: 10 * time.Minute})
			ctx := t.Context()
			if _, err := l.Reserve(ctx, acct, "long", quota.Hold{Prompt: 50_000}); err != nil {
				t.Fatal(err)
			}
			clk.t = clk.t.Add(15 * time.Minute)
			if b, err := l.Balance(ctx, acct.ID); err != nil || b.Used != 50_000 {
				t.Fatalf("January after the expiry charge: %+v, %v", b, err)
			}
			keys := l.keys(acct.ID, quota.PeriodOf(clk.t, time.UTC))
			for _, k := range lost {
				if err := rdb.Del(ctx, keys[k]).Err(); err != nil {
					t.Fatal(err)
				}
			}
			clk.t = clk.t.Add(10 * time.Minute) // February
			if _, err := l.Reserve(ctx, acct, "feb", quota.Hold{Prompt: 60_000}); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Settle(ctx, acct, "feb", quota.Usage{Prompt: 60_000}); err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx, acct.ID, "long"); err != nil {
				t.Fatal(err)
			}
			b, err := l.Balance(ctx, acct.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := booksOf(b), (books{100_000, 60_000, 0, 0, 40_000}); got != want {
				t.Fatalf("February after the late Release:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestExpiryRecordWithoutMonth checks that an expiry charge recorded before
// records kept their month still parses, in holds, exp and done alike, and
// is corrected as one made in the current period.
func TestExpiryRecordWithoutMonth(t *testing.T) {
	rdb := testClient(t)
	acct := quota.Account{ID: "old@example.com", Allowance: 1000}
	for _, keep := range []int{keyHolds, keyExp, keyDone} {
		t.Run([keyCount]string{"acct", "holds", "exp", "done", "done_at", "period"}[keep], func(t *testing.T) {
			clk := &fakeClock{t: time.Date(2026, time.November, 15, 12, 0, 0, 0, time.UTC)}
			l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now, HoldTTL: 10 * time.Minute})
			ctx := t.Context()
			if _, err := l.Reserve(ctx, acct, "slow", quota.Hold{Prompt: 300}); err != nil {
				t.Fatal(err)
			}
			clk.t = clk.t.Add(11 * time.Minute)
			if _, err := l.Balance(ctx, acct.ID); err != nil {
				t.Fatal(err)
			}
			// Rewrite the expiry record of one key the way the earlier
			// layout wrote it and drop the other copies, so only it can
			// tell how the charge was drawn.
			keys := l.keys(acct.ID, quota.PeriodOf(clk.t, time.UTC))
			forget := clk.t.Add(24 * time.Hour).UnixMilli()
			pipe := rdb.TxPipeline()
			pipe.Del(ctx, keys[keyHolds], keys[keyExp], keys[keyDone])
			switch keep {
			case keyHolds:
				pipe.HSet(ctx, keys[keyHolds], "slow", "e,300,0,0,"+strconv.FormatInt(forget, 10))
			case keyExp:
				pipe.ZAdd(ctx, keys[keyExp], redis.Z{Score: float64(forget), Member: "e,300,0,0,slow"})
			case keyDone:
				pipe.HSet(ctx, keys[keyDone], "slow", "e,300,0,0")
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			s, err := l.Settle(ctx, acct, "slow", quota.Usage{Prompt: 100})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := booksOf(s.Balance), (books{1000, 100, 0, 0, 900}); got != want || s.Debited != -200 {
				t.Fatalf("Settle after an old-format charge: Debited %d\n got %+v\nwant %+v", s.Debited, got, want)
			}
		})
	}
}
