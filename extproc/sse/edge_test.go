package sse

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDecoderEdgeCases runs each row as given in chunks, whole, and cut at every byte.
func TestDecoderEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		chunks []string // concatenated, they are the stream
		want   []record
	}{
		{
			name:   "LF",
			chunks: []string{"data: a\n\ndata: b\n\n"},
			want:   []record{{Start: 0, End: 9, Data: "a"}, {Start: 9, End: 18, Data: "b"}},
		},
		{
			name:   "CRLF",
			chunks: []string{"data: a\r\n\r\ndata: b\r\n\r\n"},
			want:   []record{{Start: 0, End: 11, Data: "a"}, {Start: 11, End: 22, Data: "b"}},
		},
		{
			name:   "lone CR",
			chunks: []string{"data: a\r\rdata: b\r\r"},
			want:   []record{{Start: 0, End: 9, Data: "a"}, {Start: 9, End: 18, Data: "b"}},
		},
		{
			name:   "CR LF and CRLF mixed in one event",
			chunks: []string{"data: a\r\ndata: b\rdata: c\n\r\n"},
			want:   []record{{Start: 0, End: 27, Data: "a\nb\nc"}},
		},
		{
			name:   "CRLF cut between CR and LF is one line end",
			chunks: []string{"data: a\r", "\ndata: b\r", "\n\r", "\n"},
			want:   []record{{Start: 0, End: 20, Data: "a\nb"}},
		},
		{
			name:   "blank CR line waits for the LF that may follow",
			chunks: []string{"data: a\n\r", "", "\ndata: b\n\n"},
			want:   []record{{Start: 0, End: 10, Data: "a"}, {Start: 10, End: 19, Data: "b"}},
		},
		{
			name:   "blank CR line at the end of the stream",
			chunks: []string{"data: a\n\r"},
			want:   []record{{Start: 0, End: 9, Data: "a"}},
		},
		{
			name:   "comment blocks are not events",
			chunks: []string{": keep-alive\n\n: OPENROUTER PROCESSING\n\ndata: x\n\n"},
			want:   []record{{Start: 39, End: 48, Data: "x"}},
		},
		{
			name:   "comment inside an event belongs to it",
			chunks: []string{": OPENROUTER PROCESSING\ndata: x\n\n"},
			want:   []record{{Start: 0, End: 33, Data: "x"}},
		},
		{
			name:   "field without colon has an empty value",
			chunks: []string{"data\n\nevent\ndata: x\n\n"},
			want:   []record{{Start: 0, End: 6, Data: ""}, {Start: 6, End: 21, Data: "x"}},
		},
		{
			name:   "data lines are joined by LF",
			chunks: []string{"data: {\"a\":\ndata: 1}\ndata:\n\n"},
			want:   []record{{Start: 0, End: 28, Data: "{\"a\":\n1}\n"}},
		},
		{
			name:   "only one space after the colon is removed",
			chunks: []string{"data:x\n\ndata:  x\n\ndata:\tx\n\n"},
			want: []record{
				{Start: 0, End: 8, Data: "x"},
				{Start: 8, End: 18, Data: " x"},
				{Start: 18, End: 27, Data: "\tx"},
			},
		},
		{
			name:   "empty data is still an event",
			chunks: []string{"data:\n\ndata: \n\n"},
			want:   []record{{Start: 0, End: 7, Data: ""}, {Start: 7, End: 15, Data: ""}},
		},
		{
			name:   "event type alone is not dispatched and does not leak",
			chunks: []string{"event: ping\n\ndata: x\n\nevent: message_stop\ndata: {}\n\n"},
			want: []record{
				{Start: 13, End: 22, Data: "x"},
				{Type: "message_stop", Start: 22, End: 52, Data: "{}"},
			},
		},
		{
			name:   "last event and id fields win",
			chunks: []string{"event: a\nid: 1\nevent: b\nid: 2\ndata: x\n\n"},
			want:   []record{{Type: "b", ID: "2", Start: 0, End: 39, Data: "x"}},
		},
		{
			name:   "id is per event and one with NUL is ignored",
			chunks: []string{"id: 7\ndata: a\n\nid: 8\x00\ndata: b\n\n"},
			want:   []record{{ID: "7", Start: 0, End: 15, Data: "a"}, {Start: 15, End: 31, Data: "b"}},
		},
		{
			name:   "retry and unknown fields are ignored, names are case-sensitive",
			chunks: []string{"retry: 3000\nData: no\nfoo: bar\ndata: yes\n\n"},
			want:   []record{{Start: 0, End: 41, Data: "yes"}},
		},
		{
			name:   "stray blank lines between events",
			chunks: []string{"\n\r\n\rdata: x\n\n\n\n"},
			want:   []record{{Start: 4, End: 13, Data: "x"}},
		},
		{
			name:   "data [DONE] is plain data",
			chunks: []string{"data: [DONE]\n\n"},
			want:   []record{{Start: 0, End: 14, Data: "[DONE]"}},
		},
		{
			name:   "BOM at the start is skipped",
			chunks: []string{bom + "data: x\n\n"},
			want:   []record{{Start: 3, End: 12, Data: "x"}},
		},
		{
			name:   "BOM cut across chunks",
			chunks: []string{"\xEF", "\xBB", "\xBFdata: x\n\n"},
			want:   []record{{Start: 3, End: 12, Data: "x"}},
		},
		{
			name:   "BOM later in the stream is content",
			chunks: []string{"data: a\n\n" + bom + "data: b\n\n"},
			want:   []record{{Start: 0, End: 9, Data: "a"}},
		},
		{
			name:   "half a BOM is content",
			chunks: []string{"\xEF\xBB", "data: x\n\ndata: y\n\n"},
			want:   []record{{Start: 11, End: 20, Data: "y"}},
		},
		{
			name:   "multi-byte characters cut between chunks",
			chunks: []string{"data: ol\xC3", "\xA1 \xF0\x9F", "\x98\x8A\n\n"},
			want:   []record{{Start: 0, End: 17, Data: "olá 😊"}},
		},
		{
			name:   "Close dispatches an event with no blank line",
			chunks: []string{"data: a\n\ndata: [DONE]\n"},
			want:   []record{{Start: 0, End: 9, Data: "a"}, {Start: 9, End: 22, Data: "[DONE]"}},
		},
		{
			name:   "Close dispatches an event with no line end",
			chunks: []string{"event: message_stop\ndata: {\"type\":\"message_stop\"}"},
			want:   []record{{Type: "message_stop", Start: 0, End: 49, Data: `{"type":"message_stop"}`}},
		},
		{
			name:   "Close drops a block without data",
			chunks: []string{"data: a\n\nevent: ping\n: keep-alive"},
			want:   []record{{Start: 0, End: 9, Data: "a"}},
		},
		{
			name:   "empty stream",
			chunks: []string{"", ""},
			want:   nil,
		},
		{
			name:   "oversize line marks its event and is dropped",
			opts:   Options{MaxLine: 16},
			chunks: []string{"event: big\nid: 9\ndata: 0123456789abcdef\n\ndata: small\n\n"},
			want: []record{
				{Type: "big", ID: "9", Start: 0, End: 41, Oversize: true},
				{Start: 41, End: 54, Data: "small"},
			},
		},
		{
			name:   "a line of exactly MaxLine fits",
			opts:   Options{MaxLine: 16},
			chunks: []string{"data: 0123456789\n\n"},
			want:   []record{{Start: 0, End: 18, Data: "0123456789"}},
		},
		{
			name:   "oversize joined data",
			opts:   Options{MaxLine: 16},
			chunks: []string{"data: 0123456789\ndata: abcde\n\ndata: 0123456789\ndata: abcdef\n\n"},
			want: []record{
				{Start: 0, End: 30, Data: "0123456789\nabcde"},
				{Start: 30, End: 61, Oversize: true},
			},
		},
		{
			name:   "oversize line cut across chunks",
			opts:   Options{MaxLine: 16},
			chunks: []string{"data: 01234", "56789abc", "def\nevent: e\n\n"},
			want:   []record{{Type: "e", Start: 0, End: 33, Oversize: true}},
		},
		{
			name:   "oversize comment still marks the block",
			opts:   Options{MaxLine: 16},
			chunks: []string{": " + strings.Repeat("-", 20) + "\n\n"},
			want:   []record{{Start: 0, End: 24, Oversize: true}},
		},
		{
			name:   "oversize unterminated line at Close",
			opts:   Options{MaxLine: 16},
			chunks: []string{"data: ok\n\ndata: ", strings.Repeat("z", 20)},
			want:   []record{{Start: 0, End: 10, Data: "ok"}, {Start: 10, End: 36, Oversize: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := make([][]byte, len(tt.chunks))
			for i, c := range tt.chunks {
				chunks[i] = []byte(c)
			}
			if diff := cmp.Diff(tt.want, decodeAll(t, tt.opts, chunks...)); diff != "" {
				t.Fatalf("as chunked (-want +got):\n%s", diff)
			}
			raw := []byte(strings.Join(tt.chunks, ""))
			for cut := range len(raw) + 1 {
				if diff := cmp.Diff(tt.want, decodeAll(t, tt.opts, raw[:cut], raw[cut:])); diff != "" {
					t.Fatalf("cut at %d (-want +got):\n%s", cut, diff)
				}
			}
		})
	}
}

// TestOversizeLineBoundsBuffer feeds a line far longer than MaxLine in Envoy-sized
// chunks: the decoder must not buffer it, and must recover for the next event.
func TestOversizeLineBoundsBuffer(t *testing.T) {
	const maxLine = 64 << 10
	raw := []byte("data: " + strings.Repeat("x", 3<<20) + "\n\ndata: after\n\n")
	d := New(Options{MaxLine: maxLine})
	var got []record
	for c := range slicesOf(raw, 16<<10) {
		d.Feed(c)
		for ev, ok := d.Next(); ok; ev, ok = d.Next() {
			got = append(got, recordOf(ev))
		}
		if cap(d.line) > 2*maxLine {
			t.Fatalf("line buffer grew to %d bytes with MaxLine %d", cap(d.line), maxLine)
		}
	}
	want := []record{
		{Start: 0, End: int64(len(raw)) - 13, Oversize: true},
		{Start: int64(len(raw)) - 13, End: int64(len(raw)), Data: "after"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// slicesOf yields b in pieces of n bytes, the last one shorter.
func slicesOf(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			k := min(n, len(b))
			if !yield(b[:k]) {
				return
			}
			b = b[k:]
		}
	}
}
