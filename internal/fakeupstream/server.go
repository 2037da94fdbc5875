// Package fakeupstream is a fake OpenAI-compatible LLM upstream standing in for
// LiteLLM: chat completions (plain JSON and server-sent events), the Anthropic
// messages API, and a model list. tokengate's end-to-end tests drive it with the
// official openai-go SDK through the Envoy emulator, and `tokengate dev` runs it
// so a developer can curl a completion on a fresh machine.
//
// It copies the wire shapes of the real APIs closely (field order, "usage":null
// on every chunk exactly when include_usage is set, a usage-only last chunk,
// OpenAI's 400s for bad caps), because the bugs worth catching are the ones a
// loose fake would hide.
//
// Its output is a pure function of the request, the Options and the x-fake-*
// headers: the same request gives the same bytes, id and created included
// (chatcmpl-FAKE000…0, created = FixedCreated). Only [Options.UniqueIDs]
// (ids and the x-request-id / request-id header) and [Options.Now]
// ("created") make responses vary. A streamed chat request with
// stream_options.include_usage differs from the same request without it
// only by `,"usage":null` in every chunk and the usage chunk before [DONE].
//
// Generated text is made of pieces that are one token each in cl100k_base
// and o200k_base, so the text of a stream counts to exactly its completion
// usage; each streamed content delta is one such token.
//
// Per-request knobs, read from request headers so concurrent tests need no
// shared state (a malformed value is answered with a 400 naming the header):
//
//	x-fake-prompt-tokens: N      report N prompt tokens
//	x-fake-completion-tokens: N  generate N tokens per choice (0 allowed), still capped by the request
//	x-fake-status: S             answer status S (400..599) with the API's error body, no completion
//	x-fake-cut-after: N          stream N content tokens, then drop the connection: no finish,
//	                             no usage, no [DONE] (N above the completion: no cut).
//	                             Non-streamed: send half the body, then drop.
//	x-fake-line-end: E           end every line of a stream with E: lf (the default), crlf or cr,
//	                             as SSE allows and some servers and proxies send.
//	x-fake-content-encoding: C   code the answer (streamed or not) with C, a comma list applied
//	                             in order of gzip, deflate (zlib), raw-deflate (raw deflate sent
//	                             as "deflate", as some servers do) and br, flushed after every
//	                             event; any other name is sent in Content-Encoding without
//	                             coding the body, as a coding the client cannot know.
//	                             Errors are never coded; a cut answer stops mid-stream.
package fakeupstream

import (
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults that a zero Options falls back to.
const (
	// DefaultCompletionTokens is how many tokens each choice generates when
	// neither Options nor the request say otherwise.
	DefaultCompletionTokens = 16
	// FixedCreated is the "created" timestamp (2025-01-01T00:00:00Z) reported
	// when Options.Now is nil, so that responses are byte-for-byte repeatable.
	FixedCreated int64 = 1735689600
	// maxBody bounds what a request may upload; OpenAI's own limit is far
	// larger, but nothing a test sends comes close.
	maxBody = 32 << 20
)

// Options tune the fake. The zero value is a usable, deterministic upstream.
// Negative counts are treated as zero.
type Options struct {
	// PromptTokens and CompletionTokens fix the usage reported. Zero means
	// computed: prompt tokens by [CountPromptTokens], completion tokens per
	// choice = DefaultCompletion. Completion tokens are always capped by the
	// request's max_tokens / max_completion_tokens (finish_reason "length").
	PromptTokens, CompletionTokens int
	// DefaultCompletion is the natural completion length per choice; zero → 16.
	DefaultCompletion int
	// OutputCeiling is the model's maximum completion cap: a request whose
	// max_tokens or max_completion_tokens exceeds it is refused with OpenAI's
	// 400 "max_tokens is too large". Zero means no ceiling.
	OutputCeiling int
	// FirstByteDelay is waited before the response headers are written.
	FirstByteDelay time.Duration
	// ChunkDelay is waited between consecutive stream events.
	ChunkDelay time.Duration
	// APIKey, when set, is required as "Authorization: Bearer <key>" (or
	// x-api-key on /v1/messages); anything else gets the API's 401.
	APIKey string
	// Models lists the ids GET /v1/models returns; nil → a small default list.
	// Requests for other models are still served, as a permissive LiteLLM would.
	Models []string
	// UniqueIDs numbers response ids (chatcmpl-…, msg_…, x-request-id) from a
	// per-Server counter instead of using one fixed id; byte-identical
	// responses to identical requests are then no longer guaranteed.
	UniqueIDs bool
	// Now, when set, supplies "created"; nil reports FixedCreated.
	Now func() time.Time
	// Obfuscation adds OpenAI's "obfuscation" padding field to every chat
	// chunk, as api.openai.com does unless the request sets
	// stream_options.include_obfuscation to false. The padding is
	// deterministic. Off by default to keep default streams minimal; turn
	// it on to check that a parser ignores fields it does not know.
	Obfuscation bool
	// IndentJSON pretty-prints non-streamed bodies with two spaces, as
	// api.openai.com does (LiteLLM sends compact JSON).
	IndentJSON bool
	// Logger receives one debug line per request (path, status, token counts;
	// never keys or text). Nil discards.
	Logger *slog.Logger
}

// Usage is the token usage a response reports.
type Usage struct {
	PromptTokens, CompletionTokens int
}

// Captured is one model-call request as the fake received it, and the usage
// it answered with.
type Captured struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Usage is what the full response reports (summed over choices), also
	// when the stream omits the usage chunk or x-fake-cut-after drops it.
	// It is zero when the request was refused.
	Usage Usage
}

