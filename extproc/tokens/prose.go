package tokens

// Prose, without branches
//
// Most of a prompt is words: ASCII letters and punctuation parted by single
// spaces, with the odd accented letter. Taken a byte at a time with a branch
// per decision, as walk (feed.go) takes them, every word's end is a branch
// the processor mispredicts, and those cost more than the rest of the work.
// prose decides nothing per byte: the byte and the class of the byte before
// it index proseTable, whose entry holds what the byte adds to the features,
// packed in 12-bit fields of one uint64 that a single addition accumulates.
// The class comes from the byte itself, not from the entry, so no load waits
// on another. Only at the end of each eight bytes does prose check whether
// any of them was one it cannot take, and then it goes over that block again
// a byte at a time to find where to stop.
//
// What prose takes needs no state beyond the class of the byte before:
//   - ASCII letters and punctuation cost one each; a word starts at a letter
//     after a non-letter and at an upper-case letter after a lower-case one;
//     a punctuation run starts at punctuation after non-punctuation;
//   - a 2-byte UTF-8 sequence costs two and is part of a word, as walk
//     counts it;
//   - a space between two of those is a whitespace run of one byte: charged
//     one and estimated as none whatever its left neighbour (bound.go,
//     estimate.go), so it needs no run state, only a follower that prose
//     takes too.
//
// A run of digits is not for a table (it costs a third of its length,
// rounded up), but one between ASCII bytes prose takes is common enough in
// chat text to be worth a loop of its own (proseDigits). Everything else
// (other whitespace, control bytes, longer or broken UTF-8 sequences) is
// left to walk. The entries are what walk would count for each byte, so the
// result is the same Text, which TestProseMatchesReference and FuzzBound
// check against the byte-wise reference machine (reference_test.go).

// Classes of the byte before, the rows of proseTable.
const (
	pOther = iota // none of the below: the edge, a digit, a space whose run feed ended, ...
	pLower        // a lower-case letter
	pUpper        // an upper-case letter, or the end of a 2-byte sequence
	pPunct        // ASCII punctuation
	pSpace        // a lone space, which the byte after it must be able to follow
	pLead         // the lead byte of a 2-byte sequence, which its continuation must follow
)

// Fields of a proseTable entry, each a count of up to 4095.
const (
	fLetters  = 1 << 0
	fWords    = 1 << 12
	fPunct    = 1 << 24
	fRuns     = 1 << 36
	fRunes2   = 1 << 48
	fBad      = 1 << 60 // a byte prose does not take, where it is
	fieldMask = 1<<12 - 1

	// proseBatch is the most bytes whose entries one uint64 can sum.
	proseBatch = fieldMask / 8 * 8

	proseIndex = 8<<8 - 1
)

// Bytes feed leaves to walk after prose took fewer than proseRetry, at
// first and at most.
const (
	proseRetry    = 16
	proseRetryMax = 512
)

// proseTable is indexed by class<<8 | byte: what the byte adds to the
// features when the byte before it is of that class, or fBad. Indexes are
// masked with proseIndex, which changes none of them, so that the compiler
// can drop the bounds checks.
var proseTable = func() (e [8 << 8]uint64) {
	for row := range 8 {
		for c := range 256 {
			e[row<<8|c] = proseEntry(row, byte(c))
		}
	}
	return e
}()

// proseEntry is what byte c adds after a byte of class row.
func proseEntry(row int, c byte) uint64 {
	k := byteKind[c]
	word := row != pLower && row != pUpper // c would start a word
	switch {
	case row == pLead:
		if c >= 0x80 && c <= 0xbf {
			return 0 // counted with its lead
		}
		return fBad
	case row > pLead:
		return fBad
	case row == pSpace && k != kLower && k != kUpper && k != kPunct && k != kWide2:
		return fBad
	case k == kLower || k == kUpper:
		if word || k == kUpper && row == pLower {
			return fLetters + fWords
		}
		return fLetters
	case k == kPunct:
		if row != pPunct {
			return fPunct + fRuns
		}
		return fPunct
	case c == ' ':
		return 0
	case k == kWide2:
		if word {
			return fRunes2 + fWords
		}
		return fRunes2
	}
	return fBad
}

// proseClass is the class, shifted to its row, of a byte as the byte before.
var proseClass = func() (r [256]uint16) {
	for c := range 256 {
		class := pOther
		switch k := byteKind[c]; {
		case k == kLower:
			class = pLower
		case k == kUpper, c >= 0x80 && c <= 0xbf:
			class = pUpper
		case k == kPunct:
			class = pPunct
		case c == ' ':
			class = pSpace
		case k == kWide2:
			class = pLead
		}
		r[c] = uint16(class) << 8
	}
	return r
}()

