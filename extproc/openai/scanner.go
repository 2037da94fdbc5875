package openai

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// maxDepth is encoding/json's nesting limit: a body it rejects for depth must
// be rejected here too, or the two would disagree about what is valid.
const maxDepth = 10000

// SWAR constants: eight bytes are tested for "needs a closer look" at once,
// which is what keeps a 4 KB body well under the hot-path budget.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
	x02 = lsb * 0x02 // maps '"' to 0x20 and control bytes onto control bytes
	lt  = lsb * 0x21 // so bytes below 0x21 after x02 are exactly '"' and controls
	bsl = lsb * '\\'
)

// special flags (in each byte's high bit) the bytes of x that are '"', '\\'
// or a control byte. The lowest flag is always a true one: borrows only
// spill into bytes above a flagged byte.
func special(x uint64) uint64 {
	q, b := x^x02, x^bsl
	return ((q-lt)&^q | (b-lsb)&^b) & msb
}

// scanner walks raw JSON bytes. It validates exactly the grammar
// encoding/json accepts, nesting limit included, and allocates only to
// report an error.
type scanner struct {
	data   []byte
	pos    int
	keyBuf [32]byte // decoded form of an escaped key, for matching only

	// piece receives each decoded string as a text of its own, for the
	// caller to merge where it belongs.
	piece   tokens.Text
	runeBuf [utf8.UTFMax]byte

	// continued: a chunk's delta strings are fed to one Text, continuing
	// its text, rather than merged as texts of their own (ScanChunkInto).
	continued bool
}

// syntaxErr describes the byte at s.pos as unexpected.
func (s *scanner) syntaxErr() *RequestError {
	if s.pos >= len(s.data) {
		return s.errAt(len(s.data), "unexpected end of input")
	}
	c := s.data[s.pos]
	if c >= 0x20 && c < 0x7f {
		return s.errAt(s.pos, fmt.Sprintf("unexpected '%c'", c))
	}
	return s.errAt(s.pos, fmt.Sprintf("unexpected byte 0x%02x", c))
}

func (s *scanner) errAt(pos int, what string) *RequestError {
	return &RequestError{Msg: fmt.Sprintf("invalid JSON at byte %d: %s", pos, what)}
}

// ws skips JSON whitespace. Compact bodies have none between tokens, so the
// common case is one inlined comparison.
func (s *scanner) ws() {
	if s.pos < len(s.data) && s.data[s.pos] > ' ' {
		return
	}
	s.wsLoop()
}

func (s *scanner) wsLoop() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the byte at s.pos, or 0 at the end of input (never valid there).
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// run advances over string bytes that need no attention ('"', '\\' and control
// bytes do) and reports whether any of them had the high bit set.
func (s *scanner) run() (high bool) {
	d := s.data
	i := s.pos
	var hi uint64
	for ; i+16 <= len(d); i += 16 {
		x := binary.LittleEndian.Uint64(d[i : i+8])
		y := binary.LittleEndian.Uint64(d[i+8 : i+16])
		mx, my := special(x), special(y)
		if mx|my == 0 {
			hi |= x | y
			continue
		}
		if mx == 0 {
			hi, i, x, mx = hi|x, i+8, y, my
		}
		n := bits.TrailingZeros64(mx) >> 3
		s.pos = i + n
		return (hi|x&(1<<(uint(n)*8)-1))&msb != 0
	}
	for ; i+8 <= len(d); i += 8 {
		x := binary.LittleEndian.Uint64(d[i : i+8])
		if m := special(x); m != 0 {
			n := bits.TrailingZeros64(m) >> 3
			s.pos = i + n
			return (hi|x&(1<<(uint(n)*8)-1))&msb != 0
		}
		hi |= x
	}
	for ; i < len(d); i++ {
		c := d[i]
		if c == '"' || c == '\\' || c < 0x20 {
			break
		}
		hi |= uint64(c)
	}
	s.pos = i
	return hi&msb != 0
}

// skipString validates the string starting at s.pos (the opening quote).
func (s *scanner) skipString() error {
	s.pos++
	for {
		s.run()
		switch s.peek() {
		case '"':
			s.pos++
			return nil
		case '\\':
			if _, _, err := s.escape(); err != nil {
				return err
			}
		default:
			return s.stringErr()
		}
	}
}

// feedString validates the string at s.pos and feeds its decoded text to a
// fresh s.piece, decoding exactly as encoding/json does (invalid UTF-8 and
// lone surrogates become U+FFFD). It returns the raw length, which is zero
// iff the decoded text is empty.
func (s *scanner) feedString() (int, error) {
	s.piece = tokens.Text{}
	return s.feedStringTo(&s.piece)
}

