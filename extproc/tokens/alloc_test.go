package tokens_test

import (
	"testing"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// TestAddDoesNotAllocate feeds Texts from another package, as the request
// and stream scanners do, where an inlined Add would make them escape (see
// text.go).
func TestAddDoesNotAllocate(t *testing.T) {
	p := []byte("Você é o assistente jurídico-técnico da IA SOLARIS. Responda em português, 2025-03-14.\n")
	s := string(p)
	feedBoth := func() {
		var a, b tokens.Text
		a.Add(p)
		b.AddString(s)
		a.Merge(b)
		if a.Bytes != 2*int64(len(p)) {
			t.Fatalf("Bytes = %d", a.Bytes)
		}
	}
	if n := testing.AllocsPerRun(100, feedBoth); n != 0 {
		t.Errorf("feeding two Texts allocates %v times, want 0", n)
	}
}
