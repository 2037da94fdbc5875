package memledger

import (
	"slices"

	"github.com/iasolaris/tokengate/quota"
)

// pruneBatch caps how many old outcomes one call forgets, so a call after a
// long quiet spell costs no more than any other. Each call writes at most
// one outcome plus one per hold it charges, so the batch keeps up.
const pruneBatch = 64

type outcomeKind uint8

const (
	settled outcomeKind = iota + 1
	released
	expired // charged at its hold; a late Settle or Release corrects it
)

// outcome is how a request id left the books: 16 bytes beside the id. How
// an expiry charge was drawn is kept apart, in outcomes.charges, because
// few requests expire.
type outcome struct {
	forgetAt int64 // Unix ns
	kind     outcomeKind
}

// outcomes remembers finished request ids for a while. queue holds them in
// the order they were written; with one TTL that is the order they are due,
// so forgetting pops from the front and never scans.
type outcomes struct {
	byID    map[quota.RequestID]outcome
	charges map[quota.RequestID]draw // expired outcomes only
	queue   []queued
	head    int
	// peak is the most ids byID held since it was made. Go maps never give
	// memory back, so prune remakes byID once it holds a quarter of that.
	peak int
}

type queued struct {
	id       quota.RequestID
	forgetAt int64
}

// get returns id's outcome and, for an expired one, how its charge was drawn.
func (o *outcomes) get(id quota.RequestID) (outcomeKind, draw, bool) {
	out, ok := o.byID[id]
	if !ok {
		return 0, draw{}, false
	}
	return out.kind, o.charges[id], true
}

// put records or replaces id's outcome; charge matters for expired only. A
// replaced entry stays in the queue and is skipped when popped, because its
// forgetAt no longer matches.
func (o *outcomes) put(id quota.RequestID, kind outcomeKind, charge draw, forgetAt int64) {
	if o.byID == nil {
		o.byID = make(map[quota.RequestID]outcome)
	}
	o.byID[id] = outcome{forgetAt: forgetAt, kind: kind}
	o.peak = max(o.peak, len(o.byID))
	if kind == expired {
		if o.charges == nil {
			o.charges = make(map[quota.RequestID]draw)
		}
		o.charges[id] = charge
	} else {
		delete(o.charges, id)
	}
	o.queue = append(o.queue, queued{id: id, forgetAt: forgetAt})
}

// prune forgets up to pruneBatch outcomes that are due at now, and gives
// back the memory the forgotten ones held.
func (o *outcomes) prune(now int64) {
	if o.head == len(o.queue) || o.queue[o.head].forgetAt > now {
		return
	}
	for range pruneBatch {
		if o.head == len(o.queue) || o.queue[o.head].forgetAt > now {
			break
		}
		q := o.queue[o.head]
		if out, ok := o.byID[q.id]; ok && out.forgetAt == q.forgetAt {
			delete(o.byID, q.id)
			delete(o.charges, q.id)
		}
		o.queue[o.head] = queued{} // let the id string go
		o.head++
	}
	o.compact()
}

// compact drops the popped front of the queue once it is half the slice, so
// an account that always has some outcomes remembered keeps a queue of about
// twice what it holds rather than every slot it ever used. Each compaction
// copies at most as many entries as were popped since the last, so the cost
// is amortised O(1). Maps that have shrunk well below their peak are remade.
func (o *outcomes) compact() {
	live := len(o.queue) - o.head
	switch {
	case live == 0:
		o.queue, o.head = nil, 0
	case o.head*2 >= len(o.queue):
		if cap(o.queue) >= 4*live {
			o.queue = slices.Clone(o.queue[o.head:])
		} else {
			n := copy(o.queue, o.queue[o.head:])
			clear(o.queue[n:])
			o.queue = o.queue[:n]
		}
		o.head = 0
	}
	switch n := len(o.byID); {
	case n == 0:
		o.byID, o.charges, o.peak = nil, nil, 0
	case o.peak >= 4*pruneBatch && 4*n <= o.peak:
		o.byID, o.peak = clone(o.byID), n
		o.charges = clone(o.charges)
	}
}

// clone copies m into a map sized for what it holds now.
func clone[V any](m map[quota.RequestID]V) map[quota.RequestID]V {
	if len(m) == 0 {
		return nil
	}
	c := make(map[quota.RequestID]V, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// size is how many request ids are remembered.
func (o *outcomes) size() int { return len(o.byID) }
