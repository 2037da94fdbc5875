package openai

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// event is what one recorded SSE event should read as.
type event struct {
	done                                     bool
	hasUsage, nullUsage, noChoices, finished bool
	deltas                                   int
	pieces                                   []string
}

func TestScanChunkStreams(t *testing.T) {
	null := func(deltas int, pieces ...string) event {
		return event{nullUsage: true, deltas: deltas, pieces: pieces}
	}
	text := func(deltas int, pieces ...string) event { return event{deltas: deltas, pieces: pieces} }
	finish := func(e event) event { e.finished = true; return e }
	usageOnly := event{hasUsage: true, noChoices: true}
	done := event{done: true}
	tests := []struct {
		file   string
		events []event
	}{
		{"openai_content_usage.sse", []event{
			null(0), // role chunk: content "" carries no text
			null(1, "A fotovoltaica"),
			null(1, " tem retorno em ~5 anos.\n"),
			finish(null(0)), // finish_reason chunk
			usageOnly,
			done,
		}},
		{"openai_tool_calls.sse", []event{
			text(1, "get_weather", ""),
			text(1, `{"ci`),
			text(1, `ty": "Recife"}`),
			text(1, "get_time", `{"city": "Recife"}`),
			finish(text(0)),
			done,
		}},
		{"openai_refusal.sse", []event{
			null(0),
			null(1, "I'm sorry, I can't help with that."),
			finish(null(0)),
			usageOnly,
			done,
		}},
		{"litellm_proxied.sse", []event{
			text(1, "1. Objeto"),
			text(1, " do contrato: prestação de serviços"),
			finish(text(0)),
			{hasUsage: true}, // LiteLLM keeps an empty delta beside the usage
			done,
		}},
		{"litellm_reasoning.sse", []event{
			text(1, "Preciso comparar"),
			text(1, " os dois custos."),
			text(1, "Fotovoltaica."),
			finish(text(1, "openrouter style", "")),
			done,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			datas := sseData(mustRead(t, filepath.Join("testdata/streams", tt.file)))
			if len(datas) != len(tt.events) {
				t.Fatalf("%d events, want %d", len(datas), len(tt.events))
			}
			// ScanChunkInto feeds the whole stream's pieces to one Text.
			var completion, wantCompletion tokens.Text
			defer func() {
				if completion != wantCompletion {
					t.Errorf("ScanChunkInto over the stream: %+v, want %+v", completion, wantCompletion)
				}
			}()
			for i, d := range datas {
				want := tt.events[i]
				if IsDone(d) != want.done {
					t.Errorf("event %d: IsDone = %v", i, !want.done)
				}
				if want.done {
					continue
				}
				got, err := ScanChunk(d)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				wantChunk := Chunk{want.hasUsage, want.nullUsage, want.noChoices, want.finished, want.deltas, feed(want.pieces)}
				if !reflect.DeepEqual(got, wantChunk) {
					t.Errorf("event %d:\n got %+v\nwant %+v", i, got, wantChunk)
				}
				if ref, _ := refScanChunk(d); !reflect.DeepEqual(ref.Pieces, want.pieces) {
					t.Errorf("event %d: reference pieces %q, want %q", i, ref.Pieces, want.pieces)
				}
				into, err := ScanChunkInto(d, &completion)
				wantChunk.Text = tokens.Text{}
				if err != nil || !reflect.DeepEqual(into, wantChunk) {
					t.Errorf("event %d: ScanChunkInto = %+v, %v; want %+v", i, into, err, wantChunk)
				}
				for _, p := range want.pieces {
					wantCompletion.AddString(p)
				}
			}
		})
	}
}

// TestScanChunkMultipleChoices pins the reading of n > 1 streams and of
// duplicated members: choices in order, an empty delta not counted, the
// last delta of a choice counting.
func TestScanChunkMultipleChoices(t *testing.T) {
	data := []byte(`{"choices":[{"index":0,"delta":{"content":"a"}},{"index":1,"delta":{"content":""}},{"index":2,"delta":{"content":"x"},"delta":{"refusal":"b","content":"c"}}],"usage":null}`)
	got, err := ScanChunk(data)
	if err != nil {
		t.Fatal(err)
	}
	want := Chunk{NullUsage: true, Deltas: 2, Text: feed([]string{"a", "b", "c"})}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ScanChunk:\n got %+v\nwant %+v", got, want)
	}
	completion := feed([]string{"earlier "})
	into, err := ScanChunkInto(data, &completion)
	want.Text = tokens.Text{}
	var wantCompletion tokens.Text
	wantCompletion.AddString("earlier abc")
	if err != nil || !reflect.DeepEqual(into, want) || completion != wantCompletion {
		t.Errorf("ScanChunkInto = %+v, %v with %+v;\nwant %+v with %+v", into, err, completion, want, wantCompletion)
	}
}

