package extproc_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// fault is what one ledger call does in a faultyLedger.
type fault int

const (
	pass       fault = iota // the call goes through
	lostBefore              // the call fails without reaching the ledger
	lostAfter               // the ledger applies the call, then its answer is lost (a timeout)
	finished                // Reserve answers that the id was already settled
)

// faultyLedger is a real in-memory ledger behind a connection that loses
// calls as scripted, so a test can reproduce "the ledger did it, but
// tokengate does not know". Every call is reported on calls.
type faultyLedger struct {
	quota.Ledger
	mu     sync.Mutex
	script map[string][]fault // by method: the faults of its next calls, then pass
	calls  chan string
}

func newFaultyLedger(script map[string][]fault) *faultyLedger {
	return &faultyLedger{Ledger: memledger.New(memledger.Options{}), script: script, calls: make(chan string, 64)}
}

var errLost = context.DeadlineExceeded

func (l *faultyLedger) next(method string) fault {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls <- method
	f := pass
	if s := l.script[method]; len(s) > 0 {
		f, l.script[method] = s[0], s[1:]
	}
	return f
}

func (l *faultyLedger) Reserve(ctx context.Context, acct quota.Account, id quota.RequestID, h quota.Hold) (quota.Reservation, error) {
	f := l.next("Reserve")
	if f == lostBefore {
		return quota.Reservation{}, errLost
	}
	if f == finished {
		return quota.Reservation{}, fmt.Errorf("memledger: reserve %s: %w", acct.ID, quota.ErrFinished)
	}
	r, err := l.Ledger.Reserve(ctx, acct, id, h)
	if f == lostAfter {
		return quota.Reservation{}, errLost
	}
	return r, err
}

func (l *faultyLedger) Settle(ctx context.Context, acct quota.Account, id quota.RequestID, u quota.Usage) (quota.Settlement, error) {
	f := l.next("Settle")
	if f == lostBefore {
		return quota.Settlement{}, errLost
	}
	st, err := l.Ledger.Settle(ctx, acct, id, u)
	if f == lostAfter {
		return quota.Settlement{}, errLost
	}
	return st, err
}

func (l *faultyLedger) Release(ctx context.Context, acct quota.AccountID, id quota.RequestID) error {
	f := l.next("Release")
	if f == lostBefore {
		return errLost
	}
	err := l.Ledger.Release(ctx, acct, id)
	if f == lostAfter {
		return errLost
	}
	return err
}

// waitCall waits until the ledger has been asked method.
func (l *faultyLedger) waitCall(t *testing.T, method string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-l.calls:
			if m == method {
				return
			}
		case <-timeout:
			t.Fatalf("the ledger was never asked to %s", method)
		}
	}
}

