package fakeupstream

import (
	"encoding/json"
	"fmt"
)

// Token costs of the prompt formula in CountPromptTokens. They echo
// OpenAI's published accounting (3 per message, 3 to prime the reply, 85 for
// a low-detail image) without pretending to be its tokenizer.
const (
	perMessageTokens = 3
	replyPriming     = 3
	imageTokens      = 85
)

// CountPromptTokens is the prompt usage the fake reports for a chat
// completion or Anthropic messages body when neither Options nor
// x-fake-prompt-tokens fix it:
//
//	3 to prime the reply
//	+ per message: 3 + ceil(text bytes / 4) + 85 per image part
//	+ system (Anthropic), if present: 3 + ceil(text bytes / 4)
//	+ tools, if present: ceil(raw JSON bytes / 4)
//
// A message's text bytes are those of its string content, of the "text"
// field of each content part, of its name, and of the raw JSON of its
// tool_calls and of any part that is neither text nor an image. Nothing
// else (model, stream_options, caps) counts, so tokengate's mutations of a
// request never change its prompt usage.
func CountPromptTokens(body []byte) (int, error) {
	var req struct {
		System   json.RawMessage   `json:"system"`
		Messages []json.RawMessage `json:"messages"`
		Tools    json.RawMessage   `json:"tools"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return 0, fmt.Errorf("fakeupstream: count prompt tokens: %w", err)
	}
	n := replyPriming
	if !isNull(req.System) {
		text, images := contentSize(req.System)
		n += perMessageTokens + ceilQuarter(text) + images*imageTokens
	}
	for _, raw := range req.Messages {
		var m struct {
			Content   json.RawMessage `json:"content"`
			Name      string          `json:"name"`
			ToolCalls json.RawMessage `json:"tool_calls"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return 0, fmt.Errorf("fakeupstream: count prompt tokens: %w", err)
		}
		text, images := contentSize(m.Content)
		text += len(m.Name)
		if !isNull(m.ToolCalls) {
			text += len(m.ToolCalls)
		}
		n += perMessageTokens + ceilQuarter(text) + images*imageTokens
	}
	if !isNull(req.Tools) {
		n += ceilQuarter(len(req.Tools))
	}
	return n, nil
}

// contentSize measures a content value: a string, or an array of parts.
func contentSize(raw json.RawMessage) (textBytes, images int) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(s), 0
	}
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		return len(raw), 0 // neither string nor array: count it as it came
	}
	for _, p := range parts {
		var part struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		switch {
		case json.Unmarshal(p, &part) != nil:
			textBytes += len(p)
		case part.Text != nil:
			textBytes += len(*part.Text)
		case part.Type == "image_url" || part.Type == "image":
			images++
		default:
			textBytes += len(p)
		}
	}
	return textBytes, images
}

func ceilQuarter(n int) int { return (n + 3) / 4 }

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// jsonKind names the type of a JSON value the way OpenAI's validation
// messages do ("expected an integer, but got a string instead").
func jsonKind(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	for _, c := range raw {
		if c == '.' || c == 'e' || c == 'E' {
			return "a decimal"
		}
	}
	return "an integer"
}
