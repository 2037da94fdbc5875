package tokens

import (
	"fmt"
	"strings"
	"testing"
)

func TestCalibration(t *testing.T) {
	const tolerance = 0.20
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			raw := readSample(t, s.file)
			tx := textOf(raw)
			o200k, cl100k := o200kBase.Count(string(raw)), cl100kBase.Count(string(raw))
			est, bound := tx.Estimate(), tx.Bound()
			errPct := 100 * (float64(est)/float64(o200k) - 1)
			t.Logf("%-40s bytes %5d  o200k %4d  cl100k %4d  estimate %4d (%+5.1f%%)  bound %4d (%.2f× o200k)",
				s.kind, len(raw), o200k, cl100k, est, errPct, bound, float64(bound)/float64(o200k))
			if errPct > 100*tolerance || errPct < -100*tolerance {
				t.Errorf("Estimate %d is %+.1f%% off the exact o200k_base count %d", est, errPct, o200k)
			}
			if bound < int64(max(o200k, cl100k)) {
				t.Errorf("Bound %d below the exact count: o200k_base %d, cl100k_base %d", bound, o200k, cl100k)
			}
		})
	}
}

// TestVocabularyFacts checks what bound.go's proof assumes of both
// vocabularies.
func TestVocabularyFacts(t *testing.T) {
	for _, e := range []*Encoding{o200kBase, cl100kBase} {
		t.Run(e.Name(), func(t *testing.T) {
			for n := range 1000 {
				for _, s := range []string{fmt.Sprint(n), fmt.Sprintf("%02d", n%100), fmt.Sprintf("%03d", n)} {
					if got := e.Count(s); got != 1 {
						t.Errorf("%q is %d tokens, want 1", s, got)
					}
				}
			}
			for _, run := range []struct {
				b   string
				max int
			}{{" ", spaceRunTokens}, {"\t", tabRunTokens}, {"\n", newlineRunTokens}} {
				for n := 1; n <= run.max; n++ {
					if got := e.Count(strings.Repeat(run.b, n)); got != 1 {
						t.Errorf("%d × %q is %d tokens, want 1", n, run.b, got)
					}
				}
			}
		})
	}
}

func TestUniformMax(t *testing.T) {
	// Brute force: the most parts n bytes can be cut into when adjacent parts
	// add up to more than l.
	brute := func(n, l int) int {
		best := 0
		var walk func(left, prev, parts int)
		walk = func(left, prev, parts int) {
			if left == 0 {
				best = max(best, parts)
				return
			}
			for p := 1; p <= left; p++ {
				if prev == 0 || prev+p > l {
					walk(left-p, p, parts+1)
				}
			}
		}
		walk(n, 0, 0)
		return best
	}
	for l := 1; l <= 4; l++ {
		for n := 1; n <= 14; n++ {
			if got, want := uniformMax(int64(n), int64(l)), brute(n, l); got != int64(want) {
				t.Errorf("uniformMax(%d, %d) = %d, want %d", n, l, got, want)
			}
		}
	}
}