// prose feeds p from i for as long as it holds only what the comment above
// lists, in blocks of eight bytes, and returns where it stopped: at the first
// byte it did not take, or where fewer than eight bytes remain, but never
// just after a lone space or a lead byte, which walk then takes with what
// follows. The caller has ended any run in progress and makes sure that p[i]
// is a letter or punctuation and that eight bytes remain, so prose takes at
// least p[i].
func prose[S string | []byte](t *Text, p S, i int) int {
	var row uint
	switch t.prev {
	case kLower:
		row = pLower << 8
	case kUpper, kWide2:
		row = pUpper << 8
	case kPunct:
		row = pPunct << 8
	}
	start := i
	f := &t.feats
	for i+8 <= len(p) {
		end := min(len(p), i+proseBatch)
		var sum uint64
		bad := false
		for i+8 <= end {
			b := p[i : i+8]
			// Two sums, so that the additions need not wait on each other.
			var odd uint64
			before, rowBefore := sum, row
			c := uint(b[0])
			sum += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[1])
			odd += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[2])
			sum += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[3])
			odd += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[4])
			sum += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[5])
			odd += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[6])
			sum += proseTable[(row|c)&proseIndex]
			row = uint(proseClass[c])
			c = uint(b[7])
			odd += proseTable[(row|c)&proseIndex]
			sum += odd
			if sum >= fBad {
				sum, row, bad = before, rowBefore, true
				break
			}
			row = uint(proseClass[c])
			i += 8
		}
		f.addProse(sum)
		if bad {
			// Take the block's bytes up to the first bad one.
			sum = 0
			for ; ; i++ {
				c := uint(p[i])
				e := proseTable[(row|c)&proseIndex]
				if e >= fBad {
					break
				}
				sum += e
				row = uint(proseClass[c])
			}
			f.addProse(sum)
			n := proseDigits(t, p, i, row)
			if n == 0 {
				break
			}
			i, row = i+n, pOther<<8
		}
	}
	// Give back a last space or lead byte: what follows decides its cost.
	for {
		switch proseClass[p[i-1]] >> 8 {
		case pSpace, pLead:
			i--
			f.subProse(proseTable[(proseClass[p[i-1]]|uint16(p[i]))&proseIndex])
			continue
		}
		break
	}
	t.bound += int64(i - start)
	if c := p[i-1]; c >= 0x80 {
		t.prev = kWide2
	} else {
		t.prev = byteKind[c]
	}
	return i
}

// proseDigits takes the run of ASCII digits at p[i], if there is one, after
// a byte of class row, and returns its length; 0 leaves it to walk. A run
// whose end is in p is charged here as walk would charge it once closed, so
// that prose can go on after it. prose counts each byte it takes into the
// bound, so the run's bound is added less its length.
func proseDigits[S string | []byte](t *Text, p S, i int, row uint) int {
	if p[i]-'0' >= 10 {
		return 0
	}
	switch row >> 8 {
	case pLower, pUpper, pPunct, pSpace:
	default:
		return 0 // a lead byte the digit breaks off, say
	}
	j := i + 1
	for j < len(p) && p[j]-'0' < 10 {
		j++
	}
	if j == len(p) {
		return 0 // the run may go on in what is fed next
	}
	left := kWide2 // the end of a 2-byte sequence
	if c := p[i-1]; c < 0x80 {
		left = byteKind[c]
	}
	if left == kSpace {
		// A lone space before a digit: estimate.go counts a token for it.
		t.feats.wsTokens++
	}
	n := int64(j - i)
	t.feats.digitGroups += (n + 2) / 3
	t.bound += digitBound(n, left, byteKind[p[j]]) - n
	return j - i
}

// addProse adds the counts summed from proseTable entries.
func (f *features) addProse(sum uint64) {
	f.letters += int64(sum / fLetters & fieldMask)
	f.words += int64(sum / fWords & fieldMask)
	f.punct += int64(sum / fPunct & fieldMask)
	f.punctRuns += int64(sum / fRuns & fieldMask)
	f.runes2 += int64(sum / fRunes2 & fieldMask)
}

// subProse takes back the counts of one proseTable entry.
func (f *features) subProse(e uint64) {
	f.letters -= int64(e / fLetters & fieldMask)
	f.words -= int64(e / fWords & fieldMask)
	f.punct -= int64(e / fPunct & fieldMask)
	f.punctRuns -= int64(e / fRuns & fieldMask)
	f.runes2 -= int64(e / fRunes2 & fieldMask)
}
