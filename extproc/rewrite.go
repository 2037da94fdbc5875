package extproc

import (
	"bytes"
	"slices"

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
		out, changed = ex.pass(out, ev.Start, ev.End, ev.Type, ev.Data, &pos, base, chunk, changed)
	}
	keepFrom := ex.dec.Pending()
	if last {
		if ev, ok := ex.dec.Close(); ok {
			out, changed = ex.pass(out, ev.Start, ev.End, ev.Type, ev.Data, &pos, base, chunk, changed)
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
func (ex *exchange) pass(out []byte, start, stop int64, typ, data []byte, pos *int64, base int64, chunk []byte, changed bool) ([]byte, bool) {
	out = ex.appendRaw(out, *pos, start, base, chunk)
	*pos = stop
	switch ex.event(data) {
	case dropEvent:
		return out, true
	case stripUsage:
		// The event is re-framed in the canonical form OpenAI and LiteLLM
		// use; only its JSON loses a member.
		if len(typ) > 0 {
			out = append(out, "event: "...)
			out = append(out, typ...)
			out = append(out, '\n')
		}
		// Data that spanned several data: lines keeps one line per line.
		mark := len(out)
		out, _ = openai.StripUsage(out, data)
		out = appendDataLines(out, mark)
		return out, true
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

// appendDataLines frames the stripped JSON that stands at out[mark:] as SSE
// data lines ending the event. The JSON is moved to make room for the
// prefixes; for the usual single-line event that is one copy within out.
func appendDataLines(out []byte, mark int) []byte {
	json := len(out) - mark
	lines := 1 + bytes.Count(out[mark:], []byte("\n"))
	const prefix = "data: "
	out = slices.Grow(out, lines*len(prefix)+2)[:len(out)+lines*len(prefix)+2]
	src, dst := mark+json, len(out)-2
	out[dst], out[dst+1] = '\n', '\n'
	// Copy backwards line by line, so the moved JSON never overwrites what
	// is still to be copied.
	for {
		start := bytes.LastIndexByte(out[mark:src], '\n') + 1 + mark
		dst -= src - start
		copy(out[dst:], out[start:src])
		dst -= len(prefix)
		copy(out[dst:], prefix)
		if start == mark {
			return out
		}
		// The newline that ended the previous line.
		src, dst = start-1, dst-1
		out[dst] = '\n'
	}
}
