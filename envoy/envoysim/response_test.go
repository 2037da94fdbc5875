package envoysim

import (
	"net/http"
	"strconv"
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

// TestModeOverride checks E45: ignored unless allowed; when allowed, a
// response_headers reply turning the response body to NONE ends processing
// after that reply (E6c) and the body passes unprocessed.
func TestModeOverride(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run("allow="+strconv.FormatBool(allow), func(t *testing.T) {
			p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
				r := cont(kindOf(req), nil)
				if kindOf(req) == KindResponseHeaders {
					r.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_NONE}
				}
				return answer{send: []*extprocv3.ProcessingResponse{r}}
			})
			f := newFilter(client, Options{AllowModeOverride: allow})
			up := &ScriptedUpstream{Chunks: byteChunks([]string{"x", "y"})}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			wantKinds := []MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders, KindResponseBody, KindResponseBody}
			wantOverrides, wantIgnored := 0, 1
			if allow {
				wantKinds, wantOverrides, wantIgnored = wantKinds[:3], 1, 0
			}
			if d := cmp.Diff(wantKinds, p.kinds()); d != "" {
				t.Errorf("kinds (-want +got):\n%s", d)
			}
			if res.ModeOverrides != wantOverrides || res.ModeOverridesIgnored != wantIgnored || string(rec.Body()) != "xy" {
				t.Errorf("overrides %d ignored %d body %q", res.ModeOverrides, res.ModeOverridesIgnored, rec.Body())
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
