package fakeupstream

import "strings"

// words are the pieces of generated text. Each is a single token in both
// cl100k_base and o200k_base, and every piece after the first starts with a
// space and holds letters only, so BPE never merges two of them: a text of k
// pieces is exactly k tokens. tokengate's fallback (counting the completion
// tokens of a stream cut before its usage chunk) can therefore be checked
// exactly. text_test.go holds the proof.
func words() [32]string {
	return [32]string{
		"Hello", " there", " this", " is", " a", " fake", " answer", " from",
		" the", " test", " upstream", " and", " every", " word", " here", " counts",
		" as", " one", " token", " so", " usage", " can", " be", " checked",
		" against", " what", " was", " sent", " back", " to", " you", " now",
	}
}

// tokenText is the k-th token (from 0) of choice c. Choices start at
// different words so that n > 1 gives distinguishable answers.
func tokenText(c, k int) string {
	w := words()
	if k == 0 {
		return w[0]
	}
	rest := len(w) - 1
	return w[1+(k-1+c*5)%rest]
}

// completionText is the whole text of choice c with n tokens.
func completionText(c, n int) string {
	var b strings.Builder
	for k := range n {
		b.WriteString(tokenText(c, k))
	}
	return b.String()
}

// obfuscation is deterministic stand-in padding for OpenAI's "obfuscation"
// field, whose real value is random characters of varying length.
func obfuscation(seq int) string {
	const pad = "Xq7LmN2pR9sT4vW8yZ3bC6dF1gH5jK0"
	return pad[:2+seq*7%(len(pad)-2)]
}
