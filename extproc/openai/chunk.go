package openai

import (
	"bytes"
	"fmt"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// Chunk is what settlement needs from one chat.completion.chunk event.
type Chunk struct {
	HasUsage  bool // top-level "usage" is an object: the stream's real usage
	NullUsage bool // top-level "usage": null, which OpenAI adds to every chunk once include_usage is set
	NoChoices bool // top-level "choices" is an empty array: the usage-only chunk
	// Finished is true when a choice carries a finish_reason: the chunk ends
	// a choice even if its delta is empty, so it is never dropped.
	Finished bool
	// Deltas counts choices whose delta carried generated text: content,
	// reasoning_content or reasoning, refusal, or a tool call's (or legacy
	// function_call's) name or arguments.
	Deltas int
	// Text is those choices' delta text, for counting completion tokens
	// when the stream ends without usage: each string a text of its own,
	// merged choice by choice, in body order within a delta. ScanChunkInto
	// leaves it empty, feeding the text to its caller's Text instead.
	Text tokens.Text
}

// Depths in a chunk, counting the top-level object as 1.
const (
	depthChoice = 3 // choices[i]
	depthDelta  = 4 // choices[i].delta
	depthCall   = 6 // choices[i].delta.tool_calls[j]
)

// ScanChunk reads one SSE event's data, a chat.completion.chunk. It does not
// allocate. Syntax is checked as strictly as encoding/json does; types are
// not: a response must never be lost to a provider's odd field, so a member
// of an unexpected type reads as absent.
func ScanChunk(data []byte) (Chunk, error) {
	var c Chunk
	s := scanner{data: data}
	if err := s.chunk(&c, &c.Text); err != nil {
		return Chunk{}, chunkErr(err)
	}
	return c, nil
}

// ScanChunkInto is ScanChunk for a stream whose completion is counted as
// one text: instead of returning the deltas' text in Chunk.Text, it feeds
// each of their strings, in body order, to completion, continuing the text
// completion holds. Fed every chunk of a stream, completion then holds the
// concatenated deltas, as the model generated them, and a word streamed in
// pieces counts as one word; merging per-chunk Texts would count one per
// piece. Choices are fed in body order too, so with n > 1 the choices'
// interleaved pieces run together; ScanChunk suits that case better. On
// error completion is left as it was. It does not allocate.
func ScanChunkInto(data []byte, completion *tokens.Text) (Chunk, error) {
	var c Chunk
	s := scanner{data: data, continued: true}
	before := *completion
	if err := s.chunk(&c, completion); err != nil {
		*completion = before
		return Chunk{}, chunkErr(err)
	}
	return c, nil
}

// chunkErr gives a scanner's syntax error the chunk's wording.
func chunkErr(err error) error {
	if re, ok := err.(*RequestError); ok {
		return fmt.Errorf("openai: chunk: %s", re.Msg)
	}
	return err
}

// chunk reads a chunk into c, its deltas' text into t.
func (s *scanner) chunk(c *Chunk, t *tokens.Text) error {
	start := *t // what t held before this chunk, for a repeated "choices"
	s.ws()
	if s.peek() != '{' {
		if err := s.skipValue(0); err != nil {
			return err
		}
		if err := s.end(); err != nil {
			return err
		}
		return fmt.Errorf("openai: chunk is not a JSON object")
	}
	more, err := s.enterObject(1)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return err
		}
		switch string(key) {
		case "usage":
			c.HasUsage = s.peek() == '{'
			c.NullUsage = s.peek() == 'n'
			err = s.skipValue(1)
		case "choices":
			c.Deltas, c.NoChoices, c.Finished, *t = 0, false, false, start
			if s.peek() == '[' {
				err = s.choices(c, t)
			} else {
				err = s.skipValue(1)
			}
		default:
			err = s.skipValue(1)
		}
		if err != nil {
			return err
		}
		more, err = s.next('}')
	}
	if err != nil {
		return err
	}
	return s.end()
}

func (s *scanner) choices(c *Chunk, t *tokens.Text) error {
	more, err := s.enterArray(2)
	c.NoChoices = !more && err == nil
	for more && err == nil {
		if s.peek() == '{' {
			err = s.choice(c, t)
		} else {
			err = s.skipValue(2)
		}
		if err != nil {
			return err
		}
		more, err = s.next(']')
	}
	return err
}

