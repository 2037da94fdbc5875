package ceiling

import "testing"

func TestLookup(t *testing.T) {
	table, err := New(map[string]int64{"My-Alias": 2_000, "gpt-4o": 12_000})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model string
		want  int64
	}{
		{"gpt-4o-mini", 16_384},
		{"openai/gpt-4o-mini-2024-07-18", 16_384},
		{"gpt-4o", 12_000}, // configured name wins over the family
		{"azure/gpt-4o", 12_000},
		{"gpt-4", 8_192},
		{"gpt-4-turbo-2024-04-09", 4_096},
		{"gpt-4.1-nano", 32_768},
		{"gpt-5-mini", 128_000},
		{"o1-mini", 65_536},
		{"o3-mini", 100_000},
		{"claude-3-haiku-20240307", 4_096},
		{"anthropic/claude-3-5-sonnet-20241022", 8_192},
		{"claude-sonnet-4-20250514", 64_000},
		{"claude-opus-4-1-20250805", 32_000},
		{"bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0", 64_000},
		{"gemini/gemini-2.5-pro", 65_536},
		{"vertex_ai/gemini-1.5-flash-002", 8_192},
		{"groq/llama-3.3-70b-versatile", 32_768},
		{"my-alias", 2_000},
		{"some-model-nobody-knows", Default},
	}
	for _, tt := range tests {
		if got, ok := table.Lookup(tt.model); !ok || got != tt.want {
			t.Errorf("Lookup(%q) = %d, %v; want %d", tt.model, got, ok, tt.want)
		}
	}
}

func TestFallback(t *testing.T) {
	off, err := New(map[string]int64{"*": 0})
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := off.Lookup("unknown-model"); ok {
		t.Fatalf("with the fallback off an unknown model got a ceiling of %d", n)
	}
	if n, ok := off.Lookup("gpt-4o"); !ok || n != 16_384 {
		t.Fatalf("known families keep their ceiling: %d %v", n, ok)
	}
	set, err := New(map[string]int64{"*": 1_000})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := set.Lookup("unknown-model"); n != 1_000 {
		t.Fatalf("fallback %d, want 1000", n)
	}
}

func TestNewRefusesNonPositive(t *testing.T) {
	for _, o := range []map[string]int64{{"gpt-4o": 0}, {"gpt-4o": -1}, {"*": -1}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%v) accepted it", o)
		}
	}
}
