package tokens

import (
	"strings"
	"sync"
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

func TestForModel(t *testing.T) {
	tests := []struct {
		model string
		want  string // encoding name; "" when unknown
	}{
		{"gpt-4o", "o200k_base"},
		{"gpt-4o-mini", "o200k_base"},
		{"gpt-4o-2024-08-06", "o200k_base"},
		{"chatgpt-4o-latest", "o200k_base"},
		{"gpt-4.1", "o200k_base"},
		{"gpt-4.1-nano-2025-04-14", "o200k_base"},
		{"gpt-4.5-preview", "o200k_base"},
		{"gpt-5", "o200k_base"},
		{"gpt-5-mini", "o200k_base"},
		{"gpt-5.1-codex", "o200k_base"},
		{"o1", "o200k_base"},
		{"o1-preview", "o200k_base"},
		{"o3-mini", "o200k_base"},
		{"o4-mini-2025-04-16", "o200k_base"},
		{"gpt-oss-120b", "o200k_base"},
		{"GPT-4o", "o200k_base"},
		{"gpt-4", "cl100k_base"},
		{"gpt-4-0613", "cl100k_base"},
		{"gpt-4-32k", "cl100k_base"},
		{"gpt-4-turbo", "cl100k_base"},
		{"gpt-4-turbo-2024-04-09", "cl100k_base"},
		{"gpt-4-1106-preview", "cl100k_base"},
		{"gpt-3.5-turbo", "cl100k_base"},
		{"gpt-3.5-turbo-0125", "cl100k_base"},
		{"gpt-3.5-turbo-instruct", "cl100k_base"},
		{"text-embedding-3-small", "cl100k_base"},
		{"text-embedding-3-large", "cl100k_base"},
		{"text-embedding-ada-002", "cl100k_base"},
		// LiteLLM provider prefixes and fine-tunes.
		{"openai/gpt-4o", "o200k_base"},
		{"openai/gpt-4.1-mini", "o200k_base"},
		{"azure/gpt-4o-mini", "o200k_base"},
		{"azure/gpt-35-turbo", "cl100k_base"},
		{"openrouter/openai/gpt-4o", "o200k_base"},
		{"openrouter/openai/o3-mini", "o200k_base"},
		{"groq/openai/gpt-oss-20b", "o200k_base"},
		{"ft:gpt-4o-mini-2024-07-18:acme::9xYz", "o200k_base"},
		{"openai/ft:gpt-3.5-turbo-0125:acme::abc", "cl100k_base"},
		// Not OpenAI, or not an encoding we know.
		{"claude-sonnet-4-5", ""},
		{"anthropic/claude-3-5-haiku-20241022", ""},
		{"gemini/gemini-2.5-pro", ""},
		{"vertex_ai/gemini-2.0-flash", ""},
		{"ollama/llama3.1:8b", ""},
		{"together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", ""},
		{"mistral/mistral-large-latest", ""},
		{"bedrock/amazon.nova-pro-v1:0", ""},
		{"o1x", ""},
		{"gpt-40", ""},
		{"azure/my-deployment", ""},
		{"text-davinci-003", ""},
		{"", ""},
	}
	for _, tt := range tests {
		e, ok := ForModel(tt.model)
		got := ""
		if ok {
			got = e.Name()
		}
		if got != tt.want || ok != (e != nil) {
			t.Errorf("ForModel(%q) = %q, %v; want %q", tt.model, got, ok, tt.want)
		}
	}
}

func TestForModelSharesEncodings(t *testing.T) {
	a, _ := ForModel("gpt-4o")
	b, _ := ForModel("openai/o3")
	if a != b {
		t.Fatal("two o200k_base models got different Encodings: the vocabulary would be built twice")
	}
}

func TestChatPrompt(t *testing.T) {
	tools := string(readSample(t, "tools.json"))
	msgs := []Message{
		{Role: "system", Content: "You are a helpful support agent for an online shop. Answer in Brazilian Portuguese."},
		{Role: "user", Name: "maria_souza", Content: "Oi! Meu pedido ord_2024_000318 ainda não chegou. Pode verificar?"},
		{Role: "assistant", Content: "Claro! Vou consultar o rastreamento agora mesmo."},
		{Role: "tool", Content: `{"carrier":"Correios","tracking":"QB123456789BR","status":"in_transit"}`},
		{Role: "user", Content: ""},
	}
	for _, e := range []*Encoding{o200kBase, cl100kBase} {
		t.Run(e.Name(), func(t *testing.T) {
			want := 3 // reply priming
			for _, m := range msgs {
				want += 3 + e.Count(m.Role) + e.Count(m.Content)
				if m.Name != "" {
					want += 1 + e.Count(m.Name)
				}
			}
			if got := e.ChatPrompt(msgs, ""); got != want {
				t.Errorf("ChatPrompt without tools = %d, want %d", got, want)
			}
			for _, none := range []string{"", "null", "[]", " [] \n"} {
				if got := e.ChatPrompt(msgs, none); got != want {
					t.Errorf("ChatPrompt with tools %q = %d, want %d", none, got, want)
				}
			}
			if got := e.ChatPrompt(msgs, tools); got != want+e.Count(tools)+toolsOverhead {
				t.Errorf("ChatPrompt with tools = %d, want %d", got, want+e.Count(tools)+toolsOverhead)
			}
			var texts Text // every text on its own, as the model encodes them
			for _, m := range msgs {
				for _, s := range []string{m.Role, m.Name, m.Content} {
					var x Text
					x.AddString(s)
					texts.Merge(x)
				}
			}
			var tt Text
			tt.AddString(tools)
			texts.Merge(tt)
			if bound, exact := texts.Bound()+ChatOverhead(len(msgs), 1, true), e.ChatPrompt(msgs, tools); bound < int64(exact) {
				t.Errorf("Bound of the texts plus ChatOverhead = %d, below ChatPrompt %d", bound, exact)
			}
			if got := e.ChatPrompt(nil, ""); got != 3 {
				t.Errorf("ChatPrompt of no messages = %d, want the 3 of reply priming", got)
			}
		})
	}
}

// TestToolsOverhead checks toolsOverhead against what it stands for: the
// system message that carries the functions and the frame around them.
func TestToolsOverhead(t *testing.T) {
	const frame = "# Tools\n\n## functions\n\nnamespace functions {\n\n} // namespace functions"
	for _, e := range []*Encoding{o200kBase, cl100kBase} {
		if need := perMessage + e.Count("system") + e.Count(frame); toolsOverhead < need {
			t.Errorf("%s: toolsOverhead %d is below the %d tokens of the system message and frame", e.Name(), toolsOverhead, need)
		}
	}
}

func TestCountSpecialTokensAsText(t *testing.T) {
	for _, e := range []*Encoding{o200kBase, cl100kBase} {
		if n := e.Count("<|endoftext|>"); n < 2 {
			t.Errorf("%s counts <|endoftext|> as %d token(s); as plain text it is several", e.Name(), n)
		}
	}
}

func TestCountKnownText(t *testing.T) {
	// Pre-tokens "hello", " world" are one token each in both vocabularies,
	// and three digits are one token (TestVocabularyFacts).
	for _, e := range []*Encoding{o200kBase, cl100kBase} {
		if n := e.Count("hello world 123"); n != 4 {
			t.Errorf("%s: Count = %d, want 4", e.Name(), n)
		}
		if n := e.Count(""); n != 0 {
			t.Errorf("%s: Count(\"\") = %d", e.Name(), n)
		}
	}
}

func TestCountConcurrent(t *testing.T) {
	texts := make([]string, len(samples))
	want := make([]int, len(samples))
	for i, s := range samples {
		texts[i] = string(readSample(t, s.file))
		want[i] = o200kBase.Count(texts[i])
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range texts {
				j := (i + g) % len(texts)
				if got := o200kBase.Count(texts[j]); got != want[j] {
					t.Errorf("concurrent Count of %s = %d, want %d", samples[j].file, got, want[j])
				}
			}
		})
	}
	wg.Wait()
}

func TestWarm(t *testing.T) {
	// A fresh Encoding shows that nothing is built before first use; the
	// package's own two may have been built by other tests already.
	fresh := &Encoding{name: "o200k_base", id: tokenizer.O200kBase}
	if fresh.Ready() {
		t.Fatal("a new Encoding is ready before anything built it")
	}
	if n := fresh.Count(strings.Repeat(" word", 10)); n != 10 {
		t.Fatalf("Count = %d, want 10", n)
	}
	if !fresh.Ready() {
		t.Fatal("not ready after Count built it")
	}
	for _, name := range []string{"o200k_base", "cl100k_base"} {
		if e := encodingNamed(name); e == nil || e.Name() != name {
			t.Errorf("encodingNamed(%q) = %v", name, e)
		}
	}
	if e := encodingNamed("p50k_base"); e != nil {
		t.Errorf("encodingNamed(p50k_base) = %v, want nil", e)
	}
	Warm("cl100k_base", "no_such_encoding")
	Warm()
	if !o200kBase.Ready() || !cl100kBase.Ready() {
		t.Fatal("not ready after Warm()")
	}
}