// feedStringTo is feedString feeding t, continuing t's text.
func (s *scanner) feedStringTo(t *tokens.Text) (int, error) {
	s.pos++
	start := s.pos
	for {
		from := s.pos
		high := s.run()
		if s.pos > from {
			feedRun(t, s.data[from:s.pos], high)
		}
		switch s.peek() {
		case '"':
			s.pos++
			return s.pos - 1 - start, nil
		case '\\':
			r, n, err := s.escape()
			if err != nil {
				return 0, err
			}
			if n == 1 {
				t.Add(s.data[s.pos-1 : s.pos]) // \" \\ \/ decode to the byte itself
				continue
			}
			t.Add(s.runeBuf[:utf8.EncodeRune(s.runeBuf[:], r)])
		default:
			return 0, s.stringErr()
		}
	}
}

// feedRun feeds a run of raw string bytes, replacing each byte that is not
// part of valid UTF-8 with U+FFFD as encoding/json does.
func feedRun(t *tokens.Text, p []byte, high bool) {
	if !high || utf8.Valid(p) {
		t.Add(p)
		return
	}
	for len(p) > 0 {
		i := 0
		for i < len(p) {
			if p[i] < utf8.RuneSelf {
				i++
				continue
			}
			r, n := utf8.DecodeRune(p[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		t.Add(p[:i])
		if i == len(p) {
			return
		}
		t.AddString("\uFFFD")
		p = p[i+1:]
	}
}

func (s *scanner) stringErr() error {
	if s.pos >= len(s.data) {
		return s.syntaxErr()
	}
	return s.errAt(s.pos, fmt.Sprintf("control character 0x%02x in string", s.data[s.pos]))
}

// escape decodes the escape sequence at s.pos (a backslash) and moves past
// it. n is 1 when the escape stands for the byte just before s.pos (\" \\ \/),
// otherwise the rune r is the decoded character. Surrogates pair up exactly
// as in encoding/json: a valid pair is one rune, anything else is U+FFFD and
// the following escape is decoded on its own.
func (s *scanner) escape() (r rune, n int, err error) {
	d := s.data
	if s.pos+1 >= len(d) {
		s.pos = len(d)
		return 0, 0, s.syntaxErr()
	}
	switch c := d[s.pos+1]; c {
	case '"', '\\', '/':
		s.pos += 2
		return 0, 1, nil
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		r = hex4(d, s.pos+2)
		if r < 0 {
			return 0, 0, s.errAt(s.pos, "invalid \\u escape in string")
		}
		s.pos += 6
		if utf16.IsSurrogate(r) {
			if s.pos+1 < len(d) && d[s.pos] == '\\' && d[s.pos+1] == 'u' {
				if r2 := hex4(d, s.pos+2); r2 >= 0 {
					if p := utf16.DecodeRune(r, r2); p != utf8.RuneError {
						s.pos += 6
						return p, 2, nil
					}
				}
			}
			return utf8.RuneError, 2, nil
		}
		return r, 2, nil
	default:
		s.pos++
		return 0, 0, s.errAt(s.pos, fmt.Sprintf("invalid escape '\\%c' in string", printable(c)))
	}
	s.pos += 2
	return r, 2, nil
}

func printable(c byte) rune {
	if c >= 0x20 && c < 0x7f {
		return rune(c)
	}
	return utf8.RuneError
}

// hex4 decodes four hex digits at d[i:], or returns -1.
func hex4(d []byte, i int) rune {
	if i+4 > len(d) {
		return -1
	}
	var r rune
	for _, c := range d[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// name validates the string at s.pos and returns it decoded when that fits
// an ASCII member name we might know; other strings return nil. Known names
// are ASCII, so nothing is lost by not decoding the rest.
func (s *scanner) name() ([]byte, error) {
	s.pos++
	start := s.pos
	high, escaped := false, false
	for {
		high = s.run() || high
		switch s.peek() {
		case '"':
			raw := s.data[start:s.pos]
			s.pos++
			switch {
			case high:
				return nil, nil
			case escaped:
				return s.unescapeName(raw), nil
			}
			return raw, nil
		case '\\':
			escaped = true
			if _, _, err := s.escape(); err != nil {
				return nil, err
			}
		default:
			return nil, s.stringErr()
		}
	}
}

// unescapeName decodes an already validated raw name into keyBuf, or
// returns nil when it is too long or not ASCII.
func (s *scanner) unescapeName(raw []byte) []byte {
	out := s.keyBuf[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c >= utf8.RuneSelf:
			return nil
		case c != '\\':
			i++
		case raw[i+1] == 'u':
			r := hex4(raw, i+2)
			if r >= utf8.RuneSelf {
				return nil
			}
			c = byte(r)
			i += 6
		default:
			c = unescapeByte(raw[i+1])
			i += 2
		}
		if len(out) == cap(out) {
			return nil
		}
		out = append(out, c)
	}
	return out
}

func unescapeByte(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // '"', '\\', '/'
}