// Every way a request ends leaves the books as if it had been settled or
// released exactly once: no hold left to be charged at expiry, nothing
// charged twice.
func TestEveryEndLeavesNoHold(t *testing.T) {
	failed := &envoysim.ScriptedUpstream{Status: 500, Header: http.Header{"Content-Type": {"application/json"}},
		Chunks: [][]byte{[]byte(`{"error":{"message":"boom","type":"server_error"}}`)}}
	tests := []struct {
		name     string
		script   map[string][]fault
		opts     extproc.Options
		upstream func() envoysim.Upstream
		status   int
		// used is what the account ends up charged: 0, or the upstream's usage (-1).
		used quota.Tokens
		// wait is the ledger call that ends the exchange's accounting.
		wait string
	}{
		{
			name:     "reserve timed out after holding, admitted fail-open, upstream 500",
			script:   map[string][]fault{"Reserve": {lostAfter}},
			upstream: func() envoysim.Upstream { return failed }, status: 500, used: 0, wait: "Release",
		},
		{
			name:     "reserve lost before holding, admitted fail-open, upstream 500",
			script:   map[string][]fault{"Reserve": {lostBefore}},
			upstream: func() envoysim.Upstream { return failed }, status: 500, used: 0, wait: "Release",
		},
		{
			name:     "reserve timed out after holding, admitted fail-open, upstream 200",
			script:   map[string][]fault{"Reserve": {lostAfter}},
			upstream: func() envoysim.Upstream { return newCutUpstream() }, status: 200, used: -1, wait: "Settle",
		},
		{
			name:     "reserve timed out after holding, fail-closed 503",
			script:   map[string][]fault{"Reserve": {lostAfter}},
			opts:     extproc.Options{FailClosed: true},
			upstream: func() envoysim.Upstream { return newCutUpstream() }, status: 503, used: 0, wait: "Release",
		},
		{
			name:     "settle lost before the ledger, retried",
			script:   map[string][]fault{"Settle": {lostBefore, lostBefore}},
			upstream: func() envoysim.Upstream { return newCutUpstream() }, status: 200, used: -1, wait: "Settle",
		},
		{
			name:     "settle applied but its answer lost, retried once",
			script:   map[string][]fault{"Settle": {lostAfter}},
			upstream: func() envoysim.Upstream { return newCutUpstream() }, status: 200, used: -1, wait: "Settle",
		},
		{
			name:     "release lost, retried",
			script:   map[string][]fault{"Release": {lostBefore, lostAfter}},
			upstream: func() envoysim.Upstream { return failed }, status: 500, used: 0, wait: "Release",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newFaultyLedger(tt.script)
			h := newHarness(t, harnessOptions{ledger: l, extproc: tt.opts})
			up := tt.upstream()
			res, rec := h.serve(t.Context(), chatRequest(ana, jsonBody), up)
			if res.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tt.status, rec.Body())
			}
			want := tt.used
			if tt.status == 200 {
				r := h.record()
				if r.Err != nil {
					t.Fatalf("record %+v: the retried call should have succeeded", r)
				}
				u := up.(*cutUpstream).usage()
				want = quota.Tokens(u.PromptTokens + u.CompletionTokens)
			} else if tt.status == 500 {
				if r := h.record(); !r.Released || r.Err != nil {
					t.Fatalf("record %+v, want released", r)
				}
			} else {
				l.waitCall(t, tt.wait)
			}
			b, err := l.Balance(t.Context(), ana)
			if err != nil && !errors.Is(err, quota.ErrUnknownAccount) {
				t.Fatal(err)
			}
			if b.Reserved != 0 || b.Used != want {
				t.Fatalf("balance used %d reserved %d, want used %d and nothing held", b.Used, b.Reserved, want)
			}
		})
	}
}

// The near-limit path retries its Reserve with a precise count; when that
// retry times out after holding, the request is refused on the first
// answer and the hold the retry made is released.
func TestRefineRetryTimingOutReleasesItsHold(t *testing.T) {
	const allowance = 150
	l := newFaultyLedger(map[string][]fault{"Reserve": {pass, lostAfter}})
	h := newHarness(t, harnessOptions{ledger: l, allowance: allowance})
	prose := "Please summarise the quarterly report in three short sentences, focusing on revenue, costs and the outlook for next year. "
	body := `{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"` + prose + prose + `"}]}`
	up := newCutUpstream()
	res, rec := h.serve(t.Context(), chatRequest(ana, body), up)
	if res.Status != 429 || up.callCount() != 0 {
		t.Fatalf("status %d, upstream calls %d: %s", res.Status, up.callCount(), rec.Body())
	}
	l.waitCall(t, "Reserve")
	l.waitCall(t, "Reserve")
	l.waitCall(t, "Release")
	b, err := l.Balance(t.Context(), ana)
	if err != nil {
		t.Fatal(err)
	}
	if b.Reserved != 0 || b.Used != 0 {
		t.Fatalf("balance %+v: a refused request left a hold or a charge", b)
	}
}

// A Reserve answered "already settled" is neither an admission nor an
// outage: the call would go unpaid (its Settle would be a duplicate), so it
// is refused, and since nothing was held nothing is released.
func TestReserveOfAFinishedIDIsRefusedWithoutRelease(t *testing.T) {
	l := newFaultyLedger(map[string][]fault{"Reserve": {finished}})
	h := newHarness(t, harnessOptions{ledger: l})
	up := newCutUpstream()
	res, rec := h.serve(t.Context(), chatRequest(ana, jsonBody), up)
	if res.Status != 503 || up.callCount() != 0 {
		t.Fatalf("status %d, upstream calls %d: %s", res.Status, up.callCount(), rec.Body())
	}
	// Another request of the account goes through; had the first released
	// anything, the calls would show it before this one's Reserve.
	if res, _ := h.serve(t.Context(), chatRequest(ana, jsonBody), up); res.Status != 200 {
		t.Fatalf("next request: status %d", res.Status)
	}
	h.record()
	for _, want := range []string{"Reserve", "Reserve", "Settle"} {
		if got := <-l.calls; got != want {
			t.Fatalf("ledger call %q, want %q", got, want)
		}
	}
}
