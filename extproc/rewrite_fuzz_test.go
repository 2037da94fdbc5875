package extproc

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/extproc/sse"
)

// FuzzRewrite feeds any stream, cut anywhere into three chunks, through the
// rewrite of a stream whose usage tokengate asked for, and asserts that the
// client gets the same bytes wherever the cuts fall; that those bytes are
// the upstream's with some removed and none added or changed (so every line
// end is the upstream's); and that, read as SSE, they are the upstream's
// events without the usage-only ones and without any usage member.
func FuzzRewrite(f *testing.F) {
	paths, _ := filepath.Glob("openai/testdata/streams/*.sse")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, eol := range []string{"\n", "\r\n", "\r"} {
			f.Add([]byte(strings.ReplaceAll(string(b), "\n", eol)), uint16(len(b)/3), uint16(len(b)/2))
		}
	}
	for _, s := range []string{
		"event: chunk\r\n: relayed\r\nid: 7\r\ndata: {\"id\":\"c\",\"usage\":null,\"choices\":[]}\r\n\r\n",
		"data: {\"usage\":\ndata: null,\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata:{\"choices\":[],\"usage\":{}}\r\rdata: [DONE]",
		"\xEF\xBB\xBFdata: {\"usage\":null,\"usage\":null,\"usage\":null,\"usage\":null,\"usage\":null,\"a\":1}\r\n\r\n",
		"data\ndata: {\"choices\":[{\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1}}\n\n",
		"data: {\"usage\":5}\n\ndata: {\"usage\":{},\"choices\":[{\"delta\":{\"content\":\"\"}}]}",
	} {
		f.Add([]byte(s), uint16(7), uint16(40))
	}
	f.Fuzz(func(t *testing.T, stream []byte, c1, c2 uint16) {
		if len(stream) > maxHeldEvent/2 {
			return // past it the rewrite lets events through unstripped, by design
		}
		whole, _ := passStream(t, string(stream))
		a, b := min(int(c1), len(stream)), min(int(c2), len(stream))
		a, b = min(a, b), max(a, b)
		if cut, _ := passStream(t, string(stream[:a]), string(stream[a:b]), string(stream[b:])); cut != whole {
			t.Fatalf("cut at %d and %d: got\n%q\nwhole\n%q", a, b, cut, whole)
		}
		if !subsequence([]byte(whole), stream) {
			t.Fatalf("the client got bytes the upstream did not send:\n%q\nfrom\n%q", whole, stream)
		}
		want := events(stream)
		kept := want[:0]
		for _, ev := range want {
			c, err := openai.ScanChunk(ev.data)
			switch {
			case err != nil || openai.IsDone(ev.data):
			case c.HasUsage && (c.NoChoices || c.Deltas == 0 && !c.Finished):
				continue // the usage-only chunk tokengate asked for
			case c.HasUsage || c.NullUsage:
				ev.data, _ = openai.StripUsage(nil, ev.data)
			}
			kept = append(kept, ev)
		}
		got := events([]byte(whole))
		if len(got) != len(kept) {
			t.Fatalf("the client got %d events, want %d:\n%q\nfrom\n%q", len(got), len(kept), whole, stream)
		}
		for i := range got {
			if got[i].typ != kept[i].typ || got[i].id != kept[i].id || !sameJSON(got[i].data, kept[i].data) {
				t.Fatalf("event %d: got %+v, want %+v", i, got[i], kept[i])
			}
		}
	})
}

// subsequence reports whether out is in with some bytes removed.
func subsequence(out, in []byte) bool {
	for _, c := range out {
		i := bytes.IndexByte(in, c)
		if i < 0 {
			return false
		}
		in = in[i+1:]
	}
	return true
}

// sseEvent is what a client reads of one event.
type sseEvent struct {
	typ, id string
	data    []byte
}

// events decodes a whole stream as a client would (leniently at its end,
// as tokengate does).
func events(stream []byte) []sseEvent {
	var out []sseEvent
	d := sse.New(sse.Options{})
	add := func(ev sse.Event) {
		out = append(out, sseEvent{string(ev.Type), string(ev.ID), bytes.Clone(ev.Data)})
	}
	d.Feed(stream)
	for ev, ok := d.Next(); ok; ev, ok = d.Next() {
		add(ev)
	}
	if ev, ok := d.Close(); ok {
		add(ev)
	}
	return out
}

// sameJSON compares two datas as JSON values when both are JSON, else as
// bytes: whitespace left where a cut spanned data lines is no difference.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(va, vb)
}
