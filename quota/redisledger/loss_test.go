package redisledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/quota"
)

// books is the numeric part of a Balance, compared as one value so a
// failure shows every figure at once.
type books struct {
	Allowance, Used, Reserved, Prepaid, Remaining quota.Tokens
}

func booksOf(b quota.Balance) books {
	return books{b.Allowance, b.Used, b.Reserved, b.Prepaid, b.Remaining}
}

// lossStep is one call of the loss scenario and the books it must leave.
type lossStep struct {
	name    string
	advance time.Duration // moved before the call
	call    func(t *testing.T, l *Ledger) quota.Balance
	want    books
	// outcomes is set for Settle and Release, the calls that read outcomes
	// and so make done and done_at whole again.
	outcomes bool
}

const lossAcct = quota.AccountID("loss@example.com")

func lossReserve(id quota.RequestID, h quota.Hold, grant quota.Tokens) func(*testing.T, *Ledger) quota.Balance {
	return func(t *testing.T, l *Ledger) quota.Balance {
		t.Helper()
		r, err := l.Reserve(t.Context(), quota.Account{ID: lossAcct, Allowance: 500}, id, h)
		if err != nil {
			t.Fatalf("Reserve %s: %v", id, err)
		}
		if r.Prompt != h.Prompt || r.Completion != grant {
			t.Fatalf("Reserve %s granted %d+%d, want %d+%d", id, r.Prompt, r.Completion, h.Prompt, grant)
		}
		return r.Balance
	}
}

func lossSettle(id quota.RequestID, used, debited quota.Tokens, dup bool) func(*testing.T, *Ledger) quota.Balance {
	return func(t *testing.T, l *Ledger) quota.Balance {
		t.Helper()
		s, err := l.Settle(t.Context(), quota.Account{ID: lossAcct, Allowance: 500}, id, quota.Usage{Prompt: used})
		if err != nil {
			t.Fatalf("Settle %s: %v", id, err)
		}
		if s.Debited != debited || s.Duplicate != dup {
			t.Fatalf("Settle %s = Debited %d Duplicate %v, want %d %v", id, s.Debited, s.Duplicate, debited, dup)
		}
		return s.Balance
	}
}

func lossRelease(id quota.RequestID) func(*testing.T, *Ledger) quota.Balance {
	return func(t *testing.T, l *Ledger) quota.Balance {
		t.Helper()
		if err := l.Release(t.Context(), lossAcct, id); err != nil {
			t.Fatalf("Release %s: %v", id, err)
		}
		return lossBalance(t, l)
	}
}

func lossTopUp(n quota.Tokens) func(*testing.T, *Ledger) quota.Balance {
	return func(t *testing.T, l *Ledger) quota.Balance {
		t.Helper()
		b, err := l.TopUp(t.Context(), lossAcct, n)
		if err != nil {
			t.Fatalf("TopUp: %v", err)
		}
		return b
	}
}

func lossBalance(t *testing.T, l *Ledger) quota.Balance {
	t.Helper()
	b, err := l.Balance(t.Context(), lossAcct)
	if err != nil {
		t.Fatalf("Balance: %v", err)
	}
	return b
}

// lossScenario exercises every record a key holds: live holds, an expired
// hold settled late for less, one released after it was charged, repeated
// settlements, prepaid drawn and given back. Allowance 500, holds live ten
// minutes.
var lossScenario = []lossStep{
	{"reserve a", 0, lossReserve("a", quota.Hold{Prompt: 100, Completion: 200}, 200), books{500, 0, 300, 0, 200}, false},
	{"top up", 0, lossTopUp(400), books{500, 0, 300, 400, 600}, false},
	{"reserve b", 0, lossReserve("b", quota.Hold{Prompt: 50, Completion: 150}, 150), books{500, 0, 500, 400, 400}, false},
	{"settle a", 0, lossSettle("a", 250, 250, false), books{500, 250, 200, 400, 450}, true},
	{"reserve c", 6 * time.Minute, lossReserve("c", quota.Hold{Prompt: 300}, 0), books{500, 250, 500, 400, 150}, false},
	// b expired at 10:00 and is charged its 200 from the allowance.
	{"b expires", 5 * time.Minute, lossBalance, books{500, 450, 300, 400, 150}, false},
	{"settle b late", 0, lossSettle("b", 110, -90, false), books{500, 360, 300, 400, 240}, true},
	{"settle a again", 0, lossSettle("a", 250, 0, true), books{500, 360, 300, 400, 240}, true},
	{"settle b again", 0, lossSettle("b", 110, 0, true), books{500, 360, 300, 400, 240}, true},
	// c expired: 140 left of the allowance, then 160 prepaid.
	{"c expires", 6 * time.Minute, lossBalance, books{500, 500, 0, 240, 240}, false},
	{"release c", 0, lossRelease("c"), books{500, 360, 0, 400, 540}, true},
	{"settle c", 0, lossSettle("c", 300, 0, true), books{500, 360, 0, 400, 540}, true},
	{"reserve d", 0, lossReserve("d", quota.Hold{Prompt: 40}, 0), books{500, 360, 40, 400, 500}, false},
	{"settle d", 0, lossSettle("d", 30, 30, false), books{500, 390, 0, 400, 510}, true},
}

