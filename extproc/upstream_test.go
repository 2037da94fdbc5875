package extproc_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/internal/fakeupstream"
)

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cutUpstream answers with the fake OpenAI upstream, in process, and hands
// its response body to the emulator cut at the offsets the test chose: Envoy
// may split a stream anywhere (envoy-ext-proc.md E70). The fake sees the
// request exactly as tokengate rewrote it.
type cutUpstream struct {
	fake *fakeupstream.Server
	cuts []int

	mu    sync.Mutex
	calls int
	got   *envoysim.UpstreamRequest
	sent  []byte
}

func newCutUpstream(cuts ...int) *cutUpstream {
	return &cutUpstream{fake: fakeupstream.New(fakeupstream.Options{}), cuts: cuts}
}

// RoundTrip implements [envoysim.Upstream.RoundTrip].
func (u *cutUpstream) RoundTrip(ctx context.Context, req *envoysim.UpstreamRequest) (*envoysim.UpstreamResponse, error) {
	r := httptest.NewRequestWithContext(ctx, req.Method, req.Path, bytes.NewReader(req.Body))
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	w := httptest.NewRecorder()
	u.fake.ServeHTTP(w, r)
	body := w.Body.Bytes()
	u.mu.Lock()
	u.calls++
	u.got, u.sent = req, body
	u.mu.Unlock()
	return &envoysim.UpstreamResponse{Status: w.Code, Header: w.Header(), Body: &chunks{parts: cut(body, u.cuts)}}, nil
}

func (u *cutUpstream) usage() fakeupstream.Usage { return u.fake.LastRequest().Usage }

func (u *cutUpstream) request() *envoysim.UpstreamRequest {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.got
}

func (u *cutUpstream) callCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls
}

// cut splits b at the offsets that fall inside it and adds the empty last
// chunk of an HTTP/1 chunked body.
func cut(b []byte, at []int) [][]byte {
	var parts [][]byte
	prev := 0
	for _, c := range at {
		if c > prev && c < len(b) {
			parts = append(parts, b[prev:c])
			prev = c
		}
	}
	return append(parts, b[prev:], []byte{})
}

// chunks is a ChunkReader over fixed parts.
type chunks struct {
	parts [][]byte
	next  int
}

// NextChunk implements [envoysim.ChunkReader.NextChunk].
func (c *chunks) NextChunk(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.next >= len(c.parts) {
		return nil, io.EOF
	}
	p := c.parts[c.next]
	c.next++
	if c.next == len(c.parts) {
		return p, io.EOF
	}
	return p, nil
}

// direct is what the fake upstream answers to body when nothing stands in
// between: the stream a client would see without tokengate.
func direct(body string, knobs ...string) (int, http.Header, []byte) {
	r := httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader([]byte(body)))
	r.Header.Set("content-type", "application/json")
	for i := 0; i+1 < len(knobs); i += 2 {
		r.Header.Set(knobs[i], knobs[i+1])
	}
	w := httptest.NewRecorder()
	fakeupstream.New(fakeupstream.Options{}).ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.Bytes()
}
