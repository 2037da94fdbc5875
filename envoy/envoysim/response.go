package envoysim

import (
	"context"
	"net/http"
	"strconv"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// startResponse is encodeHeaders (envoy-ext-proc.md E69, E70): the processor
// sees the upstream's headers plus x-envoy-upstream-service-time (E63) and
// the original content-length (E51); the client will not see content-length
// in STREAMED mode (E53).
func (x *exchange) startResponse() {
	resp := x.resp
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	x.respHeaders = responseHeaderMap(status, resp.Header)
	if !x.localResp && !x.o.SuppressEnvoyHeaders {
		x.respHeaders.add("x-envoy-upstream-service-time", strconv.FormatInt(x.o.Now().Sub(x.upStart).Milliseconds(), 10))
	}
	// E65: HEAD, 204 and 304 responses, and bodiless ones, end with the headers.
	x.enc.noBody = resp.Body == nil || x.req.Method == http.MethodHead ||
		status == http.StatusNoContent || status == http.StatusNotModified
	x.body = resp.Body
	if x.enc.noBody {
		x.stopRoute()
	} else {
		x.startBodyReader()
	}
	if x.mode.respHeaders && x.openStream() {
		x.enc.start(headersCallback, x.o.MessageTimeout)
		x.send(KindResponseHeaders, &x.enc, &extprocv3.ProcessingRequest{
			Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
				Headers:     x.respHeaders.proto(),
				EndOfStream: x.enc.noBody,
			}},
		})
	}
	if x.ended {
		return
	}
	if !x.complete && x.removeResponseContentLength() {
		x.respHeaders.remove("content-length") // E51: after the message was built
	}
	if x.mode.encodeNoExternalProcess() {
		x.closeStream(CloseLastReply, true) // E6d
	}
	if x.enc.state == headersCallback {
		x.syncEarlyChunks()
		return
	}
	x.continueResponse()
}

// startBodyReader reads the upstream body on its own goroutine, one
// NextChunk per data callback; it blocks while the exchange is not reading,
// which is how a watermark pauses the upstream (E32).
func (x *exchange) startBodyReader() {
	x.arrival, _ = x.body.(ArrivalScript)
	chunks := make(chan chunk)
	x.chunks = chunks
	x.reading = true
	x.bg.Add(1)
	go func(ctx context.Context, body ChunkReader) {
		defer x.bg.Done()
		for {
			data, err := body.NextChunk(ctx)
			select {
			case chunks <- chunk{data, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}(x.upCtx, x.body)
}

// syncEarlyChunks takes the chunks an ArrivalScript says arrived before the
// header reply is handled, so coalescing (E30) does not depend on scheduling.
func (x *exchange) syncEarlyChunks() {
	if x.arrival == nil {
		return
	}
	want := x.arrival.EarlyChunks()
	for !x.ended && x.reading && x.chunksSeen < want {
		select {
		case <-x.ctx.Done():
			x.downstreamGone()
		case c := <-x.chunks:
			x.onChunk(c)
		}
	}
}

// notifyArrival lets an ArrivalScript deliver its later chunks.
func (x *exchange) notifyArrival() {
	if x.arrival != nil && !x.notified {
		x.notified = true
		x.arrival.HeaderReplyHandled()
	}
}

// onChunk is one upstream read reaching the filter as a data callback.
func (x *exchange) onChunk(c chunk) {
	if c.err != nil && !isEOF(c.err) {
		// The upstream reset after its headers: the router resets the client.
		x.log.Debug("envoysim: upstream body failed", "err", c.err)
		x.reset("upstream_reset_after_response_started")
		return
	}
	x.chunksSeen++
	eos := c.err != nil
	if eos {
		x.reading = false
		x.stopRoute() // E59: the route timeout spans until the response is complete
	}
	x.deliver(c.data, eos)
}

// deliver is encodeData, the filter's data callback (E18–E21, E28, E30, E37).
func (x *exchange) deliver(data []byte, eos bool) {
	switch {
	case x.enc.bodyReplaced:
		// E37: later data is discarded; the stream still ends with it.
		if eos {
			x.respDone = true
		}
	case x.complete:
		x.passThrough(data, eos) // E7, E8: unprocessed
	case x.enc.state == headersCallback:
		// E18/E19/E30: held until the header reply.
		x.hold(data, eos)
		if x.mode.respBody == extprocfilterv3.ProcessingMode_BUFFERED {
			x.checkBufferedSize()
		} else if len(x.held) > x.o.BufferLimit {
			x.raiseWatermark()
		}
	case x.mode.respBody == extprocfilterv3.ProcessingMode_STREAMED:
		x.sendChunk(data, eos)
	case x.mode.respBody == extprocfilterv3.ProcessingMode_BUFFERED:
		x.hold(data, eos)
		if !x.checkBufferedSize() && eos && x.openStream() {
			x.sendBufferedBody() // E19: one message when the body is complete
		}
	default:
		x.passThrough(data, eos)
	}
}

// raiseWatermark pauses reading the upstream (E32).
func (x *exchange) raiseWatermark() {
	if !x.watermark {
		x.watermark = true
		x.res.Watermarks++
	}
}

func (x *exchange) hold(data []byte, eos bool) {
	x.held = append(x.held, data...)
	x.heldData = true
	x.heldEOS = x.heldEOS || eos
}

// passThrough forwards data unprocessed, behind the headers.
func (x *exchange) passThrough(data []byte, eos bool) {
	if !x.headersSent {
		x.hold(data, eos)
		return
	}
	if len(data) > 0 && !x.writeBody(data) {
		return
	}
	if eos {
		x.respDone = true
	}
}

// checkBufferedSize is E20 for a buffered response: over the limit it is a
// 500 while the headers are held, a reset after. It reports an overflow.
func (x *exchange) checkBufferedSize() bool {
	if len(x.held) <= x.o.BufferLimit {
		return false
	}
	if x.headersSent {
		x.reset("response_payload_too_large")
	} else {
		x.localReply(http.StatusInternalServerError, []byte("Internal Server Error"), nil, "response_payload_too_large")
	}
	return true
}

// sendChunk is STREAMED mode (E28): the chunk is queued and sent at once,
// without waiting for replies to earlier chunks; a queue over the buffer
// limit pauses reading (E32).
func (x *exchange) sendChunk(data []byte, eos bool) {
	x.queue = append(x.queue, queuedChunk{data: data, eos: eos})
	x.queued += len(data)
	x.enc.start(streamedBodyCallback, x.o.MessageTimeout)
	x.send(KindResponseBody, &x.enc, &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: data, EndOfStream: eos}},
	})
	if x.queued > x.o.BufferLimit {
		x.raiseWatermark()
	}
}

