package extproc

import (
	"strconv"
	"testing"

	"github.com/iasolaris/tokengate/quota"
)

func TestHintsRememberAndForgetNothingElse(t *testing.T) {
	h := newHints()
	if _, ok := h.get("ana@example.com"); ok {
		t.Fatal("an empty table has a hint")
	}
	h.put("ana@example.com", 1234)
	if v, ok := h.get("ana@example.com"); !ok || v != 1234 {
		t.Fatalf("get = %d, %v", v, ok)
	}
	h.put("ana@example.com", -5) // an overspent balance reads as nothing left
	if v, _ := h.get("ana@example.com"); v != 0 {
		t.Fatalf("negative remaining stored as %d", v)
	}
	h.put("ana@example.com", 1<<50)
	if v, _ := h.get("ana@example.com"); v != hintValueMax {
		t.Fatalf("huge remaining stored as %d, want it clamped to %d", v, hintValueMax)
	}
}

// However many accounts call, the table stays its size, and accounts that
// were never remembered almost never read another's hint (only on a 24-bit
// tag collision within a slot).
func TestHintsStayBoundedAndMostlyExact(t *testing.T) {
	h := newHints()
	const accounts = 200_000
	for i := range accounts {
		h.put(quota.AccountID("u"+strconv.Itoa(i)+"@example.com"), quota.Tokens(i))
	}
	if len(h.slots) != hintSlots {
		t.Fatalf("table grew to %d slots", len(h.slots))
	}
	wrong, kept := 0, 0
	for i := range accounts {
		v, ok := h.get(quota.AccountID("u" + strconv.Itoa(i) + "@example.com"))
		switch {
		case ok && v == quota.Tokens(i):
			kept++
		case ok:
			wrong++
		}
	}
	if kept < hintSlots/2 || wrong > accounts/1000 {
		t.Fatalf("kept %d exact hints and %d wrong ones of %d accounts in %d slots", kept, wrong, accounts, hintSlots)
	}
	for i := range 10_000 {
		if _, ok := h.get(quota.AccountID("stranger" + strconv.Itoa(i))); ok {
			wrong++
		}
	}
	if wrong > accounts/1000 {
		t.Fatalf("%d hints for accounts never seen", wrong)
	}
}

func BenchmarkHints(b *testing.B) {
	h := newHints()
	acct := quota.AccountID("ana@example.com")
	b.ReportAllocs()
	for b.Loop() {
		h.put(acct, 100)
		if _, ok := h.get(acct); !ok {
			b.Fatal("lost")
		}
	}
}
