package extproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
)

// A client that did not ask for usage must receive exactly the stream it
// would have received without tokengate, wherever Envoy cuts the chunks,
// and yet be debited exactly what the upstream reported. A CRLF stream
// stays CRLF. (Lone CR line ends are cut everywhere in the rewrite's own
// tests; through gRPC each cut costs a whole exchange.)
func TestStreamWithoutUsageRequestIsDebitedAndUnchangedAtEveryCut(t *testing.T) {
	for _, eol := range []string{"lf", "crlf"} {
		t.Run(eol, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			knobs := []string{"x-fake-completion-tokens", "3", "x-fake-line-end", eol}
			_, _, want := direct(streamBody, knobs...)
			request := func() *envoysim.Request {
				req := chatRequest(ana, streamBody)
				for i := 0; i < len(knobs); i += 2 {
					req.Header.Set(knobs[i], knobs[i+1])
				}
				return req
			}

			probe := newCutUpstream()
			if res, rec := h.serve(t.Context(), request(), probe); res.Status != 200 || !bytes.Equal(rec.Body(), want) {
				t.Fatalf("status %d, client got\n%q\nwant\n%q", res.Status, rec.Body(), want)
			}
			h.record()
			sent := probe.request()
			var edited struct {
				StreamOptions struct {
					IncludeUsage bool `json:"include_usage"`
				} `json:"stream_options"`
			}
			if err := json.Unmarshal(sent.Body, &edited); err != nil || !edited.StreamOptions.IncludeUsage {
				t.Fatalf("upstream did not get include_usage (%v): %s", err, sent.Body)
			}
			if cl := sent.Header.Get("content-length"); cl != strconv.Itoa(len(sent.Body)) {
				t.Fatalf("content-length %q for a %d-byte body", cl, len(sent.Body))
			}
			if eol != "lf" && bytes.Contains(probe.sent, []byte("\n\n")) {
				t.Fatalf("the upstream's stream is not %s:\n%q", eol, probe.sent)
			}

			n := len(probe.sent)
			for c := 1; c < n; c++ {
				up := newCutUpstream(c)
				res, rec := h.serve(t.Context(), request(), up)
				if res.Status != 200 || !bytes.Equal(rec.Body(), want) {
					t.Fatalf("cut at %d: status %d, client got\n%q\nwant\n%q", c, res.Status, rec.Body(), want)
				}
				r := h.record()
				u := up.usage()
				if r.Estimated || r.Usage != (quota.Usage{Prompt: quota.Tokens(u.PromptTokens), Completion: quota.Tokens(u.CompletionTokens)}) {
					t.Fatalf("cut at %d: settled %+v (estimated %v), upstream reported %+v", c, r.Usage, r.Estimated, u)
				}
			}
		})
	}
}

// Many small chunks: events straddle several chunks, and some chunks hold
// nothing but the middle of an event, or half of a CRLF.
func TestStreamInSmallChunks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, eol := range []string{"lf", "crlf", "cr"} {
		_, _, want := direct(streamBody, "x-fake-line-end", eol)
		for _, size := range []int{1, 2, 3, 7, 64, 333} {
			var cuts []int
			for c := size; c < 16<<10; c += size {
				cuts = append(cuts, c)
			}
			up := newCutUpstream(cuts...)
			req := chatRequest(ana, streamBody)
			req.Header.Set("x-fake-line-end", eol)
			res, rec := h.serve(t.Context(), req, up)
			if res.Status != 200 || !bytes.Equal(rec.Body(), want) {
				t.Fatalf("%s in chunks of %d: status %d, client got\n%q\nwant\n%q", eol, size, res.Status, rec.Body(), want)
			}
			if r := h.record(); r.Estimated || r.Usage.Completion != quota.Tokens(up.usage().CompletionTokens) {
				t.Fatalf("%s in chunks of %d: settled %+v", eol, size, r)
			}
		}
	}
}

func TestStreamThatAskedForUsageIsUntouched(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	body := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Oi"}]}`
	up := newCutUpstream(50, 51, 300)
	res, rec := h.serve(t.Context(), chatRequest(ana, body), up)
	if res.Status != 200 || !bytes.Equal(rec.Body(), up.sent) {
		t.Fatalf("status %d; client got\n%s\nupstream sent\n%s", res.Status, rec.Body(), up.sent)
	}
	if !bytes.Equal(up.request().Body, []byte(body)) {
		t.Fatalf("request body changed: %s", up.request().Body)
	}
	if r := h.record(); r.Estimated || r.Usage.Total() != quota.Tokens(up.usage().PromptTokens+up.usage().CompletionTokens) {
		t.Fatalf("settled %+v", r)
	}
}

