package redisledger

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/quota"
)

// Options tunes a Ledger. The zero value is usable.
type Options struct {
	// Prefix goes before every key, e.g. "tokengate:", so several
	// deployments or tests can share one Redis. It should hold no '{' or
	// '}', which would make it the hash tag and put every account in one
	// Cluster slot.
	Prefix string
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

// periodKeepMonths is how long a period's counters outlive the period, so reports
// and alerts for last month can still read them.
const periodKeepMonths = 2

// Ledger is a quota.Ledger in Redis. It is safe for concurrent use.
type Ledger struct {
	rdb        redis.UniversalClient
	prefix     string
	now        func() time.Time
	loc        *time.Location
	holdTTL    time.Duration
	settledTTL time.Duration
}

var _ quota.Ledger = (*Ledger)(nil)

// New returns a ledger on rdb. It does no I/O; scripts are sent on first use.
func New(rdb redis.UniversalClient, o Options) *Ledger {
	l := &Ledger{rdb: rdb, prefix: o.Prefix, now: o.Now, loc: o.Location, holdTTL: o.HoldTTL, settledTTL: o.SettledTTL}
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

var (
	//go:embed ledger.lua
	ledgerLua string
	//go:embed repair.lua
	repairLua string
)

// newScript prefixes a script body with ledger.lua and repair.lua, the
// books, rules and repairs every script shares. The result is built once
// per script; Run sends EVALSHA and falls back to EVAL, which caches it
// server-side, only on a NOSCRIPT reply: one round trip per call.
func newScript(body string) *redis.Script { return redis.NewScript(ledgerLua + repairLua + body) }

// Script statuses; ledger.lua defines the same numbers.
const (
	statusUnknown     = -1
	statusOK          = 0
	statusDuplicate   = 1
	statusExisting    = 2
	statusExhausted   = 3
	statusRateLimited = 4
	statusFinished    = 5
)

// reply is what a script returned: a status, two values the script names,
// and the account's books after the call.
type reply struct {
	status                             int64
	x, y                               int64
	allowance, used, reserved, prepaid quota.Tokens
	period                             quota.Period
}

// call runs s for acct at now. args follow the four common arguments.
func (l *Ledger) call(ctx context.Context, s *redis.Script, acct quota.AccountID, now time.Time, args ...any) (reply, error) {
	p := quota.PeriodOf(now, l.loc)
	periodTTL := p.End.AddDate(0, periodKeepMonths, 0).Sub(now)
	month := p.Key()
	argv := make([]any, 0, 4+len(args))
	argv = append(argv, now.UnixMilli(), periodTTL.Milliseconds(), l.settledTTL.Milliseconds(), month)
	argv = append(argv, args...)
	v, err := s.Run(ctx, l.rdb, l.keysIn(acct, month), argv...).Int64Slice()
	if err != nil {
		return reply{}, err
	}
	r := reply{period: p}
	switch {
	case len(v) == 1 && v[0] == statusUnknown:
		r.status = statusUnknown
	case len(v) == 7:
		r.status, r.x, r.y = v[0], v[1], v[2]
		r.allowance, r.used, r.reserved, r.prepaid = quota.Tokens(v[3]), quota.Tokens(v[4]), quota.Tokens(v[5]), quota.Tokens(v[6])
	default:
		return reply{}, fmt.Errorf("unexpected script reply %v", v)
	}
	return r, nil
}

// balance is the reply's books as a quota.Balance.
func (r reply) balance(acct quota.AccountID) quota.Balance {
	return quota.Balance{
		Account:   acct,
		Period:    r.period,
		Allowance: r.allowance,
		Used:      r.used,
		Reserved:  r.reserved,
		Prepaid:   r.prepaid,
		Remaining: quota.Remaining(r.allowance, r.used, r.prepaid, r.reserved),
	}
}

// known turns an unknown-account reply into ErrUnknownAccount.
func (r reply) known() error {
	if r.status == statusUnknown {
		return quota.ErrUnknownAccount
	}
	return nil
}
