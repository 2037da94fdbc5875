package sse

import (
	"path/filepath"
	"testing"
)

// deltaEvent is a typical OpenAI content-delta event, about 150 bytes on the wire.
const deltaEvent = `data: {"id":"chatcmpl-CJ8kQ2mX4rVbT1nZ7yLpE0wGdUfHs","object":"chat.completion.chunk","created":1758621043,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" tem"}}]}` + "\n\n"

func drain(b *testing.B, d *Decoder, want int) {
	n := 0
	for _, ok := d.Next(); ok; _, ok = d.Next() {
		n++
	}
	if n != want {
		b.Fatalf("decoded %d events, want %d", n, want)
	}
}

// BenchmarkDecodeChunk is the hot path: one whole event per chunk, as Envoy usually
// delivers a streamed completion. It must not allocate.
func BenchmarkDecodeChunk(b *testing.B) {
	d, ev := New(Options{}), []byte(deltaEvent)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(ev)
		drain(b, d, 1)
	}
}

// BenchmarkDecodeSplitEvent cuts the event inside its data line, so the line goes
// through the reused line buffer.
func BenchmarkDecodeSplitEvent(b *testing.B) {
	d, ev := New(Options{}), []byte(deltaEvent)
	head, tail := ev[:len(ev)/2], ev[len(ev)/2:]
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		d.Feed(head)
		drain(b, d, 0)
		d.Feed(tail)
		drain(b, d, 1)
	}
}

// BenchmarkDecodeStream decodes each recording fed whole, for throughput.
func BenchmarkDecodeStream(b *testing.B) {
	for _, in := range recordedStreams(b) {
		raw := mustRead(b, in)
		want := len(decodeAll(b, Options{}, raw))
		b.Run(filepath.Base(in), func(b *testing.B) {
			d := New(Options{})
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				d.Reset()
				d.Feed(raw)
				n := 0
				for _, ok := d.Next(); ok; _, ok = d.Next() {
					n++
				}
				if _, ok := d.Close(); ok {
					n++
				}
				if n != want {
					b.Fatalf("decoded %d events, want %d", n, want)
				}
			}
		})
	}
}

// TestSteadyStateAllocatesNothing holds the hot path to zero allocations outside a
// benchmark run, so `go test` catches a regression: whole events, events cut in two,
// and a recording cut every 97 bytes, once the decoder's buffers have grown.
func TestSteadyStateAllocatesNothing(t *testing.T) {
	ev := []byte(deltaEvent)
	raw := mustRead(t, filepath.Join("testdata", "openai_responses.sse"))
	tests := []struct {
		name   string
		chunks [][]byte
	}{
		{"whole event", [][]byte{ev}},
		{"event cut in its data line", [][]byte{ev[:70], ev[70:]}},
		{"recording cut every 97 bytes", collect(slicesOf(raw, 97))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(Options{})
			run := func() {
				for _, c := range tt.chunks {
					d.Feed(c)
					for _, ok := d.Next(); ok; _, ok = d.Next() {
					}
				}
			}
			run() // grow the buffers once
			if n := testing.AllocsPerRun(50, run); n != 0 {
				t.Fatalf("%v allocations per run, want 0", n)
			}
		})
	}
}

func collect(seq func(func([]byte) bool)) [][]byte {
	var out [][]byte
	for c := range seq {
		out = append(out, c)
	}
	return out
}
