package contentcoding

import (
	"bytes"
	"compress/gzip"
	"errors"
	"runtime"
	"testing"

	"github.com/andybalholm/brotli"
)

// bomb is n zero bytes coded with c: deflate shrinks them about a thousand
// times, brotli about a million.
func bomb(t testing.TB, c Coding, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w interface {
		Write([]byte) (int, error)
		Close() error
	}
	switch c {
	case Gzip:
		w, _ = gzip.NewWriterLevel(&buf, gzip.BestCompression)
	case Brotli:
		w = brotli.NewWriterLevel(&buf, brotli.DefaultCompression)
	default:
		t.Fatalf("no bomb for %v", c)
	}
	zeros := make([]byte, 64<<10)
	for ; n > 0; n -= len(zeros) {
		if _, err := w.Write(zeros[:min(n, len(zeros))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A body that decodes past the bound stops decoding there: no more than
// the bound is emitted, the rest of the body is not even read, and every
// later call fails the same way.
func TestDecodingStopsAtTheBound(t *testing.T) {
	const bound = 256 << 10
	for _, c := range []Coding{Gzip, Brotli} {
		t.Run(c.String(), func(t *testing.T) {
			coded := bomb(t, c, 8<<20)
			emitted := 0
			emit := func(p []byte) { emitted += len(p) }
			d := NewDecoder([]Coding{c}, Options{MaxDecoded: bound})
			defer d.Close()
			// In 64-byte chunks, so the test sees where decoding stopped.
			const size = 64
			fed := 0
			var err error
			for ; fed < len(coded) && err == nil; fed += size {
				err = d.Feed(coded[fed:min(fed+size, len(coded))], emit)
			}
			if err == nil {
				err = d.End(emit)
			}
			if !errors.Is(err, ErrTooLarge) || emitted > bound || d.Decoded() != int64(emitted) {
				t.Fatalf("err %v after emitting %d bytes (Decoded %d), bound %d", err, emitted, d.Decoded(), bound)
			}
			if c == Gzip && fed > len(coded)/4 {
				t.Fatalf("fed %d of %d coded bytes before a bomb stopped at %d decoded", fed, len(coded), bound)
			}
			if err := d.Feed([]byte{0}, emit); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Feed after the bound: %v", err)
			}
			if err := d.End(emit); !errors.Is(err, ErrTooLarge) || emitted > bound {
				t.Fatalf("End after the bound: %v, emitted %d", err, emitted)
			}
		})
	}
}

// The bound is on decoded bytes, not on each Feed: a body that reaches it
// exactly is whole.
func TestBodyOfExactlyTheBoundIsWhole(t *testing.T) {
	want := mustRead(t, "openai_chat_usage.sse")
	coded := mustRead(t, "openai_chat_usage.sse.gz")
	if got, err := decode(t, []Coding{Gzip}, Options{MaxDecoded: int64(len(want))}, coded); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("at the bound: err %v, %d bytes", err, len(got))
	}
	if _, err := decode(t, []Coding{Gzip}, Options{MaxDecoded: int64(len(want) - 1)}, coded); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("one byte past the bound: err %v", err)
	}
}

// running counts the decoder coroutines alive, from every goroutine's
// stack: other goroutines of the test binary come and go on their own.
func running() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("contentcoding.(*Decoder).run("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// Every way a body can end also ends its decoder's coroutine, and Close
// ends one that is still waiting for input. The test first checks that it
// sees waiting coroutines, so that it can fail.
func TestCoroutineEndsWithItsBody(t *testing.T) {
	coded := mustRead(t, "openai_chat_usage.sse.gz")
	half := coded[:len(coded)/2]
	discard := func([]byte) {}
	write := func(d *Decoder, p []byte) error { return d.Feed(p, discard) }
	tests := []struct {
		name string
		run  func(d *Decoder) error
		want error
	}{
		{"closed mid-body", func(d *Decoder) error { _ = write(d, half); d.Close(); return write(d, nil) }, ErrClosed},
		{"closed twice", func(d *Decoder) error { _ = write(d, half); d.Close(); d.Close(); return d.End(discard) }, ErrClosed},
		{"closed before any input", func(d *Decoder) error { d.Close(); return d.End(discard) }, ErrClosed},
		{"whole", func(d *Decoder) error { _ = write(d, coded); return d.End(discard) }, nil},
		{"truncated", func(d *Decoder) error { _ = write(d, half); return d.End(discard) }, ErrTruncated},
		{"corrupt", func(d *Decoder) error { return write(d, []byte("data: not gzip at all\n\n")) }, ErrCorrupt},
		{"too large", func(d *Decoder) error { d.maxDecoded = 100; return write(d, half) }, ErrTooLarge},
	}
	const n = 20
	waiting := make([]*Decoder, n)
	for i := range waiting {
		waiting[i] = NewDecoder([]Coding{Gzip}, Options{})
		if err := waiting[i].Feed(half, discard); err != nil {
			t.Fatal(err)
		}
	}
	if got := running(); got != n {
		t.Fatalf("%d coroutines seen with %d decoders waiting", got, n)
	}
	for _, d := range waiting {
		d.Close()
	}
	if got := running(); got != 0 {
		t.Fatalf("%d coroutines left after Close", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range n {
				if err := tt.run(NewDecoder([]Coding{Gzip}, Options{})); !errors.Is(err, tt.want) {
					t.Fatalf("ended with %v, want %v", err, tt.want)
				}
			}
			if got := running(); got != 0 {
				t.Fatalf("%d coroutines left", got)
			}
		})
	}
}
