package extproc

import (
	"context"
	"strings"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// streamExchange is an exchange in the response phase of a streamed chat
// completion for which tokengate asked for usage on the client's behalf.
func streamExchange(t *testing.T) *exchange {
	t.Helper()
	s, err := New(memledger.New(memledger.Options{}), UserHeader{Header: "x-user-email", Allowance: 1000}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ex := s.newExchange(context.Background())
	ex.admitted, ex.held, ex.eventStream, ex.stripUsage = true, true, true, true
	ex.acct, ex.id = quota.Account{ID: "ana@example.com"}, "r1"
	return ex
}

// passStream feeds the stream to a fresh exchange in the given pieces and
// returns what the client receives.
func passStream(t *testing.T, pieces ...string) (string, *exchange) {
	t.Helper()
	ex := streamExchange(t)
	var got strings.Builder
	for i, p := range pieces {
		chunk := []byte(p)
		resp := ex.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
			ResponseBody: &extprocv3.HttpBody{Body: chunk, EndOfStream: i == len(pieces)-1}}})
		if m := resp.GetResponseBody().GetResponse().GetBodyMutation(); m != nil {
			got.Write(m.GetBody())
		} else {
			got.Write(chunk)
		}
	}
	return got.String(), ex
}

// Streams in shapes that are not OpenAI's canonical framing, with the usage
// tokengate asked for in each: the client must get the stream minus that
// usage, at every cut, and the usage must be read.
func TestRewriteRemovesInjectedUsageAtEveryCut(t *testing.T) {
	const content = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Oi"},"finish_reason":null}],"usage":null}`
	const contentClean = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Oi"},"finish_reason":null}]}`
	const usage = `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":1,"total_tokens":12}}`
	tests := []struct {
		name, in, want string
	}{
		{
			name: "openai",
			in:   content + "\n\n" + usage + "\n\n" + "data: [DONE]\n\n",
			want: contentClean + "\n\n" + "data: [DONE]\n\n",
		},
		{
			name: "crlf and comments",
			in:   ": keep-alive\r\n\r\n" + content + "\r\n\r\n" + usage + "\r\n\r\ndata: [DONE]\r\n\r\n",
			want: ": keep-alive\r\n\r\n" + contentClean + "\n\n" + "data: [DONE]\r\n\r\n",
		},
		{
			name: "no blank line at the end",
			in:   content + "\n\n" + usage + "\n\ndata: [DONE]\n",
			want: contentClean + "\n\n" + "data: [DONE]\n",
		},
		{
			name: "usage chunk last, unterminated",
			in:   content + "\n\n" + usage,
			want: contentClean + "\n\n",
		},
		{
			name: "json over several data lines",
			in:   "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}],\ndata: \"usage\":null}\n\n" + usage + "\n\n",
			want: "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n",
		},
		{
			name: "json over several data lines, kept apart",
			in:   "data: {\"id\":\"c\",\"usage\":null,\ndata: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n" + usage + "\n\n",
			want: "data: {\"id\":\"c\",\ndata: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n",
		},
		{
			name: "litellm usage chunk with an empty delta",
			in:   content + "\n\n" + `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{}}],"usage":{"prompt_tokens":11,"completion_tokens":1,"total_tokens":12}}` + "\n\ndata: [DONE]\n\n",
			want: contentClean + "\n\ndata: [DONE]\n\n",
		},
		{
			name: "usage in the finish chunk",
			in:   content + "\n\n" + `data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":1,"total_tokens":12}}` + "\n\n",
			want: contentClean + "\n\n" + `data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n",
		},
		{
			name: "event type kept",
			in:   "event: chunk\n" + content + "\n\n" + usage + "\n\n",
			want: "event: chunk\n" + contentClean + "\n\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			whole, ex := passStream(t, tt.in)
			if whole != tt.want {
				t.Fatalf("whole: got\n%q\nwant\n%q", whole, tt.want)
			}
			if !ex.haveUsage || ex.usage.Prompt != 11 || ex.usage.Completion != 1 {
				t.Fatalf("usage %+v (have %v)", ex.usage, ex.haveUsage)
			}
			for c := 0; c <= len(tt.in); c++ {
				for _, d := range []int{c, min(c+1, len(tt.in)), min(c+37, len(tt.in))} {
					got, ex := passStream(t, tt.in[:c], tt.in[c:d], tt.in[d:])
					if got != tt.want || !ex.haveUsage {
						t.Fatalf("cut at %d and %d: got\n%q\nwant\n%q", c, d, got, tt.want)
					}
				}
			}
		})
	}
}

// An event too large to be a usage chunk is passed through as it comes
// instead of being held back without bound.
func TestRewriteDoesNotHoldAHugeEvent(t *testing.T) {
	huge := "data: {\"choices\":[{\"delta\":{\"content\":\"" + strings.Repeat("a", 2*maxHeldEvent) + "\"}}]}\n\n"
	half := len(huge) / 2
	ex := streamExchange(t)
	resp := ex.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: []byte(huge[:half])}}})
	if m := resp.GetResponseBody().GetResponse().GetBodyMutation(); m != nil && len(m.GetBody()) < half {
		t.Fatalf("held back %d bytes of an unfinished event", half-len(m.GetBody()))
	}
	if len(ex.carry) > 0 {
		t.Fatalf("carry holds %d bytes", len(ex.carry))
	}
}

// Trailers are not part of tokengate's mode, but a deployment that sends
// them first must get a reply, not a crashed process.
func TestTrailersFirst(t *testing.T) {
	ex := streamExchange(t)
	resp := ex.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestTrailers{
		RequestTrailers: &extprocv3.HttpTrailers{}}})
	if resp.GetRequestTrailers() == nil {
		t.Fatalf("reply %v", resp)
	}
}
