package fakeupstream

import (
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
)

// readCodings reads x-fake-content-encoding: the codings to apply to the
// answer, in order. Empty members are skipped; a member that is not a
// token is refused, since it would make an invalid header.
func readCodings(h http.Header) ([]string, *apiError) {
	v := h.Get("x-fake-content-encoding")
	var names []string
	for member := range strings.SplitSeq(v, ",") {
		name := strings.ToLower(strings.TrimSpace(member))
		if name == "" {
			continue
		}
		if strings.IndexFunc(name, notTokenChar) >= 0 {
			return nil, badRequest(fmt.Sprintf("Invalid header x-fake-content-encoding: %q, want a comma list of coding names.", v), "", "")
		}
		names = append(names, name)
	}
	return names, nil
}

func notTokenChar(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+", r))
}

// encoder is a compressing writer that can push out what it holds, as a
// server does after each server-sent event.
type encoder interface {
	io.WriteCloser
	Flush() error
}

// codedWriter compresses an answer as x-fake-content-encoding asks, the way
// a compressing server or proxy would: Content-Encoding set, Content-Length
// dropped, every flush of the handler a flush of each encoder. It does not
// compress for names it does not know, only labels the body with them.
type codedWriter struct {
	http.ResponseWriter
	label   string    // the Content-Encoding sent
	body    io.Writer // where the handler's bytes go: the first coding's encoder
	layers  []encoder // in the order applied
	started bool
}

func newCodedWriter(w http.ResponseWriter, names []string) *codedWriter {
	c := &codedWriter{ResponseWriter: w}
	labels := make([]string, len(names))
	dst := io.Writer(w)
	// The last coding applied writes to the connection, so build from it.
	for i := len(names) - 1; i >= 0; i-- {
		labels[i] = names[i]
		var e encoder
		switch names[i] {
		case "gzip", "x-gzip":
			e = gzip.NewWriter(dst)
		case "deflate":
			e = zlib.NewWriter(dst)
		case "raw-deflate":
			// The zlib header and checksum left out, as some servers do.
			e, _ = flate.NewWriter(dst, flate.DefaultCompression)
			labels[i] = "deflate"
		case "br":
			e = brotli.NewWriter(dst)
		default:
			continue
		}
		c.layers = append([]encoder{e}, c.layers...)
		dst = e
	}
	c.body = dst
	c.label = strings.Join(labels, ", ")
	return c
}

// WriteHeader implements [http.ResponseWriter.WriteHeader].
func (c *codedWriter) WriteHeader(status int) {
	if c.started {
		return
	}
	c.started = true
	h := c.Header()
	h.Set("Content-Encoding", c.label)
	h.Del("Content-Length") // the declared length was the plain body's
	c.ResponseWriter.WriteHeader(status)
}

// Write implements [http.ResponseWriter.Write].
func (c *codedWriter) Write(p []byte) (int, error) {
	c.WriteHeader(http.StatusOK)
	return c.body.Write(p)
}

// FlushError flushes every encoder, then the connection; it is what
// [http.ResponseController.Flush] calls.
func (c *codedWriter) FlushError() error {
	c.WriteHeader(http.StatusOK)
	for _, e := range c.layers {
		if err := e.Flush(); err != nil {
			return fmt.Errorf("fakeupstream: flush coded body: %w", err)
		}
	}
	return http.NewResponseController(c.ResponseWriter).Flush()
}

// Unwrap lets [http.ResponseController] reach the connection.
func (c *codedWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// finish ends each coded stream, writing its trailer. An answer cut by
// x-fake-cut-after is not finished: the client gets a coded stream that
// stops where the connection dropped.
func (c *codedWriter) finish() error {
	for _, e := range c.layers {
		if err := e.Close(); err != nil {
			return fmt.Errorf("fakeupstream: end coded body: %w", err)
		}
	}
	return nil
}
