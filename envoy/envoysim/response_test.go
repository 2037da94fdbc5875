package envoysim

import (
	"net/http"
	"sync"
	"testing"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
)

// TestStreamedPipelining checks E28 and E29: chunks are sent without waiting
// for replies (the processor answers nothing until it holds all three), the
// replies are matched to chunks by order, and each one replaces, clears or
// keeps its own chunk; a header_mutation in a chunk reply is ignored.
func TestStreamedPipelining(t *testing.T) {
	var mu sync.Mutex
	pending := 0
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if kindOf(req) != KindResponseBody {
			return continueAll(0, req)
		}
		mu.Lock()
		defer mu.Unlock()
		pending++
		if pending < 3 {
			return answer{}
		}
		return answer{send: []*extprocv3.ProcessingResponse{
			cont(KindResponseBody, &extprocv3.CommonResponse{BodyMutation: bodyMutation("A!")}),
			cont(KindResponseBody, &extprocv3.CommonResponse{
				BodyMutation:   &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_ClearBody{ClearBody: true}},
				HeaderMutation: mutation(map[string]string{"x-late": "1"}),
			}),
			cont(KindResponseBody, nil),
		}}
	})
	f := newFilter(client, Options{})
	up := &ScriptedUpstream{Header: http.Header{"Content-Type": {"text/event-stream"}}, Chunks: byteChunks([]string{"a", "b", "c"})}
	res, rec := serve(t, f, chatRequest(chatBody), up)
	p.waitEnd(t)
	if d := cmp.Diff([]string{"A!", "c"}, chunkStrings(rec)); d != "" {
		t.Errorf("client chunks (-want +got):\n%s", d)
	}
	if rec.Header().Get("X-Late") != "" {
		t.Error("header_mutation in a STREAMED body reply was applied")
	}
	if res.Close != CloseLastReply || res.Received[KindResponseBody] != 3 {
		t.Errorf("close %q, body replies %d", res.Close, res.Received[KindResponseBody])
	}
}

// TestResponseHeadersReply checks E36 and E51: the header reply's mutations
// reach the client, a content-length set is skipped in STREAMED mode, and
// :status can be changed.
func TestResponseHeadersReply(t *testing.T) {
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if kindOf(req) == KindResponseHeaders {
			return answer{send: []*extprocv3.ProcessingResponse{cont(KindResponseHeaders, &extprocv3.CommonResponse{
				HeaderMutation: mutation(map[string]string{
					"x-tokengate-remaining": "990", "content-length": "2", ":status": "203",
				}),
			})}}
		}
		return continueAll(0, req)
	})
	f := newFilter(client, Options{})
	up := &ScriptedUpstream{Header: http.Header{"Content-Length": {"2"}}, Chunks: byteChunks([]string{"{}"})}
	res, rec := serve(t, f, chatRequest(chatBody), up)
	p.waitEnd(t)
	if rec.Status() != 203 || rec.Header().Get("X-Tokengate-Remaining") != "990" || rec.Header().Get("Content-Length") != "" {
		t.Errorf("client got %d %v", rec.Status(), rec.Header())
	}
	if res.Status != 203 {
		t.Errorf("result status %d", res.Status)
	}
}

// TestContinueAndReplaceResponse checks E37 on the response: the body is
// replaced, later upstream data discarded, no response_body is sent, and the
// stream closes after that reply (body mode NONE, E6c).
func TestContinueAndReplaceResponse(t *testing.T) {
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if kindOf(req) == KindResponseHeaders {
			return answer{send: []*extprocv3.ProcessingResponse{cont(KindResponseHeaders, &extprocv3.CommonResponse{
				Status:       extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
				BodyMutation: bodyMutation(`{"error":"replaced"}`),
			})}}
		}
		return continueAll(0, req)
	})
	f := newFilter(client, Options{})
	up := &ScriptedUpstream{Chunks: byteChunks([]string{"one", "two"})}
	res, rec := serve(t, f, chatRequest(chatBody), up)
	p.waitEnd(t)
	if d := cmp.Diff([]MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders}, p.kinds()); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
	if string(rec.Body()) != `{"error":"replaced"}` || res.Close != CloseLastReply {
		t.Errorf("client body %q, close %q", rec.Body(), res.Close)
	}
}

