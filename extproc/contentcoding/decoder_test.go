package contentcoding

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// recordings are real response bodies (testdata/*.json, *.sse) coded by the
// encoders servers use (testdata/make.sh).
var recordings = []struct {
	coded, plain, header string
}{
	{"completion.json.gz", "completion.json", "gzip"}, // GNU gzip, with a file name in its header
	{"completion.json.zz", "completion.json", "deflate"},
	{"completion.json.raw", "completion.json", "deflate"}, // raw deflate under the zlib name
	{"completion.json.br", "completion.json", "br"},
	{"completion.json.gz.br", "completion.json", "gzip, br"},
	{"openai_chat_usage.sse.gz", "openai_chat_usage.sse", "x-gzip"},
	{"openai_chat_usage.sse.br", "openai_chat_usage.sse", "BR"},
	{"litellm_proxied.sse.zz", "litellm_proxied.sse", "deflate"},
	{"litellm_proxied.sse.raw", "litellm_proxied.sse", "Deflate"},
	{"litellm_proxied.sse.br.gz", "litellm_proxied.sse", "br , gzip"},
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, header string) []Coding {
	t.Helper()
	c, err := Parse(header)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// decode feeds chunks to a new decoder and ends it, returning every byte
// emitted and the first error. It checks what every caller relies on: no
// byte is emitted after an error, and the decoder keeps no chunk (each is
// overwritten once Write returns).
func decode(t testing.TB, codings []Coding, o Options, chunks ...[]byte) ([]byte, error) {
	t.Helper()
	var out []byte
	failed := false
	emit := func(p []byte) {
		if failed {
			t.Fatalf("emitted %d bytes after an error", len(p))
		}
		if len(p) == 0 {
			t.Fatal("emitted an empty run")
		}
		out = append(out, p...)
	}
	d := NewDecoder(codings, o)
	defer d.Close()
	for _, c := range chunks {
		c = bytes.Clone(c)
		err := d.Feed(c, emit)
		clear(c)
		if err != nil {
			failed = true
			return out, err
		}
	}
	return out, d.End(emit)
}

// cuts are the offsets at which a test cuts a body of n bytes: every one
// for a small body; for a larger one every one near the ends, where the
// headers and trailers are, and every 13th in between, which keeps the
// race-detector run short.
func cuts(n int) []int {
	var at []int
	for c := range n + 1 {
		if n <= 600 || c <= 64 || c >= n-64 || c%13 == 0 {
			at = append(at, c)
		}
	}
	return at
}

func TestDecodeRecordings(t *testing.T) {
	for _, rec := range recordings {
		t.Run(rec.coded, func(t *testing.T) {
			coded, want := mustRead(t, rec.coded), mustRead(t, rec.plain)
			codings := mustParse(t, rec.header)
			if got, err := decode(t, codings, Options{}, coded); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("whole: err %v, decoded %d bytes, want %d", err, len(got), len(want))
			}
			// Envoy may cut the body at any byte, and may send empty chunks
			// (an HTTP/1 chunked terminator is one).
			for _, cut := range cuts(len(coded)) {
				got, err := decode(t, codings, Options{}, coded[:cut], nil, coded[cut:], nil)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("cut at %d: err %v, decoded %d bytes, want %d", cut, err, len(got), len(want))
				}
			}
			var bytewise [][]byte
			for i := range coded {
				bytewise = append(bytewise, coded[i:i+1])
			}
			if got, err := decode(t, codings, Options{}, bytewise...); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("a byte a chunk: err %v, decoded %d bytes, want %d", err, len(got), len(want))
			}
		})
	}
}

// A body the upstream stopped sending midway decodes to a prefix of the
// whole and ends as truncated: whatever was decoded was real.
func TestTruncatedBodyDecodesItsPrefix(t *testing.T) {
	for _, rec := range recordings {
		t.Run(rec.coded, func(t *testing.T) {
			coded, want := mustRead(t, rec.coded), mustRead(t, rec.plain)
			codings := mustParse(t, rec.header)
			for _, n := range cuts(len(coded) - 1) {
				got, err := decode(t, codings, Options{}, coded[:n])
				if !errors.Is(err, ErrTruncated) || !bytes.HasPrefix(want, got) {
					t.Fatalf("first %d bytes: err %v, decoded %q…", n, err, got[:min(len(got), 40)])
				}
			}
		})
	}
}

