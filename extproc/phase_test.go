package extproc

import (
	"context"
	"errors"
	"testing"
	"time"
)

// The phase deadline counts from the message's arrival, not from when the
// store call starts: Envoy's timer ran while the body was parsed.
func TestPhaseDeadlineCountsFromArrival(t *testing.T) {
	s := mustServer(t, Options{PhaseTimeout: 150 * time.Millisecond})
	ex := s.newExchange(context.Background())
	ex.received = time.Now().Add(-200 * time.Millisecond) // parsing took longer than the phase
	ctx, cancel := ex.phaseContext()
	defer cancel()
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("a phase that used up its time on parsing still has a deadline ahead: %v", ctx.Err())
	}
	ex.received = time.Now()
	ctx2, cancel2 := ex.phaseContext()
	defer cancel2()
	d, ok := ctx2.Deadline()
	if !ok || d.After(ex.received.Add(150*time.Millisecond)) {
		t.Fatalf("deadline %v, want at most 150 ms after arrival %v", d, ex.received)
	}
}
