package extproc

import (
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/quota/memledger"
)

// Every route family LiteLLM serves (and a few it does not) is metered,
// passed or refused; with the default rule only GETs pass, so no model call
// reaches the upstream unless tokengate meters it.
func TestClassifyRoutes(t *testing.T) {
	s := mustServer(t, Options{Passthrough: []Route{mustRoute(t, "GET /")}})
	tests := []classifyCase{
		// Chat completions, every spelling LiteLLM routes to the handler.
		{"POST", "/v1/chat/completions", routeMetered},
		{"POST", "/chat/completions", routeMetered},
		{"POST", "/v1/chat/completions?api-version=2024-10-21", routeMetered},
		{"POST", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", routeMetered},
		{"POST", "/engines/gpt-4o/chat/completions", routeMetered},
		{"POST", "/v1/chat/complet%69ons", routeMetered},
		{"POST", "/v1//chat//completions/", routeMetered},
		{"POST", "/v1/chat%2Fcompletions", routeMetered},
		{"POST", "/v1/./chat/completions", routeMetered},
		{"POST", "/v1/models/../chat/completions", routeMetered},
		// Model routes tokengate does not read yet: refused, never passed.
		{"POST", "/v1/completions", routeRefused},
		{"POST", "/completions", routeRefused},
		{"POST", "/engines/gpt-4o/completions", routeRefused},
		{"POST", "/v1/responses", routeRefused},
		{"POST", "/responses", routeRefused},
		{"POST", "/v1/messages", routeRefused},
		{"POST", "/anthropic/v1/messages", routeRefused},
		{"POST", "/v1/messages/count_tokens", routeRefused},
		{"POST", "/v1/embeddings", routeRefused},
		{"POST", "/openai/deployments/text-embedding-3-small/embeddings", routeRefused},
		{"POST", "/v1/images/generations", routeRefused},
		{"POST", "/v1/images/edits", routeRefused},
		{"POST", "/v1/audio/speech", routeRefused},
		{"POST", "/v1/audio/transcriptions", routeRefused},
		{"POST", "/v1/moderations", routeRefused},
		{"POST", "/v1/rerank", routeRefused},
		{"POST", "/v2/rerank", routeRefused},
		{"POST", "/v1/batches", routeRefused},
		{"POST", "/v1/files", routeRefused},
		{"POST", "/v1/fine_tuning/jobs", routeRefused},
		{"POST", "/v1/threads/thread_abc/runs", routeRefused},
		{"POST", "/v1/assistants", routeRefused},
		{"POST", "/v1/realtime", routeRefused},
		{"POST", "/gemini/v1beta/models/gemini-2.5-pro:generateContent", routeRefused},
		{"POST", "/vertex_ai/v1/projects/p/locations/l/publishers/google/models/m:streamGenerateContent", routeRefused},
		{"POST", "/bedrock/model/anthropic.claude-3-5-sonnet/invoke", routeRefused},
		{"POST", "/utils/token_counter", routeRefused},
		// LiteLLM's management API: never through the model gateway.
		{"POST", "/key/generate", routeRefused},
		{"POST", "/user/new", routeRefused},
		{"POST", "/model/new", routeRefused},
		{"DELETE", "/v1/files/file-abc", routeRefused},
		{"PUT", "/v1/chat/completions", routeRefused},
		// Near misses of the chat route.
		{"POST", "/v1/chat/completions/extra", routeRefused},
		{"POST", "/v1/xchat/completions", routeRefused},
		{"POST", "/v1/chat/completions%zz", routeRefused},
		{"POST", "/", routeRefused},
		{"POST", "", routeRefused},
		{"POST", "*", routeRefused},
		// GETs pass by the default rule.
		{"GET", "/v1/models", routePassthrough},
		{"GET", "/models", routePassthrough},
		{"GET", "/health/liveliness", routePassthrough},
		{"GET", "/v1/chat/completions", routePassthrough},
		{"HEAD", "/v1/models", routeRefused},
	}
	checkClassify(t, s, tests)
}

// Prefix rules match whole segments of the normalised path, and ".."
// cannot climb out of them.
func TestPassthroughPrefix(t *testing.T) {
	s := mustServer(t, Options{Passthrough: []Route{mustRoute(t, "GET /v1/models"), mustRoute(t, "POST /v1/files/")}})
	tests := []classifyCase{
		{"GET", "/v1/models", routePassthrough},
		{"GET", "/v1/models/gpt-4o", routePassthrough},
		{"GET", "/v1//models/", routePassthrough},
		{"GET", "/v1/mod%65ls", routePassthrough},
		{"GET", "/v1/modelsx", routeRefused},
		{"GET", "/v1/models/../../key/list", routeRefused},
		{"GET", "/v1", routeRefused},
		{"POST", "/v1/models", routeRefused},
		{"POST", "/v1/files", routePassthrough},
		{"POST", "/v1/files/../embeddings", routeRefused},
		// A metered route stays metered whatever a rule covers.
		{"POST", "/v1/files/../chat/completions", routeMetered},
	}
	checkClassify(t, s, tests)
}

func TestParseRoute(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "GET /", want: "GET /"},
		{in: "  GET   /v1/models/  ", want: "GET /v1/models"},
		{in: "POST /v1//files", want: "POST /v1/files"},
		{in: "GET /v1/%6Dodels", want: "GET /v1/models"},
		{in: "GET", err: "METHOD /path-prefix"},
		{in: "/v1/models", err: "METHOD /path-prefix"},
		{in: "get /", err: "upper-case"},
		{in: "GET v1/models", err: "absolute path"},
		{in: "GET /v1/models?x=1", err: "absolute path"},
		{in: "GET /v1/%zz", err: "not a valid path"},
	}
	for _, tt := range tests {
		r, err := ParseRoute(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseRoute(%q) = %v, %v; want an error with %q", tt.in, r, err, tt.err)
		case tt.err == "" && (err != nil || r.String() != tt.want):
			t.Errorf("ParseRoute(%q) = %q, %v; want %q", tt.in, r.String(), err, tt.want)
		}
	}
}

type classifyCase struct {
	method, path string
	want         routeClass
}

func checkClassify(t *testing.T, s *Server, tests []classifyCase) {
	t.Helper()
	for _, tt := range tests {
		var p requestPath
		if got := s.classify([]byte(tt.method), []byte(tt.path), &p); got != tt.want {
			t.Errorf("%s %s: %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}

func mustRoute(t *testing.T, s string) Route {
	t.Helper()
	r, err := ParseRoute(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustServer(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := New(memledger.New(memledger.Options{}), UserHeader{Header: "x-user-email"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// String names a route class in test failures.
func (c routeClass) String() string {
	return [...]string{"refused", "passthrough", "metered"}[c]
}
