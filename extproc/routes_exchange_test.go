package extproc_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
)

// A route tokengate neither meters nor was told to pass is answered at the
// request headers: the upstream never sees it, and the caller learns which
// path was refused (without the query, which may carry a key).
func TestUnknownRouteIsRefusedBeforeTheUpstream(t *testing.T) {
	h := newHarness(t, harnessOptions{extproc: extproc.Options{Passthrough: []extproc.Route{{Method: "GET", Prefix: "/"}}}})
	for _, path := range []string{"/v1/embeddings", "/v1/images/generations", "/anthropic/v1/messages", "/key/generate?key=sk-secret"} {
		t.Run(path, func(t *testing.T) {
			up := newCutUpstream()
			req := chatRequest(ana, jsonBody)
			req.Path = path
			res, rec := h.serve(t.Context(), req, up)
			if res.Status != 403 || !res.ImmediateResponse || up.callCount() != 0 || res.Sent[envoysim.KindRequestBody] != 0 {
				t.Fatalf("status %d immediate %v upstream calls %d", res.Status, res.ImmediateResponse, up.callCount())
			}
			e := decodeError(t, rec.Body())
			if e.Error.Code == nil || *e.Error.Code != "endpoint_not_allowed" {
				t.Fatalf("code %v", e.Error.Code)
			}
			want := strings.SplitN(path, "?", 2)[0]
			if !strings.Contains(e.Error.Message, "POST "+want) || strings.Contains(e.Error.Message, "sk-secret") {
				t.Fatalf("message %q should name POST %s and nothing of the query", e.Error.Message, want)
			}
		})
	}
}

// Caller keys never reach the upstream once tokengate holds the upstream's
// key: not on metered requests, not on passthrough ones, in whichever
// header a client put them.
func TestCallerKeysNeverReachTheUpstream(t *testing.T) {
	keys := map[string]string{
		"authorization":             "Bearer sk-caller",
		"x-api-key":                 "sk-ant-caller",
		"api-key":                   "azure-caller",
		"x-goog-api-key":            "goog-caller",
		"ocp-apim-subscription-key": "apim-caller",
		"x-litellm-api-key":         "sk-litellm-caller",
	}
	opts := extproc.Options{UpstreamAuthorization: "Bearer sk-litellm", Passthrough: []extproc.Route{{Method: "GET", Prefix: "/"}}}
	for _, tt := range []struct {
		name string
		req  func() *envoysim.Request
	}{
		{"metered", func() *envoysim.Request { return chatRequest(ana, jsonBody) }},
		{"passthrough", func() *envoysim.Request {
			return &envoysim.Request{Method: "GET", Path: "/v1/models", Authority: "llm", Header: http.Header{}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{extproc: opts})
			up := newCutUpstream()
			req := tt.req()
			for k, v := range keys {
				req.Header.Set(k, v)
			}
			if res, rec := h.serve(t.Context(), req, up); res.Status != 200 {
				t.Fatalf("status %d: %s", res.Status, rec.Body())
			}
			got := up.request().Header
			for k := range keys {
				want := ""
				if k == "authorization" {
					want = "Bearer sk-litellm"
				}
				if v := got.Get(k); v != want {
					t.Errorf("upstream saw %s %q, want %q", k, v, want)
				}
			}
		})
	}
}

// Without an upstream key configured the caller's headers go through: the
// upstream authenticates the caller itself.
func TestCallerKeysPassWithoutAnUpstreamKey(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	up := newCutUpstream()
	req := chatRequest(ana, jsonBody)
	req.Header.Set("authorization", "Bearer sk-caller")
	req.Header.Set("x-api-key", "sk-ant-caller")
	if res, _ := h.serve(t.Context(), req, up); res.Status != 200 {
		t.Fatalf("status %d", res.Status)
	}
	h.record()
	if got := up.request().Header; got.Get("authorization") != "Bearer sk-caller" || got.Get("x-api-key") != "sk-ant-caller" {
		t.Fatalf("upstream saw %v", got)
	}
}

// A body over the limit is refused with 413 in OpenAI's format: at the
// headers when content-length declares it, at the body when it came
// chunked. Either way the upstream never sees it and nothing is held.
func TestRequestBodyOverTheLimitIs413(t *testing.T) {
	const limit = 4096
	big := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("palavra ", limit/8) + `"}]}`
	for _, tt := range []struct {
		name          string
		body          string
		contentLength bool
		want          int
		bodiesSent    int // 0: refused at the headers, before Envoy sends the body
	}{
		{"declared", big, true, 413, 0},
		{"chunked", big, false, 413, 1},
		{"within the limit", jsonBody, true, 200, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{extproc: extproc.Options{MaxRequestBytes: limit}})
			up := newCutUpstream()
			req := chatRequest(ana, tt.body)
			if tt.contentLength {
				req.Header.Set("content-length", strconv.Itoa(len(tt.body)))
			}
			res, rec := h.serve(t.Context(), req, up)
			if res.Status != tt.want || res.Sent[envoysim.KindRequestBody] != tt.bodiesSent {
				t.Fatalf("status %d after %d body messages, want %d after %d: %s",
					res.Status, res.Sent[envoysim.KindRequestBody], tt.want, tt.bodiesSent, rec.Body())
			}
			if tt.want == 200 {
				h.record()
				return
			}
			if up.callCount() != 0 || !res.ImmediateResponse {
				t.Fatalf("upstream calls %d, immediate %v", up.callCount(), res.ImmediateResponse)
			}
			if e := decodeError(t, rec.Body()); e.Error.Code == nil || *e.Error.Code != "request_too_large" {
				t.Fatalf("code %v", e.Error.Code)
			}
			if b, err := h.ledger.Balance(t.Context(), ana); err == nil && b.Reserved != 0 {
				t.Fatalf("a refused request left %d tokens held", b.Reserved)
			}
		})
	}
}

// A WebSocket upgrade (LiteLLM's /v1/realtime) would carry model traffic
// tokengate cannot read: it is refused whatever route it names, a
// passthrough one included.
func TestUpgradesAreRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{extproc: extproc.Options{Passthrough: []extproc.Route{{Method: "GET", Prefix: "/"}}}})
	up := newCutUpstream()
	req := &envoysim.Request{Method: "GET", Path: "/v1/realtime?model=gpt-4o-realtime-preview", Authority: "llm",
		Header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}, "X-User-Email": {ana}}}
	res, rec := h.serve(t.Context(), req, up)
	if res.Status != 403 || up.callCount() != 0 {
		t.Fatalf("status %d, upstream calls %d: %s", res.Status, up.callCount(), rec.Body())
	}
	if e := decodeError(t, rec.Body()); !strings.Contains(e.Error.Message, "WebSocket") {
		t.Fatalf("message %q", e.Error.Message)
	}
}

// curl --http2 offers an upgrade to h2c on an ordinary request: that only
// changes the HTTP version, and the request is metered as any other.
func TestH2CUpgradeOfferIsNotRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	up := newCutUpstream()
	req := chatRequest(ana, jsonBody)
	req.Header.Set("Upgrade", "h2c")
	if res, rec := h.serve(t.Context(), req, up); res.Status != 200 {
		t.Fatalf("status %d: %s", res.Status, rec.Body())
	}
	h.record()
}
