package envoysim

import (
	"strings"
	"unicode"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// spuriousError marks a reply that matches nothing outstanding (E40); its
// text becomes the local reply's details.
type spuriousError struct{ msg string }

// Error returns Envoy's text for the failure, which becomes the details.
func (e *spuriousError) Error() string { return e.msg }

var errSpurious = &spuriousError{"spurious message"}

// onMessage is Filter::onReceiveMessage: one processor message, handled
// against what the filter waits for (envoy-ext-proc.md E35).
func (x *exchange) onMessage(m *extprocv3.ProcessingResponse) {
	if x.complete {
		x.late.Add(1) // E7
		return
	}
	if d := m.GetOverrideMessageTimeout(); d != nil {
		x.onOverrideTimeout(d) // E11: every other field is ignored
		return
	}
	x.overrideMode(m)

	var kind MessageKind
	var err error
	last := false
	switch r := m.GetResponse().(type) {
	case *extprocv3.ProcessingResponse_RequestHeaders:
		kind = KindRequestHeaders
		x.receiveMetadata(m)
		err = x.onRequestHeadersReply(r.RequestHeaders)
	case *extprocv3.ProcessingResponse_RequestBody:
		kind = KindRequestBody
		x.receiveMetadata(m)
		err = x.onRequestBodyReply(r.RequestBody)
	case *extprocv3.ProcessingResponse_ResponseHeaders:
		kind = KindResponseHeaders
		x.receiveMetadata(m)
		err = x.onResponseHeadersReply(r.ResponseHeaders)
	case *extprocv3.ProcessingResponse_ResponseBody:
		kind = KindResponseBody
		last = x.mode.respBody == extprocfilterv3.ProcessingMode_STREAMED && len(x.queue) > 0 && x.queue[0].eos
		x.receiveMetadata(m)
		err = x.onResponseBodyReply(r.ResponseBody)
	case *extprocv3.ProcessingResponse_RequestTrailers:
		kind = KindRequestTrailers
		err = errSpurious // E24: trailers are never sent in this mode
	case *extprocv3.ProcessingResponse_ResponseTrailers:
		kind = KindResponseTrailers
		err = errSpurious
	case *extprocv3.ProcessingResponse_ImmediateResponse:
		kind = KindImmediateResponse
		if x.o.DisableImmediateResponse {
			err = &spuriousError{"unhandled immediate response due to config disabled it"}
			break
		}
		x.receiveMetadata(m)
		x.res.Received[kind]++
		x.res.ImmediateResponse = true
		x.finishCalls()
		x.closeStream(CloseImmediateResponse, true) // E6a: before the local reply
		ir := r.ImmediateResponse
		x.immediateReply(int(ir.GetStatus().GetCode()), ir.GetBody(), ir.GetHeaders(), ir.GetDetails())
		return
	default:
		// No response set, or a FULL_DUPLEX-only streamed_immediate_response.
		err = &spuriousError{"unhandled message"}
	}

	if sp, ok := err.(*spuriousError); ok {
		x.res.Spurious++
		x.log.Debug("envoysim: spurious reply", "kind", string(kind), "err", sp.msg)
		if x.o.FailureModeAllow {
			x.res.FailedOpen++
			x.closeStream(CloseError, false)
			x.abandon()
		} else {
			x.errorReply(sp) // E40: fail closed since 1.35
		}
		return
	}
	if kind != "" {
		x.res.Received[kind]++
	}
	if err != nil {
		x.errorReply(err) // E48: even with failure_mode_allow
		return
	}
	x.closeIfLastReply(kind, last)
}

// errorReply is handleErrorResponse: close the stream and answer with
// status_on_error, the error text as details.
func (x *exchange) errorReply(err error) {
	x.finishCalls()
	x.closeStream(CloseError, false)
	x.immediateReply(x.o.StatusOnError, nil, nil, err.Error())
}

// closeIfLastReply is closeGrpcStreamIfLastRespReceived (E6c, guard
// ext_proc_stream_close_optimization, default on since 1.37): after the reply
// to the last message either direction will send, close at once. BUFFERED
// body replies never count as last.
func (x *exchange) closeIfLastReply(kind MessageKind, lastChunk bool) {
	if x.stream == nil || x.closed {
		return
	}
	none := extprocfilterv3.ProcessingMode_NONE
	last := false
	switch kind {
	case KindRequestHeaders:
		last = (x.dec.noBody || (x.mode.reqBody == none && !x.mode.reqTrailers)) && x.mode.encodeNoExternalProcess()
	case KindResponseHeaders:
		last = x.enc.noBody || (x.mode.respBody == none && !x.mode.respTrailers)
	case KindResponseBody:
		last = lastChunk
	}
	if last {
		x.closeStream(CloseLastReply, true)
	}
}

// overrideMode is E45: honoured only with Options.AllowModeOverride while a
// headers reply is awaited; the new mode is the filter's mode with header and
// trailer modes replaced where the override says so and both body modes taken
// from the override. Modes envoysim does not emulate leave the mode unchanged.
func (x *exchange) overrideMode(m *extprocv3.ProcessingResponse) {
	o := m.GetModeOverride()
	if o == nil {
		return
	}
	if !x.o.AllowModeOverride || (x.dec.state != headersCallback && x.enc.state != headersCallback) {
		x.res.ModeOverridesIgnored++
		return
	}
	next := tokengateMode
	setHeader := func(dst *bool, v extprocfilterv3.ProcessingMode_HeaderSendMode) {
		if v != extprocfilterv3.ProcessingMode_DEFAULT {
			*dst = v == extprocfilterv3.ProcessingMode_SEND
		}
	}
	setHeader(&next.reqHeaders, o.GetRequestHeaderMode())
	setHeader(&next.respHeaders, o.GetResponseHeaderMode())
	setHeader(&next.reqTrailers, o.GetRequestTrailerMode())
	setHeader(&next.respTrailers, o.GetResponseTrailerMode())
	next.reqBody = o.GetRequestBodyMode()
	next.respBody = o.GetResponseBodyMode()
	if next.reqTrailers || next.respTrailers || !emulatedBodyMode(next.reqBody) || !emulatedBodyMode(next.respBody) {
		x.log.Warn("envoysim: mode_override asks for a mode envoysim does not emulate", "mode", next.proto().String())
		x.res.ModeOverridesIgnored++
		return
	}
	x.mode = next
	x.res.ModeOverrides++
}

func emulatedBodyMode(b extprocfilterv3.ProcessingMode_BodySendMode) bool {
	switch b {
	case extprocfilterv3.ProcessingMode_NONE, extprocfilterv3.ProcessingMode_BUFFERED, extprocfilterv3.ProcessingMode_STREAMED:
		return true
	}
	return false
}

// mutationPolicy is the policy for a reply's header mutation.
func (x *exchange) mutationPolicy(cr *extprocv3.CommonResponse, removeContentLength bool) mutationPolicy {
	return mutationPolicy{
		rules:               x.o.MutationRules,
		replacing:           cr.GetStatus() == extprocv3.CommonResponse_CONTINUE_AND_REPLACE,
		removeContentLength: removeContentLength,
		maxCount:            x.o.MaxHeadersCount,
		maxBytes:            x.o.MaxHeadersKB * 1024,
	}
}

// mutate applies a reply's header mutation to h, counting rejections.
func (x *exchange) mutate(h *headerMap, cr *extprocv3.CommonResponse, removeContentLength bool) error {
	hm := cr.GetHeaderMutation()
	if hm == nil {
		return nil
	}
	rejected, err := applyHeaderMutation(h, hm, x.mutationPolicy(cr, removeContentLength))
	x.res.RejectedMutations += rejected
	return err
}

// replaceSpaces is StringUtil::replaceAllEmptySpace, applied to details.
func replaceSpaces(s string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && unicode.IsSpace(r) {
			return '_'
		}
		return r
	}, s)
}
