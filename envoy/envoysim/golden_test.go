package envoysim

import (
	"net/http"
	"strconv"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
)

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Olá!"}],"stream":true}`

// chatRequestHeaders is the request_headers message for chatRequest(chatBody):
// pseudo-headers first, raw_value only (envoy-ext-proc.md E15, E50, E62).
func chatRequestHeaders(eos bool) *extprocv3.ProcessingRequest {
	return withConfig(headersMsg(KindRequestHeaders, eos,
		":authority", "llm.internal:10000",
		":path", "/v1/chat/completions",
		":method", "POST",
		":scheme", "http",
		"authorization", "Bearer sk-test-1",
		"content-length", strconv.Itoa(len(chatBody)),
		"content-type", "application/json",
		"x-request-id", "4d5c5f5e-0000-4000-8000-000000000001",
	))
}

// TestGoldenNonStreamedJSON checks the full sequence of E68 + E69: both the
// whole body arriving during the header round trip (E69a, E30 whole-body
// case) and one message per upstream read (E69b).
func TestGoldenNonStreamedJSON(t *testing.T) {
	const part1 = `{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Oi!"}}],`
	const part2 = `"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}`
	respHeaders := func() *extprocv3.ProcessingRequest {
		return headersMsg(KindResponseHeaders, false,
			":status", "200",
			"content-length", strconv.Itoa(len(part1+part2)), // E51: the processor sees it
			"content-type", "application/json",
			"date", "Fri, 01 May 2026 12:00:00 GMT",
			"server", "uvicorn",
			"x-envoy-upstream-service-time", "0", // E63
		)
	}
	tests := []struct {
		name       string
		early      int
		wantMsgs   []*extprocv3.ProcessingRequest
		wantChunks []string
		wantClose  CloseCause
	}{{
		name:  "whole body before header reply",
		early: 2,
		wantMsgs: []*extprocv3.ProcessingRequest{
			chatRequestHeaders(false),
			bodyMsg(KindRequestBody, chatBody, true),
			respHeaders(),
			bodyMsg(KindResponseBody, part1+part2, true),
		},
		wantChunks: []string{part1 + part2},
		wantClose:  CloseStreamEnd, // E69a: BUFFERED-like reply is not "last" (E6c)
	}, {
		name:  "one message per read",
		early: 0,
		wantMsgs: []*extprocv3.ProcessingRequest{
			chatRequestHeaders(false),
			bodyMsg(KindRequestBody, chatBody, true),
			respHeaders(),
			bodyMsg(KindResponseBody, part1, false),
			bodyMsg(KindResponseBody, part2, true),
		},
		wantChunks: []string{part1, part2},
		wantClose:  CloseLastReply, // E6c
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, continueAll)
			f := newFilter(client, Options{Now: fixedClock})
			up := &ScriptedUpstream{
				Header: http.Header{
					"Content-Type":   {"application/json"},
					"Content-Length": {strconv.Itoa(len(part1 + part2))},
					"Date":           {"Fri, 01 May 2026 12:00:00 GMT"},
					"Server":         {"uvicorn"},
				},
				Chunks:                  [][]byte{[]byte(part1), []byte(part2)},
				ArriveBeforeHeaderReply: tt.early,
			}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			if d := diffMessages(tt.wantMsgs, p.messages()); d != "" {
				t.Fatalf("messages (-want +got):\n%s", d)
			}
			if got := rec.Status(); got != http.StatusOK {
				t.Errorf("status = %d, want 200", got)
			}
			if cl := rec.Header().Get("Content-Length"); cl != "" {
				t.Errorf("client got content-length %q; STREAMED strips it (E51, E53)", cl)
			}
			if d := cmp.Diff(tt.wantChunks, chunkStrings(rec)); d != "" {
				t.Errorf("client chunks (-want +got):\n%s", d)
			}
			if res.Close != tt.wantClose {
				t.Errorf("close = %q, want %q", res.Close, tt.wantClose)
			}
			if got := up.Request().Header.Get("Content-Length"); got != strconv.Itoa(len(chatBody)) {
				t.Errorf("upstream content-length = %q; BUFFERED with headers SEND keeps it (E52)", got)
			}
		})
	}
}

