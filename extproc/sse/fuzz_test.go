package sse

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecoderSplit checks that cutting a stream into up to three chunks anywhere
// changes nothing (all fields of all events), that spans are ordered and inside the
// stream (decodeAll checks that), and that the events are the ones a plain,
// non-incremental reading of the spec finds.
func FuzzDecoderSplit(f *testing.F) {
	for _, in := range recordedStreams(f) {
		raw := mustRead(f, in)
		f.Add(raw, uint16(0), uint16(0))
		f.Add(raw, uint16(len(raw)/3), uint16(2*len(raw)/3))
	}
	for _, s := range []string{
		"data: a\r\n\r\n", "data: a\r\r", "\xEF\xBB\xBFdata: x\n\n", "\xEF\xBBdata: x\n\n",
		"event: e\nid: 1\ndata: a\ndata: b\n\n", ": c\n\nevent: only\n\n", "data: x",
		"data: 0123456789abcdefghij\n\ndata: y\n\n",
	} {
		f.Add([]byte(s), uint16(len(s)/2), uint16(len(s)-1))
	}
	f.Fuzz(func(t *testing.T, raw []byte, cut1, cut2 uint16) {
		c1, c2 := int(cut1)%(len(raw)+1), int(cut2)%(len(raw)+1)
		if c1 > c2 {
			c1, c2 = c2, c1
		}
		for _, o := range []Options{{}, {MaxLine: 16}} {
			whole := decodeAll(t, o, raw)
			if diff := cmp.Diff(whole, decodeAll(t, o, raw[:c1], raw[c1:c2], raw[c2:])); diff != "" {
				t.Fatalf("MaxLine %d, cuts %d and %d changed the events (-whole +split):\n%s", o.MaxLine, c1, c2, diff)
			}
			if diff := cmp.Diff(referenceDecode(raw, o.MaxLine), whole); diff != "" {
				t.Fatalf("MaxLine %d: decoder disagrees with the reference (-reference +decoder):\n%s", o.MaxLine, diff)
			}
		}
	})
}

// referenceDecode reads a whole stream the obvious way, line by line, following the
// spec plus this package's documented choices (per-event ID, Oversize, lenient end).
func referenceDecode(raw []byte, maxLine int) []record {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	var (
		out              []record
		cur              record
		data             []byte
		inBlock, hasData bool
	)
	emit := func(end int64) {
		if inBlock && (hasData || cur.Oversize) {
			cur.End = end
			if !cur.Oversize {
				cur.Data = string(data)
			}
			out = append(out, cur)
		}
		cur, data, inBlock, hasData = record{}, nil, false, false
	}
	pos := 0
	if bytes.HasPrefix(raw, []byte(bom)) {
		pos = len(bom)
	}
	for pos < len(raw) {
		start := pos
		end := bytes.IndexAny(raw[pos:], "\r\n")
		if end < 0 {
			end = len(raw)
		} else {
			end += pos
		}
		line := raw[start:end]
		pos = end + 1
		if end < len(raw) && raw[end] == '\r' && pos < len(raw) && raw[pos] == '\n' {
			pos++
		}
		pos = min(pos, len(raw))
		switch {
		case len(line) == 0:
			emit(int64(pos))
			continue
		case !inBlock:
			inBlock, cur.Start = true, int64(start)
		}
		if len(line) > maxLine {
			cur.Oversize = true
			continue
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		value, _ = bytes.CutPrefix(value, []byte(" "))
		switch {
		case len(name) == 0: // comment
		case string(name) == "event":
			cur.Type = string(value)
		case string(name) == "id" && !slices.Contains(value, 0):
			cur.ID = string(value)
		case string(name) == "data":
			switch {
			case cur.Oversize:
			case hasData && len(data)+1+len(value) > maxLine:
				cur.Oversize = true
			case hasData:
				data = append(append(data, '\n'), value...)
			default:
				data = append([]byte(nil), value...)
			}
			hasData = true
		}
	}
	emit(int64(len(raw)))
	return out
}
