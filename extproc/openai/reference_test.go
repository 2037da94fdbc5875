package openai

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/iasolaris/tokengate/extproc/tokens"
)

// The reference reading of requests and chunks, built on encoding/json, that
// the fuzz targets compare the scanners with. It spells out the package's
// contract plainly: encoding/json decides syntax and decodes every string and
// number; members match by exact name and the last occurrence wins (maps
// give both), so an overridden duplicate is never type-checked; null means
// absent. A request member of the wrong type is an error; a chunk member of
// the wrong type reads as absent. Every present string the model reads is a
// piece, and the text is each piece fed to a Text of its own, merged in order.

// object decodes a valid JSON object's members, last occurrence winning.
func object(raw []byte) map[string][]byte {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = bytes.TrimSpace(v)
	}
	return out
}

// ordered lists a valid JSON object's members in body order, keeping only
// the last occurrence of each name, at its own place.
func ordered(raw []byte) []member {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		panic(err)
	}
	var all []member
	last := map[string]int{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			panic(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		last[k.(string)] = len(all)
		all = append(all, member{k.(string), bytes.TrimSpace(v)})
	}
	var out []member
	for i, m := range all {
		if last[m.key] == i {
			out = append(out, m)
		}
	}
	return out
}

type member struct {
	key string
	raw []byte
}

func elements(arr []byte) [][]byte {
	var raws []json.RawMessage
	if err := json.Unmarshal(arr, &raws); err != nil {
		panic(err)
	}
	out := make([][]byte, len(raws))
	for i, r := range raws {
		out[i] = bytes.TrimSpace(r)
	}
	return out
}

// str decodes a string-or-null member (nil raw: absent). present is false
// for null or absent; ok is false for any other type.
func str(raw []byte) (s string, present, ok bool) {
	if raw == nil || string(raw) == "null" {
		return "", false, true
	}
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false, false
	}
	return s, true, true
}

// topObject reports whether body is valid JSON whose value is an object.
func topObject(body []byte) ([]byte, bool) {
	if !json.Valid(body) {
		return nil, false
	}
	b := bytes.Trim(body, " \t\r\n")
	return b, b[0] == '{'
}

func feed(pieces []string) tokens.Text {
	var t tokens.Text
	for _, p := range pieces {
		var one tokens.Text
		one.AddString(p)
		t.Merge(one)
	}
	return t
}

// refMsg is the reference reading of one message.
type refMsg struct {
	Role, Name     string
	Pieces         []string // in body order
	RoleAt, NameAt int      // indices of role and name in Pieces, -1 if none
}

// exact is what ExactMessages should return for the message.
func (m refMsg) exact() tokens.Message {
	var b strings.Builder
	for i, p := range m.Pieces {
		if i != m.NameAt && i != m.RoleAt {
			b.WriteString(p)
		}
	}
	return tokens.Message{Role: m.Role, Name: m.Name, Content: b.String()}
}

// refChat is the reference reading of a request.
type refChat struct {
	Model                          string
	Stream, IncludeUsage           bool
	MaxTokens, MaxCompletionTokens Cap
	N, Messages, Names, Images     int
	Files                          int
	Opaque                         int64 // raw bytes of the parts priced by size
	Tools                          bool
	Msgs                           []refMsg
	Raw                            []string // raw tools, functions, response_format
}

func (r refChat) prompt() tokens.Text {
	var pieces []string
	for _, m := range r.Msgs {
		pieces = append(pieces, m.Pieces...)
	}
	return feed(append(pieces, r.Raw...))
}