// choice reads one choice. Its delta's text goes straight into t and is
// taken back if the delta turns out to be empty or is overridden by a later
// "delta" member.
func (s *scanner) choice(c *Chunk, t *tokens.Text) error {
	before, counted, finished := *t, false, false
	more, err := s.enterObject(depthChoice)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return err
		}
		if string(key) == "delta" {
			if counted {
				*t, c.Deltas, counted = before, c.Deltas-1, false
			}
			if s.peek() == '{' {
				var size int
				if size, err = s.delta(t); size > 0 {
					c.Deltas, counted = c.Deltas+1, true
				} else {
					*t = before
				}
			} else {
				err = s.skipValue(depthChoice)
			}
		} else {
			if string(key) == "finish_reason" { // the last one counts, as for every member
				finished = s.peek() == '"' && s.pos+1 < len(s.data) && s.data[s.pos+1] != '"'
			}
			err = s.skipValue(depthChoice)
		}
		if err != nil {
			return err
		}
		more, err = s.next('}')
	}
	c.Finished = c.Finished || finished
	return err
}

// Delta members read.
const (
	deltaContent = iota
	deltaReasoningContent
	deltaReasoning
	deltaRefusal
	deltaToolCalls
	deltaFunctionCall
	deltaKeys
)

// delta reads a delta as a request message is read: each string merged into
// t as a text of its own (fed to t, continuing its text, for ScanChunkInto),
// in body order, in one pass unless a member is duplicated. size is the
// strings' total raw length.
func (s *scanner) delta(t *tokens.Text) (size int, err error) {
	start, before := s.pos, *t
	var seen [deltaKeys]bool
	more, err := s.enterObject(depthDelta)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return 0, err
		}
		k := deltaKey(key)
		if k >= 0 && seen[k] {
			s.pos, *t = start, before
			return s.deltaTwice(t)
		}
		var n int
		if k < 0 {
			err = s.skipValue(depthDelta)
		} else {
			seen[k] = true
			n, err = s.deltaMember(t, k)
		}
		if err != nil {
			return 0, err
		}
		size += n
		more, err = s.next('}')
	}
	return size, err
}

// deltaTwice validates a delta, finds the last occurrence of each member
// read, then reads those in body order.
func (s *scanner) deltaTwice(t *tokens.Text) (size int, err error) {
	var at [deltaKeys]int
	more, err := s.enterObject(depthDelta)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return 0, err
		}
		if k := deltaKey(key); k >= 0 {
			at[k] = s.pos
		}
		if err = s.skipValue(depthDelta); err != nil {
			return 0, err
		}
		more, err = s.next('}')
	}
	if err != nil {
		return 0, err
	}
	end := s.pos
	for k, from := nextAt(at[:], 0); k >= 0; k, from = nextAt(at[:], from) {
		s.pos = from
		n, err := s.deltaMember(t, k)
		if err != nil {
			return 0, err
		}
		size += n
	}
	s.pos = end
	return size, nil
}

// deltaMember reads member k's value; one of an unexpected type is skipped.
func (s *scanner) deltaMember(t *tokens.Text, k int) (size int, err error) {
	switch c := s.peek(); {
	case k < deltaToolCalls && c == '"':
		if s.continued {
			return s.feedStringTo(t)
		}
		size, err = s.feedString()
		t.Merge(s.piece)
		return size, err
	case k == deltaToolCalls && c == '[':
		return s.callDeltas(t)
	case k == deltaFunctionCall && c == '{':
		fn, err := s.functionDelta(depthDelta + 1)
		if err != nil {
			return 0, err
		}
		return fn.size, s.addFunction(&fn, t)
	}
	return 0, s.skipValue(depthDelta)
}

func deltaKey(key []byte) int {
	switch string(key) {
	case "content":
		return deltaContent
	case "reasoning_content":
		return deltaReasoningContent
	case "reasoning":
		return deltaReasoning
	case "refusal":
		return deltaRefusal
	case "tool_calls":
		return deltaToolCalls
	case "function_call":
		return deltaFunctionCall
	}
	return -1
}

// callDeltas reads a delta's tool_calls array, merging each call's function
// name and arguments into t.
func (s *scanner) callDeltas(t *tokens.Text) (size int, err error) {
	more, err := s.enterArray(depthDelta + 1)
	for more && err == nil {
		if s.peek() != '{' {
			if err = s.skipValue(depthDelta + 1); err != nil {
				return 0, err
			}
			more, err = s.next(']')
			continue
		}
		var fn function
		more, err = s.enterObject(depthCall)
		for more && err == nil {
			var key []byte
			if key, err = s.key(); err != nil {
				return 0, err
			}
			switch {
			case string(key) != "function":
				err = s.skipValue(depthCall)
			case s.peek() == '{':
				fn, err = s.functionDelta(depthCall + 1)
			default:
				fn = function{}
				err = s.skipValue(depthCall)
			}
			if err != nil {
				return 0, err
			}
			more, err = s.next('}')
		}
		if err != nil {
			return 0, err
		}
		if err = s.addFunction(&fn, t); err != nil {
			return 0, err
		}
		size += fn.size
		more, err = s.next(']')
	}
	return size, err
}

// IsDone reports whether an SSE event's data is the stream terminator.
func IsDone(data []byte) bool {
	return string(bytes.TrimSpace(data)) == "[DONE]"
}
