package tokens

import "strings"

// families maps model name prefixes to their encoding. The o200k_base
// entries come first: "gpt-4o" also starts with "gpt-4".
var families = [...]struct {
	prefix string
	enc    *Encoding
}{
	{"gpt-4o", o200kBase},
	{"chatgpt-4o", o200kBase},
	{"gpt-4.1", o200kBase},
	{"gpt-4.5", o200kBase},
	{"gpt-5", o200kBase},
	{"o1", o200kBase},
	{"o3", o200kBase},
	{"o4", o200kBase},
	{"gpt-oss", o200kBase}, // o200k_harmony: o200k_base's ranks plus special tokens
	{"gpt-4", cl100kBase},  // gpt-4, gpt-4-turbo, gpt-4-32k, gpt-4-0613, ...
	{"gpt-3.5", cl100kBase},
	{"gpt-35", cl100kBase}, // Azure's spelling of gpt-3.5
	{"text-embedding-3", cl100kBase},
	{"text-embedding-ada-002", cl100kBase},
}

// ForModel returns the encoding a model uses, or false when the model is not
// an OpenAI model whose encoding is known (Claude, Gemini, Llama, Mistral,
// ...), in which case Text's estimate is the best there is.
//
// Names are matched case-insensitively on their last path segment, so
// LiteLLM's provider prefixes ("openai/", "azure/", "openrouter/openai/")
// do not matter, and fine-tuned names ("ft:gpt-4o-mini:org::id") match their
// base model. A prefix matches only whole: "o1" matches "o1-mini" but not
// "o1x".
func ForModel(model string) (*Encoding, bool) {
	name := strings.ToLower(model)
	name = name[strings.LastIndexByte(name, '/')+1:]
	name = strings.TrimPrefix(name, "ft:")
	for _, f := range families {
		if !strings.HasPrefix(name, f.prefix) {
			continue
		}
		if rest := name[len(f.prefix):]; rest == "" || !isAlnum(rest[0]) {
			return f.enc, true
		}
	}
	return nil, false
}

// isAlnum reports whether c continues a model name's word, as "o" does in
// "gpt-4o" after "gpt-4".
func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
