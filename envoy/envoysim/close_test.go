package envoysim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// isNormalEnd is what a processor may see when Envoy closes (E4): io.EOF
// (END_STREAM) or Canceled (the reset), whichever its library reports first.
func isNormalEnd(err error) bool {
	return errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled
}

// TestCloseAfterLastReply checks E4, E6c and E7: right after the reply to
// the end_of_stream chunk the filter closes; the processor sees a normal
// end, and a message it sends after that reply changes nothing.
func TestCloseAfterLastReply(t *testing.T) {
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if req.GetResponseBody().GetEndOfStream() {
			return answer{send: []*extprocv3.ProcessingResponse{cont(KindResponseBody, nil),
				immediate(typev3.StatusCode_TooManyRequests, "late", "", nil)}}
		}
		return continueAll(0, req)
	})
	f := newFilter(client, Options{})
	res, rec := serve(t, f, chatRequest(chatBody), &ScriptedUpstream{Chunks: byteChunks([]string{"a", ""})})
	if end := p.waitEnd(t); !isNormalEnd(end) {
		t.Errorf("processor saw %v, want EOF or Canceled", end)
	}
	if res.Close != CloseLastReply || res.Graceful || res.ImmediateResponse || rec.Status() != 200 || string(rec.Body()) != "a" {
		t.Errorf("close %q graceful %v immediate %v, client %d %q", res.Close, res.Graceful, res.ImmediateResponse, rec.Status(), rec.Body())
	}
}

// TestGracefulClose checks E5: the filter only half-closes and waits for
// the processor to end the RPC, resetting after the remote close timeout.
func TestGracefulClose(t *testing.T) {
	t.Run("processor ends the RPC", func(t *testing.T) {
		p, client := startProcessor(t, continueAll)
		f := newFilter(client, Options{GracefulClose: true})
		res, _ := serve(t, f, chatRequest(chatBody), &ScriptedUpstream{Chunks: byteChunks([]string{"a"})})
		if end := p.waitEnd(t); end != io.EOF {
			t.Errorf("processor saw %v, want the half-close (EOF)", end)
		}
		if !res.Graceful || res.RemoteCloseTimedOut || res.ServerEnd == nil || res.ServerEnd.Code() != codes.OK {
			t.Errorf("graceful %v timed out %v server end %v: %+v", res.Graceful, res.RemoteCloseTimedOut, res.ServerEnd, res)
		}
	})
	t.Run("processor keeps it open", func(t *testing.T) {
		p := &fakeProcessor{answer: continueAll, holdAfterEOF: true, ends: make(chan error, 16)}
		client := serveProcessor(t, p)
		f := newFilter(client, Options{GracefulClose: true, RemoteCloseTimeout: 50 * time.Millisecond})
		res, _ := serve(t, f, chatRequest(chatBody), &ScriptedUpstream{Chunks: byteChunks([]string{"a"})})
		if end := p.waitEnd(t); end != io.EOF {
			t.Errorf("processor saw %v, want EOF first", end)
		}
		if !res.RemoteCloseTimedOut || res.ServerEnd != nil {
			t.Errorf("timed out %v server end %v", res.RemoteCloseTimedOut, res.ServerEnd)
		}
	})
}

// TestDownstreamCancel checks E12: the client going away mid-response
// closes the stream without any end_of_stream body message and resets the
// upstream; mid-request, the upstream is never contacted.
func TestDownstreamCancel(t *testing.T) {
	t.Run("mid response", func(t *testing.T) {
		p, client := startProcessor(t, continueAll)
		f := newFilter(client, Options{})
		up := &ScriptedUpstream{Chunks: byteChunks([]string{"a", "b", "c"}), Hold: map[int]<-chan struct{}{2: make(chan struct{})}}
		ctx, cancel := context.WithCancel(t.Context())
		rec := &Recorder{}
		go func() {
			if rec.WaitChunks(ctx, 2) == nil {
				cancel()
			}
		}()
		res := f.Serve(ctx, chatRequest(chatBody), up, rec)
		if end := p.waitEnd(t); !isNormalEnd(end) {
			t.Errorf("processor saw %v", end)
		}
		for _, m := range p.messages() {
			if m.GetResponseBody().GetEndOfStream() {
				t.Error("an end_of_stream body message was sent")
			}
		}
		if !res.DownstreamGone || res.Close != CloseDownstreamGone || !up.Cancelled() || string(rec.Body()) != "ab" {
			t.Errorf("gone %v close %q upstream cancelled %v body %q", res.DownstreamGone, res.Close, up.Cancelled(), rec.Body())
		}
	})
	t.Run("mid request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p, client := startProcessor(t, func(int, *extprocv3.ProcessingRequest) answer {
			cancel() // the client leaves while the processor thinks
			return answer{}
		})
		f := newFilter(client, Options{MessageTimeout: time.Minute})
		up := &ScriptedUpstream{}
		res := f.Serve(ctx, chatRequest(chatBody), up, &Recorder{})
		p.waitEnd(t)
		if !res.DownstreamGone || up.Calls() != 0 || res.Status != 0 {
			t.Errorf("gone %v upstream calls %d status %d", res.DownstreamGone, up.Calls(), res.Status)
		}
	})
}

