package envoysim

import (
	"bytes"
	"context"
	"net/http"
	"sync"
)

// Recorder is a Downstream that remembers what the client received. Its
// methods are safe to call while Serve runs.
type Recorder struct {
	mu      sync.Mutex
	status  int
	header  http.Header
	chunks  [][]byte
	reset   bool
	changed chan struct{}
}

// WriteHeader implements [Downstream.WriteHeader].
func (r *Recorder) WriteHeader(status int, h http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status = status
	r.header = h.Clone()
	r.notify()
}

// Write implements [Downstream.Write].
func (r *Recorder) Write(chunk []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chunks = append(r.chunks, append([]byte(nil), chunk...))
	r.notify()
	return nil
}

// Reset implements [Downstream.Reset].
func (r *Recorder) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reset = true
	r.notify()
}

// notify wakes WaitChunks callers; r.mu is held.
func (r *Recorder) notify() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// Status is the status written, 0 if none.
func (r *Recorder) Status() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Header is the header written, nil if none.
func (r *Recorder) Header() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.header.Clone()
}

// Chunks are the body writes, in order.
func (r *Recorder) Chunks() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.chunks))
	copy(out, r.chunks)
	return out
}

// Body is the body writes joined.
func (r *Recorder) Body() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Join(r.chunks, nil)
}

// WasReset reports whether the stream was reset.
func (r *Recorder) WasReset() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reset
}

// WaitChunks blocks until at least n body chunks were written or ctx ends.
func (r *Recorder) WaitChunks(ctx context.Context, n int) error {
	for {
		r.mu.Lock()
		if len(r.chunks) >= n {
			r.mu.Unlock()
			return nil
		}
		if r.changed == nil {
			r.changed = make(chan struct{})
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
