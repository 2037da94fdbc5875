package fakeupstream

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHitsCountModelCallsOnly(t *testing.T) {
	fake, ts := start(t, Options{})
	steps := []struct {
		method, path, body string
		hit                bool
	}{
		{http.MethodPost, "/v1/chat/completions", withFields(""), true},
		{http.MethodPost, "/chat/completions", withFields(`"stream":true`), true},
		{http.MethodPost, "/v1/chat/completions", `not json`, true}, // refused, still received
		{http.MethodGet, "/v1/chat/completions", ``, true},
		{http.MethodPost, "/v1/messages", haikuWith(`"max_tokens":3`), true},
		{http.MethodGet, "/v1/models", ``, false},
		{http.MethodGet, "/models", ``, false},
		{http.MethodPost, "/v1/embeddings", `{}`, false},
	}
	var want int64
	for _, s := range steps {
		do(t, ts, s.method, s.path, s.body)
		if s.hit {
			want++
		}
		if got := fake.Hits(); got != want {
			t.Fatalf("after %s %s: hits %d, want %d", s.method, s.path, got, want)
		}
	}
}

func TestLastRequest(t *testing.T) {
	fake, ts := start(t, Options{})
	if got := fake.LastRequest(); got.Method != "" || got.Body != nil {
		t.Fatalf("before any request: %+v", got)
	}
	body := withFields(`"max_tokens":4`)
	post(t, ts, "/chat/completions", body, "Authorization: Bearer sk-upstream", "x-user-email: ana@example.com")
	got := fake.LastRequest()
	if got.Method != http.MethodPost || got.Path != "/chat/completions" || string(got.Body) != body {
		t.Errorf("captured %s %s %q", got.Method, got.Path, got.Body)
	}
	if got.Header.Get("Authorization") != "Bearer sk-upstream" || got.Header.Get("x-user-email") != "ana@example.com" {
		t.Errorf("headers %v", got.Header)
	}
	if got.Usage != (Usage{PromptTokens: 9, CompletionTokens: 4}) {
		t.Errorf("usage %+v", got.Usage)
	}

	// The copy is the caller's: changing it changes nothing in the server.
	got.Header.Set("Authorization", "changed")
	got.Body[0] = 'X'
	again := fake.LastRequest()
	if again.Header.Get("Authorization") != "Bearer sk-upstream" || string(again.Body) != body {
		t.Error("LastRequest returned shared state")
	}

	// A refused request replaces it, with zero usage.
	post(t, ts, "/v1/chat/completions", `{"model":"x"}`)
	if got := fake.LastRequest(); got.Usage != (Usage{}) || string(got.Body) != `{"model":"x"}` {
		t.Errorf("after a refusal: %+v", got)
	}
}

func TestModels(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		want []string
	}{
		{"default list", Options{}, []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "claude-3-5-haiku-latest"}},
		{"configured", Options{Models: []string{"llama-3.1-8b"}}, []string{"llama-3.1-8b"}},
		{"empty", Options{Models: []string{}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			r := do(t, ts, http.MethodGet, "/v1/models", "")
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var l modelList
			if err := json.Unmarshal(r.body, &l); err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, m := range l.Data {
				if m.Object != "model" || m.OwnedBy == "" {
					t.Errorf("model entry %+v", m)
				}
				got = append(got, m.ID)
			}
			if l.Object != "list" {
				t.Errorf("object %q", l.Object)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetOptions(t *testing.T) {
	fake, ts := start(t, Options{CompletionTokens: 2})
	var c chatCompletion
	if err := json.Unmarshal(post(t, ts, "/v1/chat/completions", withFields("")).body, &c); err != nil || c.Usage.CompletionTokens != 2 {
		t.Fatalf("before: %+v %v", c.Usage, err)
	}
	fake.SetOptions(Options{CompletionTokens: 7, PromptTokens: 50})
	if err := json.Unmarshal(post(t, ts, "/v1/chat/completions", withFields("")).body, &c); err != nil ||
		c.Usage.CompletionTokens != 7 || c.Usage.PromptTokens != 50 {
		t.Fatalf("after: %+v %v", c.Usage, err)
	}
}

// Concurrent callers with different knobs each get their own answer, and
// the counters add up (run with -race).
func TestConcurrentRequests(t *testing.T) {
	fake, ts := start(t, Options{UniqueIDs: true})
	const callers = 16
	bodies := make([][]byte, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/v1/chat/completions",
				strings.NewReader(withFields(`"stream":true,"stream_options":{"include_usage":true}`)))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("x-fake-completion-tokens", strconv.Itoa(i))
			resp, err := ts.Client().Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			bodies[i], errs[i] = io.ReadAll(resp.Body)
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		evs := splitEvents(t, bodies[i])
		var last chatChunk
		if err := json.Unmarshal([]byte(evs[len(evs)-2].data), &last); err != nil {
			t.Fatal(err)
		}
		var u usageBody
		if err := json.Unmarshal(last.Usage, &u); err != nil || u.CompletionTokens != i {
			t.Errorf("caller %d: usage %+v (%v)", i, u, err)
		}
		ids[last.ID] = true
	}
	if len(ids) != callers {
		t.Errorf("%d distinct ids for %d callers with UniqueIDs", len(ids), callers)
	}
	if got := fake.Hits(); got != callers {
		t.Errorf("hits %d, want %d", got, callers)
	}
}
