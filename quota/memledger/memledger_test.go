package memledger_test

import (
	"strconv"
	"testing"

	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/ledgertest"
	"github.com/iasolaris/tokengate/quota/memledger"
)

func TestLedger(t *testing.T) {
	ledgertest.Run(t, func(t *testing.T, o ledgertest.Options) quota.Ledger {
		return memledger.New(memledger.Options{Now: o.Now, Location: o.Location, HoldTTL: o.HoldTTL, SettledTTL: o.SettledTTL})
	})
}

// BenchmarkReserveSettle is the hot path of one request: a hold on the way
// in, its settlement on the way out, on an account that has both.
func BenchmarkReserveSettle(b *testing.B) {
	l := memledger.New(memledger.Options{})
	ctx := b.Context()
	acct := quota.Account{ID: "bench@example.com", Allowance: 1 << 50, RPM: 0}
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
