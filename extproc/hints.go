package extproc

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/iasolaris/tokengate/quota"
)

// hintSlots is how many accounts' balances the hint table can hold at once.
// Each slot is 8 bytes, so the table is 512 KiB however many accounts call.
const hintSlots = 1 << 16

// Each slot packs a tag from the account's hash with the remaining balance,
// so one atomic word holds both and a reader never sees half an update.
const (
	hintValueBits = 40 // balances up to 2^40−1 (about 10^12) tokens
	hintValueMax  = 1<<hintValueBits - 1
	hintTagShift  = hintValueBits
)

// hints remembers each account's last known remaining balance, so the
// request phase pays for an exact token count only when it could change the
// decision. It is a direct-mapped table: bounded memory whatever the number
// of accounts, no locks, no allocation. Two accounts sharing a slot evict
// each other, and a hint may be stale or (on a tag collision) another
// account's; that is safe because a hint only chooses how precisely the
// prompt is counted up front. The ledger still decides, and a refusal on the
// cheap bound is retried with the exact count.
type hints struct {
	seed  maphash.Seed
	slots []atomic.Uint64
}

func newHints() *hints {
	return &hints{seed: maphash.MakeSeed(), slots: make([]atomic.Uint64, hintSlots)}
}

// slot returns acct's slot and the tag that marks it as acct's. A tag is
// never 0, so an empty slot matches nobody.
func (h *hints) slot(acct quota.AccountID) (*atomic.Uint64, uint64) {
	sum := maphash.String(h.seed, string(acct))
	tag := sum>>hintTagShift | 1
	return &h.slots[sum&(hintSlots-1)], tag
}

// get returns the last remaining balance seen for acct.
func (h *hints) get(acct quota.AccountID) (quota.Tokens, bool) {
	s, tag := h.slot(acct)
	v := s.Load()
	if v>>hintTagShift != tag {
		return 0, false
	}
	return quota.Tokens(v & hintValueMax), true
}

// put records acct's remaining balance.
func (h *hints) put(acct quota.AccountID, remaining quota.Tokens) {
	s, tag := h.slot(acct)
	s.Store(tag<<hintTagShift | uint64(min(max(remaining, 0), hintValueMax)))
}
