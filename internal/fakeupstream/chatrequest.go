package fakeupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// openAI is the chat completions dialect (/v1/chat/completions and LiteLLM's
// /chat/completions).
type openAI struct{}

func (openAI) authorized(r *http.Request, key string) bool {
	return r.Header.Get("Authorization") == "Bearer "+key
}

func (openAI) writeError(w http.ResponseWriter, opts *Options, e apiError) {
	writeOpenAIError(w, opts, e.Status, e)
}

// Messages are OpenAI's own, so that a client or tokengate test that matches
// on them behaves as it would against api.openai.com.
const (
	msgInvalidJSON = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. " +
		"The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, " +
		"please contact us through our help center at help.openai.com.)"
	msgNoModel       = "you must provide a model parameter"
	msgBothCaps      = "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported."
	msgStreamOptions = "The 'stream_options' parameter is only allowed when 'stream' is enabled."
)

// plan validates a chat completion request at the depth OpenAI does for the
// fields tokengate reads or writes, and plans the answer.
func (openAI) plan(body []byte, opts *Options, k knobs) (plan, *apiError) {
	if !json.Valid(body) {
		return plan{}, badRequest(msgInvalidJSON, "", "")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return plan{}, badRequest("Invalid type for request body: expected an object, but got "+jsonKind(body)+" instead.", "", "invalid_type")
	}
	p := plan{choices: 1, cutAfter: k.cutAfter}

	if isNull(top["model"]) {
		return plan{}, badRequest(msgNoModel, "", "")
	}
	if err := json.Unmarshal(top["model"], &p.model); err != nil {
		return plan{}, invalidType("model", "a string", top["model"])
	}
	if p.model == "" {
		return plan{}, badRequest(msgNoModel, "", "")
	}
	if bad := checkMessages(top["messages"]); bad != nil {
		return plan{}, bad
	}

	limit, bad := completionCap(top, opts)
	if bad != nil {
		return plan{}, bad
	}
	n, set, bad := intField(top, "n")
	if bad != nil {
		return plan{}, bad
	}
	if set {
		if bad := inRange("n", n, 1, 128); bad != nil {
			return plan{}, bad
		}
		p.choices = int(n)
	}

	if raw := top["stream"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &p.stream); err != nil {
			return plan{}, invalidType("stream", "a boolean", raw)
		}
	}
	p.obfuscate = opts.Obfuscation
	if raw := top["stream_options"]; !isNull(raw) {
		if !p.stream {
			return plan{}, badRequest(msgStreamOptions, "stream_options", "")
		}
		var so struct {
			IncludeUsage       *bool `json:"include_usage"`
			IncludeObfuscation *bool `json:"include_obfuscation"`
		}
		if err := json.Unmarshal(raw, &so); err != nil {
			return plan{}, invalidType("stream_options", "an object", raw)
		}
		p.includeUsage = so.IncludeUsage != nil && *so.IncludeUsage
		if so.IncludeObfuscation != nil && !*so.IncludeObfuscation {
			p.obfuscate = false
		}
	}

	counted, err := CountPromptTokens(body)
	if err != nil {
		return plan{}, badRequest(msgInvalidJSON, "", "")
	}
	p.prompt, p.perChoice, p.capped = resolve(opts, k, counted, limit)
	return p, nil
}

// checkMessages applies OpenAI's checks on the messages array: present,
// an array, not empty, each an object with a known role and, for the roles
// that need it, content.
func checkMessages(raw json.RawMessage) *apiError {
	if isNull(raw) {
		return badRequest("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return invalidType("messages", "an array", raw)
	}
	if len(msgs) == 0 {
		return badRequest("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
			"messages", "empty_array")
	}
	for i, m := range msgs {
		at := "messages[" + strconv.Itoa(i) + "]"
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(m, &fields); err != nil {
			return invalidType(at, "an object", m)
		}
		if isNull(fields["role"]) {
			return badRequest("Missing required parameter: '"+at+".role'.", at+".role", "missing_required_parameter")
		}
		var role string
		if err := json.Unmarshal(fields["role"], &role); err != nil {
			return invalidType(at+".role", "a string", fields["role"])
		}
		if !slices.Contains([]string{"system", "assistant", "user", "function", "tool", "developer"}, role) {
			return badRequest(fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role),
				at+".role", "invalid_value")
		}
		if (role == "system" || role == "user" || role == "developer") && isNull(fields["content"]) {
			return badRequest("Missing required parameter: '"+at+".content'.", at+".content", "missing_required_parameter")
		}
	}
	return nil
}

// completionCap returns the request's completion cap (0 = none) after
// OpenAI's checks: at most one of the two fields, each >= 1, and not above
// the model's ceiling.
func completionCap(top map[string]json.RawMessage, opts *Options) (int64, *apiError) {
	legacy, legacySet, bad := intField(top, "max_tokens")
	if bad != nil {
		return 0, bad
	}
	modern, modernSet, bad := intField(top, "max_completion_tokens")
	if bad != nil {
		return 0, bad
	}
	if legacySet && modernSet {
		return 0, badRequest(msgBothCaps, "max_tokens", "invalid_parameter_combination")
	}
	name, v := "max_tokens", legacy
	if modernSet {
		name, v = "max_completion_tokens", modern
	} else if !legacySet {
		return 0, nil
	}
	if v < 1 {
		return 0, inRange(name, v, 1, -1)
	}
	if ceiling := int64(opts.OutputCeiling); ceiling > 0 && v > ceiling {
		return 0, badRequest(fmt.Sprintf("%s is too large: %d. This model supports at most %d completion tokens, whereas you provided %d.", name, v, ceiling, v),
			name, "invalid_value")
	}
	return v, nil
}

// intField reads an optional integer field; null counts as absent.
func intField(top map[string]json.RawMessage, name string) (v int64, set bool, bad *apiError) {
	raw := top[name]
	if isNull(raw) {
		return 0, false, nil
	}
	if jsonKind(raw) != "an integer" {
		return 0, false, invalidType(name, "an integer", raw)
	}
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, false, badRequest(fmt.Sprintf("Invalid '%s': integer out of range.", name), name, "invalid_value")
	}
	return v, true, nil
}

// inRange checks lo <= v and, when hi >= lo, v <= hi.
func inRange(name string, v, lo, hi int64) *apiError {
	if v < lo {
		return badRequest(fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= %d, but got %d instead.", name, lo, v),
			name, "integer_below_min_value")
	}
	if hi >= lo && v > hi {
		return badRequest(fmt.Sprintf("Invalid '%s': integer above maximum value. Expected a value <= %d, but got %d instead.", name, hi, v),
			name, "integer_above_max_value")
	}
	return nil
}

func invalidType(param, want string, raw json.RawMessage) *apiError {
	return badRequest(fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", param, want, jsonKind(raw)), param, "invalid_type")
}
