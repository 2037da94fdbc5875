package extproc_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
)

// reachedUpstream is an Upstream that says when a request reached it, and
// then answers as its ScriptedUpstream does.
type reachedUpstream struct {
	*envoysim.ScriptedUpstream
	reached chan *envoysim.UpstreamRequest
}

func (u *reachedUpstream) RoundTrip(ctx context.Context, req *envoysim.UpstreamRequest) (*envoysim.UpstreamResponse, error) {
	u.reached <- req
	return u.ScriptedUpstream.RoundTrip(ctx, req)
}

// One request asking for a million completion tokens holds what the model
// can write (its output ceiling, times n), not the caller's whole balance,
// and says so to the upstream: a small request beside it is still admitted.
func TestHardHoldStopsAtTheModelsCeiling(t *testing.T) {
	const allowance = 100_000
	h := newHarness(t, harnessOptions{allowance: allowance, extproc: extproc.Options{Enforcement: extproc.Hard}})
	release := make(chan struct{})
	big := &reachedUpstream{
		ScriptedUpstream: &envoysim.ScriptedUpstream{Header: http.Header{"Content-Type": {"text/event-stream"}},
			Chunks: [][]byte{[]byte("data: [DONE]\n\n"), {}}, Hold: map[int]<-chan struct{}{0: release}},
		reached: make(chan *envoysim.UpstreamRequest, 1),
	}
	bigBody := `{"model":"gpt-4o","n":2,"stream":true,"max_tokens":1000000,"messages":[{"role":"user","content":"Escreva um livro."}]}`
	done := make(chan envoysim.Result, 1)
	go func() { res, _ := h.serve(t.Context(), chatRequest(ana, bigBody), big); done <- res }()
	sent := <-big.reached

	var caps struct {
		MaxTokens int64 `json:"max_tokens"`
	}
	if err := json.Unmarshal(sent.Body, &caps); err != nil {
		t.Fatal(err)
	}
	const gpt4oCeiling = 16_384
	if caps.MaxTokens != gpt4oCeiling {
		t.Fatalf("upstream was asked for max_tokens %d, want gpt-4o's ceiling %d", caps.MaxTokens, gpt4oCeiling)
	}
	if b := h.balance(ana); b.Reserved < 2*gpt4oCeiling || b.Reserved > 2*gpt4oCeiling+100 {
		t.Fatalf("held %d, want two choices at the ceiling plus the prompt", b.Reserved)
	}

	small := newCutUpstream()
	if res, rec := h.serve(t.Context(), chatRequest(ana, `{"model":"gpt-4o-mini","max_tokens":100,"messages":[{"role":"user","content":"Olá!"}]}`), small); res.Status != 200 {
		t.Fatalf("the small request beside it got %d: %s", res.Status, rec.Body())
	}
	h.record()
	close(release)
	if res := <-done; res.Status != 200 {
		t.Fatalf("big request: status %d", res.Status)
	}
	h.record()
}

// A request may carry both caps; providers behind LiteLLM honour one or the
// other, so hard enforcement brings both within what it held.
func TestHardEnforcementCapsEveryCapField(t *testing.T) {
	tests := []struct {
		name, body            string
		wantMaxTok, wantCompl int64
	}{
		{"smaller max_tokens", `{"model":"claude-sonnet-4","max_tokens":10,"max_completion_tokens":64000,"messages":[{"role":"user","content":"Olá!"}]}`, 10, 10},
		{"smaller max_completion_tokens", `{"model":"claude-sonnet-4","max_tokens":1000000,"max_completion_tokens":20,"messages":[{"role":"user","content":"Olá!"}]}`, 20, 20},
		// The hold is sized by the smaller cap, so the larger one comes down to it.
		{"both small", `{"model":"claude-sonnet-4","max_tokens":30,"max_completion_tokens":20,"messages":[{"role":"user","content":"Olá!"}]}`, 20, 20},
		{"a zero cap beside a real one", `{"model":"claude-sonnet-4","max_tokens":0,"max_completion_tokens":100,"messages":[{"role":"user","content":"Olá!"}]}`, 100, 100},
		{"equal", `{"model":"claude-sonnet-4","max_tokens":20,"max_completion_tokens":20,"messages":[{"role":"user","content":"Olá!"}]}`, 20, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{allowance: 100_000, extproc: extproc.Options{Enforcement: extproc.Hard}})
			// LiteLLM in front of Anthropic takes both fields; OpenAI (and
			// the fake upstream) would refuse the pair.
			up := &envoysim.ScriptedUpstream{Header: http.Header{"Content-Type": {"application/json"}},
				Chunks: [][]byte{[]byte(`{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":5}}`)}}
			if res, rec := h.serve(t.Context(), chatRequest(ana, tt.body), up); res.Status != 200 {
				t.Fatalf("status %d: %s", res.Status, rec.Body())
			}
			h.record()
			var caps struct {
				MaxTokens           int64 `json:"max_tokens"`
				MaxCompletionTokens int64 `json:"max_completion_tokens"`
			}
			if err := json.Unmarshal(up.Request().Body, &caps); err != nil {
				t.Fatal(err)
			}
			if caps.MaxTokens != tt.wantMaxTok || caps.MaxCompletionTokens != tt.wantCompl {
				t.Fatalf("upstream got max_tokens %d, max_completion_tokens %d; want %d and %d",
					caps.MaxTokens, caps.MaxCompletionTokens, tt.wantMaxTok, tt.wantCompl)
			}
		})
	}
}

// Near its limit a caller is judged on a finer figure than the byte bound,
// but hard enforcement, which promises a request cannot spend more than is
// left, comes down only to an exact count: for a model whose tokenizer
// tokengate does not have, the bound stands. Soft enforcement admits on
// the estimate.
func TestHardHoldComesDownOnlyToAnExactCount(t *testing.T) {
	prose := strings.Repeat("The quarterly report shows revenue up and costs down. ", 8)
	body := `{"model":"claude-sonnet-4","max_tokens":5,"messages":[{"role":"user","content":"` + prose + `"}]}`
	const allowance = 250 // above the estimate (about 100), below the byte bound (over 430)
	for _, tt := range []struct {
		enforcement extproc.Enforcement
		want        int
	}{{extproc.Hard, 429}, {extproc.Soft, 200}} {
		h := newHarness(t, harnessOptions{allowance: allowance, extproc: extproc.Options{Enforcement: tt.enforcement}})
		up := &envoysim.ScriptedUpstream{Header: http.Header{"Content-Type": {"application/json"}},
			Chunks: [][]byte{[]byte(`{"choices":[],"usage":{"prompt_tokens":90,"completion_tokens":5}}`)}}
		if res, rec := h.serve(t.Context(), chatRequest(ana, body), up); res.Status != tt.want {
			t.Fatalf("enforcement %v: status %d, want %d: %s", tt.enforcement, res.Status, tt.want, rec.Body())
		}
	}
}