// TestGoldenSSE checks E70: events that arrived during the header round trip
// go out coalesced as the first body message (E30), later reads one by one,
// the last an empty end_of_stream chunk; the stream is closed right after
// the reply to it (E6c).
func TestGoldenSSE(t *testing.T) {
	chunks := []string{
		"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n",
		"data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"O",
		"i\"}}]}\n\ndata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n",
		"data: [DONE]\n\n",
		"",
	}
	p, client := startProcessor(t, continueAll)
	f := newFilter(client, Options{Now: fixedClock})
	up := &ScriptedUpstream{
		Header:                  http.Header{"Content-Type": {"text/event-stream"}, "Cache-Control": {"no-cache"}},
		Chunks:                  byteChunks(chunks),
		ArriveBeforeHeaderReply: 2,
	}
	res, rec := serve(t, f, chatRequest(chatBody), up)
	p.waitEnd(t)
	want := []*extprocv3.ProcessingRequest{
		chatRequestHeaders(false),
		bodyMsg(KindRequestBody, chatBody, true),
		headersMsg(KindResponseHeaders, false,
			":status", "200",
			"cache-control", "no-cache",
			"content-type", "text/event-stream",
			"x-envoy-upstream-service-time", "0"),
		bodyMsg(KindResponseBody, chunks[0]+chunks[1], false),
		bodyMsg(KindResponseBody, chunks[2], false),
		bodyMsg(KindResponseBody, chunks[3], false),
		bodyMsg(KindResponseBody, "", true),
	}
	if d := diffMessages(want, p.messages()); d != "" {
		t.Fatalf("messages (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{chunks[0] + chunks[1], chunks[2], chunks[3]}, chunkStrings(rec)); d != "" {
		t.Errorf("client chunks (-want +got):\n%s", d)
	}
	if res.Close != CloseLastReply {
		t.Errorf("close = %q, want %q", res.Close, CloseLastReply)
	}
	wantCounts := map[MessageKind]int{KindRequestHeaders: 1, KindRequestBody: 1, KindResponseHeaders: 1, KindResponseBody: 4}
	if d := cmp.Diff(wantCounts, res.Sent); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantCounts, res.Received); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
}

// TestGoldenBodilessRequest checks E68 for GET: request_headers with
// end_of_stream=true and no request_body (E16), then the response.
func TestGoldenBodilessRequest(t *testing.T) {
	p, client := startProcessor(t, continueAll)
	f := newFilter(client, Options{Now: fixedClock})
	req := &Request{Method: http.MethodGet, Path: "/v1/models", Authority: "llm.internal:10000", Scheme: "http",
		Header: http.Header{"Authorization": {"Bearer sk-test-1"}}}
	up := &ScriptedUpstream{Header: http.Header{"Content-Type": {"application/json"}}, Chunks: byteChunks([]string{`{"data":[]}`})}
	res, rec := serve(t, f, req, up)
	p.waitEnd(t)
	want := []*extprocv3.ProcessingRequest{
		withConfig(headersMsg(KindRequestHeaders, true,
			":authority", "llm.internal:10000", ":path", "/v1/models", ":method", "GET", ":scheme", "http",
			"authorization", "Bearer sk-test-1")),
		headersMsg(KindResponseHeaders, false, ":status", "200", "content-type", "application/json", "x-envoy-upstream-service-time", "0"),
		bodyMsg(KindResponseBody, `{"data":[]}`, true),
	}
	if d := diffMessages(want, p.messages()); d != "" {
		t.Fatalf("messages (-want +got):\n%s", d)
	}
	if string(rec.Body()) != `{"data":[]}` || !res.UpstreamCalled {
		t.Errorf("body %q, upstream called %v", rec.Body(), res.UpstreamCalled)
	}
}

// TestHeadersOnlyResponses checks E65 and E16: HEAD, 204, 304 and bodiless
// responses send response_headers with end_of_stream=true and nothing else;
// the stream closes after that reply (E6c); content-length is still stripped
// for the client (E53).
func TestHeadersOnlyResponses(t *testing.T) {
	tests := []struct {
		name   string
		method string
		status int
		chunks [][]byte
	}{
		{"HEAD", http.MethodHead, 200, [][]byte{[]byte("ignored")}},
		{"204", http.MethodGet, 204, nil},
		{"304", http.MethodGet, 304, [][]byte{}},
		{"no body", http.MethodGet, 200, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, continueAll)
			f := newFilter(client, Options{Now: fixedClock})
			req := &Request{Method: tt.method, Path: "/health", Authority: "llm.internal"}
			up := &ScriptedUpstream{Status: tt.status, Header: http.Header{"Content-Length": {"7"}}, Chunks: tt.chunks}
			res, rec := serve(t, f, req, up)
			p.waitEnd(t)
			got := p.messages()
			if d := cmp.Diff([]MessageKind{KindRequestHeaders, KindResponseHeaders}, p.kinds()); d != "" {
				t.Fatalf("kinds (-want +got):\n%s", d)
			}
			if !got[1].GetResponseHeaders().GetEndOfStream() {
				t.Error("response_headers.end_of_stream = false, want true")
			}
			if res.Close != CloseLastReply {
				t.Errorf("close = %q, want %q", res.Close, CloseLastReply)
			}
			if rec.Status() != tt.status || len(rec.Body()) != 0 || rec.Header().Get("Content-Length") != "" {
				t.Errorf("client got %d %v %q", rec.Status(), rec.Header(), rec.Body())
			}
		})
	}
}

func byteChunks(s []string) [][]byte {
	out := make([][]byte, len(s))
	for i, c := range s {
		out[i] = []byte(c)
	}
	return out
}

func chunkStrings(rec *Recorder) []string {
	var out []string
	for _, c := range rec.Chunks() {
		out = append(out, string(c))
	}
	return out
}
