package fakeupstream

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// haiku costs 9 input tokens, like sayHello.
const haiku = `{"model":"claude-3-5-haiku-latest","messages":[{"role":"user","content":"Say hello"}]%s}`

func haikuWith(fields string) string { return strings.Replace(haiku, "%s", ","+fields, 1) }

func TestMessagesShape(t *testing.T) {
	for _, tc := range []struct {
		name          string
		fields        string
		headers       []string
		input, output int
		stop          string
	}{
		{name: "natural end", fields: `"max_tokens":1024`, input: 9, output: 16, stop: "end_turn"},
		{name: "capped", fields: `"max_tokens":4`, input: 9, output: 4, stop: "max_tokens"},
		{name: "knobs", fields: `"max_tokens":1024`, headers: []string{"x-fake-prompt-tokens: 1200", "x-fake-completion-tokens: 2"}, input: 1200, output: 2, stop: "end_turn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, ts := start(t, Options{})
			r := post(t, ts, "/v1/messages", haikuWith(tc.fields), tc.headers...)
			if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
				t.Fatalf("status %d, headers %v: %s", r.status, r.header, r.body)
			}
			var m anthropicMessage
			if err := json.Unmarshal(r.body, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type != "message" || m.Role != "assistant" || m.Model != "claude-3-5-haiku-latest" || !strings.HasPrefix(m.ID, "msg_") ||
				m.StopReason == nil || *m.StopReason != tc.stop || m.StopSequence != nil || !strings.Contains(string(r.body), `"stop_sequence":null`) {
				t.Errorf("message fields: %s", r.body)
			}
			if len(m.Content) != 1 || m.Content[0].Type != "text" || countWords(m.Content[0].Text) != tc.output {
				t.Errorf("content %+v, want one text block of %d tokens", m.Content, tc.output)
			}
			want := anthropicUsage{InputTokens: tc.input, OutputTokens: tc.output, ServiceTier: "standard"}
			if diff := cmp.Diff(want, m.Usage); diff != "" {
				t.Errorf("usage (-want +got):\n%s", diff)
			}

			// Streamed: the same usage, split over message_start and message_delta.
			r = post(t, ts, "/v1/messages", haikuWith(tc.fields+`,"stream":true`), tc.headers...)
			if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
				t.Fatalf("stream: status %d, content-type %q", r.status, r.header.Get("Content-Type"))
			}
			evs := splitEvents(t, r.body)
			var names []string
			var text strings.Builder
			var got anthropicUsage
			for _, ev := range evs {
				names = append(names, ev.name)
				var typed struct {
					Type    string           `json:"type"`
					Message anthropicMessage `json:"message"`
					Delta   struct {
						Type       string `json:"type"`
						Text       string `json:"text"`
						StopReason string `json:"stop_reason"`
					} `json:"delta"`
					Usage struct {
						OutputTokens int `json:"output_tokens"`
					} `json:"usage"`
				}
				if err := json.Unmarshal([]byte(ev.data), &typed); err != nil {
					t.Fatalf("%s: %v", ev.name, err)
				}
				if typed.Type != ev.name {
					t.Errorf("event %q carries type %q", ev.name, typed.Type)
				}
				switch ev.name {
				case "message_start":
					got = typed.Message.Usage
					if got.OutputTokens > 1 {
						t.Errorf("message_start output_tokens %d, want at most 1", got.OutputTokens)
					}
				case "content_block_delta":
					if typed.Delta.Type != "text_delta" {
						t.Errorf("delta type %q", typed.Delta.Type)
					}
					text.WriteString(typed.Delta.Text)
				case "message_delta":
					got.OutputTokens = typed.Usage.OutputTokens // cumulative: replaces, never adds
					if typed.Delta.StopReason != tc.stop {
						t.Errorf("stop_reason %q, want %q", typed.Delta.StopReason, tc.stop)
					}
				}
			}
			wantNames := []string{"message_start", "content_block_start", "ping"}
			for range tc.output {
				wantNames = append(wantNames, "content_block_delta")
			}
			wantNames = append(wantNames, "content_block_stop", "message_delta", "message_stop")
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Errorf("event sequence (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("streamed usage (-want +got):\n%s", diff)
			}
			if text.String() != m.Content[0].Text {
				t.Errorf("streamed %q, non-streamed %q", text.String(), m.Content[0].Text)
			}
			if fake.Hits() != 2 {
				t.Errorf("hits %d, want 2", fake.Hits())
			}
		})
	}
}

