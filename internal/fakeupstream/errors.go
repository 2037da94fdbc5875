package fakeupstream

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is a refusal in API-neutral form; each dialect renders it in its
// own shape. Param and Code are JSON null when empty, as OpenAI sends them.
type apiError struct {
	Status  int
	Message string
	Type    string // OpenAI's error type; the Anthropic shape derives its own from Status
	Param   string
	Code    string
}

func badRequest(msg, param, code string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Message: msg, Type: "invalid_request_error", Param: param, Code: code}
}

// openAIErrorBody is {"error":{"message","type","param","code"}}.
type openAIErrorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func writeOpenAIError(w http.ResponseWriter, opts *Options, status int, e apiError) {
	var b openAIErrorBody
	b.Error.Message = e.Message
	b.Error.Type = e.Type
	if e.Param != "" {
		b.Error.Param = &e.Param
	}
	if e.Code != "" {
		b.Error.Code = &e.Code
	}
	writeJSON(w, opts, status, b)
}

// anthropicErrorBody is {"type":"error","error":{"type","message"}}.
type anthropicErrorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeAnthropicError(w http.ResponseWriter, opts *Options, status int, e apiError) {
	b := anthropicErrorBody{Type: "error"}
	b.Error.Type = anthropicErrorType(status)
	b.Error.Message = e.Message
	writeJSON(w, opts, status, b)
}

// anthropicErrorType follows Anthropic's table of error types by status.
func anthropicErrorType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// forcedError is the body an upstream would send with status, for
// x-fake-status; the messages are the ones OpenAI uses for these statuses.
func forcedError(status int) apiError {
	e := apiError{Status: status, Type: "invalid_request_error"}
	switch {
	case status == http.StatusUnauthorized:
		e.Message, e.Code = "Incorrect API key provided.", "invalid_api_key"
	case status == http.StatusNotFound:
		e.Message, e.Code = "The model does not exist or you do not have access to it.", "model_not_found"
	case status == http.StatusTooManyRequests:
		e.Message, e.Type, e.Code = "Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded"
	case status >= 500:
		e.Message, e.Type = "The server had an error while processing your request. Sorry about that!", "server_error"
	default:
		e.Message = "Forced error " + strconv.Itoa(status) + " (x-fake-status)."
	}
	return e
}

// marshal encodes v compactly (or indented) without Go's HTML escaping, which
// neither OpenAI nor LiteLLM apply, and without a trailing newline.
func marshal(v any, indent bool) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		// Every value marshalled here is built from Go strings and ints.
		panic("fakeupstream: marshal: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// writeJSON sends v with an explicit content-length, as both OpenAI and
// LiteLLM do for non-streamed bodies.
func writeJSON(w http.ResponseWriter, opts *Options, status int, v any) {
	body := marshal(v, opts.IndentJSON)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client that went away is not our failure to report
}
