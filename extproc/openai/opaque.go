package openai

// Opaque is prompt content tokengate prices by its size instead of reading
// it: content parts that carry a file's data (type "file" with file_data,
// usually a data:application/pdf;base64 URL), parts of types it does not
// know (input_file, document, audio variants, whatever providers add next)
// and parts that would otherwise cost nothing (a text part without text, a
// part without a type). Each is counted by the raw JSON bytes of the whole
// part, so no part, whatever it holds, enters a hold at zero tokens.
//
// Those bytes are text or base64 and tokengate cannot tell which the
// upstream will make of them, so each figure below is the larger of the two
// readings.
type Opaque struct {
	Bytes int64 // raw JSON bytes of the parts so priced, braces included
}

// The figures, in tokens per raw byte.
//
// Text. A byte-level BPE (o200k_base, cl100k_base, and the BPEs of the other
// providers) never makes more tokens of a string than it has bytes, and a
// JSON escape only ever shrinks what it stands for, so one token per raw
// byte bounds any text the part holds. (Invalid UTF-8, which a repairing
// decoder would widen to U+FFFD, never reaches a model behind LiteLLM:
// Python's json.loads refuses a body that is not UTF-8.) English runs about
// four bytes a token
// (tokens.Text's calibration), so the estimate charges a quarter.
//
// Base64. Four characters carry three bytes, so one token per character is
// 4/3 token per decoded byte. Providers render a document as its extracted
// text plus an image of each page: OpenAI and Anthropic charge a page its
// text and at most about 1,600 tokens of image, and a real page takes
// several kilobytes of PDF (its content stream, page object and share of
// fonts), so real documents cost well under 4/3 token a byte; a PDF with a
// 50 KB page costs about 3,000 tokens a page, a twentieth of a token a byte.
// No byte figure bounds a compressed format, though: a crafted PDF of
// near-empty pages can cost more, up to the providers' page limits. The hold
// is only the first guess: settlement charges what the upstream reports.
// The estimate, a quarter token per character (1/3 per decoded byte), is the
// rate of a text document or a text-dense PDF, and errs high for scans and
// slides, which are mostly image bytes.
const (
	opaqueBoundPerByte = 1
	opaqueBytesPerEst  = 4
)

// Bound is the upper bound tokengate holds for the parts (see the figures).
func (o Opaque) Bound() int64 { return o.Bytes * opaqueBoundPerByte }

// Estimate is what the parts are charged when the upstream reports no
// usage, and what a caller near its limit is held; at least one token for
// any part, and never above Bound.
func (o Opaque) Estimate() int64 {
	return (o.Bytes + opaqueBytesPerEst - 1) / opaqueBytesPerEst
}
