package tokens

import "strings"

// Message is one chat message as the prompt accounting sees it: text content
// only; the caller flattens multi-part content to its text.
type Message struct {
	Role, Name, Content string
}

// OpenAI's chat format wraps each message as <|start|>role<|message|>content
// <|end|> and primes the reply with <|start|>assistant<|message|>, as in
// OpenAI's cookbook "How to count tokens with tiktoken".
const (
	perMessage   = 3 // <|start|>, <|message|>, <|end|>
	perName      = 1 // the separator before a participant name
	replyPriming = 3 // <|start|>assistant<|message|>

	// toolsOverhead covers what OpenAI puts around function definitions:
	// a system message to hold them (perMessage and the role, 4 tokens) and
	// a "# Tools ... namespace functions {...}" frame (13 tokens in both
	// encodings; TestToolsOverhead counts it), with 3 to spare. The
	// definitions themselves are counted as their raw JSON, which spells out
	// more than the TypeScript-like rendering the model sees, so the tools'
	// share errs high.
	toolsOverhead = 20
)

// ChatPrompt is the prompt tokens of a chat completion request: for each
// message perMessage tokens plus its role and content, and one more plus the
// name when it has one; then replyPriming tokens; then, when tools (the raw
// JSON of the request's tools array) is not empty, the tools' JSON plus
// toolsOverhead.
func (e *Encoding) ChatPrompt(msgs []Message, tools string) int {
	n, names := 0, 0
	for _, m := range msgs {
		n += e.Count(m.Role) + e.Count(m.Content)
		if m.Name != "" {
			n += e.Count(m.Name)
			names++
		}
	}
	withTools := hasTools(tools)
	if withTools {
		n += e.Count(tools)
	}
	return n + int(ChatOverhead(len(msgs), names, withTools))
}

// ChatOverhead is the part of ChatPrompt that is not text: the tokens OpenAI's
// chat format adds for the given numbers of messages and of messages with a
// name, and for a tools array when there is one. Added to the Bound (or
// Estimate) of the texts, each role, name, content and the tools' JSON a Text
// of its own joined with Merge, it bounds (or estimates) what ChatPrompt
// would count, without exact counting.
func ChatOverhead(messages, names int, tools bool) int64 {
	n := int64(replyPriming + messages*perMessage + names*perName)
	if tools {
		n += toolsOverhead
	}
	return n
}

// hasTools reports whether the tools JSON defines any tool.
func hasTools(tools string) bool {
	switch strings.Trim(tools, " \t\r\n") {
	case "", "null", "[]":
		return false
	}
	return true
}
