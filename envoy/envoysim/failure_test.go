package envoysim

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// never answers nothing: the processor reads and stays silent.
func never(int, *extprocv3.ProcessingRequest) answer { return answer{} }

// TestMessageTimeout checks E10: a silent processor costs a 504 with
// details ext_proc_error_per-message_timeout_exceeded (not status_on_error),
// or with failure_mode_allow the exchange continues unmodified; after the
// response headers went out the only way to fail is a reset.
func TestMessageTimeout(t *testing.T) {
	t.Run("fail closed", func(t *testing.T) {
		p, client := startProcessor(t, never)
		f := newFilter(client, Options{MessageTimeout: 50 * time.Millisecond, StatusOnError: 503})
		up := &ScriptedUpstream{}
		res, rec := serve(t, f, chatRequest(chatBody), up)
		p.waitEnd(t)
		if rec.Status() != http.StatusGatewayTimeout || detailsOf(res) != "ext_proc_error_per-message_timeout_exceeded" {
			t.Errorf("client got %d, details %q", rec.Status(), detailsOf(res))
		}
		if res.MessageTimeouts != 1 || res.Close != CloseError || up.Calls() != 0 {
			t.Errorf("timeouts %d close %q upstream calls %d", res.MessageTimeouts, res.Close, up.Calls())
		}
	})
	t.Run("fail open", func(t *testing.T) {
		p, client := startProcessor(t, never)
		f := newFilter(client, Options{MessageTimeout: 50 * time.Millisecond, FailureModeAllow: true})
		up := &ScriptedUpstream{Header: http.Header{"Content-Length": {"2"}}, Chunks: byteChunks([]string{"{}"})}
		res, rec := serve(t, f, chatRequest(chatBody), up)
		p.waitEnd(t)
		if rec.Status() != 200 || string(rec.Body()) != "{}" || string(up.Request().Body) != chatBody {
			t.Errorf("client got %d %q", rec.Status(), rec.Body())
		}
		if res.FailedOpen != 1 || res.Sent[KindResponseHeaders] != 0 {
			t.Errorf("failed open %d, response headers sent %d", res.FailedOpen, res.Sent[KindResponseHeaders])
		}
		if rec.Header().Get("Content-Length") != "2" {
			t.Error("content-length stripped although processing had completed (E51)")
		}
	})
	t.Run("after response headers were sent", func(t *testing.T) {
		// Everything is answered in time except the body chunk, whose timer
		// the processor shortens to 20ms (E11) before going silent.
		p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
			if kindOf(req) == KindResponseBody {
				return answer{send: []*extprocv3.ProcessingResponse{{OverrideMessageTimeout: durationpb.New(20 * time.Millisecond)}}}
			}
			return continueAll(0, req)
		})
		f := newFilter(client, Options{MaxMessageTimeout: time.Minute})
		up := &ScriptedUpstream{Chunks: byteChunks([]string{"a", "b"}), Hold: map[int]<-chan struct{}{1: make(chan struct{})}}
		res, rec := serve(t, f, chatRequest(chatBody), up)
		p.waitEnd(t)
		if !rec.WasReset() || rec.Status() != 200 || !res.Reset || res.MessageTimeouts != 1 {
			t.Errorf("client got %d reset=%v, timeouts %d", rec.Status(), rec.WasReset(), res.MessageTimeouts)
		}
	})
}

// TestOverrideMessageTimeout checks E11: accepted once per processing state
// within [1ms, max_message_timeout], restarting the running timer with the
// new value; ignored without max_message_timeout or above it. A wrongly
// accepted override of an hour would outlive the 5s deadline of the
// exchange and show as the client leaving instead of a 504.
func TestOverrideMessageTimeout(t *testing.T) {
	override := func(d time.Duration) *extprocv3.ProcessingResponse {
		return &extprocv3.ProcessingResponse{OverrideMessageTimeout: durationpb.New(d)}
	}
	tests := []struct {
		name      string
		timeout   time.Duration
		max       time.Duration
		send      []*extprocv3.ProcessingResponse
		wantTaken int
	}{
		{"feature off", 300 * time.Millisecond, 0, []*extprocv3.ProcessingResponse{override(time.Hour)}, 0},
		{"above max", 300 * time.Millisecond, time.Minute, []*extprocv3.ProcessingResponse{override(time.Hour)}, 0},
		{"shortens the running timer", time.Hour, time.Minute, []*extprocv3.ProcessingResponse{override(50 * time.Millisecond)}, 1},
		{"only once per state", time.Hour, 2 * time.Hour, []*extprocv3.ProcessingResponse{override(50 * time.Millisecond), override(time.Hour)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, func(int, *extprocv3.ProcessingRequest) answer { return answer{send: tt.send} })
			f := New(client, Options{MessageTimeout: tt.timeout, MaxMessageTimeout: tt.max})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			rec := &Recorder{}
			res := f.Serve(ctx, chatRequest(chatBody), &ScriptedUpstream{}, rec)
			p.waitEnd(t)
			if rec.Status() != http.StatusGatewayTimeout || res.DownstreamGone {
				t.Errorf("status %d, client gone %v; want a 504", rec.Status(), res.DownstreamGone)
			}
			if res.OverrideTimeouts != tt.wantTaken {
				t.Errorf("overrides taken %d, want %d", res.OverrideTimeouts, tt.wantTaken)
			}
		})
	}
}

