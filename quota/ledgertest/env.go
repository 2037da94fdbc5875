package ledgertest

import (
	"errors"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// defaultStart is mid-month and 20 s into a minute, so a rate-limited caller
// waits 40 s and no subtest crosses a period by accident.
func defaultStart(loc *time.Location) time.Time {
	return time.Date(2026, time.November, 15, 12, 0, 20, 0, loc)
}

// env is one subtest's ledger with the clock and zone it was opened on.
type env struct {
	t     *testing.T
	l     quota.Ledger
	clock *clock
	loc   *time.Location
}

// setup is how a subtest wants its ledger opened; zero fields mean UTC, the
// default start instant, a ten-minute hold TTL and outcomes kept an hour.
type setup struct {
	loc        *time.Location
	at         time.Time
	holdTTL    time.Duration
	settledTTL time.Duration
}

func newEnv(t *testing.T, open opener, s setup) *env {
	t.Helper()
	if s.loc == nil {
		s.loc = time.UTC
	}
	if s.at.IsZero() {
		s.at = defaultStart(s.loc)
	}
	if s.holdTTL == 0 {
		s.holdTTL = defaultHoldTTL
	}
	if s.settledTTL == 0 {
		s.settledTTL = defaultSettledTTL
	}
	c := newClock(s.at)
	l := open(t, Options{Now: c.Now, Location: s.loc, HoldTTL: s.holdTTL, SettledTTL: s.settledTTL})
	return &env{t: t, l: l, clock: c, loc: s.loc}
}

// counters is the numeric part of a Balance, compared as one value so a
// failure shows every figure at once.
type counters struct {
	Allowance, Used, Reserved, Prepaid, Remaining quota.Tokens
}

func countersOf(b quota.Balance) counters {
	return counters{b.Allowance, b.Used, b.Reserved, b.Prepaid, b.Remaining}
}

func (e *env) reserve(acct quota.Account, id quota.RequestID, h quota.Hold) quota.Reservation {
	e.t.Helper()
	r, err := e.l.Reserve(e.t.Context(), acct, id, h)
	if err != nil {
		e.t.Fatalf("Reserve(%q, %q, %+v): %v", acct.ID, id, h, err)
	}
	if r.ID != id {
		e.t.Fatalf("Reserve(%q, %q).ID = %q", acct.ID, id, r.ID)
	}
	return r
}

// refuse reserves expecting a refusal for reason and returns it.
func (e *env) refuse(acct quota.Account, id quota.RequestID, h quota.Hold, reason error) *quota.Refusal {
	e.t.Helper()
	r, err := e.l.Reserve(e.t.Context(), acct, id, h)
	if err == nil {
		e.t.Fatalf("Reserve(%q, %q, %+v) admitted %+v, want %v", acct.ID, id, h, r, reason)
	}
	if !errors.Is(err, reason) {
		e.t.Fatalf("Reserve(%q, %q, %+v) = %v, want %v", acct.ID, id, h, err, reason)
	}
	var ref *quota.Refusal
	if !errors.As(err, &ref) {
		e.t.Fatalf("Reserve(%q, %q) error %T is not a *quota.Refusal", acct.ID, id, err)
	}
	if !errors.Is(ref.Reason, reason) {
		e.t.Fatalf("Refusal.Reason = %v, want %v", ref.Reason, reason)
	}
	return ref
}

func (e *env) settle(acct quota.AccountID, id quota.RequestID, u quota.Usage) quota.Settlement {
	e.t.Helper()
	// A known account's stored allowance stands; the one passed matters
	// only for an account Settle has to create.
	s, err := e.l.Settle(e.t.Context(), quota.Account{ID: acct}, id, u)
	if err != nil {
		e.t.Fatalf("Settle(%q, %q, %+v): %v", acct, id, u, err)
	}
	return s
}

// settleWant settles and checks what the call debited and whether it was a
// duplicate.
func (e *env) settleWant(acct quota.AccountID, id quota.RequestID, u quota.Usage, debited quota.Tokens, dup bool) quota.Settlement {
	e.t.Helper()
	s := e.settle(acct, id, u)
	if s.Debited != debited || s.Duplicate != dup {
		e.t.Fatalf("Settle(%q, %q, %+v) = Debited %d Duplicate %v, want %d %v",
			acct, id, u, s.Debited, s.Duplicate, debited, dup)
	}
	return s
}

func (e *env) release(acct quota.AccountID, id quota.RequestID) {
	e.t.Helper()
	if err := e.l.Release(e.t.Context(), acct, id); err != nil {
		e.t.Fatalf("Release(%q, %q): %v", acct, id, err)
	}
}

func (e *env) topUp(acct quota.AccountID, n quota.Tokens) quota.Balance {
	e.t.Helper()
	b, err := e.l.TopUp(e.t.Context(), acct, n)
	if err != nil {
		e.t.Fatalf("TopUp(%q, %d): %v", acct, n, err)
	}
	return b
}

func (e *env) balance(acct quota.AccountID) quota.Balance {
	e.t.Helper()
	b, err := e.l.Balance(e.t.Context(), acct)
	if err != nil {
		e.t.Fatalf("Balance(%q): %v", acct, err)
	}
	if b.Account != acct {
		e.t.Fatalf("Balance(%q).Account = %q", acct, b.Account)
	}
	return b
}

// want checks a balance's figures; what names the call that produced it.
func (e *env) want(what string, got quota.Balance, want counters) {
	e.t.Helper()
	if g := countersOf(got); g != want {
		e.t.Fatalf("%s:\n got %+v\nwant %+v", what, g, want)
	}
}

// wantBalance checks the account's figures as Balance reports them now, and
// that they belong to the period the clock is in.
func (e *env) wantBalance(acct quota.AccountID, want counters) quota.Balance {
	e.t.Helper()
	b := e.balance(acct)
	e.want("Balance("+string(acct)+")", b, want)
	if p := quota.PeriodOf(e.clock.Now(), e.loc); !b.Period.Start.Equal(p.Start) || !b.Period.End.Equal(p.End) {
		e.t.Fatalf("Balance(%q).Period = %v..%v, want %v..%v", acct, b.Period.Start, b.Period.End, p.Start, p.End)
	}
	return b
}
