package fakeupstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// pause waits d, or less if ctx ends first (the client went away).
func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// eventWriter sends server-sent events one at a time, each flushed on its
// own so that event boundaries reach the client as separate writes, with
// Options.ChunkDelay between consecutive events.
type eventWriter struct {
	ctx   context.Context
	w     http.ResponseWriter
	rc    *http.ResponseController
	delay time.Duration
	eol   string // every line's end: LF, or what x-fake-line-end asked for
	sent  int
}

// startEvents writes the stream's response headers. requestID goes in
// idHeader (x-request-id for OpenAI, request-id for Anthropic).
func startEvents(r *http.Request, w http.ResponseWriter, opts *Options, idHeader, requestID string) *eventWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set(idHeader, requestID)
	w.WriteHeader(http.StatusOK)
	eol, _ := lineEnd(r.Header) // readKnobs has refused any other value
	return &eventWriter{ctx: r.Context(), w: w, rc: http.NewResponseController(w), delay: opts.ChunkDelay, eol: eol}
}

// send writes one event, framed as "event: name\n" (when name is set) and
// "data: payload\n\n", with e.eol for each "\n".
func (e *eventWriter) send(name string, payload []byte) error {
	if e.sent > 0 {
		if err := pause(e.ctx, e.delay); err != nil {
			return err
		}
	} else if err := e.ctx.Err(); err != nil {
		return err
	}
	frame := make([]byte, 0, len(name)+len(payload)+20)
	if name != "" {
		frame = append(append(append(frame, "event: "...), name...), e.eol...)
	}
	frame = append(append(append(append(frame, "data: "...), payload...), e.eol...), e.eol...)
	if _, err := e.w.Write(frame); err != nil {
		return fmt.Errorf("fakeupstream: write event: %w", err)
	}
	if err := e.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("fakeupstream: flush event: %w", err)
	}
	e.sent++
	return nil
}

// writeCut sends the response headers and the first half of body, leaving
// the declared content-length unmet, and returns errCut so the caller drops
// the connection.
func writeCut(w http.ResponseWriter, body []byte) error {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:len(body)/2])
	_ = http.NewResponseController(w).Flush()
	return errCut
}
