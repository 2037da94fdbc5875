package openai

import (
	"path/filepath"
	"testing"
)

func TestParseUsage(t *testing.T) {
	lastEvent := func(file string) []byte {
		datas := sseData(mustRead(t, filepath.Join("testdata/streams", file)))
		return datas[len(datas)-2] // the one before [DONE]
	}
	tests := []struct {
		name string
		data []byte
		want Usage
		ok   bool
	}{
		{"completion", mustRead(t, "testdata/responses/completion.json"), Usage{1117, 46, 1163, 1024, 0}, true},
		{"reasoning", mustRead(t, "testdata/responses/completion_reasoning.json"), Usage{36, 1210, 1246, 0, 1024}, true},
		{"litellm completion", mustRead(t, "testdata/responses/litellm_completion.json"), Usage{1530, 88, 1618, 1200, 0}, true},
		{"usage null", mustRead(t, "testdata/responses/no_usage.json"), Usage{}, false},
		{"usage-only chunk", lastEvent("openai_content_usage.sse"), Usage{1117, 9, 1126, 1024, 0}, true},
		{"litellm usage chunk", lastEvent("litellm_proxied.sse"), Usage{1530, 88, 1618, 1200, 0}, true},
		{"chunk without usage", lastEvent("openai_tool_calls.sse"), Usage{}, false},
		{"odd counts read as zero", []byte(`{"usage":{"prompt_tokens":12.0,"completion_tokens":"7","total_tokens":-3,"prompt_tokens_details":null}}`), Usage{Prompt: 12}, true},
		{"usage not an object", []byte(`{"usage":[1,2]}`), Usage{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := ParseUsage(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || ok != tt.ok {
				t.Errorf("ParseUsage = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	for _, bad := range []string{``, `{"usage":`, `[]`, `{"usage":{}}x`} {
		if _, _, err := ParseUsage([]byte(bad)); err == nil {
			t.Errorf("ParseUsage(%q) accepted it", bad)
		}
	}
}
