package memledger

import "github.com/iasolaris/tokengate/quota"

// draw is how one debit was covered, in the order the tokens were drawn:
// what was left of the allowance, then prepaid, then overspend; and the
// period it was drawn in, whose used the allowance and overspend parts went
// to.
type draw struct {
	allowance, prepaid, over quota.Tokens
	period                   int64 // Unix s of the period's start
}

func (d draw) total() quota.Tokens { return d.allowance + d.prepaid + d.over }

// debit draws n tokens from what is left of the allowance, then from
// prepaid. What neither covers is still added to used: overspend is
// measured, never dropped.
func (a *account) debit(n quota.Tokens) draw {
	if n <= 0 {
		return draw{}
	}
	d := draw{period: a.period.Start.Unix()}
	d.allowance = min(n, max(0, a.allowance-a.used))
	d.prepaid = min(n-d.allowance, max(0, a.prepaid))
	d.over = n - d.allowance - d.prepaid
	a.used += d.allowance + d.over
	a.prepaid -= d.prepaid
	return d
}

// undo gives back the last n tokens of an earlier draw d, newest first:
// overspend, then prepaid, then allowance. Right after d that leaves the
// books exactly as a debit of d.total()−n would have; used is floored at
// zero all the same. d must have been drawn in the current period (see
// correct).
func (a *account) undo(d draw, n quota.Tokens) {
	n = min(max(0, n), d.total())
	over := min(n, d.over)
	prepaid := min(n-over, d.prepaid)
	a.prepaid += prepaid
	a.used = max(0, a.used-(n-prepaid))
}

// correct moves an expiry charge d to the actual usage: it debits or gives
// back the signed difference and returns it. A refund of a charge drawn in
// an earlier period gives back only its prepaid part, which carries over
// periods: that period's allowance and overspend counted against its own
// used, and refunding them into this period's would hand last month's
// unused allowance to this one.
func (a *account) correct(d draw, actual quota.Tokens) quota.Tokens {
	diff := actual - d.total()
	switch {
	case diff > 0:
		a.debit(diff)
	case d.period != a.period.Start.Unix():
		// Newest first, as undo: the overspend part is passed over, then
		// the prepaid part comes back.
		a.prepaid += min(max(0, -diff-d.over), d.prepaid)
	default:
		a.undo(d, -diff)
	}
	return diff
}
