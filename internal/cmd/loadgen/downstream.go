package main

import (
	"bytes"
	"net/http"
	"sync"
	"time"
)

// eventKind sorts the events the client receives so each can be matched
// with the upstream event it came from.
type eventKind uint8

const (
	eventChoice eventKind = iota // role, content or finish chunk, matched by order
	eventUsage                   // a usage-only chunk; tokengate should have removed it
	eventDone                    // data: [DONE]
)

// arrival is one server-sent event reaching the client.
type arrival struct {
	kind eventKind
	at   time.Duration // since the run's clock base
}

// downstream is one stream's client: it timestamps the response headers and
// every body write, and splits the body into server-sent events (a write may
// hold several, or part of one) so that each event's arrival can be matched
// with its departure from the upstream.
type downstream struct {
	clk clock

	mu          sync.Mutex
	status      int
	headerAt    time.Duration
	firstByteAt time.Duration
	bytes       int
	pending     []byte // an event not yet complete
	events      []arrival
	reset       bool
}

// WriteHeader implements [envoysim.Downstream.WriteHeader].
func (d *downstream) WriteHeader(status int, _ http.Header) {
	now := d.clk.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status, d.headerAt = status, now
}

// Write implements [envoysim.Downstream.Write].
func (d *downstream) Write(chunk []byte) error {
	now := d.clk.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bytes == 0 && len(chunk) > 0 {
		d.firstByteAt = now
	}
	d.bytes += len(chunk)
	d.pending = append(d.pending, chunk...)
	for {
		end := bytes.Index(d.pending, []byte("\n\n"))
		if end < 0 {
			break
		}
		d.events = append(d.events, arrival{kind: classify(d.pending[:end]), at: now})
		d.pending = d.pending[end+2:]
	}
	if len(d.pending) == 0 {
		d.pending = nil // let the backing array go between events
	}
	return nil
}

// Reset implements [envoysim.Downstream.Reset].
func (d *downstream) Reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reset = true
}

// classify names one event by its data line.
func classify(ev []byte) eventKind {
	switch {
	case bytes.Contains(ev, []byte("data: [DONE]")):
		return eventDone
	case bytes.Contains(ev, []byte(`"choices":[]`)):
		return eventUsage
	default:
		return eventChoice
	}
}
