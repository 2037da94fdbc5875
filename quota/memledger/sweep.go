package memledger

import (
	"sync"
	"sync/atomic"
	"time"
)

// Each sweep visits this many accounts, at most once per sweepEvery of the
// ledger's clock. With A accounts an outcome is forgotten at the latest
// A/sweepAccounts sweeps after SettledTTL: for 10,000 accounts and a call
// at least every millisecond, 1.25 s.
const (
	sweepAccounts = 8
	sweepEvery    = time.Millisecond
)

// sweeper forgets the outcomes of accounts that never call again: each call
// for any account first lends a few accounts' worth of pruning to others,
// round-robin. It runs on the calls' goroutines, so it needs no goroutine
// of its own, and it never waits: a call that finds the sweep or an
// account busy skips it.
type sweeper struct {
	// due is the Unix ns before which no call sweeps; most calls read only it.
	due atomic.Int64

	mu       sync.Mutex // guards accounts and next
	accounts []*account // every account, in the order they were made
	next     int
}

// add makes a new account known to the sweep.
func (s *sweeper) add(a *account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts = append(s.accounts, a)
}

// step prunes the due outcomes of the next sweepAccounts accounts. The
// caller holds no account's lock.
func (s *sweeper) step(now int64) {
	if now < s.due.Load() || !s.mu.TryLock() {
		return
	}
	defer s.mu.Unlock()
	s.due.Store(now + int64(sweepEvery))
	for range min(sweepAccounts, len(s.accounts)) {
		a := s.accounts[s.next]
		s.next = (s.next + 1) % len(s.accounts)
		if a.mu.TryLock() {
			a.outcomes.prune(now)
			a.mu.Unlock()
		}
	}
}
