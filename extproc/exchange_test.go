package extproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
)

const (
	ana        = "ana@example.com"
	streamBody = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"Você é um assistente."},{"role":"user","content":"Resuma o relatório em três frases."}]}`
	jsonBody   = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Olá!"}]}`
)

type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decodeError(t *testing.T, body []byte) openAIError {
	t.Helper()
	var e openAIError
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not OpenAI's shape: %v: %s", err, body)
	}
	if e.Error.Message == "" {
		t.Fatalf("error body has no message: %s", body)
	}
	return e
}

func TestPassthroughRouteGoesUpstreamWithoutAccounting(t *testing.T) {
	h := newHarness(t, harnessOptions{extproc: extproc.Options{Passthrough: []extproc.Route{{Method: "GET", Prefix: "/"}}}})
	up := &envoysim.ScriptedUpstream{Header: http.Header{"Content-Type": {"application/json"}}, Chunks: [][]byte{[]byte(`{"data":[]}`)}}
	req := &envoysim.Request{Method: "GET", Path: "/v1/models", Authority: "llm", Header: http.Header{"X-User-Email": {ana}}}
	res, rec := h.serve(t.Context(), req, up)
	if res.Status != 200 || !bytes.Equal(rec.Body(), []byte(`{"data":[]}`)) || up.Calls() != 1 {
		t.Fatalf("status %d body %q calls %d", res.Status, rec.Body(), up.Calls())
	}
	if _, err := h.ledger.Balance(t.Context(), ana); !errors.Is(err, quota.ErrUnknownAccount) {
		t.Fatalf("an unmetered request must not create an account: %v", err)
	}
}

func TestRefusalsAnswerInOpenAIFormatAndNeverReachUpstream(t *testing.T) {
	tests := []struct {
		name       string
		user, body string
		allowance  quota.Tokens
		wantStatus int
		wantCode   string
		wantHeader map[string]string
	}{
		{name: "no user header", body: jsonBody, wantStatus: 401, wantCode: "missing_identity"},
		{name: "malformed user header", user: "ana example.com", body: jsonBody, wantStatus: 401, wantCode: "missing_identity"},
		{name: "user header twice", user: ana + "\x00bia@example.com", body: jsonBody, wantStatus: 401, wantCode: "missing_identity"},
		{name: "malformed JSON", user: ana, body: `{"model":"gpt-4o","messages":[`, wantStatus: 400},
		{name: "messages not an array", user: ana, body: `{"model":"gpt-4o","messages":"hi"}`, wantStatus: 400},
		{name: "empty body", user: ana, body: ``, wantStatus: 400},
		{
			name: "quota exhausted", user: ana, allowance: 5, body: jsonBody, wantStatus: 429, wantCode: "insufficient_quota",
			wantHeader: map[string]string{"x-should-retry": "false", "x-tokengate-remaining-tokens": "5", "content-type": "application/json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{allowance: tt.allowance})
			up := newCutUpstream()
			res, rec := h.serve(t.Context(), chatRequest(tt.user, tt.body), up)
			if res.Status != tt.wantStatus || !res.ImmediateResponse {
				t.Fatalf("status %d immediate %v, want %d immediate", res.Status, res.ImmediateResponse, tt.wantStatus)
			}
			if up.callCount() != 0 {
				t.Fatal("a refused request reached the upstream")
			}
			e := decodeError(t, rec.Body())
			if tt.wantCode != "" && (e.Error.Code == nil || *e.Error.Code != tt.wantCode) {
				t.Fatalf("code %v, want %q", e.Error.Code, tt.wantCode)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tt.wantStatus == 429 && rec.Header().Get("x-tokengate-period-end") == "" {
				t.Error("quota refusal without x-tokengate-period-end")
			}
		})
	}
}

func TestRateLimitRefusesWithRetryAfter(t *testing.T) {
	h := newHarness(t, harnessOptions{rpm: 1})
	up := newCutUpstream()
	if res, _ := h.serve(t.Context(), chatRequest(ana, jsonBody), up); res.Status != 200 {
		t.Fatalf("first request: %d", res.Status)
	}
	h.record()
	res, rec := h.serve(t.Context(), chatRequest(ana, jsonBody), up)
	if res.Status != 429 {
		t.Fatalf("second request in the minute: %d", res.Status)
	}
	if e := decodeError(t, rec.Body()); e.Error.Code == nil || *e.Error.Code != "rate_limit_exceeded" {
		t.Fatalf("code %v", e.Error.Code)
	}
	if s, err := strconv.Atoi(rec.Header().Get("retry-after")); err != nil || s < 1 || s > 60 {
		t.Fatalf("retry-after %q", rec.Header().Get("retry-after"))
	}
	if up.callCount() != 1 {
		t.Fatalf("upstream calls %d, want 1", up.callCount())
	}
}

func TestJSONResponseIsSettledAtReportedUsage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	up := newCutUpstream(7, 100) // a JSON body may arrive in pieces too
	res, rec := h.serve(t.Context(), chatRequest(ana, jsonBody), up)
	if res.Status != 200 {
		t.Fatalf("status %d: %s", res.Status, rec.Body())
	}
	if _, _, want := direct(jsonBody); !bytes.Equal(rec.Body(), want) {
		t.Fatalf("client body changed:\n got %s\nwant %s", rec.Body(), want)
	}
	r := h.record()
	u := up.usage()
	if r.Estimated || r.Usage != (quota.Usage{Prompt: quota.Tokens(u.PromptTokens), Completion: quota.Tokens(u.CompletionTokens)}) {
		t.Fatalf("settled %+v (estimated %v), upstream reported %+v", r.Usage, r.Estimated, u)
	}
	b := h.balance(ana)
	if b.Used != r.Usage.Total() || b.Reserved != 0 {
		t.Fatalf("balance %+v after settling %d", b, r.Usage.Total())
	}
	if got := rec.Header().Get("x-tokengate-remaining-tokens"); got == "" {
		t.Error("response lacks x-tokengate-remaining-tokens")
	}
}

