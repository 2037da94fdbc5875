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
// Downstream. Tests choose chunk boundaries and their timing against the
// processor's replies with ScriptedUpstream, and read what the client got
// from a Recorder:
//
//	f := envoysim.New(extprocv3.NewExternalProcessorClient(conn), envoysim.Options{})
//	up := &envoysim.ScriptedUpstream{
//		Header:                  http.Header{"Content-Type": {"text/event-stream"}},
//		Chunks:                  [][]byte{[]byte("data: {...}\n\n"), []byte("data: [DONE]\n\n"), {}},
//		ArriveBeforeHeaderReply: 1, // the first event lands during the header round trip (E30)
//	}
//	rec := &envoysim.Recorder{}
//	res := f.Serve(ctx, req, up, rec) // res says what Envoy did; rec what the client saw
//
// End-to-end tests and `tokengate dev` put a Front (an http.Handler:
// listener → ext_proc → upstream) before a real upstream:
//
//	http.ListenAndServe(":10000", envoysim.NewFront(f, litellmURL, envoysim.FrontOptions{}))
package envoysim
