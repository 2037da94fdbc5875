package openai

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rawOf returns the raw JSON text of body's top-level member name, as
// Prompt feeds it.
func rawOf(t *testing.T, body []byte, name string) string {
	t.Helper()
	for _, m := range lastMembers(body) {
		if m.name == name {
			return string(m.value)
		}
	}
	t.Fatalf("no member %q", name)
	return ""
}

// partBytes is the raw size of the fixture's content parts pis of message
// mi, as Opaque counts them.
func partBytes(t *testing.T, file string, mi int, pis ...int) Opaque {
	t.Helper()
	var req struct {
		Messages []struct {
			Content json.RawMessage
		}
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(mustRead(t, filepath.Join("testdata/requests", file)), &req); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(req.Messages[mi].Content, &parts); err != nil {
		t.Fatal(err)
	}
	var o Opaque
	for _, pi := range pis {
		o.Bytes += int64(len(parts[pi]))
	}
	return o
}

func TestParseChatFixtures(t *testing.T) {
	tests := []struct {
		file   string
		want   Chat // Prompt is checked against pieces
		pieces func(body []byte) []string
	}{
		{
			file: "librechat_history.json",
			want: Chat{Model: "gpt-4o", Stream: true, IncludeUsage: true, N: 1, Messages: 4},
		},
		{
			file: "librechat_4kb.json",
			want: Chat{Model: "gpt-4o", Stream: true, IncludeUsage: true, N: 1, Messages: 10},
		},
		{
			file: "librechat_vision.json",
			want: Chat{Model: "gpt-4o-mini", Stream: true, N: 1, Messages: 2, Images: 2, MaxTokens: Cap{300, true}},
			pieces: func([]byte) []string {
				return []string{
					"system", "You are a helpful assistant that describes images.",
					"user", "What is in this image? Compare it with the second one.",
				}
			},
		},
		{
			file: "tools_roundtrip.json",
			want: Chat{Model: "gpt-4o-2024-08-06", Stream: true, N: 1, Messages: 4, Tools: true},
			pieces: func(body []byte) []string {
				return []string{
					"user", "What's the weather and the time in Recife right now?",
					"assistant", "get_weather", `{"city":"Recife","unit":"celsius"}`, "get_time", `{"city":"Recife"}`,
					"tool", `{"temperature":29,"condition":"partly cloudy","humidity":0.74}`,
					"tool", "14:32 BRT",
					rawOf(t, body, "tools"),
				}
			},
		},
		{
			file: "o_series.json",
			want: Chat{Model: "o3-mini", Stream: true, N: 1, Messages: 2, MaxCompletionTokens: Cap{4096, true}},
			pieces: func([]byte) []string {
				return []string{
					"developer", "Formatting re-enabled. Answer with a short proof.",
					"user", "Prove that the square root of 2 is irrational.",
				}
			},
		},
		{
			file: "unicode_escapes.json",
			want: Chat{Model: "gpt-4.1", N: 1, Messages: 2, Names: 1},
			pieces: func([]byte) []string {
				return []string{
					"system", "Tab:\there, newline:\nquote:\" backslash:\\ slash:/ accent:é raw accent:é rocket:🚀 raw emoji:🚀 cjk:日本語 lone:\uFFFD end",
					"user", "joão_silva",
					"Olá! Como está? — \"citação\" \x00 nul",
				}
			},
		},
		{
			file: "legacy_functions.json",
			want: Chat{Model: "gpt-3.5-turbo-0613", N: 1, Messages: 3, Names: 1, Tools: true, MaxTokens: Cap{512, true}},
			pieces: func(body []byte) []string {
				return []string{
					"user", "Where is order 8812?",
					"assistant", "lookup_order", `{"order_id":"8812"}`,
					"function", "lookup_order", `{"status":"shipped","carrier":"Correios"}`,
					rawOf(t, body, "functions"),
				}
			},
		},
		{
			file: "input_audio.json",
			want: Chat{Model: "gpt-4o-audio-preview", N: 1, Messages: 1, Images: 1},
			pieces: func([]byte) []string {
				return []string{"user", "Transcribe and summarise this recording."}
			},
		},
		{
			file: "response_format.json",
			want: Chat{Model: "gpt-4o-2024-08-06", N: 2, Messages: 3, Tools: true, MaxTokens: Cap{200, true}, MaxCompletionTokens: Cap{150, true}},
			pieces: func(body []byte) []string {
				return []string{
					"user", "Give me facts about Curitiba.",
					"assistant", "I can't share that.",
					"user", "Please try again.",
					rawOf(t, body, "response_format"),
				}
			},
		},
		{
			file: "openai_file_pdf.json",
			want: Chat{Model: "gpt-4o", N: 1, Messages: 1, Opaque: partBytes(t, "openai_file_pdf.json", 0, 0)},
			pieces: func([]byte) []string {
				return []string{"user", "Qual foi a receita do trimestre?"}
			},
		},
		{
			file: "openai_file_id.json",
			want: Chat{Model: "gpt-4.1-mini", N: 1, Messages: 1, Files: 1, MaxCompletionTokens: Cap{800, true}},
			pieces: func([]byte) []string {
				return []string{"user", "Summarise the attached contract in five bullet points."}
			},
		},
		{
			file: "librechat_files.json",
			want: Chat{Model: "gpt-4o", Stream: true, IncludeUsage: true, N: 1, Messages: 4, Images: 1, Opaque: partBytes(t, "librechat_files.json", 1, 1)},
			pieces: func([]byte) []string {
				return []string{
					"system", "Você é um assistente que responde em português do Brasil.",
					"user", "Leia o relatório anexo.",
					"assistant", "O relatório mostra receita de 4,2 milhões e custos de 3,1 milhões no trimestre.",
					"user", "E esta imagem do painel, confere com o relatório?",
				}
			},
		},
		{
			// input_file, document, audio_url, a part without a type and an
			// empty text part: each is priced by its bytes.
			file: "unknown_parts.json",
			want: Chat{Model: "claude-sonnet-4-5", N: 1, Messages: 1, MaxTokens: Cap{1024, true}, Opaque: partBytes(t, "unknown_parts.json", 0, 0, 1, 2, 3, 4)},
			pieces: func([]byte) []string {
				return []string{"user", "", "Compare os três anexos."}
			},
		},
		{
			file: "litellm_extras.json",
			want: Chat{Model: "claude-3-5-sonnet", Stream: true, N: 1, Messages: 1},
			pieces: func([]byte) []string {
				return []string{"user", "Resuma o documento em 3 tópicos."}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := mustRead(t, filepath.Join("testdata/requests", tt.file))
			got, err := ParseChat(body)
			if err != nil {
				t.Fatal(err)
			}
			ref, ok := refParseChat(body)
			if !ok {
				t.Fatal("the encoding/json reference rejects the fixture")
			}
			want := tt.want
			if tt.pieces != nil {
				want.Prompt = feed(tt.pieces(body))
			} else {
				want.Prompt = ref.prompt()
			}
			if !reflect.DeepEqual(got.Prompt, ref.prompt()) {
				t.Error("Prompt differs from the reference's")
			}
			got.at = offsets{}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ParseChat:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseChatErrors(t *testing.T) {
	tests := []struct {
		name, body, field, msg string
	}{
		{"empty", ``, "", "invalid JSON at byte 0: unexpected end of input"},
		{"trailing", `{"model":"m","messages":[]}}`, "", "invalid JSON at byte 27: unexpected '}'"},
		{"not an object", `[{"model":"m"}]`, "", "request body must be a JSON object"},
		{"trailing comma", `{"model":"m","messages":[1,]}`, "", "invalid JSON at byte 27: unexpected ']'"},
		{"control byte", "{\"model\":\"a\x01\"}", "", "invalid JSON at byte 11: control character 0x01 in string"},
		{"bad escape", `{"model":"\q"}`, "", `invalid JSON at byte 11: invalid escape '\q' in string`},
		{"bad unicode escape", `{"model":"\u12G4"}`, "", `invalid JSON at byte 10: invalid \u escape in string`},
		{"leading zero", `{"model":"m","messages":[],"n":01}`, "", "invalid JSON at byte 32: unexpected '1'"},
		{"syntax beats type", `{"max_tokens":"x",`, "", "invalid JSON at byte 18: unexpected end of input"},
		{"model missing", `{"messages":[]}`, "model", `"model" is required`},
		{"model empty", `{"model":"","messages":[]}`, "model", `"model" is required`},
		{"model null last", `{"model":"m","messages":[],"model":null}`, "model", `"model" is required`},
		{"model number", `{"model":5,"messages":[]}`, "model", `"model" must be a string`},
		{"messages missing", `{"model":"m"}`, "messages", `"messages" is required`},
		{"messages object", `{"model":"m","messages":{}}`, "messages", `"messages" must be an array`},
		{"negative cap", `{"model":"m","messages":[],"max_tokens":-1}`, "max_tokens", `"max_tokens" must be a non-negative integer`},
		{"fractional cap", `{"model":"m","messages":[],"max_tokens":1.5}`, "max_tokens", `"max_tokens" must be a non-negative integer`},
		{"exponent cap", `{"model":"m","messages":[],"max_completion_tokens":1e3}`, "max_completion_tokens", `"max_completion_tokens" must be a non-negative integer`},
		{"string cap", `{"model":"m","messages":[],"max_completion_tokens":"100"}`, "max_completion_tokens", `"max_completion_tokens" must be a non-negative integer`},
		{"overflowing cap", `{"model":"m","messages":[],"max_tokens":9223372036854775808}`, "max_tokens", `"max_tokens" must be a non-negative integer`},
		{"n zero", `{"model":"m","messages":[],"n":0}`, "n", `"n" must be an integer from 1 to 128`},
		{"n too big", `{"model":"m","messages":[],"n":129}`, "n", `"n" must be an integer from 1 to 128`},
		{"stream string", `{"model":"m","messages":[],"stream":"true"}`, "stream", `"stream" must be a boolean`},
		{"stream_options bool", `{"model":"m","messages":[],"stream_options":true}`, "stream_options", `"stream_options" must be an object`},
		{"include_usage string", `{"model":"m","messages":[],"stream_options":{"include_usage":"yes"}}`, "stream_options.include_usage", `"stream_options.include_usage" must be a boolean`},
		{"message number", `{"model":"m","messages":[1]}`, "messages[0]", `"messages[0]" must be an object`},
		{"message null", `{"model":"m","messages":[{"role":"user","content":"a"},null]}`, "messages[1]", `"messages[1]" must be an object`},
		{"role number", `{"model":"m","messages":[{"role":1}]}`, "messages[0].role", `"messages[0].role" must be a string`},
		{"content number", `{"model":"m","messages":[{},{"content":5}]}`, "messages[1].content", `"messages[1].content" must be a string or an array`},
		{"part string", `{"model":"m","messages":[{"content":["hi"]}]}`, "messages[0].content[0]", `"messages[0].content[0]" must be an object`},
		{"part text number", `{"model":"m","messages":[{"content":[{"type":"text","text":"a"},{"type":"text","text":5}]}]}`, "messages[0].content[1].text", `"messages[0].content[1].text" must be a string`},
		{"part type number", `{"model":"m","messages":[{"content":[{"type":1}]}]}`, "messages[0].content[0].type", `"messages[0].content[0].type" must be a string`},
		{"tool call arguments object", `{"model":"m","messages":[{"tool_calls":[{"function":{"name":"f","arguments":{}}}]}]}`, "messages[0].tool_calls[0].function.arguments", `"messages[0].tool_calls[0].function.arguments" must be a string`},
		{"tool call function string", `{"model":"m","messages":[{"tool_calls":[{"function":"f"}]}]}`, "messages[0].tool_calls[0].function", `"messages[0].tool_calls[0].function" must be an object`},
		{"function_call name number", `{"model":"m","messages":[{"function_call":{"name":1}}]}`, "messages[0].function_call.name", `"messages[0].function_call.name" must be a string`},
		{"tools object", `{"model":"m","messages":[],"tools":{}}`, "tools", `"tools" must be an array`},
		{"response_format array", `{"model":"m","messages":[],"response_format":[]}`, "response_format", `"response_format" must be an object`},
		{"wrong type counts when last", `{"model":"m","messages":[],"max_tokens":5,"max_tokens":"x"}`, "max_tokens", `"max_tokens" must be a non-negative integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChat([]byte(tt.body))
			var re *RequestError
			if !errors.As(err, &re) {
				t.Fatalf("ParseChat(%s) = %v, want a *RequestError", tt.body, err)
			}
			if re.Field != tt.field || re.Msg != tt.msg {
				t.Errorf("ParseChat(%s) = {%q, %q}, want {%q, %q}", tt.body, re.Field, re.Msg, tt.field, tt.msg)
			}
			if _, ok := refParseChat([]byte(tt.body)); ok {
				t.Error("the encoding/json reference accepts it")
			}
		})
	}
}

// TestParseChatLastWins covers bodies encoding/json structs would refuse
// but the Python servers behind LiteLLM accept: an overridden duplicate is
// not type-checked.
func TestParseChatLastWins(t *testing.T) {
	body := []byte(`{"model":1,"model":"gpt-4o","messages":{},"messages":[{"content":5,"role":"user","content":"hi"}],"max_tokens":"x","max_tokens":7,"stream":1,"stream":true,"stream_options":{"include_usage":1,"include_usage":true}}`)
	got, err := ParseChat(body)
	if err != nil {
		t.Fatal(err)
	}
	want := Chat{Model: "gpt-4o", Stream: true, IncludeUsage: true, MaxTokens: Cap{7, true}, N: 1, Messages: 1, Prompt: feed([]string{"user", "hi"})}
	got.at = offsets{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseChat:\n got %+v\nwant %+v", got, want)
	}
}

// TestParseChatPromptOrder pins that a message's strings count in body
// order, a duplicated member at its last place.
func TestParseChatPromptOrder(t *testing.T) {
	tests := []struct {
		body   string
		pieces []string
	}{
		{`{"role":"user","content":"hi 12","name":"bob  "}`, []string{"user", "hi 12", "bob  "}},
		{`{"content":"hi","role":"assistant"}`, []string{"hi", "assistant"}},
		{`{"name":"a","content":"b","name":"c"}`, []string{"b", "c"}},
		{`{"function_call":{"arguments":"{}","name":"f","arguments":"9 "}}`, []string{"f", "9 "}},
		{`{"content":[{"text":"x","type":"text"},{"type":"image_url","text":"ignored"}],"refusal":"no"}`, []string{"x", "no"}},
	}
	for _, tt := range tests {
		got, err := ParseChat([]byte(`{"model":"m","messages":[` + tt.body + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		if want := feed(tt.pieces); !reflect.DeepEqual(got.Prompt, want) {
			t.Errorf("%s: Prompt = %+v, want %+v from %q", tt.body, got.Prompt, want, tt.pieces)
		}
	}
}

// TestParseChatDepth pins encoding/json's nesting limit, in skipped and in
// interpreted members.
func TestParseChatDepth(t *testing.T) {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, tt := range []struct {
		name   string
		prefix string
		depth  int // containers already open where the nest goes
	}{
		{"unknown member", `{"model":"m","messages":[],"x":`, 1},
		{"message member", `{"model":"m","messages":[{"x":`, 3},
		{"part member", `{"model":"m","messages":[{"content":[{"x":`, 5},
	} {
		for _, extra := range []int{0, 1} {
			n := maxDepth - tt.depth + extra
			body := []byte(tt.prefix + nest(n) + strings.Repeat("}]", (tt.depth-1)/2) + "}")
			_, err := ParseChat(body)
			if want := extra == 0; (err == nil) != want || json.Valid(body) != want {
				t.Errorf("%s at depth %d: ParseChat error %v, json.Valid %v", tt.name, tt.depth+n, err, json.Valid(body))
			}
		}
	}
}

// TestParseChatEscapesInNames pins that member names and content part types
// match after unescaping, as in encoding/json.
func TestParseChatEscapesInNames(t *testing.T) {
	body := []byte(`{"\u006dodel":"m","messages":[{"content":[{"type":"t\u0065xt","te\u0078t":"a"}]}],"max_\u0074okens":3}`)
	got, err := ParseChat(body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Model != "m" || got.MaxTokens != (Cap{3, true}) || !reflect.DeepEqual(got.Prompt, feed([]string{"a"})) {
		t.Errorf("ParseChat = %+v", got)
	}
}

func TestParseChatAllocs(t *testing.T) {
	for _, f := range []string{"librechat_4kb.json", "librechat_files.json", "unknown_parts.json"} {
		body := mustRead(t, filepath.Join("testdata/requests", f))
		// The model string.
		if n := testing.AllocsPerRun(100, func() { _, _ = ParseChat(body) }); n > 1 {
			t.Errorf("ParseChat(%s) allocates %v times, want at most 1", f, n)
		}
	}
}
