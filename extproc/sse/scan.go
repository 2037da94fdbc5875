package sse

import "bytes"

// scanLine consumes one line of the current chunk, or the rest of the chunk when no
// line end is in it, and returns the event the line completes, if any.
func (d *Decoder) scanLine() (Event, bool) {
	if d.lf < d.pos {
		// Remember where the next LF is: in a stream of lone-CR line ends, looking for
		// it afresh on every line would scan the rest of the chunk again and again.
		if i := bytes.IndexByte(d.chunk[d.pos:], '\n'); i >= 0 {
			d.lf = d.pos + i
		} else {
			d.lf = len(d.chunk)
		}
	}
	end := d.lf
	if i := bytes.IndexByte(d.chunk[d.pos:end], '\r'); i >= 0 {
		end = d.pos + i
	}
	if end == len(d.chunk) {
		d.holdPartial(d.chunk[d.pos:])
		return Event{}, false
	}
	next := end + 1
	if d.chunk[end] == '\r' {
		switch {
		case next == len(d.chunk):
			d.crPending = true // a LF opening the next chunk belongs to this line end
		case d.chunk[next] == '\n':
			next++
		}
	}

	line, long := d.chunk[d.pos:end], false
	if d.inLine {
		// The line began in an earlier chunk: finish it in the line buffer.
		if d.lineLong || len(d.line)+len(line) > d.maxLine {
			long = true
		} else {
			d.line = append(d.line, line...)
			line = d.line
		}
		d.inLine, d.lineLong = false, false
	} else {
		long = len(line) > d.maxLine
		if len(line) > 0 && !d.inBlock {
			d.inBlock, d.blockStart = true, d.base+int64(d.pos)
		}
	}
	d.pos = next

	switch {
	case long:
		d.oversize, d.data = true, nil
	case len(line) == 0:
		return d.endBlock()
	default:
		d.field(line)
	}
	return Event{}, false
}

// endBlock handles a blank line: it dispatches the open event if it had data, and
// otherwise forgets the block, as the spec says (so an "event:" line alone, or a
// run of comments, yields nothing).
func (d *Decoder) endBlock() (Event, bool) {
	if !d.inBlock {
		return Event{}, false
	}
	if !d.hasData && !d.oversize {
		d.resetBlock()
		return Event{}, false
	}
	if d.crPending {
		// End is past the blank line's LF if the next chunk starts with one. Waiting
		// for it costs one chunk of latency on CR-only streams and keeps End the same
		// however the stream is cut.
		d.held = true
		return Event{}, false
	}
	return d.dispatch(d.base + int64(d.pos)), true
}

// holdPartial keeps the start of a line that the chunk boundary cut, bounded by
// maxLine.
func (d *Decoder) holdPartial(part []byte) {
	d.detach() // the open event's fields may alias d.line, which is about to change
	if !d.inLine {
		d.startPartialLine(d.base + int64(d.pos))
	}
	if d.lineLong || len(d.line)+len(part) > d.maxLine {
		d.lineLong, d.line = true, d.line[:0]
	} else {
		d.line = append(d.line, part...)
	}
	d.pos = len(d.chunk)
}

// startPartialLine opens a line at offset whose bytes go to the line buffer. Such a
// line is never blank, so it opens a block if none is open.
func (d *Decoder) startPartialLine(offset int64) {
	d.inLine, d.lineLong, d.line = true, false, d.line[:0]
	if !d.inBlock {
		d.inBlock, d.blockStart = true, offset
	}
}

// skipBOM consumes a byte order mark at the start of the stream, one byte at a time
// since chunks may cut it too. It reports false if the chunk ran out first.
func (d *Decoder) skipBOM() bool {
	for d.pos < len(d.chunk) {
		if d.chunk[d.pos] != bom[d.bomMatched] {
			d.bomDone = true
			if d.bomMatched > 0 {
				// Not a bom after all: the bytes taken for one start the first line.
				d.startPartialLine(0)
				d.line = append(d.line, bom[:d.bomMatched]...)
			}
			return true
		}
		d.pos++
		d.bomMatched++
		if d.bomMatched == len(bom) {
			d.bomDone = true
			return true
		}
	}
	return false
}

// field interprets one non-blank line of at most maxLine bytes.
func (d *Decoder) field(line []byte) {
	if line[0] == ':' {
		return // comment: ": keep-alive", ": OPENROUTER PROCESSING"
	}
	name, value := line, []byte(nil)
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "data":
		d.appendData(value)
	case "event":
		d.typ, d.typOwned = value, false
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			d.id, d.idOwned = value, false
		}
	}
	// "retry" and unknown fields are ignored: tokengate never reconnects.
}

// appendData adds one data field's value. The first value is only aliased; a second
// one needs the '\n' join and so a copy, which real LLM upstreams, sending one JSON
// document per data line, never cause.
func (d *Decoder) appendData(value []byte) {
	switch {
	case d.oversize:
	case !d.hasData:
		d.data, d.dataOwned = value, false
	case len(d.data)+1+len(value) > d.maxLine:
		d.oversize, d.data = true, nil
	default:
		if !d.dataOwned {
			d.dataBuf, d.dataOwned = append(d.dataBuf[:0], d.data...), true
		}
		d.dataBuf = append(d.dataBuf, '\n')
		d.dataBuf = append(d.dataBuf, value...)
		d.data = d.dataBuf
	}
	d.hasData = true
}

// detach copies the open event's fields that alias the chunk or the line buffer into
// the decoder's own buffers, so they survive the caller reusing the chunk.
func (d *Decoder) detach() {
	d.typ, d.typOwned = own(d.typ, &d.typBuf, d.typOwned)
	d.data, d.dataOwned = own(d.data, &d.dataBuf, d.dataOwned)
	d.id, d.idOwned = own(d.id, &d.idBuf, d.idOwned)
}

func own(v []byte, buf *[]byte, owned bool) ([]byte, bool) {
	switch {
	case owned:
		return v, true
	case len(v) == 0:
		return nil, false
	}
	*buf = append((*buf)[:0], v...)
	return *buf, true
}

// dispatch returns the open event, ending at end, and forgets it.
func (d *Decoder) dispatch(end int64) Event {
	ev := Event{Type: orNil(d.typ), ID: orNil(d.id), Start: d.blockStart, End: end, Oversize: d.oversize}
	if !d.oversize {
		ev.Data = orNil(d.data)
	}
	d.resetBlock()
	return ev
}

func (d *Decoder) resetBlock() {
	d.inBlock, d.hasData, d.oversize = false, false, false
	d.typ, d.data, d.id = nil, nil, nil
	d.typOwned, d.dataOwned, d.idOwned = false, false, false
}

func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}