func TestUpstreamErrorReleasesTheHold(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	up := &envoysim.ScriptedUpstream{Status: 503, Header: http.Header{"Content-Type": {"application/json"}},
		Chunks: [][]byte{[]byte(`{"error":{"message":"overloaded","type":"server_error"}}`)}}
	res, _ := h.serve(t.Context(), chatRequest(ana, jsonBody), up)
	if res.Status != 503 {
		t.Fatalf("status %d", res.Status)
	}
	if r := h.record(); !r.Released || r.Err != nil {
		t.Fatalf("record %+v, want released", r)
	}
	if b := h.balance(ana); b.Used != 0 || b.Reserved != 0 {
		t.Fatalf("balance %+v after an upstream failure", b)
	}
}

// Only a 2xx answers a model call: a redirect is released like an error.
func TestRedirectReleasesTheHold(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	up := &envoysim.ScriptedUpstream{Status: 307, Header: http.Header{"Location": {"/v1/chat/completions/"}}}
	if res, _ := h.serve(t.Context(), chatRequest(ana, jsonBody), up); res.Status != 307 {
		t.Fatalf("status %d", res.Status)
	}
	if r := h.record(); !r.Released {
		t.Fatalf("record %+v, want released", r)
	}
}

// A usage object that reports nothing (renamed fields, zeros) is not
// believed: the request is charged tokengate's own count instead of zero.
func TestEmptyUsageIsNotTrusted(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	body := `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Uma resposta bem longa sobre o relatório."},"finish_reason":"stop"}],"usage":{"input_tokens":10,"output_tokens":500}}`
	up := &envoysim.ScriptedUpstream{Header: http.Header{"Content-Type": {"application/json"}}, Chunks: [][]byte{[]byte(body)}}
	if res, _ := h.serve(t.Context(), chatRequest(ana, jsonBody), up); res.Status != 200 {
		t.Fatalf("status %d", res.Status)
	}
	if r := h.record(); !r.Estimated || r.Usage.Prompt == 0 || r.Usage.Completion == 0 {
		t.Fatalf("record %+v, want an estimate of both prompt and completion", r)
	}
}

// A client that leaves in the middle of a non-streamed body has had its
// completion generated in full: it is charged for the text that went by,
// not for nothing.
func TestJSONBodyCutShortIsChargedTheTextSeen(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	_, hdr, full := direct(jsonBody)
	never := make(chan struct{})
	up := &envoysim.ScriptedUpstream{Header: hdr, Chunks: [][]byte{full[:len(full)/2], full[len(full)/2:]},
		Hold: map[int]<-chan struct{}{1: never}}
	ctx, cancel := context.WithCancel(t.Context())
	rec := &envoysim.Recorder{}
	done := make(chan envoysim.Result)
	go func() { done <- h.filter.Serve(ctx, chatRequest(ana, jsonBody), up, rec) }()
	if err := rec.WaitChunks(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if r := h.record(); !r.Estimated || r.Usage.Completion == 0 {
		t.Fatalf("record %+v, want the completion counted from the bytes seen", r)
	}
}

// A caller close to its limit is judged on a precise count, not on the
// cheap bound (a byte count, about four times the tokens of English): it is
// admitted while the prompt fits.
func TestNearLimitCallerIsJudgedOnAPreciseCount(t *testing.T) {
	const allowance = 150
	h := newHarness(t, harnessOptions{allowance: allowance})
	prose := "Please summarise the quarterly report in three short sentences, focusing on revenue, costs and the outlook for next year. "
	body := `{"model":"gpt-4o-mini","max_tokens":20,"messages":[{"role":"user","content":"` + prose + prose + `"}]}`
	if len(prose)*2 <= allowance {
		t.Fatalf("the prompt's byte count %d must exceed the allowance %d for this test to mean anything", len(prose)*2, allowance)
	}
	up := newCutUpstream()
	res, rec := h.serve(t.Context(), chatRequest(ana, body), up)
	if res.Status != 200 {
		t.Fatalf("status %d: %s", res.Status, rec.Body())
	}
	h.record()
}
