package openai

import "github.com/iasolaris/tokengate/extproc/tokens"

// Every string the model reads is a text of its own (tokens.Text's rule:
// separately encoded strings are joined with Merge), merged into Prompt in
// body order; of a duplicated member only the last occurrence counts, at its
// own place.

// Depths of the containers in a request, counting the top-level object as 1,
// for encoding/json's nesting limit.
const (
	depthMessage  = 3 // messages[i]
	depthPart     = 5 // messages[i].content[j]
	depthToolCall = 5 // messages[i].tool_calls[j]
)

func (p *chatParser) messages() error {
	s := &p.scanner
	p.msgs = tokens.Text{}
	p.c.Messages, p.c.Images, p.c.Names, p.c.Files, p.c.Opaque = 0, 0, 0, 0, Opaque{}
	p.haveMessages = false
	switch null, err := s.isNull(); {
	case err != nil || null:
		return err
	case s.peek() != '[':
		return s.wrongType(1, loc{leaf: "messages"}, "an array")
	}
	p.haveMessages = true
	more, err := s.enterArray(2)
	for mi := 0; more && err == nil; mi++ {
		if s.peek() != '{' {
			return s.wrongType(2, loc{kind: locMsg, mi: mi}, "an object")
		}
		p.named = false
		if err = p.message(mi); err != nil {
			return err
		}
		p.c.Messages++
		if p.named {
			p.c.Names++
		}
		more, err = s.next(']')
	}
	return err
}

// Message members read.
const (
	msgRole = iota
	msgName
	msgContent
	msgRefusal
	msgToolCalls
	msgFunctionCall
	msgKeys
)

// message reads one message. Its strings go into Prompt in the order of their
// members in the body, the last occurrence of a duplicated member counting.
// The usual message has no duplicate and is read in one pass; a duplicate,
// or a type error (which a later duplicate could override), sends it back to
// be read in two passes.
func (p *chatParser) message(mi int) error {
	s := &p.scanner
	start, msgs, images, files, opaque := s.pos, p.msgs, p.c.Images, p.c.Files, p.c.Opaque
	retry, err := p.messageOnce(mi)
	if !retry {
		return err
	}
	s.pos, p.msgs, p.c.Images, p.c.Files, p.c.Opaque, p.named = start, msgs, images, files, opaque, false
	return p.messageTwice(mi)
}

// messageOnce reads a message in one pass unless it needs two (retry).
func (p *chatParser) messageOnce(mi int) (retry bool, err error) {
	s := &p.scanner
	var seen [msgKeys]bool
	more, err := s.enterObject(depthMessage)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return false, err
		}
		switch k := messageKey(key); {
		case k < 0:
			err = s.skipValue(depthMessage)
		case seen[k]:
			return true, nil
		default:
			seen[k] = true
			if err = p.messageMember(mi, k); err != nil {
				return isTypeErr(err), err
			}
		}
		if err != nil {
			return false, err
		}
		more, err = s.next('}')
	}
	return false, err
}

// messageTwice validates a message and finds the last occurrence of each
// member read, then reads those in body order.
func (p *chatParser) messageTwice(mi int) error {
	s := &p.scanner
	var at [msgKeys]int // offset of each member's last value; 0: absent
	more, err := s.enterObject(depthMessage)
	for more && err == nil {
		var key []byte
		if key, err = s.key(); err != nil {
			return err
		}
		if k := messageKey(key); k >= 0 {
			at[k] = s.pos
		}
		if err = s.skipValue(depthMessage); err != nil {
			return err
		}
		more, err = s.next('}')
	}
	if err != nil {
		return err
	}
	end := s.pos
	for k, from := nextAt(at[:], 0); k >= 0; k, from = nextAt(at[:], from) {
		s.pos = from
		if err := p.messageMember(mi, k); err != nil {
			return err
		}
	}
	s.pos = end
	return nil
}

