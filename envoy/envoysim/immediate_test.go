package envoysim

import (
	"net/http"
	"strconv"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/google/go-cmp/cmp"
)

// TestImmediateResponse checks E41–E43 and E6a: an immediate_response is
// taken at any point; before response headers reached the client it is a
// local reply (the upstream never sees the request, or is reset), after
// that only a reset is possible; the stream is closed first and no further
// message is sent.
func TestImmediateResponse(t *testing.T) {
	const refusal = `{"error":{"message":"Quota exceeded","type":"insufficient_quota","code":"insufficient_quota"}}`
	jsonHeaders := mutation(map[string]string{"content-type": "application/json", "x-should-retry": "false"})
	tests := []struct {
		name      string
		at        MessageKind // answer this message with the immediate response
		reply     *extprocv3.ProcessingResponse
		wait      bool // upstream blocks until cancelled
		wantKinds []MessageKind
		wantCode  int
		wantBody  string
		wantHdr   http.Header
		wantReset bool
		wantUp    bool
	}{{
		name:      "at request_headers",
		at:        KindRequestHeaders,
		reply:     immediate(typev3.StatusCode_Unauthorized, `{"error":{"message":"bad key"}}`, "invalid api key", jsonHeaders),
		wantKinds: []MessageKind{KindRequestHeaders},
		wantCode:  401, wantBody: `{"error":{"message":"bad key"}}`,
		wantHdr: http.Header{"Content-Type": {"application/json"}, "X-Should-Retry": {"false"}, "Content-Length": {strconv.Itoa(len(`{"error":{"message":"bad key"}}`))}},
	}, {
		name:      "at request_body",
		at:        KindRequestBody,
		reply:     immediate(typev3.StatusCode_TooManyRequests, refusal, "", jsonHeaders),
		wantKinds: []MessageKind{KindRequestHeaders, KindRequestBody},
		wantCode:  429, wantBody: refusal,
		wantHdr: http.Header{"Content-Type": {"application/json"}, "X-Should-Retry": {"false"}, "Content-Length": {strconv.Itoa(len(refusal))}},
	}, {
		name:      "text body gets text/plain, empty body loses both headers",
		at:        KindRequestHeaders,
		reply:     immediate(typev3.StatusCode_Forbidden, "", "", mutation(map[string]string{"content-type": "application/json"})),
		wantKinds: []MessageKind{KindRequestHeaders},
		wantCode:  403, wantHdr: http.Header{},
	}, {
		name:      "missing status is 200",
		at:        KindRequestHeaders,
		reply:     immediate(0, "ok", "", nil),
		wantKinds: []MessageKind{KindRequestHeaders},
		wantCode:  200, wantBody: "ok",
		wantHdr: http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"2"}},
	}, {
		name:      "while the upstream is in flight",
		at:        KindRequestBody,
		reply:     immediate(typev3.StatusCode_ServiceUnavailable, "", "", nil),
		wait:      true,
		wantKinds: []MessageKind{KindRequestHeaders, KindRequestBody},
		wantCode:  503, wantHdr: http.Header{}, wantUp: true,
	}, {
		name:      "at response_headers goes straight to the client",
		at:        KindResponseHeaders,
		reply:     immediate(typev3.StatusCode_BadGateway, "", "", nil),
		wantKinds: []MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders},
		wantCode:  502, wantHdr: http.Header{}, wantUp: true,
	}, {
		name:      "at a streamed chunk resets",
		at:        KindResponseBody,
		reply:     immediate(typev3.StatusCode_TooManyRequests, refusal, "", nil),
		wantKinds: []MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders, KindResponseBody},
		wantCode:  200, wantHdr: http.Header{}, wantReset: true, wantUp: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
				switch {
				case kindOf(req) == tt.at && !tt.wait:
					return answer{send: []*extprocv3.ProcessingResponse{tt.reply}}
				case kindOf(req) == tt.at:
					// Unsolicited: right after the reply, while the upstream works.
					return answer{send: []*extprocv3.ProcessingResponse{cont(tt.at, nil), tt.reply}}
				}
				return continueAll(0, req)
			})
			f := newFilter(client, Options{})
			up := &ScriptedUpstream{Chunks: byteChunks([]string{"data: 1\n\n", "data: 2\n\n"})}
			if tt.wait {
				up.Wait = make(chan struct{})
			}
			if tt.at == KindResponseBody {
				up.Hold = map[int]<-chan struct{}{1: make(chan struct{})} // one chunk in flight
			}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			if d := cmp.Diff(tt.wantKinds, p.kinds()); d != "" {
				t.Errorf("kinds (-want +got):\n%s", d)
			}
			if rec.Status() != tt.wantCode || string(rec.Body()) != tt.wantBody || rec.WasReset() != tt.wantReset {
				t.Errorf("client got %d %q reset=%v", rec.Status(), rec.Body(), rec.WasReset())
			}
			if !tt.wantReset {
				if d := cmp.Diff(tt.wantHdr, rec.Header()); d != "" {
					t.Errorf("client headers (-want +got):\n%s", d)
				}
			}
			if (up.Calls() > 0) != tt.wantUp {
				t.Errorf("upstream calls = %d", up.Calls())
			}
			if tt.wait && !up.Cancelled() {
				t.Error("upstream request not reset")
			}
			if !res.ImmediateResponse || res.Close != CloseImmediateResponse {
				t.Errorf("immediate %v close %q", res.ImmediateResponse, res.Close)
			}
		})
	}
}

