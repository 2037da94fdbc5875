package extproc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// streamServer serves every streamExchange: the tests feed thousands of
// streams, and a Server costs more to make than an exchange.
var streamServer = sync.OnceValues(func() (*Server, error) {
	return New(memledger.New(memledger.Options{}), UserHeader{Header: "x-user-email", Allowance: 1000}, Options{})
})

// streamExchange is an exchange in the response phase of a streamed chat
// completion for which tokengate asked for usage on the client's behalf.
func streamExchange(t testing.TB) *exchange {
	t.Helper()
	s, err := streamServer()
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
func passStream(t testing.TB, pieces ...string) (string, *exchange) {
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
// usage, byte for byte, at every cut and in small chunks, and the usage must
// be read. Each stream is written with LF line ends and also run with CRLF
// and lone CR, which must come through as they are.
func TestRewriteRemovesInjectedUsageAtEveryCut(t *testing.T) {
	const content = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Oi"},"finish_reason":null}],"usage":null}`
	const contentClean = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Oi"},"finish_reason":null}]}`
	const usage = `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":1,"total_tokens":12}}`
	tests := []struct {
		name, in, want string
		lf             bool // as written only: the line ends are the point
	}{
		{
			name: "openai",
			in:   content + "\n\n" + usage + "\n\n" + "data: [DONE]\n\n",
			want: contentClean + "\n\n" + "data: [DONE]\n\n",
		},
		{
			name: "comments",
			in:   ": keep-alive\n\n" + content + "\n\n" + usage + "\n\ndata: [DONE]\n\n",
			want: ": keep-alive\n\n" + contentClean + "\n\n" + "data: [DONE]\n\n",
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
			name: "stripped chunk last, unterminated",
			in:   usage + "\n\n" + content,
			want: contentClean,
		},
		{
			name: "stripped chunk last, one line end",
			in:   usage + "\n\n" + content + "\n",
			want: contentClean + "\n",
		},
		{
			// A cut across data lines keeps their line ends: a newline in
			// the data between two JSON tokens.
			name: "json over several data lines",
			in:   "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}],\ndata: \"usage\":null}\n\n" + usage + "\n\n",
			want: "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]\ndata: }\n\n",
		},
		{
			name: "json over several data lines, kept apart",
			in:   "data: {\"id\":\"c\",\"usage\":null,\ndata: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n" + usage + "\n\n",
			want: "data: {\"id\":\"c\",\ndata: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n",
		},
		{
			name: "usage first, over a line",
			in:   "data: {\"usage\":\ndata: null,\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n" + usage + "\n\n",
			want: "data: {\ndata: \"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Oi\"}}]}\n\n",
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
			name: "event type, id and comment kept",
			in:   "event: chunk\n: relayed\nid: 7\n" + content + "\nretry: 1000\n\n" + usage + "\n\n",
			want: "event: chunk\n: relayed\nid: 7\n" + contentClean + "\nretry: 1000\n\n",
		},
		{
			name: "no space after the colon",
			in:   "data:" + content[len("data: "):] + "\n\ndata:" + usage[len("data: "):] + "\n\n",
			want: "data:" + contentClean[len("data: "):] + "\n\n",
		},
		{
			name: "a bare data line",
			in:   content + "\ndata\n\n" + usage + "\n\n",
			want: contentClean + "\ndata\n\n",
		},
		{
			name: "mixed line ends",
			in:   ": ping\r\n\r\nevent: chunk\r" + content + "\r\n\n" + usage + "\r\r" + content + "\n\r\n",
			want: ": ping\r\n\r\nevent: chunk\r" + contentClean + "\r\n\n" + contentClean + "\n\r\n",
			lf:   true,
		},
	}
	for _, tt := range tests {
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			if tt.lf && eol != "\n" {
				continue
			}
			in, want := strings.ReplaceAll(tt.in, "\n", eol), strings.ReplaceAll(tt.want, "\n", eol)
			t.Run(fmt.Sprintf("%s %q", tt.name, eol), func(t *testing.T) {
				whole, ex := passStream(t, in)
				if whole != want {
					t.Fatalf("whole: got\n%q\nwant\n%q", whole, want)
				}
				if !ex.haveUsage || ex.usage.Prompt != 11 || ex.usage.Completion != 1 {
					t.Fatalf("usage %+v (have %v)", ex.usage, ex.haveUsage)
				}
				for c := 0; c <= len(in); c++ {
					for _, d := range []int{c, min(c+1, len(in)), min(c+37, len(in))} {
						got, ex := passStream(t, in[:c], in[c:d], in[d:])
						if got != want || !ex.haveUsage {
							t.Fatalf("cut at %d and %d: got\n%q\nwant\n%q", c, d, got, want)
						}
					}
				}
				for _, size := range []int{1, 2, 3, 5} {
					var pieces []string
					for i := 0; i < len(in); i += size {
						pieces = append(pieces, in[i:min(i+size, len(in))])
					}
					if got, ex := passStream(t, pieces...); got != want || !ex.haveUsage {
						t.Fatalf("chunks of %d: got\n%q\nwant\n%q", size, got, want)
					}
				}
			})
		}
	}
}

// cutDataLines removes exactly the data bytes at the cuts, wherever the
// data lines and their line ends put them.
func TestCutDataLines(t *testing.T) {
	tests := []struct {
		event string
		cuts  []openai.Cut // in the data: the values joined by '\n'
		want  string
	}{
		{"data: abcdef\n\n", []openai.Cut{{Start: 1, End: 3}}, "data: adef\n\n"},
		{"data: abcdef\r\n\r\n", []openai.Cut{{Start: 0, End: 1}, {Start: 5, End: 6}}, "data: bcde\r\n\r\n"},
		{"data:abc\rdata: def\r\r", []openai.Cut{{Start: 2, End: 5}}, "data:ab\rdata: ef\r\r"},
		{"data: abc\n: note\nid: 1\ndata: def", []openai.Cut{{Start: 1, End: 6}}, "data: a\n: note\nid: 1\ndata: f"},
		{"event: x\ndata\ndata: ab\n\n", []openai.Cut{{Start: 0, End: 2}}, "event: x\ndata\ndata: b\n\n"},
		{"data: ab\ndata: cd\ndata: ef\n\n", []openai.Cut{{Start: 1, End: 7}}, "data: a\ndata: \ndata: f\n\n"},
		{"data: ab\ndata: cd\n\n", []openai.Cut{{Start: 2, End: 3}}, "data: ab\ndata: cd\n\n"},
		{"datum: ab\ndata:  ab\n\n", []openai.Cut{{Start: 0, End: 1}}, "datum: ab\ndata: ab\n\n"},
	}
	for _, tt := range tests {
		out := append([]byte("kept"), tt.event...)
		if got := string(cutDataLines(out, len("kept"), tt.cuts)); got != "kept"+tt.want {
			t.Errorf("cutDataLines(%q, %v) = %q, want %q", tt.event, tt.cuts, got, "kept"+tt.want)
		}
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
