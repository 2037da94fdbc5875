package memledger

import "github.com/iasolaris/tokengate/quota"

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

// outcome is how a request id left the books.
type outcome struct {
	kind     outcomeKind
	charge   draw  // for expired: how the expiry charge was covered
	forgetAt int64 // Unix ns
}

// outcomes remembers finished request ids for a while. queue holds them in
// the order they were written; with one TTL that is the order they are due,
// so forgetting pops from the front and never scans.
type outcomes struct {
	byID  map[quota.RequestID]outcome
	queue []queued
	head  int
}

type queued struct {
	id       quota.RequestID
	forgetAt int64
}

func (o *outcomes) get(id quota.RequestID) (outcome, bool) {
	out, ok := o.byID[id]
	return out, ok
}

// put records or replaces id's outcome. A replaced entry stays in the queue
// and is skipped when popped, because its forgetAt no longer matches.
func (o *outcomes) put(id quota.RequestID, out outcome) {
	if o.byID == nil {
		o.byID = make(map[quota.RequestID]outcome)
	}
	o.byID[id] = out
	o.queue = append(o.queue, queued{id: id, forgetAt: out.forgetAt})
}

// prune forgets up to pruneBatch outcomes that are due at now.
func (o *outcomes) prune(now int64) {
	for range pruneBatch {
		if o.head == len(o.queue) || o.queue[o.head].forgetAt > now {
			break
		}
		q := o.queue[o.head]
		if out, ok := o.byID[q.id]; ok && out.forgetAt == q.forgetAt {
			delete(o.byID, q.id)
		}
		o.queue[o.head] = queued{} // let the id string go
		o.head++
	}
	// Reclaim the popped front once it is most of the slice: amortised O(1).
	if o.head >= pruneBatch && o.head*2 >= len(o.queue) {
		n := copy(o.queue, o.queue[o.head:])
		clear(o.queue[n:])
		o.queue = o.queue[:n]
		o.head = 0
	}
}

// size is how many request ids are remembered.
func (o *outcomes) size() int { return len(o.byID) }
