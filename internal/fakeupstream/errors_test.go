package fakeupstream

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// openAIErr is the decoded error body; Param and Code are nil for JSON null.
type openAIErr struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func strp(s string) *string { return &s }

func TestChatErrors(t *testing.T) {
	user := `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name    string
		opts    Options
		method  string
		path    string
		body    string
		headers []string
		status  int
		want    openAIErr // Message is matched as a prefix
	}{
		{name: "invalid JSON", body: `{"model":"gpt-4o-mini",`, status: 400,
			want: openAIErr{Message: "We could not parse the JSON body of your request.", Type: "invalid_request_error"}},
		{name: "body not an object", body: `[]`, status: 400,
			want: openAIErr{Message: "Invalid type for request body: expected an object, but got an array instead.", Type: "invalid_request_error", Code: strp("invalid_type")}},
		{name: "missing model", body: `{` + user + `}`, status: 400,
			want: openAIErr{Message: "you must provide a model parameter", Type: "invalid_request_error"}},
		{name: "empty model", body: `{"model":"",` + user + `}`, status: 400,
			want: openAIErr{Message: "you must provide a model parameter", Type: "invalid_request_error"}},
		{name: "model not a string", body: `{"model":4,` + user + `}`, status: 400,
			want: openAIErr{Message: "Invalid type for 'model': expected a string, but got an integer instead.", Type: "invalid_request_error", Param: strp("model"), Code: strp("invalid_type")}},
		{name: "missing messages", body: `{"model":"gpt-4o-mini"}`, status: 400,
			want: openAIErr{Message: "Missing required parameter: 'messages'.", Type: "invalid_request_error", Param: strp("messages"), Code: strp("missing_required_parameter")}},
		{name: "empty messages", body: `{"model":"gpt-4o-mini","messages":[]}`, status: 400,
			want: openAIErr{Message: "Invalid 'messages': empty array.", Type: "invalid_request_error", Param: strp("messages"), Code: strp("empty_array")}},
		{name: "messages not an array", body: `{"model":"gpt-4o-mini","messages":"hi"}`, status: 400,
			want: openAIErr{Message: "Invalid type for 'messages': expected an array, but got a string instead.", Type: "invalid_request_error", Param: strp("messages"), Code: strp("invalid_type")}},
		{name: "message without role", body: `{"model":"gpt-4o-mini","messages":[{"content":"hi"}]}`, status: 400,
			want: openAIErr{Message: "Missing required parameter: 'messages[0].role'.", Type: "invalid_request_error", Param: strp("messages[0].role"), Code: strp("missing_required_parameter")}},
		{name: "unknown role", body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"a"},{"role":"robot","content":"hi"}]}`, status: 400,
			want: openAIErr{Message: "Invalid value: 'robot'.", Type: "invalid_request_error", Param: strp("messages[1].role"), Code: strp("invalid_value")}},
		{name: "user message without content", body: `{"model":"gpt-4o-mini","messages":[{"role":"user"}]}`, status: 400,
			want: openAIErr{Message: "Missing required parameter: 'messages[0].content'.", Type: "invalid_request_error", Param: strp("messages[0].content"), Code: strp("missing_required_parameter")}},
		{name: "max_tokens zero", body: `{"model":"gpt-4o-mini",` + user + `,"max_tokens":0}`, status: 400,
			want: openAIErr{Message: "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got 0 instead.", Type: "invalid_request_error", Param: strp("max_tokens"), Code: strp("integer_below_min_value")}},
		{name: "max_tokens negative", body: `{"model":"gpt-4o-mini",` + user + `,"max_tokens":-5}`, status: 400,
			want: openAIErr{Message: "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -5 instead.", Type: "invalid_request_error", Param: strp("max_tokens"), Code: strp("integer_below_min_value")}},
		{name: "max_completion_tokens zero", body: `{"model":"gpt-4o-mini",` + user + `,"max_completion_tokens":0}`, status: 400,
			want: openAIErr{Message: "Invalid 'max_completion_tokens': integer below minimum value.", Type: "invalid_request_error", Param: strp("max_completion_tokens"), Code: strp("integer_below_min_value")}},
		{name: "both caps", body: `{"model":"gpt-4o-mini",` + user + `,"max_tokens":10,"max_completion_tokens":10}`, status: 400,
			want: openAIErr{Message: "Setting 'max_tokens' and 'max_completion_tokens' at the same time is not supported.", Type: "invalid_request_error", Param: strp("max_tokens"), Code: strp("invalid_parameter_combination")}},
		{name: "decimal cap", body: `{"model":"gpt-4o-mini",` + user + `,"max_tokens":10.5}`, status: 400,
			want: openAIErr{Message: "Invalid type for 'max_tokens': expected an integer, but got a decimal instead.", Type: "invalid_request_error", Param: strp("max_tokens"), Code: strp("invalid_type")}},
		{name: "string cap", body: `{"model":"gpt-4o-mini",` + user + `,"max_completion_tokens":"10"}`, status: 400,
			want: openAIErr{Message: "Invalid type for 'max_completion_tokens': expected an integer, but got a string instead.", Type: "invalid_request_error", Param: strp("max_completion_tokens"), Code: strp("invalid_type")}},
		{name: "cap above the model's ceiling", opts: Options{OutputCeiling: 16384}, body: `{"model":"gpt-4o-mini",` + user + `,"max_tokens":100000}`, status: 400,
			want: openAIErr{Message: "max_tokens is too large: 100000. This model supports at most 16384 completion tokens, whereas you provided 100000.", Type: "invalid_request_error", Param: strp("max_tokens"), Code: strp("invalid_value")}},
		{name: "n zero", body: `{"model":"gpt-4o-mini",` + user + `,"n":0}`, status: 400,
			want: openAIErr{Message: "Invalid 'n': integer below minimum value.", Type: "invalid_request_error", Param: strp("n"), Code: strp("integer_below_min_value")}},
		{name: "n above 128", body: `{"model":"gpt-4o-mini",` + user + `,"n":129}`, status: 400,
			want: openAIErr{Message: "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 129 instead.", Type: "invalid_request_error", Param: strp("n"), Code: strp("integer_above_max_value")}},
		{name: "stream not a boolean", body: `{"model":"gpt-4o-mini",` + user + `,"stream":"yes"}`, status: 400,
			want: openAIErr{Message: "Invalid type for 'stream': expected a boolean, but got a string instead.", Type: "invalid_request_error", Param: strp("stream"), Code: strp("invalid_type")}},
		{name: "stream_options without stream", body: `{"model":"gpt-4o-mini",` + user + `,"stream_options":{"include_usage":true}}`, status: 400,
			want: openAIErr{Message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", Type: "invalid_request_error", Param: strp("stream_options")}},
		{name: "stream_options with stream false", body: `{"model":"gpt-4o-mini",` + user + `,"stream":false,"stream_options":{"include_usage":true}}`, status: 400,
			want: openAIErr{Message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", Type: "invalid_request_error", Param: strp("stream_options")}},
		{name: "malformed knob", body: `{"model":"gpt-4o-mini",` + user + `}`, headers: []string{"x-fake-completion-tokens: many"}, status: 400,
			want: openAIErr{Message: `Invalid header x-fake-completion-tokens: "many"`, Type: "invalid_request_error"}},
		{name: "malformed line end", body: `{"model":"gpt-4o-mini",` + user + `,"stream":true}`, headers: []string{"x-fake-line-end: windows"}, status: 400,
			want: openAIErr{Message: `Invalid header x-fake-line-end: "windows"`, Type: "invalid_request_error"}},
		{name: "forced 429", body: `{"model":"gpt-4o-mini",` + user + `}`, headers: []string{"x-fake-status: 429"}, status: 429,
			want: openAIErr{Message: "Rate limit reached for requests.", Type: "requests", Code: strp("rate_limit_exceeded")}},
		{name: "forced 500 ignores the body", body: `not json`, headers: []string{"x-fake-status: 500"}, status: 500,
			want: openAIErr{Message: "The server had an error while processing your request.", Type: "server_error"}},
		{name: "forced 400", body: `{}`, headers: []string{"x-fake-status: 400"}, status: 400,
			want: openAIErr{Message: "Forced error 400 (x-fake-status).", Type: "invalid_request_error"}},
		{name: "missing key", opts: Options{APIKey: "sk-upstream"}, body: `{"model":"gpt-4o-mini",` + user + `}`, status: 401,
			want: openAIErr{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: strp("invalid_api_key")}},
		{name: "wrong key", opts: Options{APIKey: "sk-upstream"}, body: `{"model":"gpt-4o-mini",` + user + `}`, headers: []string{"Authorization: Bearer sk-caller"}, status: 401,
			want: openAIErr{Message: "Incorrect API key provided.", Type: "invalid_request_error", Code: strp("invalid_api_key")}},
		{name: "GET on chat completions", method: http.MethodGet, body: ``, status: 405,
			want: openAIErr{Message: "Method not allowed (GET /v1/chat/completions)", Type: "invalid_request_error"}},
		{name: "unknown path", path: "/v1/completions", body: `{}`, status: 404,
			want: openAIErr{Message: "Invalid URL (POST /v1/completions)", Type: "invalid_request_error"}},
		{name: "POST on models", path: "/v1/models", body: `{}`, status: 405,
			want: openAIErr{Message: "Method not allowed (POST /v1/models)", Type: "invalid_request_error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := start(t, tc.opts)
			method, path := tc.method, tc.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/v1/chat/completions"
			}
			r := do(t, ts, method, path, tc.body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if got := r.header.Get("Content-Type"); got != "application/json" {
				t.Errorf("content-type %q", got)
			}
			var body struct {
				Error *openAIErr `json:"error"`
			}
			if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
				t.Fatalf("not an OpenAI error body (%v): %s", err, r.body)
			}
			if !strings.HasPrefix(body.Error.Message, tc.want.Message) {
				t.Errorf("message %q, want prefix %q", body.Error.Message, tc.want.Message)
			}
			body.Error.Message = tc.want.Message
			if diff := cmp.Diff(tc.want, *body.Error); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			// param and code must be present as keys even when null.
			if !strings.Contains(string(r.body), `"param":`) || !strings.Contains(string(r.body), `"code":`) {
				t.Errorf("param or code key missing: %s", r.body)
			}
		})
	}
}

func TestRightKeyIsAccepted(t *testing.T) {
	_, ts := start(t, Options{APIKey: "sk-upstream"})
	if r := post(t, ts, "/v1/chat/completions", withFields(""), "Authorization: Bearer sk-upstream"); r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if r := post(t, ts, "/v1/messages", `{"model":"claude-3-5-haiku-latest","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		"x-api-key: sk-upstream"); r.status != 200 {
		t.Fatalf("messages with x-api-key: status %d: %s", r.status, r.body)
	}
	if r := do(t, ts, http.MethodGet, "/v1/models", "", "Authorization: Bearer sk-upstream"); r.status != 200 {
		t.Fatalf("models: status %d: %s", r.status, r.body)
	}
	if r := do(t, ts, http.MethodGet, "/v1/models", ""); r.status != 401 {
		t.Fatalf("models without key: status %d: %s", r.status, r.body)
	}
}
