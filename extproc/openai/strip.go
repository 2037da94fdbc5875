package openai

// StripNullUsage appends data to dst without its top-level "usage":null
// members and their separating commas, for a client that did not ask for
// usage but receives OpenAI's null placeholder because tokengate asked for it.
// It strips only when the member that counts (the last) is null, and reports
// whether it did; invalid JSON is appended unchanged. With room in dst it
// does not allocate.
func StripNullUsage(dst, data []byte) ([]byte, bool) {
	return stripUsage(dst, data, true)
}

// StripUsage is StripNullUsage for any usage value: it removes the top-level
// usage members of a chunk that carries content as well as the usage a
// client did not ask for (LiteLLM's last content or finish chunk may).
func StripUsage(dst, data []byte) ([]byte, bool) {
	return stripUsage(dst, data, false)
}

func stripUsage(dst, data []byte, onlyNull bool) ([]byte, bool) {
	s := scanner{data: data}
	s.ws()
	open := s.pos
	if s.peek() != '{' {
		return append(dst, data...), false
	}
	// One pass validates and finds the byte ranges to cut: a run of usage
	// members at the start up to the next key, any other usage member from
	// the end of the value before it. The usual chunk has one.
	var cuts [4]span
	n := 0          // cuts, possibly more than fit
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
		case usage && leading && n == 0:
			cuts[0], n = span{keyAt, s.pos}, 1
		case usage && leading:
			cuts[0].end = s.pos
		case usage:
			if n < len(cuts) {
				cuts[n] = span{prevEnd, s.pos}
			}
			n++
		case leading:
			leading = false
			if n > 0 {
				cuts[0].end = keyAt // the comma after the run goes too
			}
		}
		prevEnd = s.pos
		more, err = s.next('}')
	}
	if err != nil || s.end() != nil || n == 0 || (onlyNull && !null) {
		return append(dst, data...), false
	}
	if n > len(cuts) {
		return stripTwice(dst, data, open), true
	}
	from := 0
	for _, c := range cuts[:n] {
		dst = append(dst, data[from:c.start]...)
		from = c.end
	}
	return append(dst, data[from:]...), true
}

// stripTwice is StripNullUsage for an object with more usage members than it
// keeps cuts for: a second pass over the now valid data copies every other
// member with the separator that preceded it.
func stripTwice(dst, data []byte, open int) []byte {
	s := scanner{data: data, pos: open}
	dst = append(dst, data[:open+1]...)
	more, _ := s.enterObject(1)
	sep := open + 1 // start of the text between the previous member and this key
	wrote := false
	for first := true; first || more; first = false {
		keyAt := s.pos
		key, _ := s.key()
		drop := string(key) == "usage"
		_ = s.skipValue(1)
		end := s.pos
		if !drop {
			if wrote || first {
				dst = append(dst, data[sep:end]...)
			} else {
				dst = append(dst, data[keyAt:end]...)
			}
			wrote = true
		}
		sep = end
		more, _ = s.next('}')
	}
	return append(dst, data[sep:]...)
}
