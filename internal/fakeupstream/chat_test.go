package fakeupstream

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sayHello costs 9 prompt tokens: 3 priming + 3 for the message + ceil(9/4).
const sayHello = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]%s}`

func withFields(extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return strings.Replace(sayHello, "%s", extra, 1)
}

type chatCase struct {
	name    string
	opts    Options
	fields  string   // extra top-level fields for sayHello
	headers []string // x-fake-* knobs
	// want
	prompt, perChoice, choices int
	finish                     string
}

func chatCases() []chatCase {
	return []chatCase{
		{name: "defaults", prompt: 9, perChoice: 16, choices: 1, finish: "stop"},
		{name: "max_tokens caps", fields: `"max_tokens":5`, prompt: 9, perChoice: 5, choices: 1, finish: "length"},
		{name: "max_completion_tokens caps", fields: `"max_completion_tokens":3`, prompt: 9, perChoice: 3, choices: 1, finish: "length"},
		{name: "cap equal to natural length is a stop", fields: `"max_completion_tokens":16`, prompt: 9, perChoice: 16, choices: 1, finish: "stop"},
		{name: "cap above natural length", fields: `"max_tokens":4096`, prompt: 9, perChoice: 16, choices: 1, finish: "stop"},
		{name: "null caps are absent", fields: `"max_tokens":null,"max_completion_tokens":null`, prompt: 9, perChoice: 16, choices: 1, finish: "stop"},
		{name: "options fix usage", opts: Options{PromptTokens: 100, CompletionTokens: 40}, prompt: 100, perChoice: 40, choices: 1, finish: "stop"},
		{name: "options usage still capped", opts: Options{CompletionTokens: 40}, fields: `"max_tokens":10`, prompt: 9, perChoice: 10, choices: 1, finish: "length"},
		{name: "default completion", opts: Options{DefaultCompletion: 2}, prompt: 9, perChoice: 2, choices: 1, finish: "stop"},
		{name: "header knobs win over options", opts: Options{PromptTokens: 100, CompletionTokens: 40},
			headers: []string{"x-fake-prompt-tokens: 7", "x-fake-completion-tokens: 3"}, prompt: 7, perChoice: 3, choices: 1, finish: "stop"},
		{name: "zero completion tokens", headers: []string{"x-fake-completion-tokens: 0"}, prompt: 9, perChoice: 0, choices: 1, finish: "stop"},
		{name: "n choices, cap per choice", fields: `"n":3,"max_tokens":4`, prompt: 9, perChoice: 4, choices: 3, finish: "length"},
		{name: "stream false", fields: `"stream":false`, prompt: 9, perChoice: 16, choices: 1, finish: "stop"},
	}
}

func TestChatCompletionShape(t *testing.T) {
	for _, tc := range chatCases() {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			r := post(t, ts, "/v1/chat/completions", withFields(tc.fields), tc.headers...)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("content-type %q", got)
			}
			if got := r.header.Get("Content-Length"); got != strconv.Itoa(len(r.body)) {
				t.Errorf("content-length %q, body is %d bytes", got, len(r.body))
			}
			if !strings.HasPrefix(r.header.Get("x-request-id"), "req_") {
				t.Errorf("x-request-id %q", r.header.Get("x-request-id"))
			}
			assertKeys(t, r.body)

			var c chatCompletion
			if err := json.Unmarshal(r.body, &c); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(c.ID, "chatcmpl-") || len(c.ID) != len("chatcmpl-")+29 {
				t.Errorf("id %q", c.ID)
			}
			if c.Object != "chat.completion" || c.Created != FixedCreated || c.Model != "gpt-4o-mini" ||
				c.ServiceTier != "default" || !strings.HasPrefix(c.SystemFingerprint, "fp_") {
				t.Errorf("header fields: %+v", c)
			}
			if len(c.Choices) != tc.choices {
				t.Fatalf("%d choices, want %d", len(c.Choices), tc.choices)
			}
			for i, ch := range c.Choices {
				if ch.Index != i || ch.FinishReason != tc.finish || ch.Message.Role != "assistant" {
					t.Errorf("choice %d: %+v", i, ch)
				}
				if got := countWords(ch.Message.Content); got != tc.perChoice {
					t.Errorf("choice %d has %d tokens of text (%q), want %d", i, got, ch.Message.Content, tc.perChoice)
				}
			}
			want := newUsageBody(Usage{PromptTokens: tc.prompt, CompletionTokens: tc.perChoice * tc.choices})
			if diff := cmp.Diff(want, c.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}
		})
	}
}

// assertKeys checks the exact key sets and null/empty values of a
// non-streamed body, which typed decoding cannot see.
func assertKeys(t *testing.T, body []byte) {
	t.Helper()
	var top map[string]any
	if err := json.Unmarshal(body, &top); err != nil {
		t.Fatal(err)
	}
	keys := func(m any) []string { return slices.Sorted(maps.Keys(m.(map[string]any))) }
	want := map[string][]string{
		"top":     {"choices", "created", "id", "model", "object", "service_tier", "system_fingerprint", "usage"},
		"choice":  {"finish_reason", "index", "logprobs", "message"},
		"message": {"annotations", "content", "refusal", "role"},
		"usage":   {"completion_tokens", "completion_tokens_details", "prompt_tokens", "prompt_tokens_details", "total_tokens"},
		"prompt":  {"audio_tokens", "cached_tokens"},
		"compl":   {"accepted_prediction_tokens", "audio_tokens", "reasoning_tokens", "rejected_prediction_tokens"},
	}
	choice := top["choices"].([]any)[0].(map[string]any)
	msg := choice["message"].(map[string]any)
	usage := top["usage"].(map[string]any)
	got := map[string][]string{
		"top": keys(top), "choice": keys(choice), "message": keys(msg), "usage": keys(usage),
		"prompt": keys(usage["prompt_tokens_details"]), "compl": keys(usage["completion_tokens_details"]),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if msg["refusal"] != nil || choice["logprobs"] != nil {
		t.Errorf("refusal %v, logprobs %v: want null", msg["refusal"], choice["logprobs"])
	}
	if a, ok := msg["annotations"].([]any); !ok || len(a) != 0 {
		t.Errorf("annotations %v: want []", msg["annotations"])
	}
}

func TestChatCompletionGolden(t *testing.T) {
	for _, tc := range []struct {
		golden string
		opts   Options
		body   string
	}{
		{"chat.json", Options{}, withFields(`"max_tokens":5`)},
		{"chat_indented.json", Options{IndentJSON: true}, withFields(`"max_tokens":5`)},
		{"chat_tools.json", Options{}, readFixture(t, "chat_tools.json")},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			r := post(t, ts, "/chat/completions", tc.body)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			golden(t, tc.golden, r.body)
		})
	}
}

func TestChatCompletionIsDeterministic(t *testing.T) {
	_, ts := start(t, Options{})
	first := post(t, ts, "/v1/chat/completions", withFields(`"n":2`))
	second := post(t, ts, "/v1/chat/completions", withFields(`"n":2`))
	if string(first.body) != string(second.body) {
		t.Fatalf("same request, different bodies:\n%s\n%s", first.body, second.body)
	}
	if first.header.Get("x-request-id") != second.header.Get("x-request-id") {
		t.Fatal("same request, different x-request-id")
	}
}

func TestUniqueIDsAndNow(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) }
	_, ts := start(t, Options{UniqueIDs: true, Now: now})
	var ids []string
	for range 3 {
		var c chatCompletion
		if err := json.Unmarshal(post(t, ts, "/v1/chat/completions", withFields("")).body, &c); err != nil {
			t.Fatal(err)
		}
		if c.Created != now().Unix() {
			t.Errorf("created %d, want %d", c.Created, now().Unix())
		}
		ids = append(ids, c.ID)
	}
	if len(slices.Compact(slices.Clone(ids))) != 3 {
		t.Fatalf("ids not unique: %v", ids)
	}
}
