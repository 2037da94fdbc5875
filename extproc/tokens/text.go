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

// Add and AddString must not be inlined into callers in other packages.
// Inlined, they leave the caller calling feed's generic instantiation
// directly, and the compiler does not carry the escape analysis of a
// generic function's instantiations across packages (golang/go#79592): it
// takes t and p to escape, so each Text and each buffer fed moves to the
// heap. Called, they carry their own export data, which says that neither
// escapes. TestAddDoesNotAllocate (package tokens_test) catches a regression.

// Add feeds UTF-8 text.
//
//go:noinline
func (t *Text) Add(p []byte) { feed(t, p) }

// AddString feeds UTF-8 text.
//
//go:noinline
func (t *Text) AddString(s string) { feed(t, s) }

// Merge adds o to t as a separately encoded text that follows t's, as the next
// chat message follows the last: no token spans the boundary. Bytes fed to t
// afterwards continue o's text. Bound of the result bounds the two texts
// encoded separately and also encoded as one string, so a caller that cannot
// tell which applies is safe either way. t.Merge(Text{}) ends t's text
// without adding one.
func (t *Text) Merge(o Text) {
	// In place: a Text is some 150 bytes, and a request merges one per
	// string it holds.
	t.end()
	t.Bytes += o.Bytes
	t.bound += o.bound
	t.feats.add(o.feats)
	// o's unfinished run and sequence carry on in t, counted once they end.
	t.prev, t.runLeft, t.run, t.ws = o.prev, o.runLeft, o.run, o.ws
	t.need, t.seqLen, t.lo, t.hi = o.need, o.seqLen, o.lo, o.hi
}

// end ends t's run and UTF-8 sequence as the end of the text does.
func (t *Text) end() {
	if t.need > 0 {
		t.invalid(int64(t.seqLen - t.need))
		t.need, t.seqLen, t.lo, t.hi = 0, 0, 0, 0
	}
	t.endRun(kEdge)
	t.prev = kEdge
}

// closed returns t ended as by the end of the text, without changing t.
func (t Text) closed() Text {
	t.end()
	return t
}
