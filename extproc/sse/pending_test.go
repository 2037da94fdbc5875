package sse

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestPendingLetsCallerDropAnEvent plays the caller that strips the usage chunk
// tokengate injected: it forwards bytes as soon as Pending says no open event owns
// them, and drops the usage event's bytes. Whatever the cut, the client must get the
// stream minus exactly that event, and the caller must never hold more than the open
// event.
func TestPendingLetsCallerDropAnEvent(t *testing.T) {
	raw := mustRead(t, filepath.Join("testdata", "openai_chat_usage.sse"))
	isUsage := func(ev Event) bool { return bytes.Contains(ev.Data, []byte(`"choices":[],"usage":{`)) }

	var want []byte
	{
		d := New(Options{})
		d.Feed(raw)
		for ev, ok := d.Next(); ok; ev, ok = d.Next() {
			if isUsage(ev) {
				want = append(append(want, raw[:ev.Start]...), raw[ev.End:]...)
			}
		}
		if want == nil {
			t.Fatal("no usage event in the recording")
		}
	}

	rewrite := func(chunks ...[]byte) []byte {
		var (
			d        Decoder
			out      []byte
			hold     []byte // bytes from holdFrom on, not yet forwarded nor dropped
			holdFrom int64
		)
		pass := func(upTo int64, keep bool) {
			n := upTo - holdFrom
			if keep {
				out = append(out, hold[:n]...)
			}
			hold, holdFrom = hold[n:], upTo
		}
		take := func(ev Event) {
			pass(ev.Start, true)
			pass(ev.End, !isUsage(ev))
		}
		for _, c := range chunks {
			hold = append(hold, c...)
			d.Feed(c)
			for ev, ok := d.Next(); ok; ev, ok = d.Next() {
				take(ev)
			}
			pass(d.Pending(), true)
			if open := d.Offset() - d.Pending(); int64(len(hold)) != open {
				t.Fatalf("holding %d bytes, the open event has %d", len(hold), open)
			}
		}
		if ev, ok := d.Close(); ok {
			take(ev)
		}
		pass(d.Offset(), true)
		return out
	}

	for cut := range len(raw) + 1 {
		if got := rewrite(raw[:cut], raw[cut:]); !bytes.Equal(got, want) {
			t.Fatalf("cut at %d: client got\n%s\nwant\n%s", cut, got, want)
		}
	}
	var bytewise [][]byte
	for i := range raw {
		bytewise = append(bytewise, raw[i:i+1])
	}
	if got := rewrite(bytewise...); !bytes.Equal(got, want) {
		t.Fatalf("one byte per chunk: client got\n%s\nwant\n%s", got, want)
	}
}
