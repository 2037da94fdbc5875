package tokens

import (
	"math/rand/v2"
	"testing"
)

// TestProseMatchesReference holds feed, fast path included, to the byte-wise
// reference machine (reference_test.go) on the samples, cut anywhere, and on
// random texts built from the bytes at the fast path's edges: spaces before
// every kind of byte, 2-byte sequences whole and broken across blocks,
// digits, longer sequences and invalid bytes.
func TestProseMatchesReference(t *testing.T) {
	for _, s := range samples {
		raw := readSample(t, s.file)
		if got, want := textOf(raw), refTextOf(raw); got != want {
			t.Fatalf("%s: got %+v, want %+v", s.file, got, want)
		}
		for cut := range len(raw) + 1 {
			if got, want := textOf(raw[:cut], raw[cut:]), refTextOf(raw[:cut], raw[cut:]); got != want {
				t.Fatalf("%s cut at %d: got %+v, want %+v", s.file, cut, got, want)
			}
		}
	}
	atoms := []string{
		"a", "z", "A", "Z", "word", "Word", "camelCase", "@", "[", "`", "{", "~", ".", ",", "'", "!", "(",
		" ", " ", " ", "  ", "\t", "\n", "\r\n", "0", "42", "1234567",
		"é", "ção", "Ü", "\u00a0", "\xc3", "\xa9", "\xc2\x80", "\xdf\xbf", "\xc1\xbf",
		"中", "—", "😀", "\xe4\xb8", "\xf0\x9f", "\xed\xa0\x80", "\xff", "\x00", "\x7f", "\v",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var buf []byte
	for range 20000 {
		buf = buf[:0]
		for n := rng.IntN(16); n >= 0; n-- {
			buf = append(buf, atoms[rng.IntN(len(atoms))]...)
		}
		want := refTextOf(buf)
		if got := textOf(buf); got != want {
			t.Fatalf("%q: got %+v, want %+v", buf, got, want)
		}
		cut := rng.IntN(len(buf) + 1)
		if got := textOf(buf[:cut], buf[cut:]); got != want {
			t.Fatalf("%q cut at %d: got %+v, want %+v", buf, cut, got, want)
		}
	}
}