func refParseChat(body []byte) (refChat, bool) {
	b, ok := topObject(body)
	if !ok {
		return refChat{}, false
	}
	top := object(b)
	r := refChat{N: 1}
	if r.Model, _, ok = str(top["model"]); !ok || r.Model == "" {
		return refChat{}, false
	}
	if v := top["stream"]; v != nil && string(v) != "null" && json.Unmarshal(v, &r.Stream) != nil {
		return refChat{}, false
	}
	if v := top["stream_options"]; v != nil && string(v) != "null" {
		if v[0] != '{' {
			return refChat{}, false
		}
		if iu := object(v)["include_usage"]; iu != nil && string(iu) != "null" && json.Unmarshal(iu, &r.IncludeUsage) != nil {
			return refChat{}, false
		}
	}
	for k, c := range map[string]*Cap{"max_tokens": &r.MaxTokens, "max_completion_tokens": &r.MaxCompletionTokens} {
		if v := top[k]; v != nil && string(v) != "null" {
			if json.Unmarshal(v, &c.Value) != nil || c.Value < 0 {
				return refChat{}, false
			}
			c.Set = true
		}
	}
	if v := top["n"]; v != nil && string(v) != "null" {
		var n int64
		if json.Unmarshal(v, &n) != nil || n < 1 || n > 128 {
			return refChat{}, false
		}
		r.N = int(n)
	}
	v := top["messages"]
	if v == nil || string(v) == "null" || v[0] != '[' {
		return refChat{}, false
	}
	for _, e := range elements(v) {
		if e[0] != '{' {
			return refChat{}, false
		}
		m, ok := refMessage(e, &r)
		if !ok {
			return refChat{}, false
		}
		r.Msgs = append(r.Msgs, m)
		r.Messages++
		if m.Name != "" {
			r.Names++
		}
	}
	for _, k := range []string{"tools", "functions", "response_format"} {
		open := byte('[')
		if k == "response_format" {
			open = '{'
		}
		if v := top[k]; v != nil && string(v) != "null" {
			if v[0] != open {
				return refChat{}, false
			}
			r.Raw = append(r.Raw, string(v))
		}
	}
	all := strings.Join(r.Raw, "")
	r.Tools = all != "" && all != "[]"
	return r, true
}

// refMessage reads one message, counting its parts into r.
func refMessage(obj []byte, r *refChat) (m refMsg, ok bool) {
	m.RoleAt, m.NameAt = -1, -1
	add := func(raw []byte) bool {
		s, present, ok := str(raw)
		if present {
			m.Pieces = append(m.Pieces, s)
		}
		return ok
	}
	for _, f := range ordered(obj) {
		v := f.raw
		switch f.key {
		case "role":
			var present bool
			if m.Role, present, ok = str(v); !ok {
				return refMsg{}, false
			}
			if present {
				m.RoleAt = len(m.Pieces)
				m.Pieces = append(m.Pieces, m.Role)
			}
		case "name":
			var present bool
			if m.Name, present, ok = str(v); !ok {
				return refMsg{}, false
			}
			if present {
				m.NameAt = len(m.Pieces)
				m.Pieces = append(m.Pieces, m.Name)
			}
		case "refusal":
			if !add(v) {
				return refMsg{}, false
			}
		case "content":
			switch v[0] {
			case 'n', '"':
				add(v)
			case '[':
				for _, e := range elements(v) {
					if e[0] != '{' {
						return refMsg{}, false
					}
					piece, present, ok := refPart(e, r)
					if !ok {
						return refMsg{}, false
					}
					if present {
						m.Pieces = append(m.Pieces, piece)
					}
				}
			default:
				return refMsg{}, false
			}
		case "tool_calls":
			if string(v) == "null" {
				break
			}
			if v[0] != '[' {
				return refMsg{}, false
			}
			for _, e := range elements(v) {
				if e[0] != '{' {
					return refMsg{}, false
				}
				fn, ok := refFunction(object(e)["function"])
				if !ok {
					return refMsg{}, false
				}
				m.Pieces = append(m.Pieces, fn...)
			}
		case "function_call":
			fn, ok := refFunction(v)
			if !ok {
				return refMsg{}, false
			}
			m.Pieces = append(m.Pieces, fn...)
		}
	}
	return m, true
}

