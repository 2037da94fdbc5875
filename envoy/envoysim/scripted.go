package envoysim

import (
	"context"
	"io"
	"net/http"
	"sync"
)

// ScriptedUpstream is an Upstream for tests: a fixed response whose body
// arrives in chunks the test chooses, at moments the test controls.
type ScriptedUpstream struct {
	// Status defaults to 200.
	Status int
	Header http.Header
	// Chunks is the body, one upstream read each; the last one carries end
	// of stream (append an empty chunk for an HTTP/1 chunked terminator).
	// Nil means a headers-only response (envoy-ext-proc.md E65).
	Chunks [][]byte
	// ArriveBeforeHeaderReply is how many chunks arrive before the filter
	// handles the processor's response_headers reply; they are coalesced
	// into one message, or sent whole when they are the whole body (E30).
	// The rest arrive only after that reply. Zero: all arrive after it.
	ArriveBeforeHeaderReply int
	// Hold blocks the read of chunk i until the channel is closed or the
	// request is cancelled, e.g. to cancel the client mid-stream.
	Hold map[int]<-chan struct{}
	// Wait, if set, blocks RoundTrip until it is closed or the request is
	// cancelled (route timeouts, immediate responses while in flight).
	Wait <-chan struct{}
	// Err makes RoundTrip fail, as a connection failure would (E57).
	Err error

	mu        sync.Mutex
	calls     int
	last      *UpstreamRequest
	cancelled bool
}

// RoundTrip implements [Upstream.RoundTrip].
func (s *ScriptedUpstream) RoundTrip(ctx context.Context, req *UpstreamRequest) (*UpstreamResponse, error) {
	s.mu.Lock()
	s.calls++
	s.last = req
	s.mu.Unlock()
	if s.Wait != nil {
		select {
		case <-s.Wait:
		case <-ctx.Done():
			s.markCancelled()
			return nil, ctx.Err()
		}
	}
	if s.Err != nil {
		return nil, s.Err
	}
	status := s.Status
	if status == 0 {
		status = http.StatusOK
	}
	resp := &UpstreamResponse{Status: status, Header: s.Header.Clone()}
	if s.Chunks != nil {
		resp.Body = &scriptedBody{s: s, released: make(chan struct{})}
	}
	return resp, nil
}

// Calls reports how many times RoundTrip was called.
func (s *ScriptedUpstream) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// Request returns the last request received, nil if none.
func (s *ScriptedUpstream) Request() *UpstreamRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Cancelled reports whether the request was cancelled while RoundTrip or a
// body read was blocked: the router reset the upstream.
func (s *ScriptedUpstream) Cancelled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cancelled
}

func (s *ScriptedUpstream) markCancelled() {
	s.mu.Lock()
	s.cancelled = true
	s.mu.Unlock()
}

// scriptedBody plays ScriptedUpstream.Chunks; it implements ArrivalScript.
type scriptedBody struct {
	s        *ScriptedUpstream
	next     int
	released chan struct{}
	once     sync.Once
}

// NextChunk implements [ChunkReader.NextChunk].
func (b *scriptedBody) NextChunk(ctx context.Context) ([]byte, error) {
	chunks := b.s.Chunks
	if b.next >= len(chunks) {
		return nil, io.EOF
	}
	i := b.next
	if i >= b.s.ArriveBeforeHeaderReply {
		if err := b.block(ctx, b.released); err != nil {
			return nil, err
		}
	}
	if hold, ok := b.s.Hold[i]; ok {
		if err := b.block(ctx, hold); err != nil {
			return nil, err
		}
	}
	b.next++
	data := append([]byte(nil), chunks[i]...)
	if b.next == len(chunks) {
		return data, io.EOF
	}
	return data, nil
}

func (b *scriptedBody) block(ctx context.Context, ch <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		b.s.markCancelled()
		return ctx.Err()
	}
}

// EarlyChunks implements [ArrivalScript.EarlyChunks]: a held chunk has not
// arrived, nor has anything after it.
func (b *scriptedBody) EarlyChunks() int {
	n := min(b.s.ArriveBeforeHeaderReply, len(b.s.Chunks))
	for i := range n {
		if _, held := b.s.Hold[i]; held {
			return i
		}
	}
	return n
}

// HeaderReplyHandled implements [ArrivalScript.HeaderReplyHandled].
func (b *scriptedBody) HeaderReplyHandled() {
	b.once.Do(func() { close(b.released) })
}
