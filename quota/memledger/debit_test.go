package memledger

import (
	"testing"

	"github.com/iasolaris/tokengate/quota"
)

// FuzzCorrectEqualsTimelyDebit checks the rule a late settlement relies on:
// charging an estimate and then correcting it to the actual usage leaves the
// books exactly as debiting the actual usage in the first place would have.
func FuzzCorrectEqualsTimelyDebit(f *testing.F) {
	f.Add(uint32(100), uint32(40), uint32(50), uint32(150), uint32(100)) // overspend undone first
	f.Add(uint32(100), uint32(0), uint32(100), uint32(150), uint32(60))  // prepaid back before allowance
	f.Add(uint32(1000), uint32(1200), uint32(0), uint32(50), uint32(80)) // already over: more overspend
	f.Fuzz(func(t *testing.T, allowance, used, prepaid, estimate, actual uint32) {
		books := func() *account {
			return &account{allowance: quota.Tokens(allowance), used: quota.Tokens(used), prepaid: quota.Tokens(prepaid)}
		}
		late := books()
		d := late.debit(quota.Tokens(estimate))
		if d.total() != quota.Tokens(estimate) {
			t.Fatalf("debit of %d drew %+v", estimate, d)
		}
		diff := late.correct(d, quota.Tokens(actual))
		timely := books()
		timely.debit(quota.Tokens(actual))
		if late.used != timely.used || late.prepaid != timely.prepaid || diff != quota.Tokens(actual)-quota.Tokens(estimate) {
			t.Fatalf("charge %d then correct to %d: used %d prepaid %d (diff %d); debit %d: used %d prepaid %d",
				estimate, actual, late.used, late.prepaid, diff, actual, timely.used, timely.prepaid)
		}
	})
}
