// Package contentcoding undoes the content codings of an HTTP response body
// (RFC 9110 §8.4) while the body streams past in the chunks Envoy hands
// tokengate, so that usage can be read from a response the upstream
// compressed although tokengate removed accept-encoding.
//
// The standard decompressors pull their input; Envoy pushes it. A [Decoder]
// bridges the two with a coroutine (iter.Pull): the decompressors run on it
// and block, without a lock or a channel, whenever the chunk fed so far is
// used up. Memory per body is the decompressors' own (a 32 KiB window for
// deflate, up to the stream's declared window, at most 16 MiB, for brotli)
// and one output buffer; the body is never held whole.
package contentcoding

import (
	"errors"
	"strconv"
	"strings"
)

// Coding is one content coding a Decoder can undo.
type Coding uint8

// The codings tokengate reads. Identity is no coding and never appears in a
// parsed list.
const (
	// Gzip is RFC 1952, named gzip or x-gzip.
	Gzip Coding = iota + 1
	// Deflate is the zlib format (RFC 1950) as RFC 9110 defines "deflate";
	// the raw deflate stream (RFC 1951) that some servers send under the same
	// name is recognised by its missing zlib header and read too.
	Deflate
	// Brotli is RFC 7932, named br.
	Brotli
)

// String returns the coding's name as a Content-Encoding header spells it.
func (c Coding) String() string {
	switch c {
	case Gzip:
		return "gzip"
	case Deflate:
		return "deflate"
	case Brotli:
		return "br"
	}
	return "Coding(" + strconv.Itoa(int(c)) + ")"
}

// MaxStack is the most codings one body may stack. Real servers apply one;
// each stacked coding costs a decompressor's memory, so a header listing
// "gzip" a thousand times must not buy a thousand of them.
const MaxStack = 4

// UnknownError reports a Content-Encoding that tokengate cannot undo: a
// coding it does not implement (zstd, compress, a private one), or more
// stacked codings than MaxStack.
type UnknownError struct {
	// Coding is the offending list member as sent, or the start of the
	// whole value when the list is too long.
	Coding string
}

// Error implements [error].
func (e *UnknownError) Error() string {
	return "contentcoding: unknown content coding " + strconv.Quote(e.Coding)
}

// ErrUnknown is what every *UnknownError matches with errors.Is.
var ErrUnknown = errors.New("contentcoding: unknown content coding")

// Is makes errors.Is(err, ErrUnknown) hold for every *UnknownError.
func (e *UnknownError) Is(target error) bool { return target == ErrUnknown }

// Parse reads a Content-Encoding field value, a comma-separated list of
// codings in the order they were applied (RFC 9110 §8.4). Names are
// case-insensitive and may carry spaces and tabs around them; empty list
// members and identity are skipped, so "identity" or "" gives nil. Several
// Content-Encoding field lines are one list: join them with commas first.
func Parse(value string) ([]Coding, error) {
	var codings []Coding
	for member := range strings.SplitSeq(value, ",") {
		name := strings.Trim(member, " \t")
		var c Coding
		switch {
		case name == "", strings.EqualFold(name, "identity"):
			continue
		case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
			c = Gzip
		case strings.EqualFold(name, "deflate"):
			c = Deflate
		case strings.EqualFold(name, "br"):
			c = Brotli
		default:
			return nil, &UnknownError{Coding: name}
		}
		if len(codings) == MaxStack {
			return nil, &UnknownError{Coding: clip(value)}
		}
		codings = append(codings, c)
	}
	return codings, nil
}

// clip shortens a header value for an error message that gets logged.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "…"
}
