// Package tokens estimates how many model tokens a text costs: a guaranteed
// upper bound and a calibrated estimate that cost a single pass over the bytes,
// and an exact count with the model's real BPE encoding where one is known.
package tokens

// Text accumulates what the estimators need to know about a piece of text
// without keeping the text. Feeding a text in pieces gives the same Text as
// feeding it whole, wherever the cuts fall (even inside a UTF-8 sequence), so a
// JSON scanner can feed the runs between escapes and each decoded escape
// without unescaping into a buffer. Add and AddString never allocate.
//
// One Text is one string as the model's tokenizer sees it. Texts the model
// encodes separately, such as the contents of different chat messages, belong
// in separate Texts joined with [Text.Merge]: fed into one Text they would be
// bounded as one string, and BPE can need more tokens for two strings than for
// their concatenation.
//
// The zero Text is empty and ready to use.
type Text struct {
	Bytes int64 // UTF-8 bytes seen

	// Finished part: everything up to the current run or UTF-8 sequence.
	bound int64 // Bound's charges, see bound.go
	feats features

	// The run in progress: digits or whitespace bytes (as told by prev), whose
	// charge depends on the byte that ends it.
	prev    kind  // the last character, or the lead byte of the sequence in progress
	runLeft kind  // the character before the run; kEdge when there is none
	run     int64 // bytes in the run
	ws      wsRun // shape of a whitespace run

	// The UTF-8 sequence in progress: Go's decoding rules (utf8.DecodeRune), so
	// a sequence broken off makes each of its bytes one invalid byte.
	need   uint8 // continuation bytes still expected; 0: none in progress
	seqLen uint8 // bytes in the sequence when complete
	lo, hi uint8 // the range the next continuation byte must fall in
}

// features are the character-class counts the estimate weighs (estimate.go).
type features struct {
	letters     int64 // ASCII letters
	words       int64 // starts of words, counting a lower-to-upper case change as a start
	punct       int64 // ASCII punctuation and symbols
	punctRuns   int64 // maximal runs of them
	digitGroups int64 // ⌈n/3⌉ summed over maximal runs of n ASCII digits
	wsTokens    int64 // whitespace tokens as o200k_base's pre-tokenizer would cut the runs
	runes2      int64 // 2-byte runes: accented Latin, Greek, Cyrillic, Hebrew, Arabic
	runes3      int64 // 3-byte runes: CJK, typographic punctuation, most symbols
	runes4      int64 // 4-byte runes: emoji, rare CJK
	other       int64 // control characters and invalid bytes
}

// add adds o's counts to f.
func (f *features) add(o features) {
	f.letters += o.letters
	f.words += o.words
	f.punct += o.punct
	f.punctRuns += o.punctRuns
	f.digitGroups += o.digitGroups
	f.wsTokens += o.wsTokens
	f.runes2 += o.runes2
	f.runes3 += o.runes3
	f.runes4 += o.runes4
	f.other += o.other
}

// kind classifies a character by what the pre-tokenizers of o200k_base and
// cl100k_base do with it. The zero kind is the edge of the text.
type kind uint8

const (
	kEdge  kind = iota // start of the text
	kLower             // a-z
	kUpper             // A-Z
	kDigit             // 0-9
	kPunct             // printable ASCII that is neither letter nor digit
	kSpace             // ' ', '\t', '\n', '\r'
	kCtl               // other ASCII: controls, including '\v' and '\f', and DEL
	kWide2             // a 2-byte UTF-8 sequence
	kWide              // a 3- or 4-byte UTF-8 sequence
	kBad               // a byte that starts no valid UTF-8 sequence
)

// wsRun is the shape of a whitespace run that its bound needs: where its last
// newline is and whether what follows is a single repeated byte.
type wsRun struct {
	nl    int64 // bytes up to and including the last newline; 0: no newline yet
	tail  int64 // bytes after the last newline
	head  int64 // leading bytes of the tail equal to its first byte
	first byte  // the tail's first byte
	last  byte  // the run's last byte
	lfs   bool  // the run so far is nothing but '\n'
	nlLFs bool  // the bytes up to the last newline are nothing but '\n'
}

