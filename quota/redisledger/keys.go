package redisledger

import (
	"strings"

	"github.com/iasolaris/tokengate/quota"
)

// Positions in the KEYS every script receives; ledger.lua names them too.
const (
	keyAcct = iota
	keyHolds
	keyExp
	keyDone
	keyDoneAt
	keyPeriod
	keyCount
)

// keys returns every key a script may touch for acct in period p, in the
// order ledger.lua expects.
func (l *Ledger) keys(acct quota.AccountID, p quota.Period) []string {
	return l.keysIn(acct, p.Key())
}

// keysIn is keys for the period named month. They are cut from one string:
// a call on the hot path allocates it and the slice, not one string per key.
func (l *Ledger) keysIn(acct quota.AccountID, month string) []string {
	// What follows the account's tag, in KEYS order; the period's month is
	// appended to the last.
	suffixes := [keyCount]string{"acct", "holds", "exp", "done", "done_at", "p:"}
	id := escapeID(string(acct))
	base := len(l.prefix) + len("{a:}:") + len(id)
	size := len(month)
	for _, s := range suffixes {
		size += base + len(s)
	}
	var b strings.Builder
	b.Grow(size)
	ends := [keyCount]int{}
	for i, s := range suffixes {
		b.WriteString(l.prefix)
		b.WriteString("{a:")
		b.WriteString(id)
		b.WriteString("}:")
		b.WriteString(s)
		if i == keyPeriod {
			b.WriteString(month)
		}
		ends[i] = b.Len()
	}
	all := b.String()
	k := make([]string, keyCount)
	start := 0
	for i, end := range ends {
		k[i] = all[start:end]
		start = end
	}
	return k
}

// escapeID percent-escapes the characters that could close the hash tag
// early ('}'), open a second one ('{') or fake an escape ('%'). The mapping
// is one to one, so two accounts never share a key.
func escapeID(id string) string {
	if !strings.ContainsAny(id, "%{}") {
		return id
	}
	var b strings.Builder
	b.Grow(len(id) + 8)
	for i := range len(id) {
		switch c := id[i]; c {
		case '%':
			b.WriteString("%25")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