// sendBufferedBody sends everything held as one message with end_of_stream
// (E19, E30's whole-body case); the headers stay held until its reply.
func (x *exchange) sendBufferedBody() {
	x.enc.start(bufferedBodyCallback, x.o.MessageTimeout)
	x.send(KindResponseBody, &x.enc, &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: &extprocv3.HttpBody{Body: x.held, EndOfStream: true}},
	})
}

// onResponseHeadersReply is handleHeadersResponse on the encoding side (E36,
// E37, E30, E31).
func (x *exchange) onResponseHeadersReply(hr *extprocv3.HeadersResponse) error {
	if x.enc.state != headersCallback {
		return errSpurious
	}
	cr := hr.GetResponse()
	if err := x.mutate(&x.respHeaders, cr, x.removeResponseContentLength()); err != nil {
		return err
	}
	x.enc.finish(idle)
	x.watermark = false
	if cr.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		if bm := cr.GetBodyMutation(); bm != nil {
			x.respHeaders.remove("content-length")
			x.enc.bodyReplaced = true
			x.held = applyBodyMutation(bm, x.held)
		}
		x.mode.respBody = extprocfilterv3.ProcessingMode_NONE
		x.mode.respTrailers = false
		x.continueResponse()
		return nil
	}
	switch {
	case x.enc.noBody || x.mode.respBody == extprocfilterv3.ProcessingMode_NONE:
	case x.heldEOS && x.heldData:
		// E30: the whole body came during the round trip: one message,
		// handled like BUFFERED, headers still held.
		x.sendBufferedBody()
		return nil
	case x.mode.respBody == extprocfilterv3.ProcessingMode_BUFFERED:
		x.notifyArrival()
		return nil // E19: keep holding until the body is complete
	case x.mode.respBody == extprocfilterv3.ProcessingMode_STREAMED:
		if len(x.held) > 0 {
			data := x.held
			x.held, x.heldData = nil, false
			x.sendChunk(data, false) // E30: what came so far, coalesced
		}
	}
	x.continueResponse() // E31: headers go out before any body reply
	return nil
}

// onResponseBodyReply handles a reply to the oldest queued STREAMED chunk
// (E28, E29) or to the one buffered body message (E38).
func (x *exchange) onResponseBodyReply(br *extprocv3.BodyResponse) error {
	cr := br.GetResponse()
	switch x.enc.state {
	case streamedBodyCallback:
		if cr.GetBodyMutation().GetStreamedResponse() != nil {
			return &spuriousError{"spurious message: streamed_response is received while body_mode_ is not FULL_DUPLEX_STREAMED"}
		}
		c := x.queue[0]
		x.queue = x.queue[1:]
		x.queued -= len(c.data)
		out := c.data
		if bm := cr.GetBodyMutation(); bm != nil {
			out = applyBodyMutation(bm, out)
		}
		// header_mutation is ignored: the headers are gone (E29).
		if x.queued < x.o.BufferLimit/2 {
			x.watermark = false
		}
		if len(x.queue) == 0 {
			x.enc.finish(idle)
		} else {
			x.enc.finish(streamedBodyCallback)
		}
		if len(out) > 0 && !x.writeBody(out) {
			return nil
		}
		if c.eos {
			x.respDone = true
		}
		return nil
	case bufferedBodyCallback:
		if !x.headersSent {
			if err := x.mutate(&x.respHeaders, cr, x.removeResponseContentLength()); err != nil {
				return err
			}
		}
		if bm := cr.GetBodyMutation(); bm != nil {
			if !x.headersSent {
				if err := validateContentLength(x.respHeaders, bm); err != nil {
					return err
				}
			}
			x.held = applyBodyMutation(bm, x.held)
		}
		x.enc.finish(idle)
		x.continueResponse()
		return nil
	}
	return errSpurious
}

// continueResponse is continueIfNecessary: held headers and data go
// downstream.
func (x *exchange) continueResponse() {
	if x.ended {
		return
	}
	if !x.headersSent {
		x.writeHeaders(x.respHeaders.status(x.resp.Status), x.respHeaders)
		x.notifyArrival()
	}
	if len(x.held) > 0 {
		data := x.held
		x.held = nil
		if !x.writeBody(data) {
			return
		}
	}
	x.heldData = false
	if x.heldEOS || x.enc.noBody {
		x.respDone = true
	}
}