// byteKind is the kind of each byte as a character on its own; for a lead
// byte, the kind of the sequence it starts.
var byteKind = func() (k [256]kind) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z':
			k[c] = kLower
		case c >= 'A' && c <= 'Z':
			k[c] = kUpper
		case c >= '0' && c <= '9':
			k[c] = kDigit
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			k[c] = kSpace
		case c > ' ' && c < 0x7f:
			k[c] = kPunct
		case c < 0x80:
			k[c] = kCtl
		case c >= 0xc2 && c <= 0xdf:
			k[c] = kWide2
		case c >= 0xe0 && c <= 0xf4:
			k[c] = kWide
		default:
			k[c] = kBad
		}
	}
	return k
}()

// Add feeds UTF-8 text.
func (t *Text) Add(p []byte) { feed(t, p) }

// AddString feeds UTF-8 text.
func (t *Text) AddString(s string) { feed(t, s) }

// Merge adds o to t as a separately encoded text that follows t's, as the next
// chat message follows the last: no token spans the boundary. Bytes fed to t
// afterwards continue o's text. Bound of the result bounds the two texts
// encoded separately and also encoded as one string, so a caller that cannot
// tell which applies is safe either way. t.Merge(Text{}) ends t's text
// without adding one.
func (t *Text) Merge(o Text) {
	c := t.closed()
	c.Bytes += o.Bytes
	c.bound += o.bound
	c.feats.add(o.feats)
	// o's unfinished run and sequence carry on in t, counted once they end.
	c.prev, c.runLeft, c.run, c.ws = o.prev, o.runLeft, o.run, o.ws
	c.need, c.seqLen, c.lo, c.hi = o.need, o.seqLen, o.lo, o.hi
	*t = c
}

// closed returns t with its run and UTF-8 sequence ended by the end of the
// text, without changing t.
func (t Text) closed() Text {
	if t.need > 0 {
		t.invalid(int64(t.seqLen - t.need))
		t.need, t.seqLen, t.lo, t.hi = 0, 0, 0, 0
	}
	t.endRun(kEdge)
	t.prev = kEdge
	return t
}

