package fakeupstream

import (
	"testing"
)

func TestCountPromptTokens(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"one short message", withFields(""), 3 + 3 + 3}, // "Say hello": 9 bytes
		{"empty string content", `{"messages":[{"role":"user","content":""}]}`, 3 + 3},
		{"name counts as text", `{"messages":[{"role":"user","name":"ana","content":"hello"}]}`, 3 + 3 + 2}, // 8 bytes
		{"caps and stream_options do not count", withFields(`"stream":true,"stream_options":{"include_usage":true},"max_tokens":5`), 9},
		// LibreChat: system 120 bytes, then 32, 36, 22 (UTF-8 bytes, not runes).
		{"librechat conversation", readFixture(t, "chat_librechat.json"), 3 + (3 + 30) + (3 + 8) + (3 + 9) + (3 + 6)},
		// "What is in this image?" (22 bytes) + one image.
		{"text and image parts", readFixture(t, "chat_parts_image.json"), 3 + 3 + 6 + 85},
		{"anthropic system and blocks", readFixture(t, "messages_system.json"), 3 + (3 + 14) + (3 + 13)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := CountPromptTokens([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// Tools and tool calls count by their raw JSON size, so adding them must
// raise the count by exactly that.
func TestCountPromptTokensTools(t *testing.T) {
	body := readFixture(t, "chat_tools.json")
	got, err := CountPromptTokens([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	// developer 29 bytes, user 40, assistant tool_calls raw JSON, tool 59 (unescaped), tools raw JSON.
	const toolCalls = `[{"id":"call_abc123","type":"function","function":{"name":"get_current_weather","arguments":"{\"location\":\"Boston, MA\"}"}}]`
	const tools = `[{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location","parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["location"]}}}]`
	want := 3 + (3 + ceilQuarter(29)) + (3 + ceilQuarter(40)) + (3 + ceilQuarter(len(toolCalls))) + (3 + ceilQuarter(59)) + ceilQuarter(len(tools))
	if got != want {
		t.Errorf("got %d, want %d", got, want)
	}
}

func TestCountPromptTokensRejectsBadJSON(t *testing.T) {
	if _, err := CountPromptTokens([]byte(`{"messages":`)); err == nil {
		t.Fatal("no error for truncated JSON")
	}
}
