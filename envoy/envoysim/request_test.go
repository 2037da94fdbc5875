package envoysim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
)

// TestRequestBodyOverBufferLimit checks E20: a BUFFERED body over the limit
// is a 413 local reply; the upstream is never contacted and the processor
// gets nothing after request_headers.
func TestRequestBodyOverBufferLimit(t *testing.T) {
	p, client := startProcessor(t, func(int, *extprocv3.ProcessingRequest) answer { return answer{} })
	f := newFilter(client, Options{BufferLimit: 64})
	up := &ScriptedUpstream{}
	res, rec := serve(t, f, chatRequest(strings.Repeat("x", 65)), up)
	p.waitEnd(t)
	if rec.Status() != http.StatusRequestEntityTooLarge || string(rec.Body()) != "Payload Too Large" {
		t.Fatalf("client got %d %q, want 413 Payload Too Large", rec.Status(), rec.Body())
	}
	if detailsOf(res) != "request_payload_too_large" {
		t.Errorf("local reply = %+v", res.LocalReply)
	}
	if up.Calls() != 0 || res.UpstreamCalled {
		t.Error("upstream was contacted")
	}
	// The 413 comes while the header reply is pending and the stream is reset
	// right away, so the processor may or may not have read request_headers.
	if d := cmp.Diff(map[MessageKind]int{KindRequestHeaders: 1}, res.Sent); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
	if got := rec.Header().Get("Content-Type"); got != "text/plain" {
		t.Errorf("content-type = %q, want text/plain (E43)", got)
	}
}

// TestBufferedRequestBodyReply checks E19, E38 and E52: the request_body
// reply may mutate headers and body; a changed body must come with a
// matching or removed content-length, else 500; the upstream sees the result
// only after this reply (E61).
func TestBufferedRequestBodyReply(t *testing.T) {
	const newBody = `{"model":"gpt-4o-mini","messages":[],"stream":true,"stream_options":{"include_usage":true}}`
	tests := []struct {
		name       string
		common     *extprocv3.CommonResponse
		wantStatus int
		wantBody   string // reaching the upstream
		wantCL     string
		wantAuth   string
		wantDetail string
	}{{
		name: "body and matching content-length",
		common: &extprocv3.CommonResponse{
			HeaderMutation: mutation(map[string]string{"content-length": strconv.Itoa(len(newBody)), "authorization": "Bearer litellm-key"}),
			BodyMutation:   bodyMutation(newBody),
		},
		wantStatus: 200, wantBody: newBody, wantCL: strconv.Itoa(len(newBody)), wantAuth: "Bearer litellm-key",
	}, {
		name: "body with content-length removed",
		common: &extprocv3.CommonResponse{
			HeaderMutation: mutation(nil, "content-length"),
			BodyMutation:   bodyMutation(newBody),
		},
		wantStatus: 200, wantBody: newBody, wantCL: "", wantAuth: "Bearer sk-test-1",
	}, {
		name:       "body with stale content-length",
		common:     &extprocv3.CommonResponse{BodyMutation: bodyMutation(newBody)},
		wantStatus: 500, wantDetail: "mismatch_between_content_length_and_the_length_of_the_mutated_body",
	}, {
		name:       "clear_body counts as zero",
		common:     &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}}},
		wantStatus: 500, wantDetail: "mismatch_between_content_length_and_the_length_of_the_mutated_body",
	}, {
		name:       "no mutation",
		common:     nil,
		wantStatus: 200, wantBody: chatBody, wantCL: strconv.Itoa(len(chatBody)), wantAuth: "Bearer sk-test-1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
				if kindOf(req) == KindRequestBody {
					return answer{send: []*extprocv3.ProcessingResponse{cont(KindRequestBody, tt.common)}}
				}
				return continueAll(0, req)
			})
			// Stated explicitly: E48 errors fail closed regardless.
			f := newFilter(client, Options{FailureModeAllow: true})
			up := &ScriptedUpstream{Chunks: [][]byte{[]byte("{}")}}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			if rec.Status() != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Status(), tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				if up.Calls() != 0 {
					t.Error("upstream contacted despite the mutation error")
				}
				if detailsOf(res) != tt.wantDetail {
					t.Errorf("local reply = %+v, want details %q", res.LocalReply, tt.wantDetail)
				}
				if res.Close != CloseError {
					t.Errorf("close = %q, want %q", res.Close, CloseError)
				}
				return
			}
			got := up.Request()
			if string(got.Body) != tt.wantBody || got.Header.Get("Content-Length") != tt.wantCL || got.Header.Get("Authorization") != tt.wantAuth {
				t.Errorf("upstream got body %q content-length %q authorization %q", got.Body, got.Header.Get("Content-Length"), got.Header.Get("Authorization"))
			}
		})
	}
}

// TestRequestTrailers checks E19 and E24: with trailers the body message has
// end_of_stream=false, trailers are never sent (SKIP) and reach the upstream.
func TestRequestTrailers(t *testing.T) {
	p, client := startProcessor(t, continueAll)
	f := newFilter(client, Options{})
	req := chatRequest(chatBody)
	req.Trailers = http.Header{"X-Checksum": {"abc"}}
	up := &ScriptedUpstream{}
	serve(t, f, req, up)
	p.waitEnd(t)
	got := p.messages()
	if d := cmp.Diff([]MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders}, p.kinds()); d != "" {
		t.Fatalf("kinds (-want +got):\n%s", d)
	}
	if got[0].GetRequestHeaders().GetEndOfStream() || got[1].GetRequestBody().GetEndOfStream() {
		t.Error("end_of_stream set although the request has trailers")
	}
	if up.Request().Trailers.Get("X-Checksum") != "abc" {
		t.Errorf("upstream trailers = %v", up.Request().Trailers)
	}
}

