package extproc_test

import (
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3cfg "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// An Envoy whose processing mode (a route override, a wrong envoy.yaml)
// would not send the whole request body, or no response body, cannot have a
// model call metered: it is refused at the headers rather than passed
// unreserved or settled at a guess (envoy-ext-proc.md E27, E54).
func TestModelCallRefusedUnderAProcessingModeThatCannotMeterIt(t *testing.T) {
	srv, err := extproc.New(memledger.New(memledger.Options{}), extproc.UserHeader{Header: "x-user-email", Allowance: 1000}, extproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	conn := serveOnLoopback(t, srv)

	const (
		none     = extprocv3cfg.ProcessingMode_NONE
		buffered = extprocv3cfg.ProcessingMode_BUFFERED
		streamed = extprocv3cfg.ProcessingMode_STREAMED
	)
	for _, tt := range []struct {
		name          string
		req, resp     extprocv3cfg.ProcessingMode_BodySendMode
		wantImmediate bool
	}{
		{"tokengate's mode", buffered, streamed, false},
		{"request body not sent", none, streamed, true},
		{"request body streamed", streamed, streamed, true},
		{"response body not sent", buffered, none, true},
		{"response body partly sent", buffered, extprocv3cfg.ProcessingMode_BUFFERED_PARTIAL, true},
		{"response body full duplex", buffered, extprocv3cfg.ProcessingMode_FULL_DUPLEX_STREAMED, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := extprocv3.NewExternalProcessorClient(conn).Process(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			hv := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }
			err = stream.Send(&extprocv3.ProcessingRequest{
				Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{Headers: &corev3.HeaderMap{
					Headers: []*corev3.HeaderValue{hv(":method", "POST"), hv(":path", "/v1/chat/completions"), hv("x-user-email", ana)},
				}}},
				ProtocolConfig: &extprocv3.ProtocolConfiguration{RequestBodyMode: tt.req, ResponseBodyMode: tt.resp},
			})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			imm := resp.GetImmediateResponse()
			if (imm != nil) != tt.wantImmediate {
				t.Fatalf("reply %v, want an immediate response: %v", resp, tt.wantImmediate)
			}
			if imm != nil && imm.GetStatus().GetCode() != 500 {
				t.Fatalf("status %v, want 500", imm.GetStatus().GetCode())
			}
			_ = stream.CloseSend()
		})
	}
}

// With the request headers skipped tokengate cannot tell a model call from
// anything else: a request body that arrives without them is refused.
func TestBodyWithoutHeadersIsRefused(t *testing.T) {
	srv, err := extproc.New(memledger.New(memledger.Options{}), extproc.UserHeader{Header: "x-user-email", Allowance: 1000}, extproc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stream, err := extprocv3.NewExternalProcessorClient(serveOnLoopback(t, srv)).Process(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
		RequestBody: &extprocv3.HttpBody{Body: []byte(jsonBody), EndOfStream: true}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if imm := resp.GetImmediateResponse(); imm == nil || imm.GetStatus().GetCode() != 500 {
		t.Fatalf("reply %v, want an immediate 500", resp)
	}
}
