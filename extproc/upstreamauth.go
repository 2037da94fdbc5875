package extproc

import (
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// callerKeyHeaders are the headers besides Authorization in which LiteLLM
// takes a caller's key: Azure's api-key, Anthropic's x-api-key, Google's
// x-goog-api-key, Azure API Management's subscription key and LiteLLM's own.
// With an upstream key configured none of them may reach the upstream, or a
// caller could spend on a key of its own choosing behind tokengate's back.
var callerKeyHeaders = []string{"x-api-key", "api-key", "x-goog-api-key", "ocp-apim-subscription-key", "x-litellm-api-key"}

// upstreamAuth is the header edit every request that reaches the upstream
// through tokengate gets, built once: the slices are shared by every
// exchange and never modified.
type upstreamAuth struct {
	// set replaces Authorization with the upstream's key; nil when no key is
	// configured and the caller's headers go through untouched.
	set []*corev3.HeaderValueOption
	// removeMetered is what an admitted model call loses: accept-encoding,
	// because tokengate reads usage from the response body and a coded one
	// costs a decompression (a compressor after ext_proc can still compress
	// for the client), and the caller's key headers when the upstream's key
	// replaces them.
	removeMetered []string
	// passthrough answers the request headers of a passthrough route.
	passthrough *extprocv3.ProcessingResponse
}

func newUpstreamAuth(authorization string) upstreamAuth {
	a := upstreamAuth{removeMetered: []string{"accept-encoding"}, passthrough: continueRequestHeaders}
	if authorization == "" {
		return a
	}
	a.set = []*corev3.HeaderValueOption{setHeader("authorization", authorization)}
	a.removeMetered = append(a.removeMetered, callerKeyHeaders...)
	a.passthrough = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{
			HeaderMutation: &extprocv3.HeaderMutation{SetHeaders: a.set, RemoveHeaders: callerKeyHeaders},
		}}}}
	return a
}
