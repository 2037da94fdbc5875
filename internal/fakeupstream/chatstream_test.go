package fakeupstream

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestChatStreamShape(t *testing.T) {
	type streamCase struct {
		chatCase
		includeUsage, obfuscation bool
	}
	var cases []streamCase
	for _, tc := range chatCases() {
		if tc.fields == `"stream":false` {
			continue
		}
		for _, usage := range []bool{false, true} {
			fields := `"stream":true`
			if usage {
				fields += `,"stream_options":{"include_usage":true}`
			}
			if tc.fields != "" {
				fields += "," + tc.fields
			}
			c := tc
			c.fields = fields
			c.name = tc.name + map[bool]string{false: "", true: " include_usage"}[usage]
			cases = append(cases, streamCase{chatCase: c, includeUsage: usage})
		}
	}
	cases = append(cases,
		streamCase{chatCase: chatCase{name: "include_usage false", fields: `"stream":true,"stream_options":{"include_usage":false}`,
			prompt: 9, perChoice: 16, choices: 1, finish: "stop"}},
		streamCase{chatCase: chatCase{name: "obfuscation", opts: Options{Obfuscation: true}, fields: `"stream":true,"max_tokens":3`,
			prompt: 9, perChoice: 3, choices: 1, finish: "length"}, obfuscation: true},
		streamCase{chatCase: chatCase{name: "obfuscation turned off by request", opts: Options{Obfuscation: true},
			fields: `"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}`,
			prompt: 9, perChoice: 16, choices: 1, finish: "stop"}, includeUsage: true},
	)

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			r := post(t, ts, "/v1/chat/completions", withFields(tc.fields), tc.headers...)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.header.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
				t.Errorf("content-type %q", got)
			}
			if got := r.header.Get("Content-Length"); got != "" {
				t.Errorf("content-length %q on a stream", got)
			}
			evs := splitEvents(t, r.body)
			if last := evs[len(evs)-1]; last != (event{data: "[DONE]"}) {
				t.Fatalf("last event %+v, want data: [DONE]", last)
			}
			chunks := evs[:len(evs)-1]
			wantChunks := tc.choices*(2+tc.perChoice) + map[bool]int{false: 0, true: 1}[tc.includeUsage]
			if len(chunks) != wantChunks {
				t.Fatalf("%d chunks, want %d:\n%s", len(chunks), wantChunks, r.body)
			}

			texts := make([]string, tc.choices)
			for i, ev := range chunks {
				if ev.name != "" {
					t.Errorf("chunk %d has event name %q", i, ev.name)
				}
				raw := []byte(ev.data)
				var top map[string]json.RawMessage
				if err := json.Unmarshal(raw, &top); err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				wantKeys := []string{"choices", "created", "id", "model", "object", "service_tier", "system_fingerprint"}
				if tc.includeUsage {
					wantKeys = append(wantKeys, "usage")
				}
				if tc.obfuscation {
					wantKeys = append(wantKeys, "obfuscation")
				}
				slices.Sort(wantKeys)
				if diff := cmp.Diff(wantKeys, slices.Sorted(maps.Keys(top))); diff != "" {
					t.Errorf("chunk %d keys (-want +got):\n%s", i, diff)
				}
				usageChunk := tc.includeUsage && i == len(chunks)-1
				if got := strings.Contains(ev.data, `"usage":null`); got != (tc.includeUsage && !usageChunk) {
					t.Errorf(`chunk %d: "usage":null present = %v: %s`, i, got, ev.data)
				}
				var c chatChunk
				if err := json.Unmarshal(raw, &c); err != nil {
					t.Fatalf("chunk %d: %v", i, err)
				}
				if c.Object != "chat.completion.chunk" || c.Model != "gpt-4o-mini" || c.Created != FixedCreated || !strings.HasPrefix(c.ID, "chatcmpl-") {
					t.Errorf("chunk %d header fields: %s", i, ev.data)
				}
				if usageChunk {
					if string(top["choices"]) != "[]" {
						t.Errorf("usage chunk choices %s, want []", top["choices"])
					}
					var u usageBody
					if err := json.Unmarshal(c.Usage, &u); err != nil {
						t.Fatal(err)
					}
					want := newUsageBody(Usage{PromptTokens: tc.prompt, CompletionTokens: tc.perChoice * tc.choices})
					if diff := cmp.Diff(want, u); diff != "" {
						t.Errorf("usage (-want +got):\n%s", diff)
					}
					continue
				}
				if len(c.Choices) != 1 {
					t.Fatalf("chunk %d has %d choices: %s", i, len(c.Choices), ev.data)
				}
				ch := c.Choices[0]
				var choices []map[string]json.RawMessage
				if err := json.Unmarshal(top["choices"], &choices); err != nil {
					t.Fatal(err)
				}
				choice := choices[0]
				delta := string(choice["delta"])
				switch {
				case i < tc.choices: // role chunks, one per choice, first
					if delta != `{"role":"assistant","content":"","refusal":null}` || ch.Index != i || ch.FinishReason != nil {
						t.Errorf("role chunk %d: %s", i, ev.data)
					}
				case i >= len(chunks)-tc.choices-boolInt(tc.includeUsage): // finish chunks
					if delta != `{}` || ch.FinishReason == nil || *ch.FinishReason != tc.finish {
						t.Errorf("finish chunk %d: %s", i, ev.data)
					}
				default:
					if !strings.HasPrefix(delta, `{"content":"`) || ch.FinishReason != nil || string(choice["logprobs"]) != "null" {
						t.Errorf("content chunk %d: %s", i, ev.data)
					}
					texts[ch.Index] += *ch.Delta.Content
				}
			}
			for c, text := range texts {
				if want := completionText(c, tc.perChoice); text != want {
					t.Errorf("choice %d streamed %q, want %q", c, text, want)
				}
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestChatStreamGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		opts   Options
		fields string
	}{
		{"chat_stream.sse", Options{}, `"stream":true,"max_tokens":3`},
		{"chat_stream_usage.sse", Options{}, `"stream":true,"stream_options":{"include_usage":true},"max_tokens":3`},
		{"chat_stream_n2_obfuscated.sse", Options{Obfuscation: true}, `"stream":true,"stream_options":{"include_usage":true},"n":2,"max_tokens":2`},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			r := post(t, ts, "/v1/chat/completions", withFields(tc.fields))
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			golden(t, tc.golden, r.body)
		})
	}
}

