package tokens

// Why Bound holds
//
// o200k_base and cl100k_base first cut a text into pre-tokens with a regular
// expression, then byte-pair-encode each pre-token on its own, so the count is
// a sum over pre-tokens, and no pre-token encodes to more tokens than it has
// bytes. Bound charges every byte one token (three for a byte that is not
// UTF-8, which a repairing tokenizer turns into U+FFFD) except in two kinds of
// ASCII run, where the two regular expressions are known to cut in ways that
// need fewer tokens. Both rules apply only when the run's neighbours are
// ASCII that settles the cut (any non-digit for digits, printable for
// whitespace); at the edge of the text, or beside non-ASCII (a Unicode digit
// or space might extend the run), the run is charged by bytes. That also makes the bound of two texts
// at least the bound of their concatenation, which Merge relies on.
//
// Digits. In both expressions only the alternative \p{N}{1,3} takes digits,
// and it takes nothing else. A maximal run of n ASCII digits between ASCII
// non-digits therefore becomes ⌈n/3⌉ pre-tokens of 1-3 digits, and every such
// string is one token in both vocabularies (TestVocabularyFacts checks all
// 1,110 of them).
//
// Whitespace. Take a maximal run W of ' ', '\t', '\n', '\r' between printable
// ASCII x and y, and let W = N·R with N ending at W's last newline. Walking
// both expressions through W shows that the only pre-tokens touching W are:
//   - x's pre-token, which takes the leading newlines of W when x is
//     punctuation (` ?[^\s\p{L}\p{N}]+[\r\n/]*`) and nothing when x is a
//     letter or digit;
//   - `\s*[\r\n]+`, which takes the rest of N: its \s* backtracks to W's last
//     newline, since W ends at y (tiktoken-go v0.10.0's generated matcher
//     stops at the first run of newlines instead, cutting N into more
//     pre-tokens; N's bytes are charged alike either way);
//   - `\s+(?!\S)`, which takes all of R but its last byte, backtracking one
//     byte because y is not whitespace;
//   - the last byte of R, taken alone by `\s+` or as the optional prefix of
//     y's pre-token (letters, or a space before punctuation).
//
// Bytes taken into a neighbour's pre-token are charged one each, like that
// pre-token's own bytes. The rest of N is charged by bytes, or, when x is a
// letter or digit and N is all '\n', as a uniform run. R minus its last byte
// is charged as a uniform run when it is all spaces or all tabs, else by
// bytes. The last byte of R is charged one.
//
// Uniform runs. BPE stops only when no two adjacent parts of a pre-token
// concatenate to a token. If every run of 1..L copies of byte b is a token,
// adjacent parts of a pre-token b^n therefore add up to more than L bytes, so
// b^n has at most uniformMax(n, L) parts. The vocabularies hold every run of
// up to 79 spaces, 20 tabs and 10 newlines (TestVocabularyFacts).

// The longest runs of one byte that are a single token in both o200k_base and
// cl100k_base, as far as every shorter run is too.
const (
	spaceRunTokens   = 79
	tabRunTokens     = 20
	newlineRunTokens = 10
)

// digitBound is Bound's charge for a maximal run of n ASCII digits between
// characters of kinds left and right.
func digitBound(n int64, left, right kind) int64 {
	if !asciiNonDigit(left) || !asciiNonDigit(right) {
		return n
	}
	return (n + 2) / 3
}

// asciiNonDigit reports whether k is an ASCII character other than a digit:
// not a \p{N} in any Unicode version, so it cannot join a digit pre-token.
func asciiNonDigit(k kind) bool {
	switch k {
	case kLower, kUpper, kPunct, kSpace, kCtl:
		return true
	}
	return false
}

// printable reports whether k is printable ASCII other than a space: not
// whitespace in any regular-expression engine, so it ends a whitespace run
// for every tokenizer.
func printable(k kind) bool {
	switch k {
	case kLower, kUpper, kDigit, kPunct:
		return true
	}
	return false
}

// bound is Bound's charge for the whitespace run w of n bytes between
// characters of kinds left and right.
func (w *wsRun) bound(n int64, left, right kind) int64 {
	if !printable(left) || !printable(right) {
		return n
	}
	var b int64
	if w.nl > 0 {
		if w.nlLFs && left != kPunct {
			b += uniformMax(w.nl, newlineRunTokens)
		} else {
			b += w.nl
		}
	}
	if w.tail == 0 {
		return b
	}
	b++ // R's last byte
	middle := w.tail - 1
	switch {
	case middle == 0:
	case w.head >= middle && w.first == ' ':
		b += uniformMax(middle, spaceRunTokens)
	case w.head >= middle && w.first == '\t':
		b += uniformMax(middle, tabRunTokens)
	default:
		b += middle
	}
	return b
}

// uniformMax is the most BPE parts a pre-token of n copies of one byte can
// end in when every run of 1..l copies is a token: adjacent parts add up to
// more than l bytes, so 2j parts need j(l+1) bytes and 2j+1 parts one more.
func uniformMax(n, l int64) int64 {
	j, rem := n/(l+1), n%(l+1)
	if rem > 0 {
		return 2*j + 1
	}
	return 2 * j
}

// Bound is an upper bound on the number of tokens the text encodes to under
// o200k_base and cl100k_base, provable from how those encodings cut text (see
// the comment at the top of bound.go), and so for any model using them. For
// other byte-level BPE encodings the byte count, Bytes, is the bound to use.
func (t Text) Bound() int64 { return t.closed().bound }
