package envoysim

import (
	"context"
	"fmt"
	"io"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// openStream opens the gRPC stream right before the first message that needs
// it (envoy-ext-proc.md E2), one per HTTP stream (E1). It reports whether a
// message may be sent; false after processing completed or when the stream
// could not be opened (then E9 or E10 has decided what happens).
func (x *exchange) openStream() bool {
	if x.complete {
		return false
	}
	if x.stream != nil {
		return true
	}
	// The stream outlives a cancelled downstream on purpose: E12 closes it
	// explicitly, END_STREAM then reset, instead of a bare cancel.
	ctx, cancel := context.WithCancel(context.WithoutCancel(x.ctx))
	// Envoy starts the stream asynchronously and buffers the first message
	// under its message timer, so a processor that cannot be reached in time
	// shows as a message timeout (E10), not as a hung request.
	opened := make(chan openResult, 1)
	go func() {
		stream, err := x.f.client.Process(ctx)
		opened <- openResult{stream, err}
	}()
	timer := time.NewTimer(x.o.MessageTimeout)
	defer timer.Stop()
	var r openResult
	select {
	case r = <-opened:
	case <-timer.C:
		cancel()
		<-opened
		x.onMessageTimeout()
		return false
	case <-x.ctx.Done():
		cancel()
		<-opened
		x.downstreamGone()
		return false
	}
	if r.err != nil {
		cancel()
		x.onStreamEnd(r.err)
		return false
	}
	x.stream = r.stream
	x.cancelStream = cancel
	x.res.StreamOpened = true
	x.msgs = make(chan received)
	x.closing = make(chan struct{})
	x.recvDone = make(chan struct{})
	x.bg.Add(1)
	go x.receive()
	return true
}

type openResult struct {
	stream extprocv3.ExternalProcessor_ProcessClient
	err    error
}

// receive hands every processor message to the exchange until the stream
// ends. After the filter closed its side, messages are only counted (E7).
func (x *exchange) receive() {
	defer x.bg.Done()
	defer close(x.recvDone)
	for {
		msg, err := x.stream.Recv()
		select {
		case x.msgs <- received{msg, err}:
		case <-x.closing:
			if err == nil {
				x.late.Add(1)
			} else if x.graceful.Load() && !x.timedOut.Load() {
				x.setServerEnd(err)
			}
		}
		if err != nil {
			return
		}
	}
}

func (x *exchange) setServerEnd(err error) {
	st := status.New(codes.OK, "")
	if err != io.EOF {
		st = status.Convert(err)
	}
	x.endMu.Lock()
	x.serverEnd = st
	x.endMu.Unlock()
}

// send writes one ProcessingRequest. Every message carries metadata_context
// (E26); the first of each direction carries attributes (E25); the first on
// the stream carries protocol_config (E27); none carries END_STREAM (E3). A
// failed Send is not acted on: the receive side reports the stream's status.
func (x *exchange) send(kind MessageKind, d *direction, req *extprocv3.ProcessingRequest) {
	req.MetadataContext = x.metadataContext()
	x.addAttributes(d, req)
	if !x.configSent {
		req.ProtocolConfig = &extprocv3.ProtocolConfiguration{
			RequestBodyMode:  x.mode.reqBody,
			ResponseBodyMode: x.mode.respBody,
		}
		x.configSent = true
	}
	x.res.Sent[kind]++
	if err := x.stream.Send(req); err != nil {
		x.log.Debug("envoysim: send failed", "kind", string(kind), "err", err)
	}
}

// closeStream closes the filter's side: END_STREAM, then a reset (E4), or
// with graceful and Options.GracefulClose a half-close that waits for the
// processor to end the RPC, resetting after RemoteCloseTimeout (E5). Either
// way processing is complete and later messages are ignored (E7).
func (x *exchange) closeStream(cause CloseCause, graceful bool) {
	x.complete = true
	x.dec.stop()
	x.enc.stop()
	if x.stream == nil || x.closed {
		return
	}
	x.closed = true
	x.res.Close = cause
	graceful = graceful && x.o.GracefulClose
	x.graceful.Store(graceful)
	x.res.Graceful = graceful
	close(x.closing)
	if err := x.stream.CloseSend(); err != nil {
		x.log.Debug("envoysim: close send failed", "err", err)
	}
	if !graceful {
		x.cancelStream()
		return
	}
	x.bg.Add(1)
	go func() {
		defer x.bg.Done()
		t := time.NewTimer(x.o.RemoteCloseTimeout)
		defer t.Stop()
		select {
		case <-x.recvDone:
		case <-t.C:
			x.timedOut.Store(true)
		}
		x.cancelStream()
	}()
}

// onStreamEnd handles the processor ending the RPC, or the stream failing to
// open: OK is E8, anything else E9.
func (x *exchange) onStreamEnd(err error) {
	x.setServerEnd(err)
	if x.complete {
		return
	}
	if err == io.EOF {
		// E8: regardless of failure_mode_allow, continue unprocessed.
		x.closeStream(CloseRemote, false)
		x.abandon()
		return
	}
	st := status.Convert(err)
	if x.o.FailureModeAllow {
		x.res.FailedOpen++
		x.closeStream(CloseRemote, false)
		x.abandon()
		return
	}
	x.closeStream(CloseRemote, false)
	x.finishCalls()
	x.immediateReply(x.o.StatusOnError, nil, nil,
		fmt.Sprintf("ext_proc_error_gRPC_error_%d{%s}", st.Code(), st.Message()))
}

// onMessageTimeout is E10: fail-closed answers 504 (not status_on_error);
// fail-open abandons the processor and lets everything through.
func (x *exchange) onMessageTimeout() {
	x.res.MessageTimeouts++
	x.log.Debug("envoysim: message timeout")
	if x.o.FailureModeAllow {
		x.res.FailedOpen++
		x.closeStream(CloseError, false)
		x.abandon()
		return
	}
	x.closeStream(CloseError, false)
	x.finishCalls()
	x.immediateReply(504, nil, nil, "ext_proc_error_per-message_timeout_exceeded")
}

// onOverrideTimeout is E11: accepted only with MaxMessageTimeout set, within
// [1ms, max], while a timer runs and not twice in one processing state.
// Decoding is tried first, as in Envoy.
func (x *exchange) onOverrideTimeout(d *durationpb.Duration) {
	timeout := d.AsDuration()
	if !d.IsValid() || timeout < time.Millisecond || timeout > x.o.MaxMessageTimeout ||
		(!x.dec.restart(timeout) && !x.enc.restart(timeout)) {
		x.res.OverrideTimeoutsIgnored++
		return
	}
	x.res.OverrideTimeouts++
}

// finishCalls stops both directions' waits and timers.
func (x *exchange) finishCalls() {
	x.dec.finish(idle)
	x.enc.finish(idle)
}

// abandon is clearAsyncState: the processor is out of the picture, so held
// data is released unmodified. Queued STREAMED chunks go downstream as one
// consolidated chunk, held headers continue (E8).
func (x *exchange) abandon() {
	x.finishCalls()
	x.watermark = false
	if len(x.queue) > 0 {
		var data []byte
		for _, c := range x.queue {
			data = append(data, c.data...)
		}
		eos := x.queue[len(x.queue)-1].eos
		x.queue, x.queued = nil, 0
		if len(data) > 0 && !x.writeBody(data) {
			return
		}
		if eos {
			x.respDone = true
		}
	}
	if x.resp != nil {
		x.continueResponse()
	}
}
