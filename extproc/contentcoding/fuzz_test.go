package contentcoding

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

// stacks are the codings the fuzz targets pick from by index; "deflate"
// appears twice because its raw form is sent under the same name.
var stacks = []struct {
	header string
	raw    bool // code "deflate" as a raw deflate stream
}{
	{"gzip", false}, {"deflate", false}, {"deflate", true}, {"br", false},
	{"gzip, br", false}, {"br, deflate", false}, {"deflate, gzip", true},
}

type flushWriter interface {
	io.WriteCloser
	Flush() error
}

// encode codes plain with each of codings in turn, flushing at flushAt as a
// server does after an SSE event, so the stream is cut at a block boundary.
func encode(t testing.TB, codings []Coding, raw bool, plain []byte, flushAt int) []byte {
	t.Helper()
	data := plain
	for _, c := range codings {
		var buf bytes.Buffer
		var w flushWriter
		switch c {
		case Gzip:
			w = gzip.NewWriter(&buf)
		case Deflate:
			if raw {
				w, _ = flate.NewWriter(&buf, flate.DefaultCompression)
			} else {
				w = zlib.NewWriter(&buf)
			}
		case Brotli:
			w = brotli.NewWriterLevel(&buf, brotli.BestSpeed)
		}
		at := min(max(flushAt, 0), len(data))
		_, err1 := w.Write(data[:at])
		err2 := w.Flush()
		_, err3 := w.Write(data[at:])
		if err := errors.Join(err1, err2, err3, w.Close()); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	return data
}

func seedRecordings(f *testing.F) {
	for i, rec := range recordings {
		f.Add(mustRead(f, rec.plain), uint8(i), uint16(i*37), uint16(i*101))
	}
	f.Add([]byte{}, uint8(0), uint16(0), uint16(0))
	f.Add([]byte("data: [DONE]\n\n"), uint8(5), uint16(6), uint16(3))
}

// FuzzRoundTrip: whatever the body, coding it as an upstream would and
// feeding the result cut at any two points yields exactly the body.
func FuzzRoundTrip(f *testing.F) {
	seedRecordings(f)
	f.Fuzz(func(t *testing.T, plain []byte, stack uint8, flushAt, cut uint16) {
		s := stacks[int(stack)%len(stacks)]
		codings := mustParse(t, s.header)
		coded := encode(t, codings, s.raw, plain, int(flushAt))
		c1 := int(cut) % (len(coded) + 1)
		c2 := (c1 + int(flushAt)) % (len(coded) + 1)
		c1, c2 = min(c1, c2), max(c1, c2)
		got, err := decode(t, codings, Options{}, coded[:c1], coded[c1:c2], coded[c2:])
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("%s cut at %d and %d: err %v, decoded %q, want %q", s.header, c1, c2, err, got, plain)
		}
	})
}

// FuzzGarbage: whatever bytes arrive under whatever coding, the decoder
// does not panic, emits no more than its bound, and reaches the same
// verdict, with the same bytes, however the body is cut.
func FuzzGarbage(f *testing.F) {
	for i, rec := range recordings {
		coded := mustRead(f, rec.coded)
		f.Add(coded, uint8(i), uint16(len(coded)/2))
		f.Add(coded[:len(coded)*2/3], uint8(i+1), uint16(7))
	}
	f.Add(bomb(f, Brotli, 4<<20), uint8(3), uint16(5))
	f.Add([]byte{0x78, 0x9c}, uint8(1), uint16(1))
	const bound = 1 << 20
	verdict := func(err error) error {
		for _, e := range []error{ErrTruncated, ErrCorrupt, ErrTooLarge} {
			if errors.Is(err, e) {
				return e
			}
		}
		return err
	}
	f.Fuzz(func(t *testing.T, body []byte, stack uint8, cut uint16) {
		s := stacks[int(stack)%len(stacks)]
		codings := mustParse(t, s.header)
		whole, err := decode(t, codings, Options{MaxDecoded: bound}, body)
		if err != nil && strings.Contains(err.Error(), "panicked") {
			t.Fatalf("%s: %v", s.header, err)
		}
		if len(whole) > bound {
			t.Fatalf("%s: emitted %d bytes, bound %d", s.header, len(whole), bound)
		}
		c := int(cut) % (len(body) + 1)
		split, err2 := decode(t, codings, Options{MaxDecoded: bound}, body[:c], body[c:])
		if verdict(err) != verdict(err2) {
			t.Fatalf("%s: whole ended with %v, cut at %d with %v", s.header, err, c, err2)
		}
		// Both runs read the same stream, so their output is the same up to
		// where it stops. Before corrupt input brotli may hold back some
		// output it had decoded, more when the body comes whole; the bytes
		// before an error are not trusted either way.
		switch {
		case errors.Is(err, ErrTooLarge):
		case errors.Is(err, ErrCorrupt):
			if !bytes.HasPrefix(whole, split) && !bytes.HasPrefix(split, whole) {
				t.Fatalf("%s: cut at %d decoded %q, whole %q: not one stream", s.header, c, split, whole)
			}
		case !bytes.Equal(whole, split):
			t.Fatalf("%s: cut at %d decoded %d bytes, whole %d", s.header, c, len(split), len(whole))
		}
	})
}
