package fakeupstream

import (
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*")

// start serves a fake with opts on 127.0.0.1:0 for the test's lifetime.
func start(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	fake := New(opts)
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	return fake, ts
}

// reply is a whole HTTP response, body read.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends body to path with the given headers ("name: value" pairs).
func do(t *testing.T, ts *httptest.Server, method, path, body string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// partial is what a client read of a response that may have been cut.
type partial struct {
	status int
	body   []byte // what arrived before the cut
	err    error  // the read error; nil when the response was complete
}

// postPartial is post for responses that may end early: a read error is
// returned, not fatal.
func postPartial(t *testing.T, ts *httptest.Server, path, body string, headers ...string) partial {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		name, value, _ := strings.Cut(h, ":")
		req.Header.Set(name, strings.TrimSpace(value))
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return partial{status: resp.StatusCode, body: b, err: err}
}

func post(t *testing.T, ts *httptest.Server, path, body string, headers ...string) reply {
	t.Helper()
	return do(t, ts, http.MethodPost, path, body, headers...)
}

// event is one server-sent event as framed on the wire.
type event struct {
	name string // "" when the event has no "event:" line (OpenAI)
	data string
}

// splitEvents parses an SSE body strictly: every event ends with a blank
// line, and holds at most one event line and exactly one data line.
func splitEvents(t *testing.T, body []byte) []event {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\n\n")) {
		t.Fatalf("stream does not end with a blank line: %q", tail(body))
	}
	var evs []event
	for frame := range strings.SplitSeq(strings.TrimSuffix(string(body), "\n\n"), "\n\n") {
		var ev event
		for line := range strings.SplitSeq(frame, "\n") {
			switch {
			case strings.HasPrefix(line, "event: ") && ev.name == "":
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && ev.data == "":
				ev.data = strings.TrimPrefix(line, "data: ")
			default:
				t.Fatalf("unexpected line %q in frame %q", line, frame)
			}
		}
		evs = append(evs, ev)
	}
	return evs
}

func tail(b []byte) []byte { return b[max(0, len(b)-80):] }

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "requests", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// golden compares got with testdata/golden/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

// countWords is the number of generated tokens in text (see words).
func countWords(text string) int {
	if text == "" {
		return 0
	}
	return 1 + strings.Count(text, " ")
}