// TestScanChunkIntoOrder pins the order ScanChunkInto feeds a function's
// strings in: body order, the last of a duplicated member counting.
func TestScanChunkIntoOrder(t *testing.T) {
	tests := []struct{ data, want string }{
		{`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"{\"n\": 12","name":"f"}}]}}]}`, `{"n": 12f`},
		{`{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f","arguments":"{\"n\": 12"}}]}}]}`, `f{"n": 12`},
		{`{"choices":[{"delta":{"function_call":{"name":"g","arguments":"1","name":"f"}}}]}`, `1f`},
		{`{"choices":[{"delta":{"content":"a ","tool_calls":[{"function":{"arguments":"2"}},{"function":{"name":"h"}}]}}]}`, `a 2h`},
	}
	for _, tt := range tests {
		var got, want tokens.Text
		if _, err := ScanChunkInto([]byte(tt.data), &got); err != nil {
			t.Fatalf("ScanChunkInto(%s): %v", tt.data, err)
		}
		want.AddString(tt.want)
		if got != want {
			t.Errorf("ScanChunkInto(%s) fed %+v, want the Text of %q, %+v", tt.data, got, tt.want, want)
		}
	}
}

func TestScanChunkErrors(t *testing.T) {
	for _, data := range []string{
		``,
		`data: {"choices":[]}`,
		`{"choices":[{"delta":{"content":"a}}]}`,
		`{"choices":[]}{}`,
		`["not","an","object"]`,
		"{\"choices\":[{\"delta\":{\"content\":\"a\nb\"}}]}",
		`{"choices":[{"delta":{"content":"cut off after the text"}}],"usage":`,
	} {
		if _, err := ScanChunk([]byte(data)); err == nil {
			t.Errorf("ScanChunk(%q) accepted it", data)
		}
		completion := feed([]string{"so far"})
		if _, err := ScanChunkInto([]byte(data), &completion); err == nil || completion != feed([]string{"so far"}) {
			t.Errorf("ScanChunkInto(%q) = %v, feeding %+v", data, err, completion)
		}
	}
}

func TestScanChunkAllocs(t *testing.T) {
	data := []byte(chunk150)
	if n := testing.AllocsPerRun(100, func() { _, _ = ScanChunk(data) }); n != 0 {
		t.Errorf("ScanChunk allocates %v times, want 0", n)
	}
	var completion tokens.Text
	if n := testing.AllocsPerRun(100, func() { _, _ = ScanChunkInto(data, &completion) }); n != 0 {
		t.Errorf("ScanChunkInto allocates %v times, want 0", n)
	}
}

func TestStripNullUsage(t *testing.T) {
	openaiChunk := `{"id":"chatcmpl-B9N1a","object":"chat.completion.chunk","created":1741573000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"A"},"logprobs":null,"finish_reason":null}],"usage":null}`
	tests := []struct {
		in, want string
		stripped bool
	}{
		{openaiChunk, openaiChunk[:len(openaiChunk)-len(`,"usage":null}`)] + "}", true},
		{`{"usage":null,"id":"x"}`, `{"id":"x"}`, true},
		{`{"usage":null}`, `{}`, true},
		{`{ "id" : 1 , "usage" : null , "x" : 2 }`, `{ "id" : 1 , "x" : 2 }`, true},
		{`{"usage":{},"a":1,"usage":null}`, `{"a":1}`, true},
		{`{"\u0075sage":null,"a":1}`, `{"a":1}`, true},
		{`{"usage":null, "usage":null ,"x":2}`, `{"x":2}`, true},
		{`{"a":1,"usage":null,"b":2,"usage":null,"c":3,"usage":null,"d":4,"usage":null,"e":5,"usage":null}`, `{"a":1,"b":2,"c":3,"d":4,"e":5}`, true},
		{`{"usage":null,"a":1,"usage":null,"b":2,"usage":null,"c":3,"usage":null,"d":4,"usage":null}`, `{"a":1,"b":2,"c":3,"d":4}`, true},
		{`{"usage":{"prompt_tokens":1}}`, `{"usage":{"prompt_tokens":1}}`, false},
		{`{"usage":null,"usage":{}}`, `{"usage":null,"usage":{}}`, false},
		{`{"id":"x"}`, `{"id":"x"}`, false},
		{`{"usage":null`, `{"usage":null`, false},
		{`[{"usage":null}]`, `[{"usage":null}]`, false},
	}
	for _, tt := range tests {
		got, stripped := StripNullUsage([]byte("data: "), []byte(tt.in))
		if string(got) != "data: "+tt.want || stripped != tt.stripped {
			t.Errorf("StripNullUsage(%s) = %s, %v; want %s, %v", tt.in, got, stripped, tt.want, tt.stripped)
		}
	}
	dst := make([]byte, 0, 512)
	data := []byte(openaiChunk)
	if n := testing.AllocsPerRun(100, func() { StripNullUsage(dst[:0], data) }); n != 0 {
		t.Errorf("StripNullUsage allocates %v times with room in dst, want 0", n)
	}
}

func TestIsDone(t *testing.T) {
	for data, want := range map[string]bool{
		"[DONE]": true, " [DONE]\r": true, "[done]": false, `{"choices":[]}`: false, "": false,
	} {
		if got := IsDone([]byte(data)); got != want {
			t.Errorf("IsDone(%q) = %v", data, got)
		}
	}
}
