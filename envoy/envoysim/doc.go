// Package envoysim emulates Envoy's HTTP ext_proc filter as the client of the
// gRPC stream envoy.service.ext_proc.v3.ExternalProcessor/Process, in the
// processing mode tokengate is built for: request headers SEND, request body
// BUFFERED, response headers SEND, response body STREAMED, trailers SKIP.
//
// Envoy cannot run where tokengate's tests run, so this package reproduces
// what Envoy does on that stream, message by message, as described in
// /work/shared/envoy-ext-proc.md (cited as "envoy-ext-proc.md E<n>"): the
// order and shape of ProcessingRequests, pipelined STREAMED chunks matched to
// replies by order, per-direction message timeouts, header-mutation rules,
// immediate responses, local replies, and how and when the stream is closed.
//
// A Filter drives one HTTP exchange per Serve call against an Upstream and a
// Downstream. Tests use ScriptedUpstream (chunk boundaries and arrival chosen
// by the test) and Recorder; end-to-end tests and `tokengate dev` put a Front
// (an http.Handler: listener → ext_proc → upstream) before a real upstream.
package envoysim
