package sse

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// record is an Event copied out of the decoder's memory, in the golden files' shape.
type record struct {
	Type     string `json:"type,omitempty"`
	ID       string `json:"id,omitempty"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	Oversize bool   `json:"oversize,omitempty"`
	Data     string `json:"data"`
}

func recordOf(ev Event) record {
	return record{Type: string(ev.Type), ID: string(ev.ID), Start: ev.Start, End: ev.End, Oversize: ev.Oversize, Data: string(ev.Data)}
}

// decodeAll feeds chunks to a fresh decoder, closes it, and returns every event. On
// the way it checks what must hold however the stream is cut: Offset counts the
// bytes fed, Pending never moves back nor past an event still to come, and events
// are non-empty, in order and within the stream.
func decodeAll(t testing.TB, o Options, chunks ...[]byte) []record {
	t.Helper()
	d := New(o)
	var (
		out     []record
		fed     int64
		pending int64
	)
	take := func(ev Event, limit int64) {
		t.Helper()
		r := recordOf(ev)
		if r.Start < pending {
			t.Fatalf("event [%d,%d) starts before Pending %d reported earlier", r.Start, r.End, pending)
		}
		if r.Start >= r.End || r.End > limit {
			t.Fatalf("event [%d,%d) is empty or past offset %d", r.Start, r.End, limit)
		}
		if n := len(out); n > 0 && r.Start < out[n-1].End {
			t.Fatalf("event [%d,%d) overlaps the one before, [%d,%d)", r.Start, r.End, out[n-1].Start, out[n-1].End)
		}
		out = append(out, r)
	}
	var scratch []byte
	for _, c := range chunks {
		// Feed a copy and scribble over it once drained, as Envoy's buffers are
		// reused: an event that kept pointing into an old chunk would show it.
		scratch = append(scratch[:0], c...)
		d.Feed(scratch)
		fed += int64(len(c))
		for ev, ok := d.Next(); ok; ev, ok = d.Next() {
			take(ev, fed)
		}
		for i := range scratch {
			scratch[i] = '#'
		}
		if got := d.Offset(); got != fed {
			t.Fatalf("Offset() = %d after feeding %d bytes", got, fed)
		}
		p := d.Pending()
		if p < pending || p > fed {
			t.Fatalf("Pending() = %d, want within [%d, %d]", p, pending, fed)
		}
		pending = p
	}
	if ev, ok := d.Close(); ok {
		take(ev, fed)
	}
	if _, ok := d.Close(); ok {
		t.Fatal("a second Close returned an event")
	}
	return out
}

func recordedStreams(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.sse: %v", err)
	}
	return files
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden returns the events recorded for an .sse file, rewriting them first with -update.
func golden(t *testing.T, sse string, got []record) []record {
	t.Helper()
	path := strings.TrimSuffix(sse, ".sse") + ".golden"
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for _, r := range got {
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var want []record
	dec := json.NewDecoder(bytes.NewReader(mustRead(t, path)))
	for dec.More() {
		var r record
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		want = append(want, r)
	}
	return want
}

func TestDecoderEveryCut(t *testing.T) {
	for _, in := range recordedStreams(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw := mustRead(t, in)
			want := golden(t, in, decodeAll(t, Options{}, raw))
			for cut := range len(raw) + 1 { // Envoy may cut a chunk at any byte
				got := decodeAll(t, Options{}, raw[:cut], raw[cut:])
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("cut at %d (-want +got):\n%s", cut, diff)
				}
			}
		})
	}
}

func TestDecoderByteAtATime(t *testing.T) {
	for _, in := range recordedStreams(t) {
		t.Run(filepath.Base(in), func(t *testing.T) {
			raw := mustRead(t, in)
			chunks := make([][]byte, len(raw))
			for i := range raw {
				chunks[i] = raw[i : i+1]
			}
			want := golden(t, in, decodeAll(t, Options{}, raw))
			if diff := cmp.Diff(want, decodeAll(t, Options{}, chunks...)); diff != "" {
				t.Fatalf("one byte per chunk (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRecordedStreams pins what the usage extractors rely on in each recording, so
// a golden file regenerated from a broken decoder cannot pass unnoticed.
func TestRecordedStreams(t *testing.T) {
	tests := []struct {
		file      string
		events    int
		firstType string
		lastType  string
		lastData  string
		usageIn   int // index of the event carrying the final usage, from the end
	}{
		{"openai_chat_usage.sse", 14, "", "", "[DONE]", 2},
		{"openai_chat_tool_call.sse", 16, "", "", "[DONE]", 2},
		{"openai_responses.sse", 15, "response.created", "response.completed", "", 1},
		{"anthropic_messages.sse", 9, "message_start", "message_stop", `{"type":"message_stop"}`, 2},
		{"litellm_crlf.sse", 6, "", "", "[DONE]", 2},
		{"openrouter_keepalive.sse", 5, "", "", "[DONE]", 2},
		{"openai_no_final_blank.sse", 5, "", "", "[DONE]", 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := mustRead(t, filepath.Join("testdata", tt.file))
			got := decodeAll(t, Options{}, raw)
			if len(got) != tt.events {
				t.Fatalf("got %d events, want %d", len(got), tt.events)
			}
			first, last := got[0], got[len(got)-1]
			if first.Type != tt.firstType || last.Type != tt.lastType {
				t.Errorf("types %q … %q, want %q … %q", first.Type, last.Type, tt.firstType, tt.lastType)
			}
			if tt.lastData != "" && last.Data != tt.lastData {
				t.Errorf("last data %q, want %q", last.Data, tt.lastData)
			}
			if u := got[len(got)-tt.usageIn].Data; !strings.Contains(u, `"usage":{`) {
				t.Errorf("event %d from the end has no usage object: %.120s", tt.usageIn, u)
			}
			if last.End != int64(len(raw)) {
				t.Errorf("last event ends at %d, stream at %d", last.End, len(raw))
			}
			for _, r := range got {
				if !json.Valid([]byte(r.Data)) && r.Data != "[DONE]" {
					t.Errorf("event [%d,%d) data is not JSON: %.120s", r.Start, r.End, r.Data)
				}
				if ev := raw[r.Start:r.End]; !bytes.Contains(ev, []byte(r.Data)) {
					t.Errorf("event [%d,%d) does not contain its own data", r.Start, r.End)
				}
			}
		})
	}
}

func TestFeedBeforeDrainPanics(t *testing.T) {
	for _, op := range []string{"Feed", "Close"} {
		t.Run(op, func(t *testing.T) {
			d := New(Options{})
			d.Feed([]byte("data: a\n\ndata: b\n\n"))
			if _, ok := d.Next(); !ok {
				t.Fatal("no first event")
			}
			defer func() {
				if recover() == nil {
					t.Fatalf("%s with an event left in the chunk did not panic", op)
				}
			}()
			if op == "Feed" {
				d.Feed([]byte("data: c\n\n"))
			} else {
				d.Close()
			}
		})
	}
}

func TestResetStartsANewStream(t *testing.T) {
	raw := []byte(bom + "data: one\n\nevent: x\ndata: two")
	want := decodeAll(t, Options{}, raw)
	var d Decoder // the zero value is usable
	for range 2 {
		d.Feed(raw[:9]) // leaves a partial line and an open event behind
		for _, ok := d.Next(); ok; _, ok = d.Next() {
		}
		d.Reset()
		var got []record
		d.Feed(raw)
		for ev, ok := d.Next(); ok; ev, ok = d.Next() {
			got = append(got, recordOf(ev))
		}
		if ev, ok := d.Close(); ok {
			got = append(got, recordOf(ev))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("after Reset (-want +got):\n%s", diff)
		}
		d.Reset()
	}
}
