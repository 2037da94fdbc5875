package fakeupstream

import (
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

// TestGeneratedTextTokenCount proves the promise in words: the text of k
// generated tokens is exactly k tokens under the encodings tokengate uses,
// for every choice, so counting a cut stream's text gives the exact
// completion usage.
func TestGeneratedTextTokenCount(t *testing.T) {
	for _, enc := range []tokenizer.Encoding{tokenizer.Cl100kBase, tokenizer.O200kBase} {
		codec, err := tokenizer.Get(enc)
		if err != nil {
			t.Fatal(err)
		}
		for c := range 4 {
			for k := range 200 {
				text := completionText(c, k)
				got, err := codec.Count(text)
				if err != nil {
					t.Fatal(err)
				}
				if got != k {
					t.Fatalf("%s, choice %d: %q is %d tokens, want %d", enc, c, text, got, k)
				}
			}
		}
	}
}

func TestChoicesDiffer(t *testing.T) {
	if completionText(0, 8) == completionText(1, 8) {
		t.Fatal("choices 0 and 1 generate the same text")
	}
}
