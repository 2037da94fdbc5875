package openai

import (
	"bytes"
	"math"
	"unicode/utf8"
)

// Values and containers. Callers position s.pos on the first byte of a value
// (whitespace already skipped); every function leaves s.pos just past what it
// consumed. depth counts the containers already open around the value.

// skipValue validates one value of any type.
func (s *scanner) skipValue(depth int) error {
	switch c := s.peek(); c {
	case '"':
		return s.skipString()
	case '{':
		more, err := s.enterObject(depth + 1)
		for more && err == nil {
			if s.peek() != '"' {
				return s.syntaxErr()
			}
			if err = s.skipString(); err != nil {
				return err
			}
			if err = s.colon(); err != nil {
				return err
			}
			if err = s.skipValue(depth + 1); err != nil {
				return err
			}
			more, err = s.next('}')
		}
		return err
	case '[':
		more, err := s.enterArray(depth + 1)
		for more && err == nil {
			if err = s.skipValue(depth + 1); err != nil {
				return err
			}
			more, err = s.next(']')
		}
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, err := s.number()
		return err
	}
}

func (s *scanner) literal(lit string) error {
	if end := s.pos + len(lit); end <= len(s.data) && string(s.data[s.pos:end]) == lit {
		s.pos = end
		return nil
	}
	for i := 0; i < len(lit); i++ {
		if s.peek() != lit[i] {
			return s.syntaxErr()
		}
		s.pos++
	}
	return nil
}

// isNull consumes a null literal if one is at s.pos.
func (s *scanner) isNull() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

// enterObject consumes '{' and reports whether a member follows, in which
// case s.pos is on its key.
func (s *scanner) enterObject(depth int) (bool, error) {
	if depth > maxDepth {
		return false, s.errAt(s.pos, "exceeded max nesting depth")
	}
	s.pos++
	s.ws()
	if s.peek() == '}' {
		s.pos++
		return false, nil
	}
	if s.peek() != '"' {
		return false, s.syntaxErr()
	}
	return true, nil
}

// enterArray consumes '[' and reports whether an element follows, in which
// case s.pos is on it.
func (s *scanner) enterArray(depth int) (bool, error) {
	if depth > maxDepth {
		return false, s.errAt(s.pos, "exceeded max nesting depth")
	}
	s.pos++
	s.ws()
	if s.peek() == ']' {
		s.pos++
		return false, nil
	}
	return true, nil
}

// colon consumes the ':' after a key and the whitespace around it.
func (s *scanner) colon() error {
	s.ws()
	if s.peek() != ':' {
		return s.syntaxErr()
	}
	s.pos++
	s.ws()
	return nil
}

// key reads a member's key and the colon after it, leaving s.pos on the
// value. The returned name is decoded when it could be one we know.
func (s *scanner) key() ([]byte, error) {
	name, err := s.name()
	if err != nil {
		return nil, err
	}
	return name, s.colon()
}

// next consumes what follows a member or element: a comma (then true, with
// s.pos on the next key or element) or the closing byte (then false).
func (s *scanner) next(closer byte) (bool, error) {
	s.ws()
	switch s.peek() {
	case ',':
		s.pos++
		s.ws()
		if closer == '}' && s.peek() != '"' {
			return false, s.syntaxErr()
		}
		return true, nil
	case closer:
		s.pos++
		return false, nil
	}
	return false, s.syntaxErr()
}

// number validates a number and reports whether it is an int64 as
// encoding/json decodes one: no fraction, no exponent, no overflow.
func (s *scanner) number() (bool, error) {
	_, ok, err := s.integer()
	return ok, err
}

// integer validates a number and returns its value when it is an int64 in
// encoding/json's sense; ok false with a nil error is a valid non-integer.
func (s *scanner) integer() (v int64, ok bool, err error) {
	start := s.pos
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return 0, false, s.syntaxErr()
	}
	intEnd := s.pos
	whole := true
	if s.peek() == '.' {
		s.pos++
		if !s.digits() {
			return 0, false, s.syntaxErr()
		}
		whole = false
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !s.digits() {
			return 0, false, s.syntaxErr()
		}
		whole = false
	}
	if !whole {
		return 0, false, nil
	}
	v, ok = parseInt(s.data[start:intEnd])
	return v, ok, nil
}

// digits consumes a run of decimal digits and reports whether there was one.
func (s *scanner) digits() bool {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos > start
}

// parseInt converts a validated JSON integer, reporting overflow as !ok.
func parseInt(p []byte) (int64, bool) {
	neg := p[0] == '-'
	if neg {
		p = p[1:]
	}
	if len(p) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range p {
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	switch {
	case neg && u <= 1<<63:
		return int64(-u), true
	case !neg && u <= math.MaxInt64:
		return int64(u), true
	}
	return 0, false
}

// Typed reads for the members a parser interprets. A wrong type is reported
// at l; null always reads as absent.

func (s *scanner) boolean(depth int, l loc) (bool, error) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return false, s.literal("null")
	}
	return false, s.wrongType(depth, l, "a boolean")
}

// intValue reads a non-null number that must be an int64.
func (s *scanner) intValue(depth int, l loc, want string) (int64, error) {
	if c := s.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, s.wrongType(depth, l, want)
	}
	v, ok, err := s.integer()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, typeErr(l.String(), want)
	}
	return v, nil
}

// text reads a string-or-null member, feeding a string to s.piece (unless
// only checking). present is false for null; size is the raw length, zero
// iff the decoded string is empty.
func (s *scanner) text(feed bool, depth int, l loc) (present bool, size int, err error) {
	switch s.peek() {
	case '"':
		if !feed {
			start := s.pos
			err = s.skipString()
			return true, s.pos - start - 2, err
		}
		size, err = s.feedString()
		return true, size, err
	case 'n':
		return false, 0, s.literal("null")
	}
	return false, 0, s.wrongType(depth, l, "a string")
}

// decodeString decodes a validated string literal (quotes included) as
// encoding/json would. Only the model name takes this path.
func decodeString(raw []byte) string {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return string(inner)
	}
	s := scanner{data: raw, pos: 1}
	out := make([]byte, 0, len(raw))
	for {
		from := s.pos
		s.run()
		for p := raw[from:s.pos]; len(p) > 0; {
			r, n := utf8.DecodeRune(p)
			if r == utf8.RuneError && n == 1 {
				out = utf8.AppendRune(out, r)
			} else {
				out = append(out, p[:n]...)
			}
			p = p[n:]
		}
		if s.peek() == '"' {
			return string(out)
		}
		if r, n, _ := s.escape(); n == 1 {
			out = append(out, raw[s.pos-1])
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
}
