package envoysim

import (
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
)

// callbackState is what a direction waits for, as ProcessorState::CallbackState.
type callbackState int

const (
	idle callbackState = iota
	headersCallback
	bufferedBodyCallback
	streamedBodyCallback
)

// direction is the per-direction state of envoy-ext-proc.md E60: decoding
// (request) and encoding (response) each have their own wait and timer.
type direction struct {
	state        callbackState
	timer        *time.Timer
	armed        bool
	overridden   bool // an override_message_timeout was taken in this state (E11)
	attrsSent    bool // attributes go on the first message only (E25)
	noBody       bool // the headers message carried end_of_stream (E16)
	bodyReplaced bool // CONTINUE_AND_REPLACE replaced the body (E37)
}

// start is onStartProcessorCall: a message needing a reply went out, so the
// timer is (re)armed (E10).
func (d *direction) start(state callbackState, timeout time.Duration) {
	d.state = state
	if d.timer == nil {
		d.timer = time.NewTimer(timeout)
	} else {
		d.timer.Reset(timeout)
	}
	d.armed = true
	d.overridden = false
}

// finish is onFinishProcessorCall: a reply was handled, so the timer is
// disarmed even if other STREAMED chunks are still unanswered; the next send
// re-arms it (E10).
func (d *direction) finish(next callbackState) {
	d.stop()
	d.state = next
	d.overridden = false
}

func (d *direction) stop() {
	if d.timer != nil {
		d.timer.Stop()
	}
	d.armed = false
}

// restart is restartMessageTimer: only a running timer, and only once per
// processing state (E11).
func (d *direction) restart(timeout time.Duration) bool {
	if !d.armed || d.overridden {
		return false
	}
	d.timer.Reset(timeout)
	d.overridden = true
	return true
}

// expired is the timer's channel while armed; nil otherwise, so that select
// ignores it. Timers since Go 1.23 deliver no stale ticks after Stop/Reset.
func (d *direction) expired() <-chan time.Time {
	if !d.armed {
		return nil
	}
	return d.timer.C
}

// mode is the effective processing mode (E14): headers are sent unless SKIP,
// trailers only if SEND.
type mode struct {
	reqHeaders, respHeaders   bool
	reqTrailers, respTrailers bool
	reqBody, respBody         extprocfilterv3.ProcessingMode_BodySendMode
}

// tokengateMode is the filter-level processing_mode envoysim emulates.
var tokengateMode = mode{
	reqHeaders:  true,
	respHeaders: true,
	reqBody:     extprocfilterv3.ProcessingMode_BUFFERED,
	respBody:    extprocfilterv3.ProcessingMode_STREAMED,
}

// proto renders the mode as the ProcessingMode a processor would name.
func (m mode) proto() *extprocfilterv3.ProcessingMode {
	send := func(b bool) extprocfilterv3.ProcessingMode_HeaderSendMode {
		if b {
			return extprocfilterv3.ProcessingMode_SEND
		}
		return extprocfilterv3.ProcessingMode_SKIP
	}
	return &extprocfilterv3.ProcessingMode{
		RequestHeaderMode:   send(m.reqHeaders),
		ResponseHeaderMode:  send(m.respHeaders),
		RequestBodyMode:     m.reqBody,
		ResponseBodyMode:    m.respBody,
		RequestTrailerMode:  send(m.reqTrailers),
		ResponseTrailerMode: send(m.respTrailers),
	}
}

// encodeNoExternalProcess is EncodingProcessorState::noExternalProcess: the
// response path would send nothing (E6c, E6d).
func (m mode) encodeNoExternalProcess() bool {
	return !m.respHeaders && m.respBody == extprocfilterv3.ProcessingMode_NONE && !m.respTrailers
}

// removesContentLength is shouldRemoveContentLength (E51): STREAMED,
// BUFFERED_PARTIAL, FULL_DUPLEX_STREAMED, or BUFFERED with headers SKIP.
func removesContentLength(body extprocfilterv3.ProcessingMode_BodySendMode, sendHeaders bool) bool {
	switch body {
	case extprocfilterv3.ProcessingMode_STREAMED, extprocfilterv3.ProcessingMode_BUFFERED_PARTIAL,
		extprocfilterv3.ProcessingMode_FULL_DUPLEX_STREAMED:
		return true
	case extprocfilterv3.ProcessingMode_BUFFERED:
		return !sendHeaders
	}
	return false
}

func (x *exchange) removeRequestContentLength() bool {
	return !x.o.AllowContentLengthHeader && removesContentLength(x.mode.reqBody, x.mode.reqHeaders)
}

func (x *exchange) removeResponseContentLength() bool {
	return !x.o.AllowContentLengthHeader && removesContentLength(x.mode.respBody, x.mode.respHeaders)
}
