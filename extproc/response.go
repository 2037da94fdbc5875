package extproc

import (
	"errors"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/extproc/contentcoding"
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
	if !ex.upstreamFailed {
		ex.readCoding(h)
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
	case ex.upstreamFailed, ex.unreadable:
		return continueResponseBody
	case ex.codings != nil:
		// A coded body is never changed: tokengate does not code it again,
		// so a usage chunk it asked for stays in the client's stream.
		ex.readCoded(chunk, last)
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

// readCoding notes the response's content coding. tokengate removed
// accept-encoding, yet an upstream may compress anyway (a proxy or CDN that
// ignores the request's headers, a cached answer); such a body is read
// decoded while the client gets it as sent. A coding tokengate cannot undo
// makes the response unreadable from the start.
func (ex *exchange) readCoding(h Headers) {
	v, ok := contentEncoding(h)
	if !ok {
		return // the common case: no header, nothing allocated
	}
	codings, err := contentcoding.Parse(v)
	if err != nil {
		ex.unreadable = true
		ex.logger().Warn("upstream used a content coding tokengate cannot read; charging the hold", "err", err)
		return
	}
	ex.codings = codings // nil for identity: read as plain
}

// contentEncoding joins the values of every content-encoding line, since
// several lines are one list (RFC 9110 §5.3).
func contentEncoding(h Headers) (string, bool) {
	if h.count("content-encoding") < 2 {
		return h.Get("content-encoding")
	}
	var v []byte
	for _, hv := range h.m.GetHeaders() {
		if hv.GetKey() != "content-encoding" {
			continue
		}
		if len(v) > 0 {
			v = append(v, ',')
		}
		if raw := hv.GetRawValue(); len(raw) > 0 {
			v = append(v, raw...)
		} else {
			v = append(v, hv.GetValue()...)
		}
	}
	return string(v), true
}

// readCoded decodes one chunk of a coded body and reads the decoded bytes
// as it would a plain body's. A body that ends inside its coded stream is
// read like a plain one cut short: what decoded counts. One that cannot be
// decoded at all is given up.
func (ex *exchange) readCoded(chunk []byte, last bool) {
	if ex.body == nil {
		ex.startDecoding(contentcoding.Options{})
	}
	err := ex.body.Feed(chunk, ex.readDecoded)
	if err == nil && last {
		err = ex.body.End(ex.readDecoded)
	}
	if err != nil && !errors.Is(err, contentcoding.ErrTruncated) {
		ex.cannotRead(err)
		return
	}
	if last {
		ex.readPlain(nil, true)
	}
}

// startDecoding makes the body's decoder. Its bound on decoded bytes is
// contentcoding's default unless o says otherwise: far above any real
// completion, and a cost in CPU the exchange can bear.
func (ex *exchange) startDecoding(o contentcoding.Options) {
	ex.body = contentcoding.NewDecoder(ex.codings, o)
}

// readDecoded takes each run of decoded bytes.
func (ex *exchange) readDecoded(p []byte) { ex.readPlain(p, false) }

// readPlain reads usage and completion text from body bytes that go to the
// client unchanged.
func (ex *exchange) readPlain(chunk []byte, last bool) {
	if ex.eventStream {
		ex.readEvents(chunk, last)
	} else {
		ex.collectJSON(chunk, last)
	}
}

// cannotRead gives up on a body that is corrupt or decodes past its bound.
// Usage it may already have shown came from bytes now known to be bad, so
// it is dropped: the response is settled at its hold and recorded as an
// estimate (settledUsage).
func (ex *exchange) cannotRead(err error) {
	ex.unreadable, ex.haveUsage = true, false
	ex.stopReading()
	ex.logger().Warn("upstream's coded body cannot be read; charging the hold",
		"content_encoding", ex.codings, "decoded_bytes", ex.body.Decoded(), "err", err)
}

// stopReading ends the body's decoder, and with it the decoder's
// goroutine. Settlement calls it whatever became of the body (a client
// gone mid-stream never sends the last chunk); only an admitted 2xx
// response ever starts one, and every such exchange is settled.
func (ex *exchange) stopReading() {
	if ex.body != nil {
		ex.body.Close()
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
