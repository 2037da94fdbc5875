// Package openai reads and edits OpenAI-compatible chat-completions traffic
// (what LiteLLM and LibreChat send and receive) on tokengate's ext_proc hot
// path. Requests and streamed chunks are read by scanners over the raw bytes
// that validate exactly what encoding/json validates, in one pass (an object
// with a duplicated member is read twice), decode string escapes on the fly
// into [tokens.Text], and record where the members tokengate may rewrite sit,
// so edits are splices, never a re-marshal. The rare paths (exact text for a
// real BPE count, usage) use encoding/json.
//
// Member names match exactly, as the Python servers behind LiteLLM match them
// (encoding/json would also accept "Model" for "model"). A duplicated member
// counts once, by its last occurrence, and only that one is type-checked, as
// Python's json keeps only the last; null means absent.
package openai

import (
	"github.com/iasolaris/tokengate/extproc/tokens"
)

// Cap is a completion-token limit from the request.
type Cap struct {
	Value int64
	Set   bool // false when the member is absent or null
}

// Chat is what admission needs to know about a chat-completions request.
type Chat struct {
	Model        string
	Stream       bool
	IncludeUsage bool // stream_options.include_usage == true
	// MaxTokens and MaxCompletionTokens are the request's caps; o-series
	// models accept only the second, so edits keep to whichever is present.
	MaxTokens, MaxCompletionTokens Cap
	N                              int // choices asked for, 1 to 128; 1 when absent
	Messages                       int
	Names                          int  // messages with a non-empty name, for tokens.ChatOverhead
	Tools                          bool // tools, functions or response_format define something, for tokens.ChatOverhead
	Images                         int  // image_url and input_audio parts: counted, not tokenised
	// Files are file parts naming an uploaded file by file_id: counted, not
	// tokenised, since the file's size is not in the request.
	Files int
	// Opaque are the parts priced by their size: file data, unknown types,
	// parts without text (see Opaque). Every content part is in Prompt,
	// Images, Files or Opaque, so none is free.
	Opaque Opaque
	// Prompt is all prompt-bearing text, each string a text of its own
	// joined with tokens.Text.Merge as tokens.ChatOverhead expects: per
	// message, in body order, its role, name, content string or text and
	// refusal parts, refusal, tool calls' function names and arguments,
	// legacy function_call name and arguments; then the raw JSON of tools,
	// functions and response_format. ExactMessages returns the same strings.
	Prompt tokens.Text

	at offsets // where Apply splices
}

// span is a value's byte range in the body; end == 0 means absent (no value
// can end at offset 0 inside an object).
type span struct{ start, end int }

// offsets locate the members Apply may rewrite or add to.
type offsets struct {
	size        int  // len of the parsed body, to catch Apply on another one
	tail        int  // where a new top-level member goes: after the last member, or after '{'
	empty       bool // the top-level object has no members
	streamOpts  span // the last stream_options value (object or null)
	optsTail    int  // inside that object: after its last member, or after '{'
	optsEmpty   bool
	usageFlag   span // the last include_usage value inside it
	maxTokens   span // the last max_tokens value (number or null)
	maxComplete span // the last max_completion_tokens value (number or null)
}

// chatParser carries the state of one ParseChat call.
type chatParser struct {
	scanner
	c                  Chat
	msgs               tokens.Text // the messages' pieces, merged in order
	tools, funcs, form span        // raw JSON values of tools, functions, response_format
	model              span        // raw string literal, quotes included
	haveMessages       bool
	named              bool // the message being read has a non-empty name
}

// ParseChat validates a chat-completions request body and extracts what
// admission needs. It accepts exactly what encoding/json accepts, then checks
// the types of the members it reads; every error is a *RequestError. It
// allocates the model string and nothing else.
func ParseChat(body []byte) (Chat, error) {
	p := chatParser{scanner: scanner{data: body}}
	p.c.N = 1
	if err := p.parse(); err != nil {
		return Chat{}, err
	}
	if p.model.end == 0 || p.model.end-p.model.start == 2 {
		return Chat{}, &RequestError{Field: "model", Msg: `"model" is required`}
	}
	if !p.haveMessages {
		return Chat{}, &RequestError{Field: "messages", Msg: `"messages" is required`}
	}
	p.c.Model = decodeString(body[p.model.start:p.model.end])
	p.c.Prompt = p.msgs
	raws := [...]span{p.tools, p.funcs, p.form}
	p.c.Tools = definesTools(body, raws[:])
	for _, raw := range raws {
		if raw.end != 0 {
			p.piece = tokens.Text{}
			p.piece.Add(body[raw.start:raw.end])
			p.c.Prompt.Merge(p.piece)
		}
	}
	p.c.at.size = len(body)
	return p.c, nil
}

// Top-level members ParseChat reads, as indices of held type errors.
const (
	topModel = iota
	topStream
	topStreamOptions
	topMaxTokens
	topMaxCompletionTokens
	topN
	topMessages
	topTools
	topFunctions
	topResponseFormat
	topKeys
)

func topKey(name []byte) int {
	switch string(name) {
	case "model":
		return topModel
	case "stream":
		return topStream
	case "stream_options":
		return topStreamOptions
	case "max_tokens":
		return topMaxTokens
	case "max_completion_tokens":
		return topMaxCompletionTokens
	case "n":
		return topN
	case "messages":
		return topMessages
	case "tools":
		return topTools
	case "functions":
		return topFunctions
	case "response_format":
		return topResponseFormat
	}
	return -1
}