// feed runs the state machine over p. It takes the common shapes (words
// parted by single spaces, runs of a byte, whole UTF-8 sequences) in tight
// loops; every path leaves t as a byte-by-byte walk would, which
// TestTextEveryCut checks.
func feed[S string | []byte](t *Text, p S) {
	t.Bytes += int64(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if t.need > 0 {
			if c >= t.lo && c <= t.hi {
				t.need--
				t.lo, t.hi = 0x80, 0xbf
				if t.need == 0 {
					t.wide(t.seqLen)
					t.seqLen, t.lo, t.hi = 0, 0, 0
				}
				continue
			}
			// Broken off: what came so far is invalid; c starts afresh.
			t.invalid(int64(t.seqLen - t.need))
			t.need, t.seqLen, t.lo, t.hi = 0, 0, 0, 0
		}
		k := byteKind[c]
		switch k {
		case kLower, kUpper:
			t.endRun(k)
			if t.prev != kLower && t.prev != kUpper && t.prev != kWide2 || k == kUpper && t.prev == kLower {
				t.feats.words++
			}
			// Letters, and single spaces between them, need no decisions: such
			// a space is charged one, estimated as none (the next word's
			// pre-token takes it) and starts a word.
			j, spaces, camel, lower := i+1, int64(0), int64(0), k == kLower
			for j < len(p) {
				if d := p[j]; d-'a' < 26 {
					lower = true
				} else if d-'A' < 26 {
					if lower {
						camel++
					}
					lower = false
				} else if d == ' ' && j+1 < len(p) && (p[j+1]|0x20)-'a' < 26 {
					spaces++
					lower = p[j+1] >= 'a'
					j++
				} else {
					break
				}
				j++
			}
			n := int64(j - i)
			t.bound += n
			t.feats.letters += n - spaces
			t.feats.words += spaces + camel
			i = j - 1
			t.prev = kUpper
			if lower {
				t.prev = kLower
			}
		case kDigit:
			if t.prev != kDigit {
				t.endRun(k)
				t.runLeft = t.prev
			}
			j := i + 1
			for j < len(p) && p[j]-'0' < 10 {
				j++
			}
			t.run += int64(j - i)
			i = j - 1
			t.prev = k
		case kSpace:
			if t.prev != kSpace {
				t.endRun(k)
				t.runLeft = t.prev
				t.ws = wsRun{lfs: true}
			}
			for {
				j := i + 1
				for j < len(p) && p[j] == c {
					j++
				}
				t.spaces(c, int64(j-i))
				if j == len(p) || byteKind[p[j]] != kSpace {
					i = j - 1
					break
				}
				i, c = j, p[j]
			}
			t.prev = k
		case kPunct:
			t.endRun(k)
			if t.prev != kPunct {
				t.feats.punctRuns++
			}
			j := i + 1
			for j < len(p) && byteKind[p[j]] == kPunct {
				j++
			}
			t.bound += int64(j - i)
			t.feats.punct += int64(j - i)
			i = j - 1
			t.prev = k
		case kCtl:
			t.endRun(k)
			t.bound++
			t.feats.other++
			t.prev = k
		case kWide2, kWide:
			t.endRun(k)
			if t.prev != kLower && t.prev != kUpper && t.prev != kWide2 && k == kWide2 {
				t.feats.words++
			}
			t.prev = k
			need, lo, hi := uint8(1), uint8(0x80), uint8(0xbf)
			switch {
			case c < 0xe0:
			case c < 0xf0:
				need = 2
				if c == 0xe0 {
					lo = 0xa0 // no overlong forms
				} else if c == 0xed {
					hi = 0x9f // no surrogates
				}
			default:
				need = 3
				if c == 0xf0 {
					lo = 0x90 // no overlong forms
				} else if c == 0xf4 {
					hi = 0x8f // nothing above U+10FFFF
				}
			}
			// The whole sequence is usually in p; else it goes on byte by byte.
			if n := int(need); i+n < len(p) && p[i+1] >= lo && p[i+1] <= hi &&
				(n < 2 || p[i+2]-0x80 < 0x40) && (n < 3 || p[i+3]-0x80 < 0x40) {
				i += n
				t.wide(need + 1)
				continue
			}
			t.need, t.lo, t.hi, t.seqLen = need, lo, hi, need+1
		default: // kBad, or a continuation byte with no lead
			t.endRun(kBad)
			t.invalid(1)
			t.prev = kBad
		}
	}
}

// spaces extends the whitespace run with n copies of c.
func (t *Text) spaces(c byte, n int64) {
	t.run += n
	w := &t.ws
	w.last = c
	if c != '\n' {
		w.lfs = false
	}
	if c == '\n' || c == '\r' {
		w.nl, w.nlLFs, w.tail, w.head = t.run, w.lfs, 0, 0
		return
	}
	if w.tail == 0 {
		w.first = c
	}
	if w.head == w.tail && c == w.first {
		w.head += n
	}
	w.tail += n
}

// wide counts a complete UTF-8 sequence of n bytes.
func (t *Text) wide(n uint8) {
	t.bound += int64(n)
	switch n {
	case 2:
		t.feats.runes2++
	case 3:
		t.feats.runes3++
	default:
		t.feats.runes4++
	}
}

// invalid counts n bytes that are not UTF-8. What repairs them on the way to
// the model (a JSON decoder, tiktoken's own clean-up) makes each at most one
// U+FFFD, three bytes, so the bound charges three.
func (t *Text) invalid(n int64) {
	t.bound += 3 * n
	t.feats.other += n
}

// endRun finishes the digit or whitespace run in progress, if any, now that a
// character of kind next (kEdge: the end of the text) follows it.
func (t *Text) endRun(next kind) {
	if t.run > 0 {
		t.finishRun(next)
	}
}

// finishRun is endRun's work, kept apart so that endRun inlines.
func (t *Text) finishRun(next kind) {
	switch t.prev {
	case kDigit:
		t.bound += digitBound(t.run, t.runLeft, next)
		t.feats.digitGroups += (t.run + 2) / 3
	case kSpace:
		t.bound += t.ws.bound(t.run, t.runLeft, next)
		t.feats.wsTokens += t.ws.estimate(t.runLeft, next)
	default:
		return
	}
	t.run, t.runLeft, t.ws = 0, kEdge, wsRun{}
}