// TestLosingAnyKey deletes each of the account's keys after each step of
// the scenario and checks every later step leaves exactly the books it
// leaves with nothing lost: no token minted, none charged twice, none
// locked. After every call each mirrored pair of keys is whole again, so a
// later loss is survived too.
func TestLosingAnyKey(t *testing.T) {
	rdb := testClient(t)
	names := [keyCount]string{"acct", "holds", "exp", "done", "done_at", "period"}
	start := time.Date(2026, 11, 15, 12, 0, 20, 0, time.UTC)
	for key := range keyCount {
		for moment := -1; moment < len(lossScenario); moment++ {
			if key > 0 && moment < 0 {
				continue // one run with nothing lost is enough
			}
			name := "nothing lost"
			if moment >= 0 {
				name = fmt.Sprintf("%s lost after %s", names[key], lossScenario[moment].name)
			}
			t.Run(name, func(t *testing.T) {
				clk := &fakeClock{t: start}
				l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now, HoldTTL: 10 * time.Minute})
				keys := l.keys(lossAcct, quota.PeriodOf(start, time.UTC))
				for i, s := range lossScenario {
					clk.t = clk.t.Add(s.advance)
					if got := booksOf(s.call(t, l)); got != s.want {
						t.Fatalf("step %d %s:\n got %+v\nwant %+v", i, s.name, got, s.want)
					}
					checkMirrors(t, rdb, keys, s.outcomes)
					if i == moment {
						if err := rdb.Del(t.Context(), keys[key]).Err(); err != nil {
							t.Fatal(err)
						}
					}
				}
				if got, want := booksOf(lossBalance(t, l)), lossScenario[len(lossScenario)-1].want; got != want {
					t.Fatalf("final Balance:\n got %+v\nwant %+v", got, want)
				}
			})
		}
	}
}

// checkMirrors asserts the invariant load() relies on to notice a lost key:
// holds and exp have as many entries, and so do done and done_at once a
// call that reads outcomes has run.
func checkMirrors(t *testing.T, rdb redis.UniversalClient, keys []string, outcomes bool) {
	t.Helper()
	ctx := t.Context()
	pairs := [][2]int{{keyHolds, keyExp}}
	if outcomes {
		pairs = append(pairs, [2]int{keyDone, keyDoneAt})
	}
	for _, pair := range pairs {
		h, err := rdb.HLen(ctx, keys[pair[0]]).Result()
		if err != nil {
			t.Fatal(err)
		}
		z, err := rdb.ZCard(ctx, keys[pair[1]]).Result()
		if err != nil {
			t.Fatal(err)
		}
		if h != z {
			t.Fatalf("%s has %d entries, %s %d", keys[pair[0]], h, keys[pair[1]], z)
		}
	}
}

// TestLosingHoldsAndExp: with both copies of the holds gone nothing
// justifies a reservation, so none stays locked; the Settle that comes
// later debits the usage as for any lost hold.
func TestLosingHoldsAndExp(t *testing.T) {
	rdb := testClient(t)
	clk := &fakeClock{t: time.Date(2026, 11, 15, 12, 0, 20, 0, time.UTC)}
	l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now})
	lossReserve("a", quota.Hold{Prompt: 100, Completion: 200}, 200)(t, l)
	keys := l.keys(lossAcct, quota.PeriodOf(clk.t, time.UTC))
	if err := rdb.Del(t.Context(), keys[keyHolds], keys[keyExp]).Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := booksOf(lossBalance(t, l)), (books{500, 0, 0, 0, 500}); got != want {
		t.Fatalf("Balance:\n got %+v\nwant %+v", got, want)
	}
	if got, want := booksOf(lossSettle("a", 250, 250, false)(t, l)), (books{500, 250, 0, 0, 250}); got != want {
		t.Fatalf("Settle:\n got %+v\nwant %+v", got, want)
	}
}

// TestEarlierLayoutIsMigrated reads keys as the first layout wrote them: no
// used copy or layout in acct, bare request ids in exp, the usage in done.
func TestEarlierLayoutIsMigrated(t *testing.T) {
	rdb := testClient(t)
	clk := &fakeClock{t: time.Date(2026, 11, 15, 12, 0, 20, 0, time.UTC)}
	l := New(rdb, Options{Prefix: testPrefix(t, rdb), Now: clk.Now})
	keys := l.keys(lossAcct, quota.PeriodOf(clk.t, time.UTC))
	ctx := t.Context()
	soon, later := clk.t.Add(5*time.Minute).UnixMilli(), clk.t.Add(9*time.Minute).UnixMilli()
	forget := clk.t.Add(time.Hour).UnixMilli()
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, keys[keyAcct], "allowance", 500, "prepaid", 100, "reserved", 250, "rpm_minute", 0, "rpm_count", 0)
		p.HSet(ctx, keys[keyHolds], "x", fmt.Sprintf("100,50,%d", soon), "y", fmt.Sprintf("60,40,%d", later))
		p.ZAdd(ctx, keys[keyExp], redis.Z{Score: float64(soon), Member: "x"}, redis.Z{Score: float64(later), Member: "y"})
		p.HSet(ctx, keys[keyDone], "old", "s,70")
		p.ZAdd(ctx, keys[keyDoneAt], redis.Z{Score: float64(forget), Member: "old"})
		p.HSet(ctx, keys[keyPeriod], "used", 70)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []lossStep{
		{"settle x", 0, lossSettle("x", 120, 120, false), books{500, 190, 100, 100, 310}, true},
		{"settle old", 0, lossSettle("old", 70, 0, true), books{500, 190, 100, 100, 310}, true},
		{"y expires", 10 * time.Minute, lossBalance, books{500, 290, 0, 100, 310}, false},
		{"settle y late", 0, lossSettle("y", 20, -80, false), books{500, 210, 0, 100, 390}, true},
	}
	for i, s := range steps {
		clk.t = clk.t.Add(s.advance)
		if got := booksOf(s.call(t, l)); got != s.want {
			t.Fatalf("step %d %s:\n got %+v\nwant %+v", i, s.name, got, s.want)
		}
		checkMirrors(t, rdb, keys, s.outcomes)
	}
}
