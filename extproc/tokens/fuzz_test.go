package tokens

import (
	"testing"
	"unicode/utf8"
)

// FuzzBound checks Bound against both real encodings, that a cut anywhere
// changes nothing, that feed agrees with the reference machine, and that
// merging is associative. Exact counting is slow, so inputs are capped at
// 2 KB.
func FuzzBound(f *testing.F) {
	for _, s := range samples {
		raw := readSample(f, s.file)
		f.Add(string(raw[:min(len(raw), 2048)]), uint16(len(raw)/3))
	}
	for _, s := range []string{
		"x:\n\n    key: 1  2\t\t3", "a\n \n \n b", "1½23４5", "\u00a0\u00a0 12 \u3000\n x", "\r\n\r\n\t \t",
		"don't STOP-theMusic'S 1,000,000.00", "<|endoftext|>", "\v\f 123 \x1c\x1f 4", "😀👍🏽 👨‍👩‍👧",
	} {
		f.Add(s, uint16(3))
	}
	f.Fuzz(func(t *testing.T, s string, cut uint16) {
		if len(s) > 2048 {
			s = s[:2048]
		}
		tx := textOf([]byte(s))
		c := int(cut) % (len(s) + 1)
		if got := textOf([]byte(s[:c]), []byte(s[c:])); got != tx {
			t.Fatalf("cut at %d changed the Text: %+v, whole %+v", c, got, tx)
		}
		if ref := refTextOf([]byte(s[:c]), []byte(s[c:])); ref != tx {
			t.Fatalf("cut at %d: the reference machine gives %+v, feed %+v", c, ref, tx)
		}
		a, b := textOf([]byte(s[:c])), textOf([]byte(s[c:]))
		a.Merge(b)
		if a.Bound() < tx.Bound() {
			t.Fatalf("merged at %d: Bound %d below the whole text's %d", c, a.Bound(), tx.Bound())
		}
		// Three texts, the second cut from the first's tail at c/2.
		d := c / 2
		left, right := mergeBothWays(textOf([]byte(s[:d])), textOf([]byte(s[d:c])), textOf([]byte(s[c:])))
		if left != right {
			t.Fatalf("cuts at %d and %d: merging is not associative: %+v, %+v", d, c, left, right)
		}
		if tx.Estimate() > tx.Bound() {
			t.Fatalf("Estimate %d above Bound %d", tx.Estimate(), tx.Bound())
		}
		// The tokenizer passes invalid UTF-8 through byte for byte, which
		// Bound covers too, but the property promised is for valid text.
		if !utf8.ValidString(s) {
			return
		}
		for _, e := range []*Encoding{o200kBase, cl100kBase} {
			if n := e.Count(s); int64(n) > tx.Bound() {
				t.Fatalf("%s counts %d tokens in %q, above Bound %d", e.Name(), n, s, tx.Bound())
			}
		}
	})
}
