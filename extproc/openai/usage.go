package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Usage is the token usage a response reports.
type Usage struct {
	Prompt, Completion, Total int64
	CachedPrompt              int64 // prompt_tokens_details.cached_tokens
	Reasoning                 int64 // completion_tokens_details.reasoning_tokens
}

// ParseUsage reads the top-level usage of a chunk or of a whole
// chat.completion body; ok is true when usage is an object. It runs once
// per response, so it uses encoding/json. Counts are taken as reported; one
// that is missing, null, negative or not a number reads as 0, because a
// provider's odd field must not cost the whole settlement.
func ParseUsage(data []byte) (u Usage, ok bool, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Usage{}, false, fmt.Errorf("openai: usage: %w", err)
	}
	raw := bytes.TrimSpace(top["usage"])
	if len(raw) == 0 || raw[0] != '{' {
		return Usage{}, false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return Usage{}, false, fmt.Errorf("openai: usage: %w", err)
	}
	u.Prompt = count(m["prompt_tokens"])
	u.Completion = count(m["completion_tokens"])
	u.Total = count(m["total_tokens"])
	u.CachedPrompt = count(detail(m["prompt_tokens_details"], "cached_tokens"))
	u.Reasoning = count(detail(m["completion_tokens_details"], "reasoning_tokens"))
	return u, true, nil
}

func detail(raw json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m[name]
}

// count reads a token count; some proxies write integral floats (12.0).
func count(raw json.RawMessage) int64 {
	s := string(bytes.TrimSpace(raw))
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return max(v, 0)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0) || f >= math.MaxInt64 {
		return 0
	}
	return int64(f)
}
