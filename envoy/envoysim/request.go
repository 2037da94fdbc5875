package envoysim

import (
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// startRequest is decodeHeaders plus the arrival of the request body
// (envoy-ext-proc.md E68): request_headers goes out, end_of_stream=true when
// there is no body (E15, E16), and the body is buffered meanwhile (E19).
func (x *exchange) startRequest() {
	x.reqHeaders = requestHeaderMap(x.req)
	x.reqBody = append([]byte(nil), x.req.Body...)
	x.dec.noBody = len(x.req.Body) == 0 && len(x.req.Trailers) == 0
	if x.mode.reqHeaders && x.openStream() {
		x.dec.start(headersCallback, x.o.MessageTimeout)
		x.send(KindRequestHeaders, &x.dec, &extprocv3.ProcessingRequest{
			Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
				Headers:     x.reqHeaders.proto(),
				EndOfStream: x.dec.noBody,
			}},
		})
	}
	if x.ended {
		return
	}
	if !x.complete && x.removeRequestContentLength() {
		x.reqHeaders.remove("content-length") // E51, after the message was built
	}
	// E20: in BUFFERED mode the body is buffered by the filter manager even
	// while the header reply is pending, and overflowing it is a 413.
	if !x.dec.noBody && !x.complete && x.mode.reqBody == extprocfilterv3.ProcessingMode_BUFFERED &&
		len(x.reqBody) > x.o.BufferLimit {
		x.localReply(413, []byte("Payload Too Large"), nil, "request_payload_too_large")
	}
}

// onRequestHeadersReply is handleHeadersResponse on the decoding side (E36,
// E37, E19).
func (x *exchange) onRequestHeadersReply(hr *extprocv3.HeadersResponse) error {
	if x.dec.state != headersCallback {
		return errSpurious
	}
	cr := hr.GetResponse()
	if err := x.mutate(&x.reqHeaders, cr, x.removeRequestContentLength()); err != nil {
		return err
	}
	x.clearRouteCache(cr)
	x.dec.finish(idle)
	if cr.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE {
		// E37: the body is replaced (or created), nothing more is sent for
		// this direction, and a replaced body loses its content-length.
		if bm := cr.GetBodyMutation(); bm != nil {
			x.reqHeaders.remove("content-length")
			x.dec.bodyReplaced = true
			x.reqBody = applyBodyMutation(bm, x.reqBody)
		}
		x.mode.reqBody = extprocfilterv3.ProcessingMode_NONE
		x.mode.reqTrailers = false
		return nil
	}
	if x.dec.noBody || x.mode.reqBody == extprocfilterv3.ProcessingMode_NONE {
		return nil // E16, E18: headers (and any body) continue
	}
	// E19: the whole body is already here (Request.Body), so it goes out
	// right after the header reply; the headers stay held until its reply.
	// STREAMED behaves the same with a complete body (E30).
	x.dec.start(bufferedBodyCallback, x.o.MessageTimeout)
	x.send(KindRequestBody, &x.dec, &extprocv3.ProcessingRequest{
		Request: &extprocv3.ProcessingRequest_RequestBody{RequestBody: &extprocv3.HttpBody{
			Body:        x.reqBody,
			EndOfStream: len(x.req.Trailers) == 0,
		}},
	})
	return nil
}

// onRequestBodyReply is handleBufferedBodyCallback (E38): header mutation on
// the still-held headers, then the content-length check (E52), then the body
// mutation.
func (x *exchange) onRequestBodyReply(br *extprocv3.BodyResponse) error {
	if x.dec.state != bufferedBodyCallback {
		return errSpurious
	}
	cr := br.GetResponse()
	if err := x.mutate(&x.reqHeaders, cr, x.removeRequestContentLength()); err != nil {
		return err
	}
	if bm := cr.GetBodyMutation(); bm != nil {
		if err := validateContentLength(x.reqHeaders, bm); err != nil {
			return err
		}
		x.reqBody = applyBodyMutation(bm, x.reqBody)
	}
	x.dec.finish(idle)
	x.clearRouteCache(cr)
	return nil
}

// clearRouteCache is E44 with route_cache_action DEFAULT: honoured only
// together with a header mutation. envoysim has one route, so it only counts.
func (x *exchange) clearRouteCache(cr *extprocv3.CommonResponse) {
	if cr.GetClearRouteCache() && cr.GetHeaderMutation() != nil {
		x.res.RouteCacheClears++
	}
}

// upstreamRequest is what the router forwards after the last request-side
// reply (E61).
func (x *exchange) upstreamRequest() *UpstreamRequest {
	method, _ := x.reqHeaders.get(":method")
	path, _ := x.reqHeaders.get(":path")
	authority, _ := x.reqHeaders.get(":authority")
	r := &UpstreamRequest{
		Method:    method,
		Path:      path,
		Authority: authority,
		Header:    x.reqHeaders.httpHeader(),
		Body:      x.reqBody,
	}
	if len(x.req.Trailers) > 0 {
		r.Trailers = x.req.Trailers.Clone() // E24: SKIP passes them through
	}
	return r
}
