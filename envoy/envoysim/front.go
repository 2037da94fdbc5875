package envoysim

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// FrontOptions configures a Front.
type FrontOptions struct {
	// Client sends requests upstream. Nil means a client that, like Envoy,
	// neither decompresses nor adds accept-encoding, follows no redirects and
	// uses no proxy.
	Client *http.Client
	// NewRequestID generates x-request-id when a request has none
	// (envoy-ext-proc.md E62). Nil means a random UUIDv4.
	NewRequestID func() string
	// Logger receives debug logs. Nil discards them.
	Logger *slog.Logger
}

// front is the http.Handler NewFront returns.
type front struct {
	f        *Filter
	upstream *url.URL
	client   *http.Client
	newID    func() string
	log      *slog.Logger
}

// NewFront returns an http.Handler that plays Envoy's listener, connection
// manager and router around f: each incoming request becomes a Request (with
// the headers Envoy adds, E62), goes through f, and is forwarded to upstream
// (scheme, host and path prefix) with each read of the upstream body as one
// chunk. A reset (E42) aborts the client connection; a client going away
// cancels the exchange (E12).
func NewFront(f *Filter, upstream *url.URL, opts FrontOptions) http.Handler {
	h := &front{f: f, upstream: upstream, client: opts.Client, newID: opts.NewRequestID, log: opts.Logger}
	if h.client == nil {
		h.client = &http.Client{
			// The zero Transport uses no proxy; DisableCompression keeps the
			// bytes as the upstream sent them.
			Transport: &http.Transport{DisableCompression: true},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	if h.newID == nil {
		h.newID = newUUID
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// ServeHTTP implements [http.Handler.ServeHTTP].
func (h *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// One byte past the buffer limit is enough for the filter's 413 (E20).
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(h.f.opts.BufferLimit)+1))
	if err != nil {
		h.log.Debug("envoysim: reading request body", "err", err)
		panic(http.ErrAbortHandler)
	}
	down := &responseDownstream{w: w}
	h.f.Serve(r.Context(), h.request(r, body), &httpUpstream{base: h.upstream, client: h.client}, down)
	if down.reset {
		panic(http.ErrAbortHandler) // E42: the only way to reset an HTTP/1.1 response
	}
}

// request builds what the filter chain sees (E62): Host as :authority, hop-by-hop
// headers gone, x-request-id, x-forwarded-proto, x-forwarded-for and
// x-envoy-external-address as on an edge request.
func (h *front) request(r *http.Request, body []byte) *Request {
	hdr := r.Header.Clone()
	stripHopByHop(hdr)
	if hdr.Get("X-Request-Id") == "" {
		hdr.Set("X-Request-Id", h.newID())
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	hdr.Set("X-Forwarded-Proto", scheme)
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := hdr.Values("X-Forwarded-For"); len(prior) > 0 {
			hdr.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+ip)
		} else {
			hdr.Set("X-Forwarded-For", ip)
		}
		hdr.Set("X-Envoy-External-Address", ip)
	}
	path := r.RequestURI
	if path == "" || !strings.HasPrefix(path, "/") {
		path = r.URL.RequestURI()
	}
	req := &Request{Method: r.Method, Path: path, Authority: r.Host, Scheme: scheme, Header: hdr, Body: body}
	for k, v := range r.Trailer {
		if len(v) > 0 {
			if req.Trailers == nil {
				req.Trailers = http.Header{}
			}
			req.Trailers[k] = v
		}
	}
	return req
}

// stripHopByHop removes connection-level headers, which Envoy's connection
// manager does not pass on (unverified for te).
func stripHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for name := range strings.SplitSeq(v, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"} {
		h.Del(k)
	}
}

// httpUpstream forwards to a real HTTP server.
type httpUpstream struct {
	base   *url.URL
	client *http.Client
}

