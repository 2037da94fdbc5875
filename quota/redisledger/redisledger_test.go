package redisledger

import (
	"strconv"
	"testing"

	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/ledgertest"
)

func TestLedger(t *testing.T) {
	rdb := testClient(t)
	ledgertest.Run(t, func(t *testing.T, o ledgertest.Options) quota.Ledger {
		return New(rdb, Options{Prefix: testPrefix(t, rdb), Now: o.Now, Location: o.Location, HoldTTL: o.HoldTTL, SettledTTL: o.SettledTTL})
	})
}

// BenchmarkReserveSettle is the hot path of one request against the real
// Redis: two round trips, a hold on the way in and its settlement on the way
// out.
func BenchmarkReserveSettle(b *testing.B) {
	rdb := testClient(b)
	l := New(rdb, Options{Prefix: testPrefix(b, rdb)})
	ctx := b.Context()
	acct := quota.Account{ID: "bench@example.com", Allowance: 1 << 50}
	ids := make([]quota.RequestID, 4096)
	for i := range ids {
		ids[i] = quota.RequestID("req-" + strconv.Itoa(i))
	}
	h := quota.Hold{Prompt: 500, Completion: 1000}
	u := quota.Usage{Prompt: 480, Completion: 700}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)]
		i++
		if _, err := l.Reserve(ctx, acct, id, h); err != nil {
			b.Fatal(err)
		}
		if _, err := l.Settle(ctx, acct, id, u); err != nil {
			b.Fatal(err)
		}
	}
}
