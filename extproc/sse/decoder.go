// Package sse decodes text/event-stream (WHATWG server-sent events) incrementally, as
// LLM upstreams stream it: OpenAI chat completions, the OpenAI Responses API, Anthropic
// Messages, and LiteLLM or OpenRouter in front of them.
//
// Envoy hands the response body over in chunks cut at arbitrary bytes, so an event, a
// line, a CRLF pair or a UTF-8 character may straddle two chunks. The decoder keeps its
// scan state between chunks, so it never searches an earlier chunk's bytes for line
// ends again, and it never holds the whole body. Fields of an event that lies
// wholly inside one chunk are returned as slices of that chunk; only a line cut by a
// chunk boundary, and the fields of an event still open when a chunk runs out, are
// copied into buffers the decoder reuses. Decoding whole events therefore allocates
// nothing once those buffers exist.
package sse

// DefaultMaxLine is the MaxLine a zero Options gets. The largest line real upstreams
// send is a Responses API response.completed event echoing the whole output and the
// request's tools and instructions; 1 MiB is far above that and still a bounded cost
// per stream.
const DefaultMaxLine = 1 << 20

// bom is the UTF-8 byte order mark the spec says to skip at the start of a stream.
const bom = "\xEF\xBB\xBF"

// Options tunes a Decoder. The zero value is ready to use.
type Options struct {
	// MaxLine bounds what the decoder may have to hold for one event: the length of a
	// line (without its line end) and the length of an event's joined data. An event
	// that exceeds it is reported with Oversize set instead of growing a buffer
	// without bound. Zero or less means DefaultMaxLine.
	MaxLine int
}

// Event is one dispatched server-sent event. Slices alias the chunk passed to Feed or
// the decoder's own buffers and are valid only until the next call to Next, Feed,
// Close or Reset. An empty field is always nil, so events compare the same however
// the stream was cut.
type Event struct {
	// Type is the value of the last event field; empty means "message".
	Type []byte
	// Data holds the event's data field values joined by '\n', each without the one
	// space the spec strips after the colon.
	Data []byte
	// ID is the value of the last id field in this event (one containing NUL is
	// ignored, as the spec says). Unlike a browser's lastEventId it does not carry
	// over to later events: tokengate never reconnects, it only wants to know which
	// event said what.
	ID []byte
	// Start is the stream offset of the first byte of the event's first line. Comment
	// and unknown-field lines inside the event count; blank lines before it do not.
	Start int64
	// End is the stream offset just past the blank line that ended the event, or the
	// end of the stream for an event Close dispatched. When that blank line is a lone
	// CR ending a chunk, Next returns the event only once the next chunk (or Close)
	// shows whether a LF follows, so that End does not depend on where Envoy cut.
	End int64
	// Oversize reports that a line or the joined data exceeded MaxLine. Data is then
	// nil; Type and ID still come from the lines that fit.
	Oversize bool
}

// Decoder decodes one stream. It is not safe for concurrent use: one goroutine owns
// one exchange and its decoder. The zero value is ready to use with DefaultMaxLine.
type Decoder struct {
	maxLine int

	chunk []byte // the chunk being scanned; nil or fully scanned between Feeds
	pos   int    // next unscanned index in chunk
	lf    int    // index of the next '\n' at or after pos, len(chunk) if none, stale when < pos
	base  int64  // stream offset of chunk[0]

	bomMatched int  // bytes of bom seen at the stream start
	bomDone    bool // the start of the stream is past any bom
	crPending  bool // chunk ended in CR: a '\n' opening the next chunk ends no line
	held       bool // the event ended with that CR; End waits to see if a '\n' follows

	inLine   bool   // a line began in an earlier chunk and has not ended yet
	lineLong bool   // ... and it is already longer than maxLine
	line     []byte // ... its bytes so far, unless lineLong

	inBlock    bool  // a non-blank line has been seen since the last blank line
	blockStart int64 // stream offset of that line
	hasData    bool  // the block had a data field
	oversize   bool  // the block had a line, or joined data, longer than maxLine

	// The fields of the open event. Each aliases the chunk, the line buffer, or its
	// own buffer (xxxOwned); detach moves the first two kinds into the third before
	// the chunk or the line buffer can change under them.
	typ, data, id                []byte
	typOwned, dataOwned, idOwned bool
	typBuf, dataBuf, idBuf       []byte
}