// refPart reads one content part: its text piece if it has one, else what
// counts it in r. Whatever the part, it is priced: a non-empty piece, an
// image, a file named by id, or its bytes.
func refPart(e []byte, r *refChat) (piece string, present, ok bool) {
	part := object(e)
	typ, _, ok1 := str(part["type"])
	text, hasText, ok2 := str(part["text"])
	refusal, hasRefusal, ok3 := str(part["refusal"])
	if !ok1 || !ok2 || !ok3 {
		return "", false, false
	}
	priced := false
	switch typ {
	case "text":
		piece, present, priced = text, hasText, text != ""
	case "refusal":
		piece, present, priced = refusal, hasRefusal, refusal != ""
	case "image_url", "input_audio":
		r.Images++
		priced = true
	case "file":
		var id, data bool
		if f := part["file"]; f != nil && f[0] == '{' {
			fo := object(f)
			id = fo["file_id"] != nil && fo["file_id"][0] == '"'
			data = fo["file_data"] != nil && string(fo["file_data"]) != "null"
		}
		if id {
			r.Files++
			priced = !data
		}
	}
	if !priced {
		r.Opaque += int64(len(e))
	}
	return piece, present, true
}

// refFunction reads a request's {name, arguments} object, null or absent.
func refFunction(v []byte) ([]string, bool) {
	if v == nil || string(v) == "null" {
		return nil, true
	}
	if v[0] != '{' {
		return nil, false
	}
	var pieces []string
	for _, f := range ordered(v) {
		if f.key != "name" && f.key != "arguments" {
			continue
		}
		s, present, ok := str(f.raw)
		if !ok {
			return nil, false
		}
		if present {
			pieces = append(pieces, s)
		}
	}
	return pieces, true
}

// refChunk is the reference reading of a chunk.
type refChunk struct {
	HasUsage, NullUsage, NoChoices, Finished bool
	Deltas                                   int
	Pieces                                   []string
}

func refScanChunk(data []byte) (refChunk, bool) {
	b, ok := topObject(data)
	if !ok {
		return refChunk{}, false
	}
	top := object(b)
	var r refChunk
	if u, ok := top["usage"]; ok {
		r.HasUsage, r.NullUsage = u[0] == '{', string(u) == "null"
	}
	v := top["choices"]
	if v == nil || v[0] != '[' {
		return r, true
	}
	es := elements(v)
	r.NoChoices = len(es) == 0
	for _, e := range es {
		if e[0] != '{' {
			continue
		}
		var reason string
		if f := object(e)["finish_reason"]; f != nil && f[0] == '"' && json.Unmarshal(f, &reason) == nil && reason != "" {
			r.Finished = true
		}
		delta := object(e)["delta"]
		if delta == nil || delta[0] != '{' {
			continue
		}
		if pieces, text := refDelta(delta); text {
			r.Deltas++
			r.Pieces = append(r.Pieces, pieces...)
		}
	}
	return r, true
}

// refDelta returns a delta's pieces and whether any is non-empty.
func refDelta(obj []byte) (pieces []string, text bool) {
	add := func(raw []byte) {
		if raw != nil && raw[0] == '"' {
			var s string
			_ = json.Unmarshal(raw, &s)
			pieces = append(pieces, s)
			text = text || s != ""
		}
	}
	fn := func(raw []byte) {
		if raw != nil && raw[0] == '{' {
			for _, f := range ordered(raw) {
				if f.key == "name" || f.key == "arguments" {
					add(f.raw)
				}
			}
		}
	}
	for _, f := range ordered(obj) {
		switch f.key {
		case "content", "reasoning_content", "reasoning", "refusal":
			add(f.raw)
		case "tool_calls":
			if f.raw[0] != '[' {
				break
			}
			for _, e := range elements(f.raw) {
				if e[0] == '{' {
					fn(object(e)["function"])
				}
			}
		case "function_call":
			fn(f.raw)
		}
	}
	return pieces, text
}