// Server is the fake upstream; it implements http.Handler and is safe for
// concurrent use.
type Server struct {
	opts atomic.Pointer[Options]
	hits atomic.Int64
	ids  atomic.Int64

	mu      sync.Mutex
	last    Captured
	lastSeq int64 // which request last holds; guards recordUsage against a newer request
}

// New returns a fake upstream configured by opts.
func New(opts Options) *Server {
	s := &Server{}
	s.SetOptions(opts)
	return s
}

// SetOptions replaces the options; requests already being answered keep the
// options they started with.
func (s *Server) SetOptions(opts Options) {
	opts.PromptTokens = max(opts.PromptTokens, 0)
	opts.CompletionTokens = max(opts.CompletionTokens, 0)
	opts.OutputCeiling = max(opts.OutputCeiling, 0)
	if opts.DefaultCompletion <= 0 {
		opts.DefaultCompletion = DefaultCompletionTokens
	}
	if opts.Models == nil {
		opts.Models = []string{"gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "claude-3-5-haiku-latest"}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.opts.Store(&opts)
}

// Hits is the number of requests received on the model-call paths
// (/v1/chat/completions, /chat/completions, /v1/messages), refused ones
// included: a test uses it to prove that a client did not retry.
func (s *Server) Hits() int64 { return s.hits.Load() }

// LastRequest returns a copy of the last model-call request received, or the
// zero Captured if there was none.
func (s *Server) LastRequest() Captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.last
	c.Header = c.Header.Clone()
	c.Body = append([]byte(nil), c.Body...)
	return c
}

// ServeHTTP implements [http.Handler].
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	opts := s.opts.Load()
	switch r.URL.Path {
	case "/v1/chat/completions", "/chat/completions":
		s.modelCall(w, r, opts, openAI{})
	case "/v1/messages":
		s.modelCall(w, r, opts, anthropic{})
	case "/v1/models", "/models":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeOpenAIError(w, opts, http.StatusMethodNotAllowed, apiError{Message: "Method not allowed (" + r.Method + " " + r.URL.Path + ")", Type: "invalid_request_error"})
			return
		}
		writeModels(w, r, opts)
	default:
		writeOpenAIError(w, opts, http.StatusNotFound, apiError{Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")", Type: "invalid_request_error"})
	}
}

// record stores the request as the last one seen and returns its sequence
// number; its usage is filled in by recordUsage before any response byte is
// written, so a client that has its answer can already read it.
func (s *Server) record(r *http.Request, body []byte) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastSeq++
	s.last = Captured{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	return s.lastSeq
}

// recordUsage sets the usage of request seq, unless a newer request has
// replaced it as the last one meanwhile.
func (s *Server) recordUsage(seq int64, u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastSeq == seq {
		s.last.Usage = u
	}
}

// nextID is 0 (a fixed id) unless Options.UniqueIDs asks for a counter.
func (s *Server) nextID(opts *Options) int64 {
	if !opts.UniqueIDs {
		return 0
	}
	return s.ids.Add(1)
}

func created(opts *Options) int64 {
	if opts.Now == nil {
		return FixedCreated
	}
	return opts.Now().Unix()
}
