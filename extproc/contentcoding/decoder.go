package contentcoding

import (
	"errors"
	"fmt"
	"io"
	"iter"
)

// DefaultMaxDecoded is the MaxDecoded a zero Options gets: far above the
// longest completion a model streams (a 100k-token stream is some 30 MiB of
// SSE), and a bounded cost, well under a second of CPU, for a body built to
// expand without end.
const DefaultMaxDecoded = 128 << 20

// Options bounds a Decoder. The zero value is ready to use.
type Options struct {
	// MaxDecoded bounds the decoded bytes of one body. Deflate expands a
	// body up to about a thousand times and brotli far more, so a few
	// kilobytes on the wire could otherwise cost seconds of CPU. Past the
	// bound the Decoder stops with ErrTooLarge, having emitted at most
	// MaxDecoded bytes. Zero or less means DefaultMaxDecoded.
	MaxDecoded int64
}

// The ways decoding ends other than success. Errors from Feed and End
// wrap one of them.
var (
	// ErrTruncated means the body ended before its coded stream did: an
	// upstream that went away mid-answer. What came before was emitted.
	ErrTruncated = errors.New("contentcoding: body ended inside the coded stream")
	// ErrCorrupt means the body is not the coding it claims: a bad header,
	// an invalid block, a checksum that does not match.
	ErrCorrupt = errors.New("contentcoding: corrupt coded stream")
	// ErrTooLarge means the decoded body passed Options.MaxDecoded.
	ErrTooLarge = errors.New("contentcoding: decoded body exceeds its bound")
	// ErrClosed means Feed or End came after Close.
	ErrClosed = errors.New("contentcoding: decoder closed")
)

// errStopped unwinds the decompressors when Close ends the coroutine
// while they wait for input.
var errStopped = errors.New("contentcoding: stopped")

// outSize is how many decoded bytes are handed over at a time.
const outSize = 16 << 10

// Decoder undoes the codings of one body fed to it a chunk at a time, cut
// anywhere, and hands the decoded bytes to the caller's emit as soon as the
// decompressors produce them. It is not safe for concurrent use: one
// goroutine owns one exchange and its decoder.
//
// The decompressors run on a coroutine started by the first Feed. It ends
// when the coded stream does, at End, at Close, or at the first error; an
// owner that stops feeding early must call Close, which returns once the
// coroutine has ended.
//
// emit is an argument of each call rather than a field so that the Decoder
// keeps no reference to its owner: an owner that would otherwise live on
// the stack (an exchange on its Process goroutine) stays there.
type Decoder struct {
	codings    []Coding
	maxDecoded int64

	next func() ([]byte, bool) // resumes the coroutine until it yields
	stop func()                // ends it; nil before the first Feed and after Close

	// Shared with the coroutine, which only runs while next or stop waits.
	in     []byte            // the part of the current chunk not yet read
	eof    bool              // End: no chunk follows
	yield  func([]byte) bool // the coroutine's: nil asks for input, else hands out output
	result error             // how the coroutine ended, set just before it returns

	decoded int64 // bytes emitted
	ended   bool  // the coroutine returned
	err     error // sticky: returned by every later Feed and End
}

// NewDecoder returns a decoder for a body coded with codings, listed in the
// order they were applied (as Parse returns them; it decodes the last one
// first).
func NewDecoder(codings []Coding, o Options) *Decoder {
	if o.MaxDecoded <= 0 {
		o.MaxDecoded = DefaultMaxDecoded
	}
	return &Decoder{codings: codings, maxDecoded: o.MaxDecoded}
}

// Feed decodes chunk, the next part of the body, and passes every decoded
// byte it makes available to emit before returning; the slice emit gets is
// valid only during that call, and Feed keeps no reference to chunk. Bytes
// after the end of a complete coded stream are ignored. A corrupt stream or
// one past MaxDecoded fails the Feed and every call after it; the coroutine
// has then ended.
func (d *Decoder) Feed(chunk []byte, emit func([]byte)) error {
	if d.err != nil || d.ended {
		return d.err
	}
	d.start()
	d.in = chunk
	d.pump(emit)
	d.in = nil
	return d.err
}

// End says the body is complete: it passes what is left to emit and reports
// whether the coded stream was whole (nil), cut short (ErrTruncated),
// corrupt or too large. The coroutine has ended when End returns.
func (d *Decoder) End(emit func([]byte)) error {
	if d.err != nil || d.ended {
		return d.err
	}
	d.start()
	d.eof = true
	d.pump(emit)
	return d.err
}

// Close stops decoding without emitting anything more and returns once the
// coroutine has ended. It may be called at any time, more than once, and
// after End.
func (d *Decoder) Close() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
	if !d.ended && d.err == nil {
		d.err = ErrClosed
	}
	d.ended = true
}

// Decoded is the number of decoded bytes emitted so far.
func (d *Decoder) Decoded() int64 { return d.decoded }

func (d *Decoder) start() {
	if d.next == nil {
		d.next, d.stop = iter.Pull(d.run)
	}
}

// pump runs the coroutine until it needs input or ends, emitting what it
// decodes and enforcing MaxDecoded.
func (d *Decoder) pump(emit func([]byte)) {
	for {
		out, ok := d.next()
		if !ok {
			d.ended, d.err = true, d.result
			return
		}
		if out == nil {
			return // the chunk is used up
		}
		if int64(len(out)) > d.maxDecoded-d.decoded {
			d.err = ErrTooLarge
			d.Close()
			return
		}
		d.decoded += int64(len(out))
		emit(out)
	}
}

// run is the coroutine: the decompressors pull from the chunks fed (see
// source) and run hands out what they decode, one buffer at a time.
func (d *Decoder) run(yield func([]byte) bool) {
	d.yield = yield
	defer func() {
		// A decompressor is third-party code reading whatever an upstream
		// sent; a bug in it must cost this body, not the process.
		if p := recover(); p != nil {
			d.result = fmt.Errorf("%w: decompressor panicked: %v", ErrCorrupt, p)
		}
	}()
	r, err := open(d.codings, source{d})
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // no body at all is a cut one, not a whole one
		}
		d.result = ending(err)
		return
	}
	buf := make([]byte, outSize)
	for {
		n, err := r.Read(buf)
		if n > 0 && !yield(buf[:n]) {
			return // Close: nothing more is wanted
		}
		if err != nil {
			d.result = ending(err)
			return
		}
	}
}

// ending turns the error that stopped the decompressors into the Decoder's.
func ending(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, errStopped):
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return ErrTruncated
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// source is the coded body as the innermost decompressor reads it: the
// chunks fed so far, waiting on the coroutine for the next one. It
// implements io.ByteReader so that compress/flate reads it directly rather
// than through a read-ahead buffer of its own.
type source struct{ d *Decoder }

// Read implements [io.Reader].
func (s source) Read(p []byte) (int, error) {
	if err := s.d.await(); err != nil {
		return 0, err
	}
	n := copy(p, s.d.in)
	s.d.in = s.d.in[n:]
	return n, nil
}

// ReadByte implements [io.ByteReader].
func (s source) ReadByte() (byte, error) {
	if err := s.d.await(); err != nil {
		return 0, err
	}
	b := s.d.in[0]
	s.d.in = s.d.in[1:]
	return b, nil
}

// await returns once input is there: at once if the current chunk has some
// left, else after the owner's next Feed. It returns io.EOF after End and
// errStopped after Close.
func (d *Decoder) await() error {
	for len(d.in) == 0 {
		if d.eof {
			return io.EOF
		}
		if !d.yield(nil) {
			return errStopped
		}
	}
	return nil
}
