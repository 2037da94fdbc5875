package memledger

import "github.com/iasolaris/tokengate/quota"

// draw is how one debit was covered, in the order the tokens were drawn:
// what was left of the allowance, then prepaid, then overspend.
type draw struct {
	allowance, prepaid, over quota.Tokens
}

func (d draw) total() quota.Tokens { return d.allowance + d.prepaid + d.over }

// debit draws n tokens from what is left of the allowance, then from
// prepaid. What neither covers is still added to used: overspend is
// measured, never dropped.
func (a *account) debit(n quota.Tokens) draw {
	if n <= 0 {
		return draw{}
	}
	var d draw
	d.allowance = min(n, max(0, a.allowance-a.used))
	d.prepaid = min(n-d.allowance, max(0, a.prepaid))
	d.over = n - d.allowance - d.prepaid
	a.used += d.allowance + d.over
	a.prepaid -= d.prepaid
	return d
}

// undo gives back the last n tokens of an earlier draw d, newest first:
// overspend, then prepaid, then allowance. Right after d that leaves the
// books exactly as a debit of d.total()−n would have. Later, used is floored
// at zero: a refund landing in a period after its charge loses what does
// not fit rather than minting prepaid tokens.
func (a *account) undo(d draw, n quota.Tokens) {
	n = min(max(0, n), d.total())
	over := min(n, d.over)
	prepaid := min(n-over, d.prepaid)
	a.prepaid += prepaid
	a.used = max(0, a.used-(n-prepaid))
}

// correct moves an expiry charge d to the actual usage: it debits or gives
// back the signed difference and returns it.
func (a *account) correct(d draw, actual quota.Tokens) quota.Tokens {
	diff := actual - d.total()
	if diff > 0 {
		a.debit(diff)
	} else {
		a.undo(d, -diff)
	}
	return diff
}