func TestCorruptBodyFails(t *testing.T) {
	gz := mustRead(t, "completion.json.gz")
	zz := mustRead(t, "completion.json.zz")
	br := mustRead(t, "completion.json.br")
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x55
		return b
	}
	tests := []struct {
		name   string
		header string
		body   []byte
	}{
		{"gzip magic", "gzip", flip(gz, 0)},
		{"gzip crc", "gzip", flip(gz, len(gz)-6)},
		{"gzip size", "gzip", flip(gz, len(gz)-2)},
		{"gzip trailing garbage", "gzip", append(bytes.Clone(gz), "not a gzip member"...)},
		{"zlib adler", "deflate", flip(zz, len(zz)-1)},
		{"zlib preset dictionary", "deflate", append([]byte{0x78, 0xbb}, zz[2:]...)},
		{"plain text sent as deflate", "deflate", []byte(`{"id":"chatcmpl-1","object":"chat.completion"}`)},
		{"plain text sent as gzip", "gzip", []byte(`{"id":"chatcmpl-1","object":"chat.completion"}`)},
		{"plain text sent as br", "br", []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`)},
		{"br body", "br", flip(br, len(br)/2)},
		{"br trailing garbage", "br", append(bytes.Clone(br), "xyz"...)},
		{"gzip sent as br", "br", gz},
		{"br sent as gzip", "gzip", br},
		{"stack in the wrong order", "br, gzip", mustRead(t, "completion.json.gz.br")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			codings := mustParse(t, tt.header)
			_, err := decode(t, codings, Options{}, tt.body)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v, want ErrCorrupt", err)
			}
			for _, cut := range cuts(len(tt.body)) {
				if _, err2 := decode(t, codings, Options{}, tt.body[:cut], tt.body[cut:]); !errors.Is(err2, ErrCorrupt) {
					t.Fatalf("cut at %d: err %v, whole: %v", cut, err2, err)
				}
			}
		})
	}
}

// An empty body that claims a coding carries no coded stream at all: it is
// cut, not whole.
func TestEmptyCodedBodyIsTruncated(t *testing.T) {
	for _, header := range []string{"gzip", "deflate", "br", "gzip, br"} {
		if got, err := decode(t, mustParse(t, header), Options{}, nil); !errors.Is(err, ErrTruncated) || len(got) != 0 {
			t.Errorf("%s: decoded %q, err %v; want ErrTruncated", header, got, err)
		}
	}
}

// Bytes after a complete zlib or raw deflate stream are not read: the
// usage was in the stream, and the client got every byte anyway.
func TestBytesAfterACompleteStreamAreIgnored(t *testing.T) {
	want := mustRead(t, "completion.json")
	for _, name := range []string{"completion.json.zz", "completion.json.raw"} {
		coded := mustRead(t, name)
		got, err := decode(t, []Coding{Deflate}, Options{}, coded, []byte("trailing"))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: err %v, decoded %d bytes, want %d", name, err, len(got), len(want))
		}
	}
}

func TestFeedAfterCloseOrEnd(t *testing.T) {
	coded := mustRead(t, "completion.json.gz")
	discard := func([]byte) {}
	d := NewDecoder([]Coding{Gzip}, Options{})
	if err := d.Feed(coded[:10], discard); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d.Close()
	if err := d.Feed(coded[10:], discard); !errors.Is(err, ErrClosed) {
		t.Fatalf("Feed after Close: %v", err)
	}
	if err := d.End(discard); !errors.Is(err, ErrClosed) {
		t.Fatalf("End after Close: %v", err)
	}

	d = NewDecoder([]Coding{Gzip}, Options{})
	if err := d.Feed(coded, discard); err != nil {
		t.Fatal(err)
	}
	if err := d.End(discard); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if err := d.End(discard); err != nil {
		t.Fatalf("End after a whole stream and Close: %v", err)
	}
	if n := d.Decoded(); n != int64(len(mustRead(t, "completion.json"))) {
		t.Fatalf("Decoded() = %d", n)
	}
}
