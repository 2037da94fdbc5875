package openai

import (
	"bytes"
	"strconv"
)

// Edit is what admission may change in a chat-completions request body.
type Edit struct {
	// IncludeUsage ensures "stream_options":{"include_usage":true}, so a
	// streamed response always ends with its usage: an existing
	// include_usage is overwritten, an existing stream_options object gains
	// the member, a null one is replaced, an absent one is added.
	IncludeUsage bool
	// CompletionCap > 0 rewrites max_completion_tokens and max_tokens,
	// whichever are set, to this value; when neither is, it adds the one
	// CapField names. The caller passes the clamped value: Apply does not
	// compare it with the request's own cap.
	CompletionCap int64
	// CapField is "max_tokens" (also when empty) or "max_completion_tokens"
	// (o-series models refuse max_tokens).
	CapField string
}

// splice replaces body[start:end] with repl.
type splice struct {
	start, end int
	repl       []byte
}

// Apply returns body with e applied, spliced at the offsets ParseChat
// recorded: every byte outside the edited values stays as it was. It returns
// body itself when nothing changes, otherwise one new slice of exact size.
// body must be the one c was parsed from.
func (c *Chat) Apply(body []byte, e Edit) []byte {
	if len(body) != c.at.size {
		panic("openai: Chat.Apply given a body other than the one parsed")
	}
	// Replacement texts live in scratch, members added at the end of the
	// top-level object in tail; the splices slice into them.
	var scratch, tailBuf [96]byte
	repl, tail := scratch[:0], tailBuf[:0]
	var edits [4]splice
	n := 0
	replace := func(at span, text string, num []byte) {
		from := len(repl)
		repl = append(append(repl, text...), num...)
		edits[n] = splice{at.start, at.end, repl[from:]}
		n++
	}
	addMember := func(text string, num []byte) {
		if len(tail) > 0 || !c.at.empty {
			tail = append(tail, ',')
		}
		tail = append(append(tail, text...), num...)
	}

	if e.IncludeUsage && !c.IncludeUsage {
		at := c.at
		switch {
		case at.streamOpts.end == 0:
			addMember(`"stream_options":{"include_usage":true}`, nil)
		case body[at.streamOpts.start] == 'n':
			replace(at.streamOpts, `{"include_usage":true}`, nil)
		case at.usageFlag.end != 0:
			replace(at.usageFlag, "true", nil)
		case at.optsEmpty:
			replace(span{at.optsTail, at.optsTail}, `"include_usage":true`, nil)
		default:
			replace(span{at.optsTail, at.optsTail}, `,"include_usage":true`, nil)
		}
	}

	if e.CompletionCap > 0 {
		var digits [20]byte
		v := strconv.AppendInt(digits[:0], e.CompletionCap, 10)
		rewrite := func(at span) {
			if !bytes.Equal(body[at.start:at.end], v) {
				replace(at, "", v)
			}
		}
		switch {
		case c.MaxTokens.Set || c.MaxCompletionTokens.Set:
			if c.MaxTokens.Set {
				rewrite(c.at.maxTokens)
			}
			if c.MaxCompletionTokens.Set {
				rewrite(c.at.maxComplete)
			}
		case e.CapField == "max_completion_tokens" && c.at.maxComplete.end != 0:
			rewrite(c.at.maxComplete) // present as null: a value, not a duplicate
		case e.CapField == "max_completion_tokens":
			addMember(`"max_completion_tokens":`, v)
		case c.at.maxTokens.end != 0:
			rewrite(c.at.maxTokens)
		default:
			addMember(`"max_tokens":`, v)
		}
	}

	if len(tail) > 0 {
		edits[n] = splice{c.at.tail, c.at.tail, tail}
		n++
	}
	if n == 0 {
		return body
	}
	return splices(body, edits[:n])
}

// splices applies non-overlapping edits in one exact-size allocation.
func splices(body []byte, edits []splice) []byte {
	// Insertion sort: at most four edits, in any order in the body.
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && edits[j].start < edits[j-1].start; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	size := len(body)
	for _, e := range edits {
		size += len(e.repl) - (e.end - e.start)
	}
	out := make([]byte, 0, size)
	prev := 0
	for _, e := range edits {
		out = append(out, body[prev:e.start]...)
		out = append(out, e.repl...)
		prev = e.end
	}
	return append(out, body[prev:]...)
}
