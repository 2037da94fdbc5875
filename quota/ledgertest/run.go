package ledgertest

import (
	"testing"
	"time"

	// The rollover subtest needs America/Sao_Paulo on machines without a
	// system zone database; ledgertest is only ever linked into tests.
	_ "time/tzdata"

	"github.com/iasolaris/tokengate/quota"
)

// Options is what the suite asks of a ledger it opens. Each implementation's
// test maps these onto its own Options.
type Options struct {
	// Now is the virtual clock; the ledger must read time only from it.
	Now func() time.Time
	// Location is the time zone whose calendar months are the periods.
	Location *time.Location
	// HoldTTL is how long a hold lives unsettled before it is charged.
	HoldTTL time.Duration
	// SettledTTL is how long a settled, released or expired request id is
	// remembered.
	SettledTTL time.Duration
}

// opener opens a fresh ledger that holds no accounts yet. It is called once
// per subtest; whatever it allocates it releases with t.Cleanup.
type opener func(t *testing.T, opts Options) quota.Ledger

// defaultHoldTTL matches both ledgers' default, so the numbers read naturally.
const defaultHoldTTL = 10 * time.Minute

// defaultSettledTTL is shorter than the ledgers' 24 hours, so the retention
// subtest moves the clock by round figures.
const defaultSettledTTL = time.Hour

// Run checks the quota.Ledger contract against ledgers made by open.
func Run(t *testing.T, open func(t *testing.T, opts Options) quota.Ledger) {
	for _, c := range []struct {
		name string
		test func(t *testing.T, open opener)
	}{
		{"FirstSightStartsAtAllowance", testFirstSight},
		{"RemainingFormula", testRemainingFormula},
		{"AllowanceBeforePrepaid", testAllowanceBeforePrepaid},
		{"TopUpAddsPrepaid", testTopUp},
		{"PeriodRolloverInZone", testPeriodRollover},
		{"HoldExpiry", testHoldExpiry},
		{"LateSettleChargesDifference", testLateSettle},
		{"LateRefundFloorsUsed", testLateRefundFloor},
		{"LateCorrectionAcrossPeriods", testLateCorrectionAcrossPeriods},
		{"ReleaseAfterExpiryRefunds", testReleaseAfterExpiry},
		{"ReserveAfterExpiryHoldsAgain", testReserveAfterExpiry},
		{"ReserveAfterFinishHoldsNothing", testReserveAfterFinish},
		{"OutcomesForgottenAfterSettledTTL", testOutcomeRetention},
		{"SettleTwiceDebitsOnce", testSettleIdempotent},
		{"SettleWithoutHoldDebits", testSettleWithoutHold},
		{"ReleaseDropsHold", testRelease},
		{"ReserveHeldIDReturnsExisting", testReserveSameID},
		{"RequireCompletion", testRequireCompletion},
		{"RefusalCarriesBalance", testRefusal},
		{"RateLimit", testRateLimit},
		{"UnknownAccount", testUnknownAccount},
		{"SettleUnknownAccount", testSettleUnknownAccount},
		{"PlanChange", testPlanChange},
		{"OddIDsStayApart", testOddIDs},
		{"ConcurrentEqualHolds", testConcurrentEqual},
		{"ConcurrentMixedHolds", testConcurrentMixed},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, open) })
	}
}