func (p *chatParser) parse() error {
	s := &p.scanner
	s.ws()
	if s.peek() != '{' {
		if err := s.skipValue(0); err != nil {
			return err
		}
		if err := s.end(); err != nil {
			return err
		}
		return &RequestError{Msg: "request body must be a JSON object"}
	}
	var held [topKeys]error
	p.c.at.tail = s.pos + 1
	more, err := s.enterObject(1)
	p.c.at.empty = !more
	for more && err == nil {
		var name []byte
		if name, err = s.key(); err != nil {
			return err
		}
		if k := topKey(name); k < 0 {
			err = s.skipValue(1)
		} else {
			start := s.pos
			err = s.settle(p.member(k), start, 1, &held[k])
		}
		if err != nil {
			return err
		}
		p.c.at.tail = s.pos
		more, err = s.next('}')
	}
	if err != nil {
		return err
	}
	if err := s.end(); err != nil {
		return err
	}
	return firstHeld(held[:])
}

// end checks that only whitespace follows the top-level value.
func (s *scanner) end() error {
	s.ws()
	if s.pos != len(s.data) {
		return s.syntaxErr()
	}
	return nil
}

func (p *chatParser) member(k int) error {
	s := &p.scanner
	switch k {
	case topModel:
		start := s.pos
		p.model = span{}
		switch null, err := s.isNull(); {
		case err != nil || null:
			return err
		case s.peek() != '"':
			return s.wrongType(1, loc{leaf: "model"}, "a string")
		}
		if err := s.skipString(); err != nil {
			return err
		}
		p.model = span{start, s.pos}
		return nil
	case topStream:
		v, err := s.boolean(1, loc{leaf: "stream"})
		p.c.Stream = v
		return err
	case topStreamOptions:
		return p.streamOptions()
	case topMaxTokens:
		return p.cap(loc{leaf: "max_tokens"}, &p.c.MaxTokens, &p.c.at.maxTokens)
	case topMaxCompletionTokens:
		return p.cap(loc{leaf: "max_completion_tokens"}, &p.c.MaxCompletionTokens, &p.c.at.maxComplete)
	case topN:
		return p.choices()
	case topMessages:
		return p.messages()
	case topTools:
		return p.rawText(&p.tools, loc{leaf: "tools"}, '[', "an array")
	case topFunctions:
		return p.rawText(&p.funcs, loc{leaf: "functions"}, '[', "an array")
	default: // topResponseFormat
		return p.rawText(&p.form, loc{leaf: "response_format"}, '{', "an object")
	}
}

func (p *chatParser) streamOptions() error {
	s := &p.scanner
	at := &p.c.at
	start := s.pos
	p.c.IncludeUsage = false
	at.streamOpts, at.usageFlag = span{}, span{}
	switch null, err := s.isNull(); {
	case err != nil:
		return err
	case null:
		at.streamOpts = span{start, s.pos}
		return nil
	case s.peek() != '{':
		return s.wrongType(1, loc{leaf: "stream_options"}, "an object")
	}
	var held error
	at.optsTail = start + 1
	more, err := s.enterObject(2)
	at.optsEmpty = !more
	for more && err == nil {
		var name []byte
		if name, err = s.key(); err != nil {
			return err
		}
		if string(name) == "include_usage" {
			vs := s.pos
			var v bool
			v, err = s.boolean(2, loc{leaf: "stream_options.include_usage"})
			p.c.IncludeUsage = v && err == nil
			at.usageFlag = span{vs, s.pos}
			err = s.settle(err, vs, 2, &held)
		} else {
			err = s.skipValue(2)
		}
		if err != nil {
			return err
		}
		at.optsTail = s.pos
		more, err = s.next('}')
	}
	if err != nil {
		return err
	}
	at.streamOpts = span{start, s.pos}
	return held
}

// cap reads max_tokens or max_completion_tokens.
func (p *chatParser) cap(l loc, c *Cap, at *span) error {
	s := &p.scanner
	start := s.pos
	*c = Cap{}
	switch null, err := s.isNull(); {
	case err != nil:
		return err
	case null:
		*at = span{start, s.pos}
		return nil
	}
	v, err := s.intValue(1, l, "a non-negative integer")
	if err != nil {
		return err
	}
	if v < 0 {
		return typeErr(l.String(), "a non-negative integer")
	}
	*c = Cap{Value: v, Set: true}
	*at = span{start, s.pos}
	return nil
}

// maxChoices is OpenAI's limit on n. Enforcing it keeps n × cap, which
// admission holds, far from overflow.
const maxChoices = 128

func (p *chatParser) choices() error {
	s := &p.scanner
	p.c.N = 1
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	const want = "an integer from 1 to 128"
	v, err := s.intValue(1, loc{leaf: "n"}, want)
	if err != nil {
		return err
	}
	if v < 1 || v > maxChoices {
		return typeErr("n", want)
	}
	p.c.N = int(v)
	return nil
}

// rawText records where a member whose raw JSON text is prompt-bearing
// (tools, functions, response_format) sits: the model reads a rendering of
// it, so its size is what costs tokens.
func (p *chatParser) rawText(at *span, l loc, open byte, want string) error {
	s := &p.scanner
	*at = span{}
	switch null, err := s.isNull(); {
	case err != nil || null:
		return err
	case s.peek() != open:
		return s.wrongType(1, l, want)
	}
	start := s.pos
	if err := s.skipValue(1); err != nil {
		return err
	}
	*at = span{start, s.pos}
	return nil
}

// definesTools reports what tokens.ChatPrompt's test gives for the
// concatenation of the raw tools, functions and response_format that
// ExactMessages returns: anything but nothing or a lone "[]".
func definesTools(body []byte, raws []span) bool {
	n, size := 0, 0
	var one span
	for _, r := range raws {
		if r.end != 0 {
			n, size, one = n+1, size+r.end-r.start, r
		}
	}
	return size > 0 && !(n == 1 && string(body[one.start:one.end]) == "[]")
}