// TestRouterLocalReplies checks E57 and E59: connect failures (503) and
// route timeouts (504) reach the processor as a response only with
// LocalRepliesReachProcessor; a route timeout after the response started is
// a reset.
func TestRouterLocalReplies(t *testing.T) {
	t.Run("connect failure, 1.34-1.36", func(t *testing.T) {
		p, client := startProcessor(t, continueAll)
		f := newFilter(client, Options{})
		res, rec := serve(t, f, chatRequest(chatBody), &ScriptedUpstream{Err: errors.New("connection refused")})
		p.waitEnd(t)
		if rec.Status() != 503 || string(rec.Body()) != connectFailureBody || res.LocalReply == nil || res.LocalReply.ViaProcessor {
			t.Errorf("client got %d %q", rec.Status(), rec.Body())
		}
		if d := cmp.Diff([]MessageKind{KindRequestHeaders, KindRequestBody}, p.kinds()); d != "" {
			t.Errorf("kinds (-want +got):\n%s", d)
		}
	})
	t.Run("connect failure, 1.37+", func(t *testing.T) {
		p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
			if kindOf(req) == KindResponseHeaders {
				return answer{send: []*extprocv3.ProcessingResponse{cont(KindResponseHeaders,
					&extprocv3.CommonResponse{HeaderMutation: mutation(map[string]string{"x-tokengate-refund": "1"})})}}
			}
			return continueAll(0, req)
		})
		f := newFilter(client, Options{LocalRepliesReachProcessor: true})
		res, rec := serve(t, f, chatRequest(chatBody), &ScriptedUpstream{Err: errors.New("connection refused")})
		p.waitEnd(t)
		want := []*extprocv3.ProcessingRequest{
			headersMsg(KindResponseHeaders, false, ":status", "503", "content-length", strconv.Itoa(len(connectFailureBody)), "content-type", "text/plain"),
			bodyMsg(KindResponseBody, connectFailureBody, true),
		}
		if d := diffMessages(want, p.messages()[2:]); d != "" {
			t.Errorf("response messages (-want +got):\n%s", d)
		}
		if rec.Status() != 503 || rec.Header().Get("X-Tokengate-Refund") != "1" || res.LocalReply == nil || !res.LocalReply.ViaProcessor {
			t.Errorf("client got %d %v", rec.Status(), rec.Header())
		}
	})
	t.Run("route timeout", func(t *testing.T) {
		p, client := startProcessor(t, continueAll)
		f := newFilter(client, Options{RouteTimeout: 50 * time.Millisecond})
		up := &ScriptedUpstream{Wait: make(chan struct{})}
		res, rec := serve(t, f, chatRequest(chatBody), up)
		p.waitEnd(t)
		if rec.Status() != 504 || string(rec.Body()) != routeTimeoutBody || detailsOf(res) != routeTimeoutDetails || !up.Cancelled() {
			t.Errorf("client got %d %q, upstream cancelled %v", rec.Status(), rec.Body(), up.Cancelled())
		}
	})
	t.Run("route timeout after the upstream answered", func(t *testing.T) {
		// The processor sits on response_headers; the router already has
		// them, so it can only reset.
		p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
			if kindOf(req) == KindResponseHeaders {
				return answer{}
			}
			return continueAll(0, req)
		})
		f := newFilter(client, Options{RouteTimeout: 300 * time.Millisecond})
		up := &ScriptedUpstream{Chunks: byteChunks([]string{"a"})}
		res, rec := serve(t, f, chatRequest(chatBody), up)
		p.waitEnd(t)
		if !rec.WasReset() || res.ResetDetails != routeTimeoutDetails || rec.Status() != 0 || res.LocalReply != nil {
			t.Errorf("reset %v details %q status %d local reply %+v", rec.WasReset(), res.ResetDetails, rec.Status(), res.LocalReply)
		}
	})
}

// TestBufferedResponseOverLimit checks E20 for a response body in BUFFERED
// mode (here through a mode_override, E45): over the limit while the
// headers are held is a 500.
func TestBufferedResponseOverLimit(t *testing.T) {
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		r := cont(kindOf(req), nil)
		if kindOf(req) == KindResponseHeaders {
			r.ModeOverride = &extprocfilterv3.ProcessingMode{ResponseBodyMode: extprocfilterv3.ProcessingMode_BUFFERED}
		}
		return answer{send: []*extprocv3.ProcessingResponse{r}}
	})
	f := newFilter(client, Options{AllowModeOverride: true, BufferLimit: 8})
	req := &Request{Method: http.MethodGet, Path: "/v1/models", Authority: "llm"}
	res, rec := serve(t, f, req, &ScriptedUpstream{Chunks: byteChunks([]string{"12345", "67890"})})
	p.waitEnd(t)
	if rec.Status() != 500 || string(rec.Body()) != "Internal Server Error" || detailsOf(res) != "response_payload_too_large" {
		t.Errorf("client got %d %q %+v", rec.Status(), rec.Body(), res.LocalReply)
	}
}
