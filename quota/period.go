package quota

import "time"

// Period is one calendar month in the ledger's time zone. Counters are keyed
// by period, so the allowance renews by itself: nobody runs a reset job.
type Period struct {
	Start time.Time // first instant of the month, inclusive
	End   time.Time // first instant of the next month, exclusive
}

// PeriodOf returns the calendar month containing t in loc.
func PeriodOf(t time.Time, loc *time.Location) Period {
	t = t.In(loc)
	start := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
	return Period{Start: start, End: start.AddDate(0, 1, 0)}
}

// Key names the period in storage keys and reports, e.g. "2026-11".
func (p Period) Key() string { return p.Start.Format("2006-01") }

// Remaining computes what an account may still spend:
// max(0, allowance − used) + prepaid − reserved, floored at zero.
func Remaining(allowance, used, prepaid, reserved Tokens) Tokens {
	left := max(0, allowance-used) + prepaid - reserved
	return max(0, left)
}