// TestChatStreamUsageIsTheOnlyDifference pins down exactly what
// include_usage adds, which is what tokengate must strip when it injected
// the option: `,"usage":null` in every chunk, and the usage chunk before
// [DONE]. Nothing else varies, so the two streams compare byte for byte.
func TestChatStreamUsageIsTheOnlyDifference(t *testing.T) {
	_, ts := start(t, Options{})
	for _, fields := range []string{`"max_tokens":7`, `"n":3`, `"max_completion_tokens":40`} {
		plain := post(t, ts, "/v1/chat/completions", withFields(`"stream":true,`+fields))
		again := post(t, ts, "/v1/chat/completions", withFields(`"stream":true,`+fields))
		if string(plain.body) != string(again.body) {
			t.Fatalf("%s: the same request gave different streams", fields)
		}
		withUsage := post(t, ts, "/v1/chat/completions", withFields(`"stream":true,"stream_options":{"include_usage":true},`+fields))
		evs := splitEvents(t, withUsage.body)
		usageEvent := "data: " + evs[len(evs)-2].data + "\n\n"
		if !strings.Contains(usageEvent, `"choices":[]`) {
			t.Fatalf("%s: second-to-last event is not the usage chunk: %s", fields, usageEvent)
		}
		stripped := strings.ReplaceAll(strings.Replace(string(withUsage.body), usageEvent, "", 1), `,"usage":null`, "")
		if stripped != string(plain.body) {
			t.Errorf("%s: stripped include_usage stream differs:\n%s\nplain:\n%s", fields, stripped, plain.body)
		}
	}
}

// x-fake-line-end changes every line end of a stream and nothing else, in
// both APIs.
func TestStreamLineEnds(t *testing.T) {
	_, ts := start(t, Options{})
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", withFields(`"stream":true,"stream_options":{"include_usage":true},"max_tokens":5`)},
		{"/v1/messages", haikuWith(`"max_tokens":5,"stream":true`)},
	} {
		lf := post(t, ts, c.path, c.body)
		if lf.status != 200 || !strings.HasSuffix(string(lf.body), "\n\n") {
			t.Fatalf("%s: status %d, body %q", c.path, lf.status, tail(lf.body))
		}
		if again := post(t, ts, c.path, c.body, "x-fake-line-end: lf"); string(again.body) != string(lf.body) {
			t.Errorf("%s: lf is not the default", c.path)
		}
		for knob, eol := range map[string]string{"crlf": "\r\n", "cr": "\r"} {
			got := post(t, ts, c.path, c.body, "x-fake-line-end: "+knob)
			if want := strings.ReplaceAll(string(lf.body), "\n", eol); string(got.body) != want {
				t.Errorf("%s with %s:\n%q\nwant\n%q", c.path, knob, got.body, want)
			}
		}
	}
}

// A stream cut by x-fake-cut-after stops after N content chunks with no
// finish, no usage and no [DONE], and the client sees a truncated body.
func TestChatStreamCut(t *testing.T) {
	fake, ts := start(t, Options{})
	body := withFields(`"stream":true,"stream_options":{"include_usage":true}`)
	for _, cut := range []int{0, 1, 5, 16} {
		got := postPartial(t, ts, "/v1/chat/completions", body, "x-fake-cut-after: "+strconv.Itoa(cut))
		if got.err == nil {
			t.Errorf("cut %d: body read ended cleanly, want an unexpected EOF", cut)
		}
		evs := splitEvents(t, got.body)
		if len(evs) != 1+cut {
			t.Errorf("cut %d: %d events before the cut, want role chunk + %d:\n%s", cut, len(evs), cut, got.body)
		}
		if strings.Contains(string(got.body), "[DONE]") || strings.Contains(string(got.body), "finish_reason\":\"") {
			t.Errorf("cut %d: stream finished anyway:\n%s", cut, got.body)
		}
		if u := fake.LastRequest().Usage; u != (Usage{PromptTokens: 9, CompletionTokens: 16}) {
			t.Errorf("cut %d: captured usage %+v", cut, u)
		}
	}
	// A cut beyond the completion never happens: the stream ends normally.
	got := postPartial(t, ts, "/v1/chat/completions", body, "x-fake-cut-after: 17")
	if got.err != nil || !strings.HasSuffix(string(got.body), "data: [DONE]\n\n") {
		t.Errorf("cut 17 of 16: err %v, body %q", got.err, tail(got.body))
	}
}