// New returns a decoder for one stream.
func New(o Options) *Decoder {
	d := &Decoder{maxLine: o.MaxLine}
	d.setDefaults()
	return d
}

func (d *Decoder) setDefaults() {
	if d.maxLine <= 0 {
		d.maxLine = DefaultMaxLine
	}
}

// Feed hands the decoder the next chunk of the stream; Next then yields the events
// the chunk completes. The decoder keeps no reference to the chunk once Next has
// returned false, so the caller may reuse its memory then.
//
// Feed panics if Next has not yet scanned the whole previous chunk: the bytes left
// would otherwise be lost or need copying, and either is a caller bug worth finding.
func (d *Decoder) Feed(chunk []byte) {
	d.mustBeDrained("Feed")
	d.setDefaults()
	d.base += int64(len(d.chunk))
	d.chunk, d.pos, d.lf = chunk, 0, -1
}

// Next returns the next event completed by the chunks fed so far, and false when the
// current chunk holds no further complete event. Call it until it returns false
// before the next Feed or Close.
func (d *Decoder) Next() (Event, bool) {
	if d.crPending {
		if d.pos == len(d.chunk) {
			return Event{}, false
		}
		d.crPending = false
		if d.chunk[d.pos] == '\n' {
			d.pos++ // second half of a CRLF that the chunk boundary cut
		}
		if d.held {
			d.held = false
			return d.dispatch(d.base + int64(d.pos)), true
		}
	}
	if !d.bomDone && !d.skipBOM() {
		return Event{}, false
	}
	for d.pos < len(d.chunk) {
		if ev, ok := d.scanLine(); ok {
			return ev, true
		}
	}
	d.detach()
	return Event{}, false
}

// Close ends the stream and returns the event still open, if it had data.
//
// The spec drops an event that no blank line ended, and a line no line end ended.
// Close is lenient on purpose: upstreams and proxies often finish with "data:
// [DONE]\n" or the last JSON event without its blank line, and for accounting a
// final usage event matters more than strictness. The bytes already went to the
// client either way. An event dispatched here may have been cut off mid-line by a
// broken upstream, so the caller must validate its data as it would any input.
//
// Close panics like Feed if the current chunk is not fully scanned. Call Reset
// before reusing the decoder for another stream.
func (d *Decoder) Close() (Event, bool) {
	d.mustBeDrained("Close")
	d.setDefaults()
	if !d.bomDone && d.bomMatched > 0 {
		d.startPartialLine(0)
		d.line = append(d.line[:0], bom[:d.bomMatched]...) // a bom prefix, so content
	}
	d.bomDone = true
	if d.inLine {
		d.inLine = false
		if d.lineLong || len(d.line) > d.maxLine {
			d.oversize, d.data = true, nil
		} else {
			d.field(d.line)
		}
		d.lineLong = false
	}
	d.crPending = false
	if d.held || (d.inBlock && (d.hasData || d.oversize)) {
		d.held = false
		return d.dispatch(d.Offset()), true
	}
	d.resetBlock()
	return Event{}, false
}

// Offset returns the number of bytes fed so far.
func (d *Decoder) Offset() int64 { return d.base + int64(len(d.chunk)) }

// Pending returns the stream offset where the event not yet dispatched starts, or the
// scan position when no event is open; after Next has returned false that is
// Offset(). Every event Next returns later starts at or after it, so a caller that
// rewrites the stream may forward everything before Pending and hold back the rest.
func (d *Decoder) Pending() int64 {
	switch {
	case d.inBlock:
		return d.blockStart
	case !d.bomDone && d.bomMatched > 0:
		return 0 // may turn out to be the first bytes of a line
	}
	return d.base + int64(d.pos)
}

// Reset readies the decoder for a new stream, keeping its options and the capacity
// of its buffers.
func (d *Decoder) Reset() {
	*d = Decoder{
		maxLine: d.maxLine,
		line:    d.line[:0],
		typBuf:  d.typBuf[:0],
		dataBuf: d.dataBuf[:0],
		idBuf:   d.idBuf[:0],
	}
}

func (d *Decoder) mustBeDrained(op string) {
	if d.pos < len(d.chunk) {
		panic("sse: " + op + " called before Next returned false for the previous chunk")
	}
}
