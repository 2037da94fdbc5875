package openai

// StripNullUsage appends data to dst without its top-level "usage":null
// members and their separating commas, for a client that did not ask for
// usage but receives OpenAI's null placeholder because tokengate asked for it.
// It strips only when the member that counts (the last) is null, and reports
// whether it did; invalid JSON is appended unchanged. With room in dst it
// does not allocate.
func StripNullUsage(dst, data []byte) ([]byte, bool) {
	return strip(dst, data, true)
}

// StripUsage is StripNullUsage for any usage value: it removes the top-level
// usage members of a chunk that carries content as well as the usage a
// client did not ask for (LiteLLM's last content or finish chunk may).
func StripUsage(dst, data []byte) ([]byte, bool) {
	return strip(dst, data, false)
}

// Cut is a byte range [Start, End) of a chunk that stripping removes.
type Cut struct{ Start, End int }

// UsageCuts appends to dst, in order, the byte ranges of data that
// StripUsage removes, and reports whether there are any. It is for a caller
// that holds data framed in some other way, as an SSE event's data lines,
// and removes the same bytes from its framing. Each cut runs from the end
// of one JSON token to the start of another (or to the end of the usage
// value), so whitespace left in a cut's place keeps the JSON's meaning.
func UsageCuts(dst []Cut, data []byte) ([]Cut, bool) {
	return usageCuts(dst, data, false)
}

func strip(dst, data []byte, onlyNull bool) ([]byte, bool) {
	var buf [4]Cut // the usual chunk has one
	cuts, ok := usageCuts(buf[:0], data, onlyNull)
	if !ok {
		return append(dst, data...), false
	}
	from := 0
	for _, c := range cuts {
		dst = append(dst, data[from:c.Start]...)
		from = c.End
	}
	return append(dst, data[from:]...), true
}

// usageCuts finds, in one pass that also validates data, the ranges to cut:
// a run of usage members at the start up to the next key, any other usage
// member from the end of the value before it.
func usageCuts(dst []Cut, data []byte, onlyNull bool) ([]Cut, bool) {
	s := scanner{data: data}
	s.ws()
	open := s.pos
	if s.peek() != '{' {
		return dst, false
	}
	first := len(dst)
	leading := true // every member so far is a usage member
	null := false
	prevEnd := open + 1
	more, err := s.enterObject(1)
	for more && err == nil {
		keyAt := s.pos
		var key []byte
		if key, err = s.key(); err != nil {
			break
		}
		usage := string(key) == "usage"
		if usage {
			null = s.peek() == 'n'
		}
		if err = s.skipValue(1); err != nil {
			break
		}
		switch {
		case usage && leading && len(dst) == first:
			dst = append(dst, Cut{keyAt, s.pos})
		case usage && leading:
			dst[first].End = s.pos
		case usage:
			dst = append(dst, Cut{prevEnd, s.pos})
		case leading:
			leading = false
			if len(dst) > first {
				dst[first].End = keyAt // the comma after the run goes too
			}
		}
		prevEnd = s.pos
		more, err = s.next('}')
	}
	if err != nil || s.end() != nil || len(dst) == first || (onlyNull && !null) {
		return dst[:first], false
	}
	return dst, true
}
