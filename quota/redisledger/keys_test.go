package redisledger

import (
	"strings"
	"testing"
	"time"

	"github.com/iasolaris/tokengate/quota"
)

// hashTag is the part of key Redis Cluster hashes: the text between the
// first '{' and the first '}' after it, when that is not empty.
func hashTag(key string) string {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return key
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return key
	}
	return key[i+1 : i+1+j]
}

// checkKeys asserts the layout's two properties for accounts a and b: all of
// an account's keys hash to one slot, and two accounts share no key and no
// tag, whatever bytes their ids hold.
func checkKeys(t *testing.T, a, b string) {
	l := New(nil, Options{Prefix: "tg:"})
	p := quota.PeriodOf(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), time.UTC)
	ka, kb := l.keys(quota.AccountID(a), p), l.keys(quota.AccountID(b), p)
	tag := hashTag(ka[0])
	if tag != "a:"+escapeID(a) {
		t.Fatalf("account %q: tag %q, want the account's own", a, tag)
	}
	for _, k := range ka {
		if hashTag(k) != tag {
			t.Fatalf("account %q: key %q has tag %q, want %q: not one slot", a, k, hashTag(k), tag)
		}
	}
	if a == b {
		return
	}
	if hashTag(kb[0]) == tag {
		t.Fatalf("accounts %q and %q share the tag %q", a, b, tag)
	}
	for _, x := range ka {
		for _, y := range kb {
			if x == y {
				t.Fatalf("accounts %q and %q share the key %q", a, b, x)
			}
		}
	}
}

func TestKeys(t *testing.T) {
	for _, c := range []struct{ a, b string }{
		{"ana@example.com", "ana@example.com."},
		{"x", "x}y"},
		{"x}", "x%7D"},
		{"{a:x}", "x"},
		{"", "}"},
		{"%", "%25"},
	} {
		checkKeys(t, c.a, c.b)
		checkKeys(t, c.b, c.a)
	}
}

func FuzzKeys(f *testing.F) {
	f.Add("ana@example.com", "x}y")
	f.Add("{a:x}", "x")
	f.Add("%7D", "}")
	f.Fuzz(checkKeys)
}