// TestContinueAndReplaceRequest checks E37: a CONTINUE_AND_REPLACE header
// reply with a body_mutation replaces the body, drops content-length, and no
// request_body message is sent; :method may change in that case only.
func TestContinueAndReplaceRequest(t *testing.T) {
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if kindOf(req) == KindRequestHeaders {
			return answer{send: []*extprocv3.ProcessingResponse{cont(KindRequestHeaders, &extprocv3.CommonResponse{
				Status:         extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
				HeaderMutation: mutation(map[string]string{":method": "PUT", ":path": "/v2/chat"}),
				BodyMutation:   bodyMutation(`{"replaced":true}`),
			})}}
		}
		return continueAll(0, req)
	})
	f := newFilter(client, Options{})
	up := &ScriptedUpstream{}
	serve(t, f, chatRequest(chatBody), up)
	p.waitEnd(t)
	if d := cmp.Diff([]MessageKind{KindRequestHeaders, KindResponseHeaders}, p.kinds()); d != "" {
		t.Fatalf("kinds (-want +got):\n%s", d)
	}
	got := up.Request()
	if got.Method != "PUT" || got.Path != "/v2/chat" || string(got.Body) != `{"replaced":true}` || got.Header.Get("Content-Length") != "" {
		t.Errorf("upstream got %s %s %q content-length %q", got.Method, got.Path, got.Body, got.Header.Get("Content-Length"))
	}
}

// TestRequestHeaderMutationRules checks E47–E50 on the way to the upstream:
// default rules skip routing and x-envoy headers silently, append=false
// overwrites, append=true adds, value-only sets "", both value and raw_value
// is a 500 even under failure_mode_allow (E48).
func TestRequestHeaderMutationRules(t *testing.T) {
	valueOnly := rawHeader("x-value-only", "", false)
	valueOnly.Header.Value = "ignored"
	both := rawHeader("x-both", "raw", false)
	both.Header.Value = "value"
	tests := []struct {
		name       string
		mut        *extprocv3.HeaderMutation
		clear      bool
		wantStatus int
		check      func(t *testing.T, r *UpstreamRequest)
	}{{
		name: "defaults",
		mut: &extprocv3.HeaderMutation{
			SetHeaders: []*corev3.HeaderValueOption{
				rawHeader("authorization", "Bearer upstream", false),
				rawHeader("x-tag", "a", true),
				rawHeader("x-tag", "b", true),
				rawHeader("x-envoy-retry-on", "5xx", false),
				rawHeader(":authority", "evil.example", false),
				rawHeader("host", "evil.example", false),
				rawHeader(":path", "/v1/responses", false),
				valueOnly,
			},
			RemoveHeaders: []string{":method", "x-request-id"},
		},
		clear:      true,
		wantStatus: 200,
		check: func(t *testing.T, r *UpstreamRequest) {
			if r.Header.Get("Authorization") != "Bearer upstream" || !slicesEqual(r.Header.Values("X-Tag"), "a", "b") {
				t.Errorf("authorization %q, x-tag %q", r.Header.Get("Authorization"), r.Header.Values("X-Tag"))
			}
			if _, ok := r.Header["X-Envoy-Retry-On"]; ok || r.Authority != "llm.internal:10000" || r.Method != "POST" {
				t.Errorf("disallowed mutation applied: %v %s %s", r.Header, r.Authority, r.Method)
			}
			if r.Path != "/v1/responses" || r.Header.Get("X-Request-Id") != "" {
				t.Errorf("path %q, x-request-id %q", r.Path, r.Header.Get("X-Request-Id"))
			}
			if v, ok := r.Header["X-Value-Only"]; !ok || v[0] != "" {
				t.Errorf("x-value-only = %v, want one empty value (E50)", v)
			}
		},
	}, {
		name:       "value and raw_value",
		mut:        &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{both}},
		wantStatus: 500,
	}, {
		name:       "invalid value",
		mut:        mutation(map[string]string{"x-bad": "a\r\nb"}),
		wantStatus: 500,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
				if kindOf(req) == KindRequestHeaders {
					return answer{send: []*extprocv3.ProcessingResponse{cont(KindRequestHeaders,
						&extprocv3.CommonResponse{HeaderMutation: tt.mut, ClearRouteCache: tt.clear})}}
				}
				return continueAll(0, req)
			})
			f := newFilter(client, Options{FailureModeAllow: true})
			up := &ScriptedUpstream{}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			if rec.Status() != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%+v)", rec.Status(), tt.wantStatus, res.LocalReply)
			}
			if tt.check != nil {
				tt.check(t, up.Request())
			}
			if tt.clear && res.RouteCacheClears != 1 {
				t.Errorf("route cache clears = %d, want 1 (E44)", res.RouteCacheClears)
			}
			if tt.wantStatus == 200 && res.RejectedMutations != 4 {
				t.Errorf("rejected mutations = %d, want 4", res.RejectedMutations)
			}
		})
	}
}

func slicesEqual(got []string, want ...string) bool { return cmp.Equal(got, want) }
