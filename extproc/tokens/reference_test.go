package tokens

// The reference implementation of feed, kept for differential tests only:
// the state machine as it stood before prose.go's eight-bytes-at-a-time path
// was added. refText is Text with these methods instead of the real ones.

type refText Text

// refTextOf feeds the pieces into one Text with the reference machine.
func refTextOf(pieces ...[]byte) Text {
	var t refText
	for _, p := range pieces {
		refFeed(&t, p)
	}
	return Text(t)
}

// refFeed is feed as it was before the ASCII fast path (prose.go): the
// state machine the fast path must agree with on every input.
func refFeed[S string | []byte](t *refText, p S) {
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
func (t *refText) spaces(c byte, n int64) {
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
func (t *refText) wide(n uint8) {
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
func (t *refText) invalid(n int64) {
	t.bound += 3 * n
	t.feats.other += n
}

// endRun finishes the digit or whitespace run in progress, if any, now that a
// character of kind next (kEdge: the end of the text) follows it.
func (t *refText) endRun(next kind) {
	if t.run > 0 {
		t.finishRun(next)
	}
}

// finishRun is endRun's work, kept apart so that endRun inlines.
func (t *refText) finishRun(next kind) {
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
