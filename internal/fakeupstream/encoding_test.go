package fakeupstream

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// undo decodes body coded with names (as the knob spells them), in reverse
// order, with the standard readers: what a client that asked for the coding
// would do. It returns what decoded before an error, and the error.
func undo(t *testing.T, names []string, body []byte) ([]byte, error) {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	for i := len(names) - 1; i >= 0; i-- {
		var err error
		switch names[i] {
		case "gzip":
			r, err = gzip.NewReader(r)
		case "deflate":
			r, err = zlib.NewReader(r)
		case "raw-deflate":
			r = flate.NewReader(r)
		case "br":
			r = brotli.NewReader(r)
		}
		if err != nil {
			return nil, err
		}
	}
	return io.ReadAll(r)
}

func TestContentEncodingKnob(t *testing.T) {
	_, ts := start(t, Options{})
	const (
		plainBody  = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Olá!"}]}`
		streamBody = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Olá!"}]}`
	)
	tests := []struct {
		knob  string
		label string
		names []string
	}{
		{"gzip", "gzip", []string{"gzip"}},
		{"deflate", "deflate", []string{"deflate"}},
		{"raw-deflate", "deflate", []string{"raw-deflate"}},
		{"BR", "br", []string{"br"}},
		{"gzip, br", "gzip, br", []string{"gzip", "br"}},
		{"zstd", "zstd", nil}, // unknown: labelled, not coded
		{"gzip, zstd", "gzip, zstd", []string{"gzip"}},
	}
	for _, body := range []string{plainBody, streamBody} {
		want := post(t, ts, "/v1/chat/completions", body)
		for _, tt := range tests {
			// A client that names its accept-encoding gets the body as sent.
			got := post(t, ts, "/v1/chat/completions", body, "accept-encoding: identity", "x-fake-content-encoding: "+tt.knob)
			// net/http may count a short body itself; the plain length must not stay.
			if cl := got.header.Get("Content-Length"); got.status != 200 || got.header.Get("Content-Encoding") != tt.label || cl != "" && cl != strconv.Itoa(len(got.body)) {
				t.Fatalf("%s: status %d, content-encoding %q, content-length %q", tt.knob, got.status,
					got.header.Get("Content-Encoding"), got.header.Get("Content-Length"))
			}
			if len(tt.names) > 0 && bytes.Equal(got.body, want.body) {
				t.Fatalf("%s: body was not coded", tt.knob)
			}
			plain, err := undo(t, tt.names, got.body)
			if err != nil || !bytes.Equal(plain, want.body) {
				t.Fatalf("%s: decoded (%v)\n%s\nwant\n%s", tt.knob, err, plain, want.body)
			}
		}
	}
}

// flushes records the body length at every flush.
type flushes struct {
	*httptest.ResponseRecorder
	at []int
}

func (f *flushes) Flush() { f.at = append(f.at, f.Body.Len()); f.ResponseRecorder.Flush() }

// Each event is flushed through the coder as it is sent: a client reading
// the coded stream sees every event as soon as it was written.
func TestCodedStreamIsFlushedAfterEveryEvent(t *testing.T) {
	fake := New(Options{})
	body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Olá!"}]}`
	for _, knob := range []string{"gzip", "br", "deflate, br"} {
		names := strings.Split(strings.ReplaceAll(knob, " ", ""), ",")
		r := httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(body))
		r.Header.Set("x-fake-content-encoding", knob)
		w := &flushes{ResponseRecorder: httptest.NewRecorder()}
		fake.ServeHTTP(w, r)
		full, err := undo(t, names, w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		events := bytes.Count(full, []byte("\n\n"))
		if len(w.at) != events {
			t.Fatalf("%s: %d flushes for %d events", knob, len(w.at), events)
		}
		for i, n := range w.at {
			got, err := undo(t, names, w.Body.Bytes()[:n])
			if !errors.Is(err, io.ErrUnexpectedEOF) || bytes.Count(got, []byte("\n\n")) != i+1 || !bytes.HasPrefix(full, got) || !bytes.HasSuffix(got, []byte("\n\n")) {
				t.Fatalf("%s: flush %d decodes to %d events (%v), want %d", knob, i, bytes.Count(got, []byte("\n\n")), err, i+1)
			}
		}
	}
}

// A cut answer stops mid-stream: the client can decode what came, and then
// finds the coded stream unfinished.
func TestCodedAnswerCut(t *testing.T) {
	_, ts := start(t, Options{})
	for _, body := range []string{
		`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Olá!"}]}`,
		`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Olá!"}]}`,
	} {
		want := post(t, ts, "/v1/chat/completions", body)
		got := postPartial(t, ts, "/v1/chat/completions", body, "accept-encoding: identity", "x-fake-content-encoding: gzip", "x-fake-cut-after: 3")
		if got.err == nil {
			t.Fatal("the cut answer ended cleanly")
		}
		plain, err := undo(t, []string{"gzip"}, got.body)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(plain) == 0 || !bytes.HasPrefix(want.body, plain) {
			t.Fatalf("decoded %d bytes of the cut answer (%v), want a prefix of the %d-byte whole", len(plain), err, len(want.body))
		}
	}
}

func TestContentEncodingKnobRefusesNonTokens(t *testing.T) {
	_, ts := start(t, Options{})
	got := post(t, ts, "/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Olá!"}]}`,
		"x-fake-content-encoding: gzip; q=1")
	if got.status != http.StatusBadRequest || !bytes.Contains(got.body, []byte("x-fake-content-encoding")) {
		t.Fatalf("status %d: %s", got.status, got.body)
	}
}
