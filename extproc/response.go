package extproc

import (
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/extproc/openai"
)

func (ex *exchange) responseHeaders(m *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	if !ex.admitted {
		return continueResponseHeaders
	}
	h := Headers{m.GetHeaders()}
	// Only a 2xx carries a completion; a redirect or an error is released
	// unpaid (status >= 400 in the design, and 3xx answers no model call).
	if st := h.status(); st < 200 || st >= 300 {
		ex.upstreamFailed = true
	}
	ex.eventStream = h.isEventStream()
	if enc, ok := h.Get("content-encoding"); ok && enc != "" && enc != "identity" {
		// tokengate removed accept-encoding, yet the upstream compressed:
		// the body cannot be read, so usage will be tokengate's estimate.
		ex.compressed = true
		ex.logger().Warn("upstream compressed a metered response; charging the estimate", "content_encoding", enc)
	}
	if m.GetEndOfStream() {
		// A headers-only response: no body message follows (envoy-ext-proc.md
		// E16, E65), so this reply is the last.
		ex.ended = true
	}
	if !ex.held {
		return continueResponseHeaders
	}
	// The balance as of admission: the reply to headers cannot wait for the
	// body's usage, and a client that wants the settled figure asks the
	// admin API.
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{
		ResponseHeaders: &extprocv3.HeadersResponse{Response: &extprocv3.CommonResponse{
			HeaderMutation: mutation(setHeader("x-tokengate-remaining-tokens", itoa(int64(ex.res.Balance.Remaining)))),
		}}}}
}

func (ex *exchange) responseBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if !ex.admitted {
		return continueResponseBody
	}
	chunk, last := b.GetBody(), b.GetEndOfStream()
	if last {
		ex.ended = true
	}
	switch {
	case ex.upstreamFailed, ex.compressed:
		return continueResponseBody
	case !ex.eventStream:
		ex.collectJSON(chunk, last)
		return continueResponseBody
	case !ex.stripUsage:
		ex.readEvents(chunk, last)
		return continueResponseBody
	}
	out, changed := ex.rewrite(chunk, last)
	if !changed {
		return continueResponseBody
	}
	return ex.replaceChunk(out)
}

// collectJSON keeps a non-streamed body, whose usage object may sit anywhere
// in it, and reads the usage once the body is complete. Every byte is also
// counted as it passes: a body too large to keep, or cut short by a client
// that left, is then charged for the text that went by (an overestimate by
// the JSON framing, which errs on the platform's side) instead of nothing.
func (ex *exchange) collectJSON(chunk []byte, last bool) {
	ex.completion.Add(chunk)
	if !ex.jsonTooBig {
		if len(ex.jsonBody)+len(chunk) > ex.s.opts.MaxJSONResponse {
			ex.jsonTooBig, ex.jsonBody = true, nil
		} else {
			ex.jsonBody = append(ex.jsonBody, chunk...)
		}
	}
	if !last || ex.jsonTooBig {
		return
	}
	if u, ok, err := openai.ParseUsage(ex.jsonBody); err == nil && ok {
		ex.takeUsage(u)
	}
	ex.jsonBody = nil
}

// takeUsage accepts a reported usage unless it reports nothing at all: a
// provider that names its fields differently, or an all-zero placeholder,
// must not settle a request at zero.
func (ex *exchange) takeUsage(u openai.Usage) {
	if u.Prompt > 0 || u.Completion > 0 {
		ex.usage, ex.haveUsage = u, true
	}
}

// readEvents reads usage and completion text from a stream that goes to the
// client unchanged.
func (ex *exchange) readEvents(chunk []byte, last bool) {
	ex.dec.Feed(chunk)
	for {
		ev, ok := ex.dec.Next()
		if !ok {
			break
		}
		ex.event(ev.Data)
	}
	if last {
		if ev, ok := ex.dec.Close(); ok {
			ex.event(ev.Data)
		}
	}
}

// eventAction is what becomes of one event in a rewritten stream.
type eventAction int

const (
	keepEvent  eventAction = iota
	stripUsage             // remove the usage member, keep the rest
	dropEvent              // remove the whole event
)

// event accounts for one chat.completion.chunk and says what the client
// should see of it if tokengate is removing the usage it asked for.
func (ex *exchange) event(data []byte) eventAction {
	if openai.IsDone(data) {
		return keepEvent
	}
	// The deltas are fed as one continuing text, as the model generated it:
	// a word streamed in pieces is one word, not one per piece.
	c, err := openai.ScanChunkInto(data, &ex.completion)
	if err != nil {
		// Not a chunk tokengate understands (an error event, a provider's
		// extension): the client gets it as sent, and accounting goes on.
		return keepEvent
	}
	ex.deltas += int64(c.Deltas)
	if c.HasUsage {
		if u, ok, err := openai.ParseUsage(data); err == nil && ok {
			ex.takeUsage(u)
		}
		// OpenAI sends usage in a chunk of its own with "choices":[];
		// LiteLLM's carries an empty delta; some providers put it in the
		// last content or finish chunk, which must reach the client without it.
		if c.NoChoices || (c.Deltas == 0 && !c.Finished) {
			return dropEvent
		}
		return stripUsage
	}
	if c.NullUsage {
		return stripUsage
	}
	return keepEvent
}

// replaceChunk answers a streamed chunk with new bytes in its place
// (envoy-ext-proc.md E28, E29: each reply applies to its own chunk; an empty
// replacement drops the chunk and, on the last one, the stream still ends).
// The reply is reused across chunks because grpc-go marshals it before Send
// returns and tokengate installs no stats handler that keeps messages.
func (ex *exchange) replaceChunk(out []byte) *extprocv3.ProcessingResponse {
	if ex.bodyMutation == nil {
		ex.bodyMutationBytes = &extprocv3.BodyMutation_Body{}
		ex.bodyMutation = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
			ResponseBody: &extprocv3.BodyResponse{Response: &extprocv3.CommonResponse{
				BodyMutation: &extprocv3.BodyMutation{Mutation: ex.bodyMutationBytes},
			}}}}
	}
	ex.bodyMutationBytes.Body = out
	return ex.bodyMutation
}