// TestGRPCError checks E9: an error status ends in status_on_error with
// details ext_proc_error_gRPC_error_<code>{<message>}, or with
// failure_mode_allow in an unmodified exchange.
func TestGRPCError(t *testing.T) {
	failing := func(int, *extprocv3.ProcessingRequest) answer {
		return answer{end: status.Error(codes.Internal, "quota store down")}
	}
	tests := []struct {
		name        string
		opts        Options
		wantCode    int
		wantDetails string
	}{
		{"fail closed", Options{}, 500, "ext_proc_error_gRPC_error_13{quota_store_down}"},
		{"status_on_error", Options{StatusOnError: 503}, 503, "ext_proc_error_gRPC_error_13{quota_store_down}"},
		{"fail open", Options{FailureModeAllow: true}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, client := startProcessor(t, failing)
			f := newFilter(client, tt.opts)
			up := &ScriptedUpstream{}
			res, rec := serve(t, f, chatRequest(chatBody), up)
			p.waitEnd(t)
			if rec.Status() != tt.wantCode || res.Close != CloseRemote || res.ServerEnd.Code() != codes.Internal {
				t.Errorf("client got %d, close %q, server end %v", rec.Status(), res.Close, res.ServerEnd)
			}
			if tt.wantDetails == "" {
				if up.Calls() != 1 || res.FailedOpen != 1 {
					t.Errorf("upstream calls %d failed open %d", up.Calls(), res.FailedOpen)
				}
				return
			}
			if detailsOf(res) != tt.wantDetails || len(rec.Body()) != 0 {
				t.Errorf("local reply %+v body %q", res.LocalReply, rec.Body())
			}
		})
	}
}

// TestProcessorDown checks E9 for a processor nobody listens for: UNAVAILABLE.
func TestProcessorDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	f := New(extprocv3.NewExternalProcessorClient(conn), Options{MessageTimeout: waitLimit})
	up := &ScriptedUpstream{}
	res, rec := serve(t, f, chatRequest(chatBody), up)
	if rec.Status() != 500 || !strings.HasPrefix(detailsOf(res), "ext_proc_error_gRPC_error_14{") || up.Calls() != 0 {
		t.Errorf("client got %d, details %q", rec.Status(), detailsOf(res))
	}
}

// TestProcessorUnresponsive checks that a processor accepting connections
// but never completing the HTTP/2 handshake costs the message timeout (E10),
// or nothing under failure_mode_allow, instead of hanging the request.
func TestProcessorUnresponsive(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0") // never accepts: the kernel completes TCP, nobody speaks HTTP/2
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lis.Close() })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	for _, allow := range []bool{false, true} {
		f := New(extprocv3.NewExternalProcessorClient(conn), Options{MessageTimeout: 50 * time.Millisecond, FailureModeAllow: allow})
		up := &ScriptedUpstream{}
		res, rec := serve(t, f, chatRequest(chatBody), up)
		wantStatus, wantCalls := http.StatusGatewayTimeout, 0
		if allow {
			wantStatus, wantCalls = http.StatusOK, 1
		}
		if rec.Status() != wantStatus || up.Calls() != wantCalls || res.StreamOpened || res.MessageTimeouts != 1 {
			t.Errorf("allow=%v: client got %d, upstream calls %d, opened %v, timeouts %d", allow, rec.Status(), up.Calls(), res.StreamOpened, res.MessageTimeouts)
		}
	}
}

// TestServerClosesOK checks E8: the processor ending the RPC with OK,
// whatever failure_mode_allow says, lets the response through unmodified;
// the chunk it left unanswered is re-injected as it was.
func TestServerClosesOK(t *testing.T) {
	p, client := startProcessor(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if kindOf(req) == KindResponseBody {
			return answer{end: errEndOK}
		}
		return continueAll(0, req)
	})
	f := newFilter(client, Options{})
	up := &ScriptedUpstream{Chunks: byteChunks([]string{"a", "b", "c"})}
	res, rec := serve(t, f, chatRequest(chatBody), up)
	p.waitEnd(t)
	if string(rec.Body()) != "abc" || rec.Status() != 200 || rec.WasReset() {
		t.Errorf("client got %d %q reset=%v", rec.Status(), rec.Body(), rec.WasReset())
	}
	if res.Close != CloseRemote || res.ServerEnd == nil || res.ServerEnd.Code() != codes.OK || res.LocalReply != nil {
		t.Errorf("close %q server end %v local reply %+v", res.Close, res.ServerEnd, res.LocalReply)
	}
	if d := cmp.Diff([]MessageKind{KindRequestHeaders, KindRequestBody, KindResponseHeaders, KindResponseBody}, p.kinds()); d != "" {
		t.Errorf("kinds (-want +got):\n%s", d)
	}
}

// TestUpstreamResetMidBody checks that an upstream failing after its headers
// resets the client (the router cannot send a local reply any more); what
// the client already received stays received.
func TestUpstreamResetMidBody(t *testing.T) {
	p, client := startProcessor(t, continueAll)
	f := newFilter(client, Options{})
	rec := &Recorder{}
	gate := make(chan struct{})
	go func() {
		if rec.WaitChunks(t.Context(), 1) == nil {
			close(gate)
		}
	}()
	up := upstreamFunc(func() *UpstreamResponse {
		return &UpstreamResponse{Status: 200, Body: &failingBody{chunks: []string{"data: 1\n\n"}, gate: gate, err: io.ErrUnexpectedEOF}}
	})
	res := f.Serve(t.Context(), chatRequest(chatBody), up, rec)
	p.waitEnd(t)
	if !rec.WasReset() || string(rec.Body()) != "data: 1\n\n" || res.ResetDetails != "upstream_reset_after_response_started" {
		t.Errorf("client body %q reset=%v details %q", rec.Body(), rec.WasReset(), res.ResetDetails)
	}
}