// RoundTrip implements [Upstream.RoundTrip].
func (u *httpUpstream) RoundTrip(ctx context.Context, req *UpstreamRequest) (*UpstreamResponse, error) {
	target := u.base.Scheme + "://" + u.base.Host + strings.TrimSuffix(u.base.Path, "/") + req.Path
	hreq, err := http.NewRequestWithContext(ctx, req.Method, target, bytes.NewReader(req.Body))
	if err != nil {
		return nil, fmt.Errorf("envoysim: upstream request %s: %w", req.Path, err)
	}
	hreq.Host = req.Authority
	hreq.Header = req.Header.Clone()
	// The filter decided content-length (E52); without one the body goes chunked.
	if hreq.Header.Get("Content-Length") == "" && len(req.Body) > 0 {
		hreq.ContentLength = -1
	}
	hreq.Header.Del("Content-Length")
	if len(req.Trailers) > 0 {
		hreq.Trailer = req.Trailers.Clone()
		hreq.ContentLength = -1
	}
	resp, err := u.client.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("envoysim: upstream %s: %w", req.Path, err)
	}
	h := resp.Header.Clone()
	stripHopByHop(h)
	out := &UpstreamResponse{Status: resp.StatusCode, Header: h}
	if resp.ContentLength >= 0 && h.Get("Content-Length") == "" && req.Method != http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(resp.ContentLength, 10))
	}
	if resp.ContentLength == 0 || req.Method == http.MethodHead ||
		resp.StatusCode == http.StatusNoContent || resp.StatusCode == http.StatusNotModified {
		_ = resp.Body.Close()
		return out, nil
	}
	out.Body = &httpBody{rc: resp.Body, remaining: resp.ContentLength}
	return out, nil
}

// httpBody turns each Read of the upstream body into one chunk. With a known
// length the last data carries end of stream, as Envoy's codec delivers it;
// a chunked body ends with an empty chunk.
type httpBody struct {
	rc        io.ReadCloser
	remaining int64 // -1 when unknown
	pending   error
}

// NextChunk implements [ChunkReader.NextChunk].
func (b *httpBody) NextChunk(context.Context) ([]byte, error) {
	if b.pending != nil {
		return nil, b.pending
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := b.rc.Read(buf)
		if b.remaining > 0 {
			b.remaining -= int64(n)
			if b.remaining == 0 && err == nil {
				err = io.EOF
			}
		}
		if n > 0 && err != nil && err != io.EOF {
			b.pending = err // deliver the data first, the reset after
			return buf[:n], nil
		}
		if n > 0 || err != nil {
			return buf[:n], err
		}
	}
}

// Close releases the connection.
func (b *httpBody) Close() error { return b.rc.Close() }

// responseDownstream writes to the client through an http.ResponseWriter.
type responseDownstream struct {
	w     http.ResponseWriter
	reset bool
}

// WriteHeader implements [Downstream.WriteHeader]. Envoy adds server (and
// date when absent) after the filter chain (E63) and never sniffs a
// content-type.
func (d *responseDownstream) WriteHeader(status int, h http.Header) {
	dst := d.w.Header()
	for k, v := range h {
		dst[k] = v
	}
	if _, ok := dst["Content-Type"]; !ok {
		dst["Content-Type"] = nil
	}
	dst.Set("Server", "envoy")
	d.w.WriteHeader(status)
	_ = http.NewResponseController(d.w).Flush()
}

// Write implements [Downstream.Write]: each chunk is flushed, so the client
// sees the chunks as Envoy would stream them (E53).
func (d *responseDownstream) Write(chunk []byte) error {
	if _, err := d.w.Write(chunk); err != nil {
		return fmt.Errorf("envoysim: downstream write: %w", err)
	}
	if err := http.NewResponseController(d.w).Flush(); err != nil {
		return fmt.Errorf("envoysim: downstream flush: %w", err)
	}
	return nil
}

// Reset implements [Downstream.Reset]; ServeHTTP aborts once Serve returns.
func (d *responseDownstream) Reset() { d.reset = true }

// newUUID returns a random RFC 4122 version 4 UUID, as Envoy's request-id
// extension generates.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
