package tokens

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// samples are the recorded-looking texts under testdata, one per kind of
// prompt the estimators must handle.
var samples = []struct {
	file, kind string
}{
	{"english.txt", "English prose"},
	{"portuguese.txt", "Brazilian Portuguese prose"},
	{"source_go.txt", "Go source"},
	{"tools.json", "JSON (a request's tools array)"},
	{"answer.md", "chat answer in Markdown with code blocks"},
	{"chinese.txt", "Chinese prose"},
	{"emoji.txt", "text with emoji"},
	{"numbers.txt", "tables of numbers"},
	{"config.yaml", "indented YAML"},
}

func readSample(tb testing.TB, file string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// textOf feeds the pieces into one Text, in order.
func textOf(pieces ...[]byte) Text {
	var t Text
	for _, p := range pieces {
		t.Add(p)
	}
	return t
}

func TestTextEveryCut(t *testing.T) {
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			raw := readSample(t, s.file)
			want := textOf(raw)
			for cut := range len(raw) + 1 { // a JSON escape may fall anywhere, even mid-rune
				if got := textOf(raw[:cut], raw[cut:]); got != want {
					t.Fatalf("cut at %d: got %+v, want %+v", cut, got, want)
				}
			}
			var bytewise, str Text
			for i := range raw {
				bytewise.Add(raw[i : i+1])
				str.AddString(string(raw[i : i+1]))
			}
			if bytewise != want || str != want {
				t.Fatalf("byte by byte: got %+v and %+v (AddString), want %+v", bytewise, str, want)
			}
		})
	}
}

func TestBoundByHand(t *testing.T) {
	tests := []struct {
		name, text string
		bound      int64
	}{
		{"empty", "", 0},
		{"word", "hello", 5},
		{"digits at the edges are charged by bytes", "12345", 5},
		{"digits between ASCII go three to a token", "a 1234567 b", 1 + 1 + 3 + 1 + 1},
		{"digits beside a Unicode digit are charged by bytes", "½123", 2 + 3},
		{"digits between punctuation", "(123)", 3},
		{"newlines after punctuation, then indentation", "x:\n\n    key", 1 + 1 + (2 + 1 + 1) + 3},
		{"newlines after a letter are one uniform run", "a\n\n\nb", 1 + 1 + 1},
		{"a long run of spaces", "a" + strings.Repeat(" ", 100) + "b", 1 + (1 + 3) + 1},
		{"mixed spaces and tabs are charged by bytes", "a \t b", 5},
		{"CRLF is charged by bytes", "a\r\n  b", 6},
		{"whitespace at the start is charged by bytes", "\t\tx", 3},
		{"a whole rune", "中", 3},
		{"a broken-off rune: three per byte", "\xe4\xb8", 6},
		{"a stray continuation byte", "a\x80b", 5},
		{"a surrogate is not UTF-8", "\xed\xa0\x80", 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx := textOf([]byte(tt.text))
			if got := tx.Bound(); got != tt.bound {
				t.Errorf("Bound(%q) = %d, want %d", tt.text, got, tt.bound)
			}
			if tx.Bytes != int64(len(tt.text)) {
				t.Errorf("Bytes = %d, want %d", tx.Bytes, len(tt.text))
			}
			if e := tx.Estimate(); e > tx.Bound() || e < 0 || (len(tt.text) > 0) != (e > 0) {
				t.Errorf("Estimate(%q) = %d with Bound %d", tt.text, e, tx.Bound())
			}
		})
	}
}

func TestMerge(t *testing.T) {
	t.Run("HardBreak", func(t *testing.T) {
		whole := textOf([]byte("x1234y"))
		split := textOf([]byte("x12"))
		split.Merge(textOf([]byte("34y")))
		if whole.Bound() != 4 || split.Bound() != 6 {
			t.Fatalf("Bound = %d whole, %d merged; want 4 and 6: digits at a break are charged by bytes", whole.Bound(), split.Bound())
		}
	})
	t.Run("EmptyMergeEndsTheText", func(t *testing.T) {
		a := textOf([]byte("x12"))
		a.Merge(Text{})
		a.AddString("34y")
		b := textOf([]byte("x12"))
		b.Merge(textOf([]byte("34y")))
		if a != b {
			t.Fatalf("Merge(Text{}) then Add: got %+v, want %+v", a, b)
		}
	})
	t.Run("AddContinuesTheMergedText", func(t *testing.T) {
		a := textOf([]byte("first message"))
		a.Merge(textOf([]byte("second, cut mid-rune \xe4\xb8")))
		a.AddString("\xad and mid-number 12")
		a.AddString("34")
		b := textOf([]byte("first message"))
		b.Merge(textOf([]byte("second, cut mid-rune 中 and mid-number 1234")))
		if a != b {
			t.Fatalf("got %+v, want %+v", a, b)
		}
	})
	t.Run("Identity", func(t *testing.T) {
		// Each text ends in an open digit or whitespace run, an unfinished
		// UTF-8 sequence, or nothing: what Merge carries forward.
		for _, s := range []string{"", "ab12", "x:\n\n  ", "12", "  ", "caf\xc3", "mid-number 1", "word"} {
			x := textOf([]byte(s))
			var left Text
			left.Merge(x)
			if left != x {
				t.Errorf("Text{}.Merge(%q) = %+v, want %+v", s, left, x)
			}
			right := x
			right.Merge(Text{})
			if right.Bound() != x.Bound() || right.Estimate() != x.Estimate() {
				t.Errorf("%q.Merge(Text{}): Bound %d Estimate %d, want %d and %d", s, right.Bound(), right.Estimate(), x.Bound(), x.Estimate())
			}
		}
	})
	t.Run("Associative", func(t *testing.T) {
		// Streamed deltas, chat messages and tool arguments, cut where
		// runs and sequences are open.
		parts := []string{"", "ab12", "34 cd", "  ", "\n\n", "x", "\xe4\xb8", "\xad and 5", "{\"a\": 1", "}"}
		for _, a := range parts {
			for _, b := range parts {
				for _, c := range parts {
					left, right := mergeBothWays(textOf([]byte(a)), textOf([]byte(b)), textOf([]byte(c)))
					if left != right {
						t.Fatalf("(%q+%q)+%q = %+v, %q+(%q+%q) = %+v", a, b, c, left, a, b, c, right)
					}
				}
			}
		}
	})
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			raw := readSample(t, s.file)
			whole := textOf(raw)
			for cut := 0; cut <= len(raw); cut += 7 {
				a, b := textOf(raw[:cut]), textOf(raw[cut:])
				m := a
				m.Merge(b)
				if m.Bytes != whole.Bytes || m.Bound() != a.Bound()+b.Bound() {
					t.Fatalf("cut at %d: merged Bytes %d Bound %d, want %d and %d+%d", cut, m.Bytes, m.Bound(), whole.Bytes, a.Bound(), b.Bound())
				}
				if m.Bound() < whole.Bound() {
					t.Fatalf("cut at %d: merged Bound %d below the whole text's %d", cut, m.Bound(), whole.Bound())
				}
			}
		})
	}
}

// mergeBothWays merges three texts as (x+y)+z and as x+(y+z); Merge is
// associative when the two are equal.
func mergeBothWays(x, y, z Text) (left, right Text) {
	left = x
	left.Merge(y)
	left.Merge(z)
	yz := y
	yz.Merge(z)
	right = x
	right.Merge(yz)
	return left, right
}