// nextAt returns the key whose offset in at comes first after from, or -1.
func nextAt(at []int, from int) (int, int) {
	k, best := -1, 0
	for i, a := range at {
		if a > from && (k < 0 || a < best) {
			k, best = i, a
		}
	}
	return k, best
}

func messageKey(key []byte) int {
	switch string(key) {
	case "role":
		return msgRole
	case "name":
		return msgName
	case "content":
		return msgContent
	case "refusal":
		return msgRefusal
	case "tool_calls":
		return msgToolCalls
	case "function_call":
		return msgFunctionCall
	}
	return -1
}

func (p *chatParser) messageMember(mi, k int) error {
	s := &p.scanner
	switch k {
	case msgRole:
		_, err := p.mergePiece(depthMessage, loc{kind: locMsg, mi: mi, leaf: ".role"})
		return err
	case msgName:
		size, err := p.mergePiece(depthMessage, loc{kind: locMsg, mi: mi, leaf: ".name"})
		p.named = size > 0
		return err
	case msgRefusal:
		_, err := p.mergePiece(depthMessage, loc{kind: locMsg, mi: mi, leaf: ".refusal"})
		return err
	case msgContent:
		switch s.peek() {
		case '"':
			_, err := p.mergePiece(depthMessage, loc{})
			return err
		case 'n':
			return s.literal("null")
		case '[':
			return p.parts(mi)
		}
		return s.wrongType(depthMessage, loc{kind: locMsg, mi: mi, leaf: ".content"}, "a string or an array")
	case msgToolCalls:
		return p.toolCalls(mi)
	default: // msgFunctionCall
		switch s.peek() {
		case '{':
			fn, err := s.function(depthMessage+1, loc{kind: locFuncCall, mi: mi})
			fn.mergeInto(&p.msgs)
			return err
		case 'n':
			return s.literal("null")
		}
		return s.wrongType(depthMessage, loc{kind: locFuncCall, mi: mi}, "an object")
	}
}

// mergePiece merges the string-or-null at s.pos into the prompt as a text
// of its own, returning its raw size.
func (p *chatParser) mergePiece(depth int, l loc) (int, error) {
	ok, size, err := p.text(true, depth, l)
	if ok {
		p.msgs.Merge(p.piece)
	}
	return size, err
}

// toolCalls reads an assistant message's tool_calls: each call's function
// name and arguments are text the model reads back.
func (p *chatParser) toolCalls(mi int) error {
	s := &p.scanner
	switch s.peek() {
	case 'n':
		return s.literal("null")
	case '[':
	default:
		return s.wrongType(depthMessage, loc{kind: locMsg, mi: mi, leaf: ".tool_calls"}, "an array")
	}
	more, err := s.enterArray(depthMessage + 1)
	for ti := 0; more && err == nil; ti++ {
		if s.peek() != '{' {
			return s.wrongType(depthMessage+1, loc{kind: locCall, mi: mi, sub: ti}, "an object")
		}
		var fn function
		var held error
		more, err = s.enterObject(depthToolCall)
		for more && err == nil {
			var key []byte
			if key, err = s.key(); err != nil {
				return err
			}
			if string(key) != "function" {
				err = s.skipValue(depthToolCall)
			} else {
				start := s.pos
				l := loc{kind: locCall, mi: mi, sub: ti, leaf: ".function"}
				fn = function{}
				switch s.peek() {
				case '{':
					fn, err = s.function(depthToolCall+1, l)
				case 'n':
					err = s.literal("null")
				default:
					err = s.wrongType(depthToolCall, l, "an object")
				}
				err = s.settle(err, start, depthToolCall, &held)
			}
			if err != nil {
				return err
			}
			more, err = s.next('}')
		}
		if err != nil {
			return err
		}
		if held != nil {
			return held
		}
		fn.mergeInto(&p.msgs)
		more, err = s.next(']')
	}
	return err
}
