package extproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// callerError is a refusal rendered in the OpenAI error format, the shape
// every OpenAI SDK (and LibreChat) parses: {"error":{message,type,param,code}}.
type callerError struct {
	status  int
	message string
	typ     string
	code    string
	param   string
	// headers are extra response headers, e.g. retry-after.
	headers []*corev3.HeaderValueOption
	// details becomes Envoy's %RESPONSE_CODE_DETAILS% (envoy-ext-proc.md E41),
	// so access logs tell tokengate's refusals apart from upstream errors.
	details string
}

type openAIErrorBody struct {
	Error openAIError `json:"error"`
}

type openAIError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// body marshals the error with encoding/json so that no message, whatever it
// contains, can make the body invalid JSON.
func (e callerError) body() []byte {
	b := openAIErrorBody{Error: openAIError{Message: e.message, Type: e.typ}}
	if e.param != "" {
		b.Error.Param = &e.param
	}
	if e.code != "" {
		b.Error.Code = &e.code
	}
	out, err := json.Marshal(b)
	if err != nil { // only strings and pointers to strings: cannot fail
		panic(err)
	}
	return out
}

// response renders the error as an immediate response. Envoy stops
// processing, closes the stream and answers the client with it
// (envoy-ext-proc.md E41, E42); content-type must be set here, or Envoy
// labels the JSON text/plain (E43).
func (e callerError) response() *extprocv3.ProcessingResponse {
	set := append([]*corev3.HeaderValueOption{setHeader("content-type", "application/json")}, e.headers...)
	return &extprocv3.ProcessingResponse{
		Response: &extprocv3.ProcessingResponse_ImmediateResponse{
			ImmediateResponse: &extprocv3.ImmediateResponse{
				Status:  &typev3.HttpStatus{Code: typev3.StatusCode(e.status)},
				Headers: &extprocv3.HeaderMutation{SetHeaders: set},
				Body:    e.body(),
				Details: e.details,
			},
		},
	}
}

func badRequest(msg, param string) callerError {
	return callerError{status: 400, message: msg, typ: "invalid_request_error", param: param, details: "tokengate_bad_request"}
}

func unauthenticated(msg string) callerError {
	return callerError{status: 401, message: msg, typ: "invalid_request_error", code: "missing_identity", details: "tokengate_unauthenticated"}
}

func forbidden(msg string) callerError {
	return callerError{status: 403, message: msg, typ: "invalid_request_error", code: "account_inactive", details: "tokengate_forbidden"}
}

func unavailable() callerError {
	return callerError{
		status: 503, message: "The quota service is unavailable; please retry shortly.",
		typ: "server_error", code: "quota_unavailable", details: "tokengate_ledger_unavailable",
		headers: []*corev3.HeaderValueOption{setHeader("retry-after", "1")},
	}
}

// endpointNotAllowed refuses a route tokengate neither meters nor was told
// to pass. The path is named as the client sent it, without its query
// (which may carry a key), and cut short.
func endpointNotAllowed(method, rawPath []byte) callerError {
	if i := bytes.IndexAny(rawPath, "?#"); i >= 0 {
		rawPath = rawPath[:i]
	}
	const maxShown = 200
	if len(rawPath) > maxShown {
		rawPath = append(rawPath[:maxShown:maxShown], "..."...)
	}
	return callerError{
		status:  403,
		message: fmt.Sprintf("%s %s is not an endpoint this gateway allows.", method, rawPath),
		typ:     "invalid_request_error",
		code:    "endpoint_not_allowed",
		details: "tokengate_endpoint_not_allowed",
	}
}

// misconfigured refuses a model call Envoy's processing mode would let
// through unmetered; the operator's fix is in envoy.yaml.
func misconfigured() callerError {
	return callerError{
		status: 500, message: "The gateway is misconfigured: model calls cannot be metered on this route.",
		typ: "server_error", code: "gateway_misconfigured", details: "tokengate_processing_mode",
	}
}

// upgradeNotAllowed refuses a WebSocket or CONNECT request.
func upgradeNotAllowed(method, rawPath []byte) callerError {
	e := endpointNotAllowed(method, rawPath)
	e.message = strings.TrimSuffix(e.message, ".") + ": upgraded connections (WebSocket) cannot be metered."
	return e
}

// tooLarge refuses a request body over the configured limit.
func tooLarge(size, limit int64) callerError {
	return callerError{
		status:  413,
		message: fmt.Sprintf("The request body is %d bytes; this gateway accepts at most %d.", size, limit),
		typ:     "invalid_request_error",
		code:    "request_too_large",
		details: "tokengate_request_too_large",
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
