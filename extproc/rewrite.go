package extproc

import (
	"bytes"

	"github.com/iasolaris/tokengate/extproc/openai"
)

// maxHeldEvent bounds how much of an unfinished event is held back while
// the stream is rewritten; usage chunks are a few hundred bytes.
const maxHeldEvent = 64 << 10

// rewrite passes one chunk of a stream in which tokengate injected
// include_usage, returning what the client should receive in its place:
// the usage-only event is removed and the "usage":null member OpenAI then
// adds to every chunk is stripped, so the client sees the stream it asked
// for. An event cut by the chunk boundary is held back until it is whole,
// since it may be the one to remove; changed is false when out would equal
// chunk, so the common case sends no mutation at all.
func (ex *exchange) rewrite(chunk []byte, last bool) (out []byte, changed bool) {
	base := ex.dec.Offset()
	end := base + int64(len(chunk))
	carried := ex.emitted < base
	ex.dec.Feed(chunk)
	out = ex.out[:0]
	pos := ex.emitted
	for {
		ev, ok := ex.dec.Next()
		if !ok {
			break
		}
		out, changed = ex.pass(out, ev.Start, ev.End, ev.Data, &pos, base, chunk, changed)
	}
	keepFrom := ex.dec.Pending()
	if last {
		if ev, ok := ex.dec.Close(); ok {
			out, changed = ex.pass(out, ev.Start, ev.End, ev.Data, &pos, base, chunk, changed)
		}
		keepFrom = end
	}
	if end-keepFrom > maxHeldEvent {
		// An event this large is not a usage chunk: let it and the rest of
		// the stream through as they come rather than hold it in memory.
		keepFrom = end
		ex.stripUsage = false
	}
	out = ex.appendRaw(out, pos, keepFrom, base, chunk)
	held := ex.appendRaw(ex.spare[:0], keepFrom, end, base, chunk)
	ex.spare, ex.carry = ex.carry, held
	ex.emitted = keepFrom
	ex.out = out
	return out, changed || carried || keepFrom < end
}

// pass writes one complete event, and the bytes before it since pos, to out.
func (ex *exchange) pass(out []byte, start, stop int64, data []byte, pos *int64, base int64, chunk []byte, changed bool) ([]byte, bool) {
	out = ex.appendRaw(out, *pos, start, base, chunk)
	*pos = stop
	switch ex.event(data) {
	case dropEvent:
		return out, true
	case stripUsage:
		// The event goes out as the upstream sent it but for the usage
		// member's bytes: field names, comments, other fields and every
		// line end stay, so a CRLF stream stays CRLF.
		var buf [4]openai.Cut // the usual chunk has one
		cuts, ok := openai.UsageCuts(buf[:0], data)
		if !ok {
			break
		}
		mark := len(out)
		out = ex.appendRaw(out, start, stop, base, chunk)
		return cutDataLines(out, mark, cuts), true
	}
	return ex.appendRaw(out, start, stop, base, chunk), changed
}

// appendRaw appends the stream's bytes [from, to) to out. Those before base
// come from carry, which starts at ex.emitted; the rest from chunk.
func (ex *exchange) appendRaw(out []byte, from, to, base int64, chunk []byte) []byte {
	if from >= to {
		return out
	}
	if from < base {
		stop := min(to, base)
		out = append(out, ex.carry[from-ex.emitted:stop-ex.emitted]...)
		from = stop
	}
	if from < to {
		out = append(out, chunk[from-base:to-base]...)
	}
	return out
}

// cutDataLines removes from the event that stands at out[mark:], as the
// upstream sent it, the bytes of its data at cuts: ranges of the data the
// decoder gave, its data lines' values joined by '\n'. Only value bytes go:
// each line keeps its field name, the space after the colon and its own
// line end, and no other line is touched. A cut that spans lines therefore
// leaves one '\n' in the data per line end it spans, in the cut's place,
// which is whitespace between JSON tokens (openai.UsageCuts). Lines are
// split and data fields recognised exactly as the sse decoder does.
func cutDataLines(out []byte, mark int, cuts []openai.Cut) []byte {
	w, keep := mark, mark // out[mark:w] is done; out[keep:] is as sent
	next := 0             // where the next data line's value starts in the data
	for r := mark; r < len(out) && len(cuts) > 0; {
		end := r + lineLen(out[r:])
		if vs, ok := dataValue(out[r:end]); ok {
			at := r + vs // the value's first byte in out
			from, to := next, next+end-at
			for len(cuts) > 0 && cuts[0].Start < to {
				c := cuts[0]
				if lo, hi := max(c.Start, from), min(c.End, to); lo < hi {
					w += copy(out[w:], out[keep:at+lo-from])
					keep = at + hi - from
				}
				if c.End > to {
					break // it goes on in the next data line
				}
				cuts = cuts[1:]
			}
			next = to + 1 // past the '\n' that joins the next value
		}
		r = end + eolLen(out[end:])
	}
	w += copy(out[w:], out[keep:])
	return out[:w]
}

// lineLen is the length of the line p starts with, without its line end:
// CR, LF or CRLF, as SSE allows.
func lineLen(p []byte) int {
	for i, c := range p {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return len(p)
}

// eolLen is the length of the line end p starts with: 0 at the end of the
// stream, 2 for CRLF, else 1.
func eolLen(p []byte) int {
	switch {
	case len(p) == 0:
		return 0
	case len(p) > 1 && p[0] == '\r' && p[1] == '\n':
		return 2
	}
	return 1
}

// dataValue reports whether line is a data field and where its value
// starts: after "data:" and one space, or at the end of a bare "data".
func dataValue(line []byte) (int, bool) {
	const name = "data"
	if !bytes.HasPrefix(line, []byte(name)) {
		return 0, false
	}
	switch {
	case len(line) == len(name):
		return len(name), true
	case line[len(name)] != ':':
		return 0, false
	case len(line) > len(name)+1 && line[len(name)+1] == ' ':
		return len(name) + 2, true
	}
	return len(name) + 1, true
}
