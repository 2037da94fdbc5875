package fakeupstream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// dialect is one model-call API (OpenAI chat completions, Anthropic
// messages): how it authenticates, validates, refuses and answers.
type dialect interface {
	// authorized reports whether r carries key the way this API expects it.
	authorized(r *http.Request, key string) bool
	// plan validates body and decides the answer; a refusal comes back as
	// an apiError in API-neutral form.
	plan(body []byte, opts *Options, k knobs) (plan, *apiError)
	writeError(w http.ResponseWriter, opts *Options, e apiError)
	// respond writes the answer. It returns errCut when x-fake-cut-after
	// asked for the connection to be dropped, and the context's error when
	// the client went away.
	respond(s *Server, w http.ResponseWriter, r *http.Request, opts *Options, p plan) error
}

// errCut says the response was deliberately left unfinished.
var errCut = errors.New("fakeupstream: cut by x-fake-cut-after")

// plan is everything the answer depends on, fixed before the first byte.
type plan struct {
	model        string
	choices      int  // OpenAI's n; always 1 for Anthropic
	prompt       int  // prompt tokens reported
	perChoice    int  // completion tokens generated per choice
	capped       bool // the request's cap stopped generation: "length" / "max_tokens"
	stream       bool
	includeUsage bool // stream_options.include_usage
	obfuscate    bool
	cutAfter     int // content tokens to send before dropping the connection; -1 = never
}

func (p plan) usage() Usage {
	return Usage{PromptTokens: p.prompt, CompletionTokens: p.perChoice * p.choices}
}

// knobs are the per-request x-fake-* overrides; -1 (0 for status, nil for
// codings) = unset.
type knobs struct {
	prompt, completion, cutAfter int
	status                       int
	codings                      []string // x-fake-content-encoding
}

// maxKnob bounds header overrides so a typo cannot make a stream of a
// billion events.
const maxKnob = 1 << 20

func readKnobs(h http.Header) (knobs, *apiError) {
	k := knobs{prompt: -1, completion: -1, cutAfter: -1}
	for _, f := range []struct {
		name string
		dst  *int
		min  int
		max  int
	}{
		{"x-fake-prompt-tokens", &k.prompt, 0, maxKnob},
		{"x-fake-completion-tokens", &k.completion, 0, maxKnob},
		{"x-fake-cut-after", &k.cutAfter, 0, maxKnob},
		{"x-fake-status", &k.status, 400, 599},
	} {
		v := h.Get(f.name)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < f.min || n > f.max {
			return k, badRequest(fmt.Sprintf("Invalid header %s: %q, want an integer in [%d, %d].", f.name, v, f.min, f.max), "", "")
		}
		*f.dst = n
	}
	if _, ok := lineEnd(h); !ok {
		return k, badRequest(fmt.Sprintf("Invalid header x-fake-line-end: %q, want lf, crlf or cr.", h.Get("x-fake-line-end")), "", "")
	}
	codings, bad := readCodings(h)
	k.codings = codings
	return k, bad
}

// lineEnd is the line end x-fake-line-end asks streamed events to use (LF
// when unset), and whether the header's value is one SSE allows.
func lineEnd(h http.Header) (string, bool) {
	switch h.Get("x-fake-line-end") {
	case "", "lf":
		return "\n", true
	case "crlf":
		return "\r\n", true
	case "cr":
		return "\r", true
	}
	return "\n", false
}

// resolve turns the counts the request allows into the plan's usage: header
// knobs win over Options, Options over the computed defaults, and the
// request's cap (0 = none) bounds completion whichever way it was chosen.
func resolve(opts *Options, k knobs, counted int, limit int64) (prompt, perChoice int, capped bool) {
	prompt = counted
	if opts.PromptTokens > 0 {
		prompt = opts.PromptTokens
	}
	if k.prompt >= 0 {
		prompt = k.prompt
	}
	natural := opts.DefaultCompletion
	if opts.CompletionTokens > 0 {
		natural = opts.CompletionTokens
	}
	if k.completion >= 0 {
		natural = k.completion
	}
	if limit > 0 && limit < int64(natural) {
		return prompt, int(limit), true
	}
	return prompt, natural, false
}

// modelCall is the path every model call takes, whatever its API: count,
// capture, authenticate, validate, then answer.
func (s *Server) modelCall(w http.ResponseWriter, r *http.Request, opts *Options, d dialect) {
	s.hits.Add(1)
	status, u := s.answer(w, r, opts, d)
	opts.Logger.Debug("fakeupstream: answered", "method", r.Method, "path", r.URL.Path, "status", status,
		"prompt_tokens", u.PromptTokens, "completion_tokens", u.CompletionTokens)
}

// answer returns the status sent and the usage reported, for the log line.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, opts *Options, d dialect) (int, Usage) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		e := apiError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
			Message: "Method not allowed (" + r.Method + " " + r.URL.Path + ")"}
		d.writeError(w, opts, e)
		return e.Status, Usage{}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	seq := s.record(r, body)
	if err != nil {
		e := badRequest("Could not read the request body.", "", "")
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			e.Status = http.StatusRequestEntityTooLarge
			e.Message = "Request body too large."
		}
		d.writeError(w, opts, *e)
		return e.Status, Usage{}
	}
	if opts.APIKey != "" && !d.authorized(r, opts.APIKey) {
		e := forcedError(http.StatusUnauthorized)
		d.writeError(w, opts, e)
		return e.Status, Usage{}
	}
	k, bad := readKnobs(r.Header)
	if bad != nil {
		d.writeError(w, opts, *bad)
		return bad.Status, Usage{}
	}
	if k.status != 0 {
		d.writeError(w, opts, forcedError(k.status))
		return k.status, Usage{}
	}
	p, bad := d.plan(body, opts, k)
	if bad != nil {
		d.writeError(w, opts, *bad)
		return bad.Status, Usage{}
	}
	s.recordUsage(seq, p.usage())
	if err := pause(r.Context(), opts.FirstByteDelay); err != nil {
		return 499, p.usage() // the client went away before we answered
	}
	var coded *codedWriter
	if len(k.codings) > 0 {
		coded = newCodedWriter(w, k.codings)
		w = coded
	}
	switch err := d.respond(s, w, r, opts, p); {
	case errors.Is(err, errCut):
		// The documented way to make net/http drop the connection without
		// finishing the response: what an upstream that dies mid-answer does.
		panic(http.ErrAbortHandler)
	case err != nil:
		return 499, p.usage()
	}
	if coded != nil {
		if err := coded.finish(); err != nil {
			return 499, p.usage() // the client went away before the trailer
		}
	}
	return http.StatusOK, p.usage()
}
