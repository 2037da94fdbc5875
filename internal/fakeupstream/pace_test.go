package fakeupstream

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// timedWriter records when (in the synctest bubble's virtual time) the
// headers and each write went out. It is safe for the handler goroutine and
// the test to use at once.
type timedWriter struct {
	mu      sync.Mutex
	start   time.Time
	header  http.Header
	headers time.Duration // when WriteHeader was called; -1 = never
	writes  []time.Duration
	body    strings.Builder
}

func newTimedWriter() *timedWriter {
	return &timedWriter{start: time.Now(), header: http.Header{}, headers: -1}
}

func (w *timedWriter) Header() http.Header { return w.header }

func (w *timedWriter) WriteHeader(int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.headers = time.Since(w.start)
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, time.Since(w.start))
	return w.body.Write(p)
}

func (w *timedWriter) Flush() {}

func (w *timedWriter) snapshot() (headers time.Duration, writes []time.Duration, body string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.headers, append([]time.Duration(nil), w.writes...), w.body.String()
}

func streamRequest(ctx context.Context, fields string) *http.Request {
	return httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/chat/completions", strings.NewReader(withFields(fields)))
}

// Headers wait FirstByteDelay; each event after the first waits ChunkDelay;
// each event is exactly one write.
func TestPacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := New(Options{FirstByteDelay: 2 * time.Second, ChunkDelay: 100 * time.Millisecond})
		w := newTimedWriter()
		fake.ServeHTTP(w, streamRequest(t.Context(), `"stream":true,"stream_options":{"include_usage":true},"max_tokens":3`))

		headers, writes, body := w.snapshot()
		if headers != 2*time.Second {
			t.Errorf("headers at %v, want 2s", headers)
		}
		const events = 1 + 3 + 1 + 1 + 1 // role, tokens, finish, usage, [DONE]
		if len(writes) != events || strings.Count(body, "\n\n") != events {
			t.Fatalf("%d writes, %d events, want %d each:\n%s", len(writes), strings.Count(body, "\n\n"), events, body)
		}
		for i, at := range writes {
			if want := 2*time.Second + time.Duration(i)*100*time.Millisecond; at != want {
				t.Errorf("event %d at %v, want %v", i, at, want)
			}
		}
	})
}

// A client that goes away mid-stream stops it at once: no further events,
// and the handler returns without waiting out its delays.
func TestClientGoneStopsStream(t *testing.T) {
	for _, tc := range []struct {
		name       string
		opts       Options
		cancelAt   time.Duration
		wantWrites int
		headers    bool
	}{
		{"during chunk delay", Options{ChunkDelay: time.Second}, 2500 * time.Millisecond, 3, true},
		{"during first byte delay", Options{FirstByteDelay: time.Minute, ChunkDelay: time.Second}, 30 * time.Second, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := New(tc.opts)
				ctx, cancel := context.WithCancel(t.Context())
				w := newTimedWriter()
				done := make(chan struct{})
				go func() {
					defer close(done)
					fake.ServeHTTP(w, streamRequest(ctx, `"stream":true`))
				}()
				time.Sleep(tc.cancelAt) // virtual time: deterministic inside the bubble
				cancel()
				synctest.Wait()
				select {
				case <-done:
				default:
					t.Fatal("handler still running after its client went away")
				}
				headers, writes, _ := w.snapshot()
				if len(writes) != tc.wantWrites || (headers >= 0) != tc.headers {
					t.Errorf("%d writes, headers at %v; want %d writes, headers sent %v", len(writes), headers, tc.wantWrites, tc.headers)
				}
			})
		})
	}
}

// The same over a real connection: the client reads the first event and
// hangs up; the handler must notice and return although its next event is
// an hour away.
func TestClientGoneOverTCP(t *testing.T) {
	fake := New(Options{ChunkDelay: time.Hour})
	done := make(chan struct{}, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fake.ServeHTTP(w, r)
		done <- struct{}{}
	}))
	defer ts.Close()

	// The deadline turns a missing flush (the first event never arrives)
	// into a failure instead of a hang.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions", strings.NewReader(withFields(`"stream":true`)))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, `"role":"assistant"`) {
		t.Fatalf("first line %q, err %v", line, err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a bound on failure, not a wait for success
		t.Fatal("handler did not return after the client hung up")
	}
}