// TestImmediateResponseDetails checks that details keep their text with
// spaces replaced (E41) and that a HEAD reply carries no body (E65).
func TestImmediateResponseDetails(t *testing.T) {
	p, client := startProcessor(t, func(int, *extprocv3.ProcessingRequest) answer {
		return answer{send: []*extprocv3.ProcessingResponse{immediate(typev3.StatusCode_TooManyRequests, "no", "quota exhausted for\tuser", nil)}}
	})
	f := newFilter(client, Options{})
	res, rec := serve(t, f, &Request{Method: http.MethodHead, Path: "/v1/models", Authority: "llm"}, &ScriptedUpstream{})
	p.waitEnd(t)
	if detailsOf(res) != "quota_exhausted_for_user" {
		t.Fatalf("local reply %+v", res.LocalReply)
	}
	if rec.Status() != 429 || len(rec.Body()) != 0 || rec.Header().Get("Content-Length") != "2" {
		t.Errorf("client got %d %v %q", rec.Status(), rec.Header(), rec.Body())
	}
}

// TestSpuriousReplies checks E40: a reply matching nothing outstanding
// closes the stream and answers status_on_error, or with failure_mode_allow
// abandons the processor and lets the request through unmodified.
func TestSpuriousReplies(t *testing.T) {
	streamed := cont(KindResponseBody, &extprocv3.CommonResponse{BodyMutation: &extprocv3.BodyMutation{
		Mutation: &extprocv3.BodyMutation_StreamedResponse{StreamedResponse: &extprocv3.StreamedBodyResponse{Body: []byte("x")}},
	}})
	tests := []struct {
		name        string
		at          MessageKind
		reply       *extprocv3.ProcessingResponse
		opts        Options
		wantCode    int
		wantDetails string
		wantReset   bool
	}{
		{"wrong kind", KindRequestHeaders, cont(KindResponseBody, nil), Options{}, 500, "spurious_message", false},
		{"wrong kind, status_on_error", KindRequestHeaders, cont(KindRequestBody, nil), Options{StatusOnError: 502}, 502, "spurious_message", false},
		{"no response set", KindRequestBody, &extprocv3.ProcessingResponse{}, Options{}, 500, "unhandled_message", false},
		{"trailers reply", KindRequestHeaders, &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{RequestTrailers: &extprocv3.TrailersResponse{}}}, Options{}, 500, "spurious_message", false},
		{"immediate disabled", KindRequestHeaders, immediate(429, "", "", nil), Options{DisableImmediateResponse: true}, 500, "unhandled_immediate_response_due_to_config_disabled_it", false},
		{"streamed_response in STREAMED", KindResponseBody, streamed, Options{}, 200, "spurious_message:_streamed_response_is_received_while_body_mode__is_not_FULL_DUPLEX_STREAMED", true},
		{"fail open", KindRequestHeaders, cont(KindResponseHeaders, nil), Options{FailureModeAllow: true}, 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
				if kindOf(req) == tt.at {
					return answer{send: []*extprocv3.ProcessingResponse{tt.reply}}
				}
				return continueAll(0, req)
			})
			f := newFilter(client, tt.opts)
			up := &ScriptedUpstream{Chunks: byteChunks([]string{"a", "b"})}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			if res.Spurious != 1 || res.Close != CloseError {
				t.Errorf("spurious %d close %q", res.Spurious, res.Close)
			}
			if rec.Status() != tt.wantCode || rec.WasReset() != tt.wantReset {
				t.Errorf("client got %d reset=%v", rec.Status(), rec.WasReset())
			}
			if tt.wantDetails == "" {
				if res.LocalReply != nil || string(rec.Body()) != "ab" || string(up.Request().Body) != chatBody {
					t.Errorf("fail-open changed the exchange: %+v %q", res.LocalReply, rec.Body())
				}
				return
			}
			if detailsOf(res) != tt.wantDetails {
				t.Errorf("local reply %+v, want details %q", res.LocalReply, tt.wantDetails)
			}
		})
	}
}