func TestMessagesGolden(t *testing.T) {
	_, ts := start(t, Options{})
	for _, tc := range []struct{ golden, body string }{
		{"messages.json", haikuWith(`"max_tokens":3`)},
		{"messages_stream.sse", readFixture(t, "messages_system.json")},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := post(t, ts, "/v1/messages", tc.body, "x-fake-completion-tokens: 3")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			golden(t, tc.golden, r.body)
		})
	}
}

func TestMessagesErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    Options
		body    string
		headers []string
		status  int
		errType string
		message string
	}{
		{"invalid JSON", Options{}, `{"model":`, nil, 400, "invalid_request_error", "There was an error parsing the body of your request"},
		{"missing model", Options{}, `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_request_error", "model: Field required"},
		{"missing max_tokens", Options{}, `{"model":"claude-3-5-haiku-latest","messages":[{"role":"user","content":"hi"}]}`, nil, 400, "invalid_request_error", "max_tokens: Field required"},
		{"zero max_tokens", Options{}, haikuWith(`"max_tokens":0`), nil, 400, "invalid_request_error", "max_tokens: Input should be greater than or equal to 1"},
		{"decimal max_tokens", Options{}, haikuWith(`"max_tokens":1.5`), nil, 400, "invalid_request_error", "max_tokens: Input should be a valid integer"},
		{"above ceiling", Options{OutputCeiling: 8192}, haikuWith(`"max_tokens":9000`), nil, 400, "invalid_request_error", "max_tokens: 9000 > 8192"},
		{"missing messages", Options{}, `{"model":"claude-3-5-haiku-latest","max_tokens":5}`, nil, 400, "invalid_request_error", "messages: Field required"},
		{"empty messages", Options{}, `{"model":"claude-3-5-haiku-latest","max_tokens":5,"messages":[]}`, nil, 400, "invalid_request_error", "messages: at least one message"},
		{"system role in messages", Options{}, `{"model":"claude-3-5-haiku-latest","max_tokens":5,"messages":[{"role":"system","content":"hi"}]}`, nil, 400, "invalid_request_error", "messages.0.role: Input should be 'user' or 'assistant'"},
		{"bad key", Options{APIKey: "sk-ant-upstream"}, haikuWith(`"max_tokens":5`), []string{"x-api-key: sk-ant-caller"}, 401, "authentication_error", "Incorrect API key provided."},
		{"forced overload", Options{}, haikuWith(`"max_tokens":5`), []string{"x-fake-status: 529"}, 529, "overloaded_error", ""},
		{"forced 429", Options{}, haikuWith(`"max_tokens":5`), []string{"x-fake-status: 429"}, 429, "rate_limit_error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			r := post(t, ts, "/v1/messages", tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			var body anthropicErrorBody
			if err := json.Unmarshal(r.body, &body); err != nil {
				t.Fatal(err)
			}
			if body.Type != "error" || body.Error.Type != tc.errType || !strings.HasPrefix(body.Error.Message, tc.message) {
				t.Errorf("got %s, want type %q message prefix %q", r.body, tc.errType, tc.message)
			}
		})
	}
}

func TestMessagesStreamCut(t *testing.T) {
	_, ts := start(t, Options{})
	got := postPartial(t, ts, "/v1/messages", haikuWith(`"max_tokens":100,"stream":true`), "x-fake-cut-after: 2")
	if got.err == nil {
		t.Fatal("body read ended cleanly, want an unexpected EOF")
	}
	var names []string
	for _, ev := range splitEvents(t, got.body) {
		names = append(names, ev.name)
	}
	want := []string{"message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("events before the cut (-want +got):\n%s", diff)
	}
}
