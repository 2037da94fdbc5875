package memledger

import (
	"sync"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// Options tunes a Ledger. The zero value is usable.
type Options struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Location is the zone whose calendar months are the periods; UTC when nil.
	Location *time.Location
	// HoldTTL is how long a hold may stay unsettled before it is charged at
	// what it holds; 10 minutes when zero.
	HoldTTL time.Duration
	// SettledTTL is how long a settled or released request id is remembered,
	// so a repeated Settle is recognised; 24 hours when zero.
	SettledTTL time.Duration
}

// Ledger is a quota.Ledger in memory. It is safe for concurrent use.
type Ledger struct {
	now        func() time.Time
	loc        *time.Location
	holdTTL    time.Duration
	settledTTL time.Duration
	accounts   sync.Map // quota.AccountID → *account
	sweep      sweeper
}

var _ quota.Ledger = (*Ledger)(nil)

// New returns an empty ledger.
func New(o Options) *Ledger {
	l := &Ledger{now: o.Now, loc: o.Location, holdTTL: o.HoldTTL, settledTTL: o.SettledTTL}
	if l.now == nil {
		l.now = time.Now
	}
	if l.loc == nil {
		l.loc = time.UTC
	}
	if l.holdTTL <= 0 {
		l.holdTTL = 10 * time.Minute
	}
	if l.settledTTL <= 0 {
		l.settledTTL = 24 * time.Hour
	}
	return l
}

// lookup returns the account, locked and brought up to now, or nil when the
// ledger has never seen it. The caller unlocks.
func (l *Ledger) lookup(id quota.AccountID, now time.Time) *account {
	l.sweep.step(now.UnixNano())
	v, ok := l.accounts.Load(id)
	if !ok {
		return nil
	}
	a := v.(*account)
	a.mu.Lock()
	a.advance(now, l)
	return a
}

// lookupOrCreate is lookup for Reserve and Settle, which make an account known.
func (l *Ledger) lookupOrCreate(acct quota.Account, now time.Time) *account {
	l.sweep.step(now.UnixNano())
	v, ok := l.accounts.Load(acct.ID)
	if !ok {
		// Only a first sight allocates; losing the race to another first
		// sight just drops this copy.
		var loaded bool
		if v, loaded = l.accounts.LoadOrStore(acct.ID, newAccount(acct, quota.PeriodOf(now, l.loc))); !loaded {
			l.sweep.add(v.(*account))
		}
	}
	a := v.(*account)
	a.mu.Lock()
	a.advance(now, l)
	return a
}
