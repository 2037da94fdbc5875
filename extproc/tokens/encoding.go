package tokens

import (
	"sync"
	"sync/atomic"

	"github.com/tiktoken-go/tokenizer"
)

// Encoding counts tokens exactly with one of OpenAI's BPE encodings. Its
// vocabulary is built on first use (or by Warm) and shared by the whole
// process; an Encoding is safe for concurrent use.
//
// Concurrency: the tokenizer's Codec.Count only reads the vocabulary map,
// which is never written after it is built, and the compiled regular
// expression, which regexp2 documents as safe for concurrent use (each match
// takes its own runner from a pool). Its one mutable setting, the error mode,
// is left at its default and never set here, so no lock is needed.
type Encoding struct {
	name  string
	id    tokenizer.Encoding
	once  sync.Once
	codec tokenizer.Codec // set once by build
	ready atomic.Bool
}

// The two encodings, built once per process when first needed: a vocabulary
// is a 100k-200k entry map, too costly to build per use or at package init.
var (
	o200kBase  = &Encoding{name: "o200k_base", id: tokenizer.O200kBase}
	cl100kBase = &Encoding{name: "cl100k_base", id: tokenizer.Cl100kBase}
)

// Name is the encoding's name as tiktoken spells it: "o200k_base" or
// "cl100k_base".
func (e *Encoding) Name() string { return e.name }

// Ready reports whether the vocabulary is built, so that a caller on a
// deadline can fall back to Text's bound or estimate rather than pay for the
// build (tens of milliseconds) inside a request.
func (e *Encoding) Ready() bool { return e.ready.Load() }

// build makes the codec, once.
func (e *Encoding) build() tokenizer.Codec {
	e.once.Do(func() {
		// Get fails only for encodings the library does not know; both
		// names here are its own constants. A nil codec makes Count fall
		// back to the bound rather than panic.
		e.codec, _ = tokenizer.Get(e.id)
		e.ready.Store(true)
	})
	return e.codec
}

// Count is the exact number of tokens s encodes to. Special tokens such as
// "<|endoftext|>" are counted as the plain text they are spelled with, which
// is what the API does with message content.
//
// Its cost is not linear in every input: tiktoken-go v0.10.0's pre-tokenizer
// takes time quadratic in the length of a whitespace run that mixes newlines
// with other spaces (32 KB of "\n " costs about 0.6 s), so callers should
// bound what they count. If the tokenizer fails, Count returns Bound, an upper
// bound, rather than a partial count.
func (e *Encoding) Count(s string) int {
	if c := e.build(); c != nil {
		if n, err := c.Count(s); err == nil {
			return n
		}
	}
	var t Text
	t.AddString(s)
	return int(t.Bound())
}

// Warm builds the named encodings ("o200k_base", "cl100k_base"), or both
// when no name is given, so that the first request does not pay for it.
// Unknown names are ignored. It blocks until done; call it from a goroutine
// at start-up.
func Warm(names ...string) {
	if len(names) == 0 {
		names = []string{o200kBase.name, cl100kBase.name}
	}
	for _, n := range names {
		if e := encodingNamed(n); e != nil {
			e.build()
		}
	}
}

// encodingNamed returns the encoding called name, or nil.
func encodingNamed(name string) *Encoding {
	for _, e := range [...]*Encoding{o200kBase, cl100kBase} {
		if e.name == name {
			return e
		}
	}
	return nil
}
