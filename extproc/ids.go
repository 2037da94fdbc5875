package extproc

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"

	"github.com/iasolaris/tokengate/quota"
)

// requestIDs names exchanges uniquely across replicas and restarts: a random
// prefix drawn once per process, then a counter. Settlement is idempotent
// per id, so an id must never be shared by two requests, and this costs no
// randomness per request.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return &requestIDs{prefix: "tg-" + hex.EncodeToString(b[:]) + "-"}
}

func (r *requestIDs) next() quota.RequestID {
	return quota.RequestID(r.prefix + strconv.FormatUint(r.n.Add(1), 36))
}