// A client that hangs up mid-stream is charged the prompt estimate plus the
// completion tokens of the deltas that reached it.
func TestCancelledStreamIsChargedEstimatePlusDeltasSeen(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	// What the upstream sends once tokengate asked for usage, one event a chunk.
	withUsage := `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Conte uma história."}]}`
	_, hdr, full := direct(withUsage)
	var events [][]byte
	for ev := range bytes.SplitAfterSeq(full, []byte("\n\n")) {
		events = append(events, ev)
	}
	never := make(chan struct{}) // the upstream stalls after the first events
	up := &envoysim.ScriptedUpstream{Header: hdr, Chunks: events, Hold: map[int]<-chan struct{}{4: never}}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	body := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"Conte uma história."}]}`
	rec := &envoysim.Recorder{}
	done := make(chan envoysim.Result)
	go func() { done <- h.filter.Serve(ctx, chatRequest(ana, body), up, rec) }()
	// Chunk 0 is the role delta, chunks 1–3 carry one token each.
	if err := rec.WaitChunks(t.Context(), 4); err != nil {
		t.Fatal(err)
	}
	cancel()
	res := <-done
	if !res.DownstreamGone {
		t.Fatalf("result %+v: the client did not go away", res)
	}
	r := h.record()
	if !r.Estimated || r.Usage.Completion != 3 || r.Usage.Prompt <= 0 {
		t.Fatalf("settled %+v (estimated %v), want the prompt estimate and 3 completion tokens", r.Usage, r.Estimated)
	}
	if b := h.balance(ana); b.Used != r.Usage.Total() || b.Reserved != 0 {
		t.Fatalf("balance %+v after charging %d", b, r.Usage.Total())
	}
}

// Hard enforcement writes the granted cap into the request, so the request
// cannot spend more than the caller has, and never adds a second cap field.
func TestHardEnforcementClampsTheCompletionCap(t *testing.T) {
	tests := []struct {
		name, body, field string
	}{
		{"max_tokens", `{"model":"gpt-4o-mini","max_tokens":1000,"messages":[{"role":"user","content":"Olá!"}]}`, "max_tokens"},
		{"max_completion_tokens", `{"model":"o3-mini","max_completion_tokens":1000,"messages":[{"role":"user","content":"Olá!"}]}`, "max_completion_tokens"},
		{"no cap", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Olá!"}]}`, "max_tokens"},
		{"no cap, reasoning model", `{"model":"openai/o4-mini","messages":[{"role":"user","content":"Olá!"}]}`, "max_completion_tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const allowance = 120
			h := newHarness(t, harnessOptions{allowance: allowance, extproc: extproc.Options{Enforcement: extproc.Hard}})
			up := newCutUpstream()
			res, rec := h.serve(t.Context(), chatRequest(ana, tt.body), up)
			if res.Status != 200 {
				t.Fatalf("status %d: %s", res.Status, rec.Body())
			}
			sent := up.request()
			var caps map[string]json.RawMessage
			if err := json.Unmarshal(sent.Body, &caps); err != nil {
				t.Fatal(err)
			}
			cap, err := strconv.Atoi(string(caps[tt.field]))
			if err != nil || cap < 1 || cap >= allowance {
				t.Fatalf("%s = %s, want a cap within the allowance", tt.field, caps[tt.field])
			}
			other := map[string]string{"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}[tt.field]
			if _, both := caps[other]; both {
				t.Fatalf("request carries both caps: %s", sent.Body)
			}
			if cl := sent.Header.Get("content-length"); cl != strconv.Itoa(len(sent.Body)) {
				t.Fatalf("content-length %q for a %d-byte body", cl, len(sent.Body))
			}
			h.record()
			if b := h.balance(ana); b.Used > allowance {
				t.Fatalf("hard enforcement overspent: %+v", b)
			}
		})
	}
}

// Admitted requests reach the upstream with the caller's key replaced by the
// upstream's, and without accept-encoding: a compressed response is read
// through its coding, but only at the cost of decompressing it.
func TestAdmittedRequestHeaderEdits(t *testing.T) {
	tests := []struct {
		name, header, sent, want string
	}{
		{"authorization replaced", "authorization", "Bearer sk-caller", "Bearer sk-litellm"},
		{"accept-encoding removed", "accept-encoding", "gzip, br", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{extproc: extproc.Options{UpstreamAuthorization: "Bearer sk-litellm"}})
			up := newCutUpstream()
			req := chatRequest(ana, jsonBody)
			req.Header.Set(tt.header, tt.sent)
			if res, _ := h.serve(t.Context(), req, up); res.Status != 200 {
				t.Fatalf("status %d", res.Status)
			}
			h.record()
			if got := up.request().Header.Get(tt.header); got != tt.want {
				t.Fatalf("upstream saw %s %q, want %q", tt.header, got, tt.want)
			}
		})
	}
}
