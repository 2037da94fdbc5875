package main

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/iasolaris/tokengate/envoy/envoysim"
)

// streamResult is what one request left behind once Serve returned. It
// lives only until tally.add has counted it: a soak of 100,000 requests
// must not keep 100,000 recorders.
type streamResult struct {
	account string
	res     envoysim.Result
	up      *upstream
	down    *downstream
	start   time.Duration
}

// totals is everything the report needs from the requests, aggregated as
// each one ends, so loadgen's memory depends on the number of accounts and
// not on the number of requests.
type totals struct {
	started, completed, failed int
	reasons                    map[string]int // why requests failed
	statuses                   map[int]int    // Result.Status; 0 = no headers
	envoy                      envoyCounts
	upstreamCalled             int
	includeUsage               int              // upstream requests asking for usage
	usageToClient              int              // usage-only chunks that reached the client
	reported                   map[string]int64 // usage the upstream reported, by account, completed requests only

	requestPhase, ttfb, chunk histogram
}

// envoyCounts sums what the emulated Envoy did across requests.
type envoyCounts struct {
	messageTimeouts, spurious, rejectedMutations, watermarks, failedOpen int
	resets, localReplies, immediateResponses                             int
}

// tally is the totals of a run, added to by every worker as its requests end.
type tally struct {
	tokens int // content chunks a complete answer has
	mu     sync.Mutex
	t      totals
}

func newTally(tokens int) *tally {
	return &tally{tokens: tokens, t: totals{reasons: map[string]int{}, statuses: map[int]int{}, reported: map[string]int64{}}}
}

// add counts one finished request. The slow part, reading its events, runs
// outside the lock.
func (y *tally) add(s streamResult) {
	why := failure(s, y.tokens)
	usageToClient := 0
	for _, ev := range s.down.events {
		usageToClient += count(ev.kind == eventUsage)
	}
	y.mu.Lock()
	defer y.mu.Unlock()
	t := &y.t
	res := s.res
	t.started++
	t.statuses[res.Status]++
	t.envoy.messageTimeouts += res.MessageTimeouts
	t.envoy.spurious += res.Spurious
	t.envoy.rejectedMutations += res.RejectedMutations
	t.envoy.watermarks += res.Watermarks
	t.envoy.failedOpen += res.FailedOpen
	t.envoy.resets += count(res.Reset)
	t.envoy.localReplies += count(res.LocalReply != nil)
	t.envoy.immediateResponses += count(res.ImmediateResponse)
	if s.up.called {
		t.upstreamCalled++
		t.includeUsage += count(s.up.includeUsage)
		t.requestPhase.add(s.up.calledAt - s.start)
	}
	if s.down.bytes > 0 {
		t.ttfb.add(s.down.firstByteAt - s.start)
	}
	passThrough(s, t.chunk.add)
	t.usageToClient += usageToClient
	if why != "" {
		t.failed++
		t.reasons[why]++
		return
	}
	t.completed++
	t.reported[s.account] += s.up.reported
}

// totals is a copy of what was added so far; call it once every worker ended.
func (y *tally) totals() totals {
	y.mu.Lock()
	defer y.mu.Unlock()
	return y.t
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// failure says why a request did not complete as a client expects: 200,
// every choice event, [DONE]. Empty means it completed.
func failure(s streamResult, tokens int) string {
	res := s.res
	switch {
	case res.DownstreamGone:
		return "cancelled" // -duration passed, or the tool was interrupted
	case res.ImmediateResponse:
		return fmt.Sprintf("immediate_response_%d", res.Status)
	case res.LocalReply != nil:
		return fmt.Sprintf("local_reply_%d_%s", res.LocalReply.Status, word(res.LocalReply.Details))
	case res.Reset || s.down.reset:
		return "reset_" + word(res.ResetDetails)
	case res.Status != http.StatusOK:
		return fmt.Sprintf("status_%d", res.Status)
	case !s.up.called:
		return "upstream_not_called"
	}
	choices, done := 0, false
	for _, ev := range s.down.events {
		choices += count(ev.kind == eventChoice)
		done = done || ev.kind == eventDone
	}
	switch {
	case choices != tokens+2: // role, tokens, finish
		return "missing_events"
	case !done:
		return "no_done"
	}
	return ""
}

// word makes a detail string one token of the report line.
func word(s string) string {
	if s == "" {
		return "none"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '=' {
			return '_'
		}
		return r
	}, s)
}

// passThrough gives to each, per event the client received, the time from
// the upstream yielding it to the client receiving it. Choice events are
// matched in order; tokengate removes the usage chunk it asked for, so it
// and [DONE] are matched by kind.
func passThrough(s streamResult, each func(time.Duration)) {
	b := s.up.body
	if b == nil {
		return
	}
	k := 0
	for _, ev := range s.down.events {
		switch ev.kind {
		case eventChoice:
			if k < len(b.choiceAt) {
				each(ev.at - b.choiceAt[k])
			}
			k++
		case eventUsage:
			if b.usageAt > 0 {
				each(ev.at - b.usageAt)
			}
		case eventDone:
			if b.done {
				each(ev.at - b.doneAt)
			}
		}
	}
}
