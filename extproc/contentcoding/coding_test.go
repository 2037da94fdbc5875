package contentcoding

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		value string
		want  []Coding
	}{
		{"", nil},
		{"identity", nil},
		{"gzip", []Coding{Gzip}},
		{"x-gzip", []Coding{Gzip}},
		{"GZIP", []Coding{Gzip}},
		{"deflate", []Coding{Deflate}},
		{"Deflate", []Coding{Deflate}},
		{"br", []Coding{Brotli}},
		{" br\t", []Coding{Brotli}},
		{"gzip, br", []Coding{Gzip, Brotli}},  // br applied last: decoded first
		{"br,gzip", []Coding{Brotli, Gzip}},   // as Go's net/http would not send, but a list is a list
		{"gzip, identity", []Coding{Gzip}},    // identity is no coding
		{"gzip,, br", []Coding{Gzip, Brotli}}, // RFC 9110 §5.6.1: empty members are ignored
		{"identity, deflate , Br", []Coding{Deflate, Brotli}},
		{"gzip, gzip, gzip, gzip", []Coding{Gzip, Gzip, Gzip, Gzip}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.value)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", tt.value, got, err, tt.want)
		}
	}
}

func TestParseRefusesWhatItCannotUndo(t *testing.T) {
	tests := []struct{ value, member string }{
		{"zstd", "zstd"},
		{"compress", "compress"},
		{"x-compress", "x-compress"},
		{"gzip, zstd", "zstd"},
		{"dcb", "dcb"},
		{"gzip;q=1", "gzip;q=1"}, // parameters belong to accept-encoding, not here
		{"gzip, gzip, gzip, gzip, gzip", "gzip, gzip, gzip, gzip, gzip"},
		{strings.Repeat("br,", 100), strings.Repeat("br,", 100)[:64] + "…"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.value)
		var unknown *UnknownError
		if !errors.As(err, &unknown) || !errors.Is(err, ErrUnknown) || got != nil {
			t.Errorf("Parse(%q) = %v, %v; want an *UnknownError", tt.value, got, err)
			continue
		}
		if unknown.Coding != tt.member {
			t.Errorf("Parse(%q) blames %q, want %q", tt.value, unknown.Coding, tt.member)
		}
	}
}

func TestCodingString(t *testing.T) {
	for c, want := range map[Coding]string{Gzip: "gzip", Deflate: "deflate", Brotli: "br", 9: "Coding(9)"} {
		if got := c.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", c, got, want)
		}
	}
}
