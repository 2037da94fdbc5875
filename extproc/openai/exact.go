package openai

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// ExactMessages returns the request's messages as text for a real BPE count
// (tokens.Encoding.ChatPrompt), the rare path taken when a caller is near its
// limit. Content concatenates, in body order, the message strings
// Chat.Prompt counts other than role and name: content text and refusal
// parts, refusal, tool calls' function names and arguments, legacy
// function_call. tools concatenates the raw JSON of tools, functions and
// response_format, in that order ("" when none). Errors are ParseChat's.
func ExactMessages(body []byte) (msgs []tokens.Message, tools string, err error) {
	if _, err := ParseChat(body); err != nil {
		return nil, "", err
	}
	// ParseChat has checked syntax and every type read below, so decoding
	// cannot fail here.
	top := lastMembers(body)
	var raws []json.RawMessage
	_ = json.Unmarshal(top.get("messages"), &raws)
	msgs = make([]tokens.Message, 0, len(raws))
	for _, raw := range raws {
		var m tokens.Message
		var b strings.Builder
		for _, f := range lastMembers(raw) {
			switch f.name {
			case "role":
				m.Role = jsonString(f.value)
			case "name":
				m.Name = jsonString(f.value)
			case "refusal":
				b.WriteString(jsonString(f.value))
			case "content":
				writeContent(&b, f.value)
			case "tool_calls":
				var calls []json.RawMessage
				_ = json.Unmarshal(f.value, &calls)
				for _, call := range calls {
					writeFunction(&b, lastMembers(call).get("function"))
				}
			case "function_call":
				writeFunction(&b, f.value)
			}
		}
		m.Content = b.String()
		msgs = append(msgs, m)
	}
	var t strings.Builder
	for _, k := range []string{"tools", "functions", "response_format"} {
		if raw := top.get(k); len(raw) > 0 && raw[0] != 'n' {
			t.Write(raw)
		}
	}
	return msgs, t.String(), nil
}

func writeContent(b *strings.Builder, raw json.RawMessage) {
	if len(raw) > 0 && raw[0] == '"' {
		b.WriteString(jsonString(raw))
		return
	}
	var parts []json.RawMessage
	_ = json.Unmarshal(raw, &parts)
	for _, part := range parts {
		p := lastMembers(part)
		switch jsonString(p.get("type")) {
		case "text":
			b.WriteString(jsonString(p.get("text")))
		case "refusal":
			b.WriteString(jsonString(p.get("refusal")))
		}
	}
}

func writeFunction(b *strings.Builder, raw json.RawMessage) {
	for _, f := range lastMembers(raw) {
		if f.name == "name" || f.name == "arguments" {
			b.WriteString(jsonString(f.value))
		}
	}
}

// jsonString decodes a JSON string; null or absent is "".
func jsonString(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

type rawMember struct {
	name  string
	value json.RawMessage
}

type rawObject []rawMember

// lastMembers lists a valid JSON object's members in body order, keeping
// only the last occurrence of each name, at its own place: the order in
// which ParseChat reads them. Anything but an object gives none.
func lastMembers(raw json.RawMessage) rawObject {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	_, _ = dec.Token()
	var all rawObject
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil
		}
		all = append(all, rawMember{k.(string), bytes.TrimSpace(v)})
	}
	out := make(rawObject, 0, len(all))
	for i, m := range all {
		if all.lastIndex(m.name) == i {
			out = append(out, m)
		}
	}
	return out
}

func (o rawObject) lastIndex(name string) int {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].name == name {
			return i
		}
	}
	return -1
}

// get returns the value of the last member with name, or nil.
func (o rawObject) get(name string) json.RawMessage {
	if i := o.lastIndex(name); i >= 0 {
		return o[i].value
	}
	return nil
}