// TestModeOverride checks E45: mode_override is ignored unless allowed;
// when allowed, the new mode is the filter's with header modes replaced where
// set and both body modes taken from the override, and it closes the stream
// as soon as nothing more will be sent (E6c).
func TestModeOverride(t *testing.T) {
	none := extprocfilterv3.ProcessingMode_NONE
	streamed := extprocfilterv3.ProcessingMode_STREAMED
	tests := []struct {
		name      string
		allow     bool
		at        MessageKind
		override  *extprocfilterv3.ProcessingMode
		req       *Request
		wantKinds []MessageKind
		wantClose CloseCause
		wantCL    string // content-length the client sees
	}{{
		name:      "not allowed",
		at:        KindResponseHeaders,
		override:  &extprocfilterv3.ProcessingMode{ResponseBodyMode: none},
		req:       chatRequest(chatBody),
		wantKinds: []MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders, KindResponseBody, KindResponseBody},
		wantClose: CloseLastReply,
	}, {
		name:      "response body off",
		allow:     true,
		at:        KindResponseHeaders,
		override:  &extprocfilterv3.ProcessingMode{ResponseBodyMode: none},
		req:       chatRequest(chatBody),
		wantKinds: []MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders},
		wantClose: CloseLastReply,
	}, {
		name:  "response path off for a GET",
		allow: true,
		at:    KindRequestHeaders,
		override: &extprocfilterv3.ProcessingMode{
			ResponseHeaderMode: extprocfilterv3.ProcessingMode_SKIP, ResponseBodyMode: none,
		},
		req:       &Request{Method: http.MethodGet, Path: "/v1/models", Authority: "llm"},
		wantKinds: []MessageKind{KindRequestHeaders},
		wantClose: CloseLastReply,
		wantCL:    "2", // processing complete, nothing strips it (E51)
	}, {
		name:      "request body off",
		allow:     true,
		at:        KindRequestHeaders,
		override:  &extprocfilterv3.ProcessingMode{ResponseBodyMode: streamed},
		req:       chatRequest(chatBody),
		wantKinds: []MessageKind{KindRequestHeaders, KindResponseHeaders, KindResponseBody, KindResponseBody},
		wantClose: CloseLastReply,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
				r := cont(kindOf(req), nil)
				if kindOf(req) == tt.at {
					r.ModeOverride = tt.override
				}
				return answer{send: []*extprocv3.ProcessingResponse{r}}
			})
			f := newFilter(client, Options{AllowModeOverride: tt.allow})
			up := &ScriptedUpstream{Header: http.Header{"Content-Length": {"2"}}, Chunks: byteChunks([]string{"x", "y"})}
			res, rec := serve(t, f, tt.req, up)
			p.waitEnd(t)
			if d := cmp.Diff(tt.wantKinds, p.kinds()); d != "" {
				t.Errorf("kinds (-want +got):\n%s", d)
			}
			wantTaken := 0
			if tt.allow {
				wantTaken = 1
			}
			if res.ModeOverrides != wantTaken || res.ModeOverridesIgnored != 1-wantTaken || res.Close != tt.wantClose {
				t.Errorf("overrides %d ignored %d close %q", res.ModeOverrides, res.ModeOverridesIgnored, res.Close)
			}
			if string(rec.Body()) != "xy" || rec.Header().Get("Content-Length") != tt.wantCL {
				t.Errorf("client body %q content-length %q", rec.Body(), rec.Header().Get("Content-Length"))
			}
			if string(up.Request().Body) != string(tt.req.Body) {
				t.Errorf("upstream body %q", up.Request().Body)
			}
		})
	}
}

// TestStreamedWatermark checks E32: once more unanswered bytes are queued
// than the buffer limit, reading pauses (never an error) and resumes when the
// replies drain the queue. The processor answers chunk 1 only after chunk 2
// arrived, so both are queued at once.
func TestStreamedWatermark(t *testing.T) {
	p, client := startProcessor(t, func(n int, req *extprocv3.ProcessingRequest) answer {
		switch {
		case kindOf(req) != KindResponseBody:
			return continueAll(0, req)
		case n == 2: // first chunk: wait for the second
			return answer{}
		case n == 3:
			return answer{send: []*extprocv3.ProcessingResponse{cont(KindResponseBody, nil), cont(KindResponseBody, nil)}}
		}
		return continueAll(0, req)
	})
	f := newFilter(client, Options{BufferLimit: 10})
	req := &Request{Method: http.MethodGet, Path: "/v1/models", Authority: "llm.internal"}
	up := &ScriptedUpstream{Chunks: byteChunks([]string{"12345678", "12345678", "z"})}
	res, rec := serve(t, f, req, up)
	p.waitEnd(t)
	if string(rec.Body()) != "1234567812345678z" || res.Watermarks != 1 {
		t.Errorf("body %q, watermarks %d, want 1", rec.Body(), res.Watermarks)
	}
}
