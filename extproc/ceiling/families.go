package ceiling

// families are the output ceilings providers document for their model
// families, matched by the longest prefix of the model name without a
// provider prefix. Where a family's members differ, the entry takes the
// largest member's figure: a ceiling too high only holds more than needed,
// one too low would cut replies short. Operators override any name with
// models.<name>.max_output_tokens.
var families = []struct {
	prefix string
	tokens int64
}{
	// OpenAI.
	{"gpt-3.5-turbo", 4_096},
	{"gpt-4", 8_192},
	{"gpt-4-turbo", 4_096},
	{"gpt-4-1106", 4_096},
	{"gpt-4-0125", 4_096},
	{"gpt-4-vision", 4_096},
	{"gpt-4o", 16_384},
	{"chatgpt-4o", 16_384},
	{"gpt-4.1", 32_768},
	{"gpt-4.5", 16_384},
	{"gpt-5", 128_000},
	{"o1", 100_000},
	{"o1-mini", 65_536},
	{"o1-preview", 32_768},
	{"o3", 100_000},
	{"o4-mini", 100_000},
	// Anthropic.
	{"claude-2", 4_096},
	{"claude-instant", 4_096},
	{"claude-3-haiku", 4_096},
	{"claude-3-sonnet", 4_096},
	{"claude-3-opus", 4_096},
	{"claude-3-5-haiku", 8_192},
	{"claude-3-5-sonnet", 8_192},
	{"claude-3-7-sonnet", 64_000},
	{"claude-sonnet-4", 64_000},
	{"claude-haiku-4", 64_000},
	{"claude-opus-4", 32_000},
	{"claude-opus-4-5", 64_000},
	// Google.
	{"gemini-1.0", 8_192},
	{"gemini-1.5", 8_192},
	{"gemini-2.0", 8_192},
	{"gemini-2.5", 65_536},
	{"gemini-3", 65_536},
	// Meta Llama, as hosted providers serve it.
	{"llama-2", 4_096},
	{"llama-3", 8_192},
	{"llama-3.1", 32_768},
	{"llama-3.2", 32_768},
	{"llama-3.3", 32_768},
	{"llama-4", 32_768},
	{"meta-llama-3", 8_192},
	{"meta-llama-3.1", 32_768},
}
