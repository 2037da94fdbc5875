package envoysim

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocfilterv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// waitLimit bounds every wait on an observable event; reaching it is a failure.
const waitLimit = 10 * time.Second

// answer is what the fake processor does after receiving message n.
type answer struct {
	send []*extprocv3.ProcessingResponse
	// end, if set, ends the RPC after send: errEndOK returns status OK,
	// anything else is returned as the RPC's status.
	end error
}

var errEndOK = errors.New("end with status OK")

// fakeProcessor is a scripted ExternalProcessor: it records every
// ProcessingRequest and answers from a per-test function.
type fakeProcessor struct {
	extprocv3.UnimplementedExternalProcessorServer
	answer func(n int, req *extprocv3.ProcessingRequest) answer
	// holdAfterEOF keeps the RPC open after the client half-closes, until
	// the client resets it (graceful-close tests).
	holdAfterEOF bool

	mu   sync.Mutex
	got  []*extprocv3.ProcessingRequest
	ends chan error // per RPC: the Recv error that ended it, or the scripted end
}

func (p *fakeProcessor) Process(s extprocv3.ExternalProcessor_ProcessServer) error {
	for {
		req, err := s.Recv()
		if err != nil {
			if p.holdAfterEOF {
				<-s.Context().Done()
			}
			p.ends <- err
			return nil
		}
		p.mu.Lock()
		n := len(p.got)
		p.got = append(p.got, req)
		p.mu.Unlock()
		a := p.answer(n, req)
		for _, m := range a.send {
			if err := s.Send(m); err != nil {
				p.ends <- err
				return nil
			}
		}
		if a.end != nil {
			p.ends <- a.end
			if a.end == errEndOK {
				return nil
			}
			return a.end
		}
	}
}

// messages returns what the processor has received so far.
func (p *fakeProcessor) messages() []*extprocv3.ProcessingRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*extprocv3.ProcessingRequest(nil), p.got...)
}

// kinds returns the kinds of the messages received so far.
func (p *fakeProcessor) kinds() []MessageKind {
	var out []MessageKind
	for _, m := range p.messages() {
		out = append(out, kindOf(m))
	}
	return out
}

// waitEnd blocks until an RPC ended and returns how.
func (p *fakeProcessor) waitEnd(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.ends:
		return err
	case <-time.After(waitLimit):
		t.Fatal("processor stream did not end")
		return nil
	}
}

// startProcessor serves a fakeProcessor on 127.0.0.1:0 and returns it with a
// client connected to it.
func startProcessor(t *testing.T, fn func(n int, req *extprocv3.ProcessingRequest) answer) (*fakeProcessor, extprocv3.ExternalProcessorClient) {
	t.Helper()
	p := &fakeProcessor{answer: fn, ends: make(chan error, 16)}
	return p, serveProcessor(t, p)
}

func serveProcessor(t *testing.T, p *fakeProcessor) extprocv3.ExternalProcessorClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
	})
	return extprocv3.NewExternalProcessorClient(conn)
}

func kindOf(m *extprocv3.ProcessingRequest) MessageKind {
	switch m.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		return KindRequestHeaders
	case *extprocv3.ProcessingRequest_RequestBody:
		return KindRequestBody
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		return KindResponseHeaders
	case *extprocv3.ProcessingRequest_ResponseBody:
		return KindResponseBody
	case *extprocv3.ProcessingRequest_RequestTrailers:
		return KindRequestTrailers
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		return KindResponseTrailers
	}
	return ""
}

// continueAll answers every message with a plain CONTINUE of its kind.
func continueAll(_ int, req *extprocv3.ProcessingRequest) answer {
	return answer{send: []*extprocv3.ProcessingResponse{cont(kindOf(req), nil)}}
}

// cont is a CONTINUE reply of kind carrying common (nil for none).
func cont(kind MessageKind, common *extprocv3.CommonResponse) *extprocv3.ProcessingResponse {
	hr := &extprocv3.HeadersResponse{Response: common}
	br := &extprocv3.BodyResponse{Response: common}
	switch kind {
	case KindRequestHeaders:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{RequestHeaders: hr}}
	case KindResponseHeaders:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{ResponseHeaders: hr}}
	case KindRequestBody:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{RequestBody: br}}
	case KindResponseBody:
		return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{ResponseBody: br}}
	}
	panic("cont: no reply kind for " + string(kind))
}

// mutation builds a HeaderMutation setting raw values (append=false) and
// removing names.
func mutation(set map[string]string, remove ...string) *extprocv3.HeaderMutation {
	m := &extprocv3.HeaderMutation{RemoveHeaders: remove}
	for k, v := range set {
		m.SetHeaders = append(m.SetHeaders, rawHeader(k, v, false))
	}
	return m
}

func rawHeader(k, v string, appendValue bool) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{
		Header: &corev3.HeaderValue{Key: k, RawValue: []byte(v)},
		//lint:ignore SA1019 Envoy's ext_proc reads only the deprecated append field (E49).
		Append: wrapperspb.Bool(appendValue),
	}
}

func bodyMutation(body string) *extprocv3.BodyMutation {
	return &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: []byte(body)}}
}

func immediate(code typev3.StatusCode, body, details string, headers *extprocv3.HeaderMutation) *extprocv3.ProcessingResponse {
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ImmediateResponse{
		ImmediateResponse: &extprocv3.ImmediateResponse{
			Status:  &typev3.HttpStatus{Code: code},
			Body:    []byte(body),
			Details: details,
			Headers: headers,
		},
	}}
}

// Expected messages, as Envoy builds them.

func headersMsg(kind MessageKind, eos bool, pairs ...string) *extprocv3.ProcessingRequest {
	hm := &corev3.HeaderMap{}
	for i := 0; i < len(pairs); i += 2 {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: pairs[i], RawValue: []byte(pairs[i+1])})
	}
	h := &extprocv3.HttpHeaders{Headers: hm, EndOfStream: eos}
	m := &extprocv3.ProcessingRequest{MetadataContext: &corev3.Metadata{}}
	if kind == KindRequestHeaders {
		m.Request = &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: h}
	} else {
		m.Request = &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: h}
	}
	return m
}

func bodyMsg(kind MessageKind, body string, eos bool) *extprocv3.ProcessingRequest {
	b := &extprocv3.HttpBody{Body: []byte(body), EndOfStream: eos}
	m := &extprocv3.ProcessingRequest{MetadataContext: &corev3.Metadata{}}
	if kind == KindRequestBody {
		m.Request = &extprocv3.ProcessingRequest_RequestBody{RequestBody: b}
	} else {
		m.Request = &extprocv3.ProcessingRequest_ResponseBody{ResponseBody: b}
	}
	return m
}

// withConfig adds the protocol_config of tokengate's mode (E27).
func withConfig(m *extprocv3.ProcessingRequest) *extprocv3.ProcessingRequest {
	m.ProtocolConfig = &extprocv3.ProtocolConfiguration{
		RequestBodyMode:  extprocfilterv3.ProcessingMode_BUFFERED,
		ResponseBodyMode: extprocfilterv3.ProcessingMode_STREAMED,
	}
	return m
}

func diffMessages(want, got []*extprocv3.ProcessingRequest) string {
	return cmp.Diff(want, got, protocmp.Transform())
}

// fixedClock makes x-envoy-upstream-service-time deterministic ("0").
func fixedClock() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }

// chatRequest is an OpenAI chat completion as LibreChat sends it.
func chatRequest(body string) *Request {
	return &Request{
		Method:    http.MethodPost,
		Path:      "/v1/chat/completions",
		Authority: "llm.internal:10000",
		Scheme:    "http",
		Header: http.Header{
			"Authorization":  {"Bearer sk-test-1"},
			"Content-Type":   {"application/json"},
			"Content-Length": {strconv.Itoa(len(body))},
			"X-Request-Id":   {"4d5c5f5e-0000-4000-8000-000000000001"},
		},
		Body: []byte(body),
	}
}

// newFilter is New with a message timeout no scheduler hiccup can reach,
// unless the test sets its own: tests of timeouts set them explicitly.
func newFilter(client extprocv3.ExternalProcessorClient, o Options) *Filter {
	if o.MessageTimeout == 0 {
		o.MessageTimeout = waitLimit
	}
	return New(client, o)
}

// serve runs one exchange with a bounded context.
func serve(t *testing.T, f *Filter, req *Request, up Upstream) (Result, *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	rec := &Recorder{}
	return f.Serve(ctx, req, up, rec), rec
}

// upstreamFunc is an Upstream answering with whatever fn builds.
type upstreamFunc func() *UpstreamResponse

func (fn upstreamFunc) RoundTrip(context.Context, *UpstreamRequest) (*UpstreamResponse, error) {
	return fn(), nil
}

// failingBody yields its chunks, then fails with err once gate is closed.
type failingBody struct {
	chunks []string
	gate   <-chan struct{}
	err    error
}

func (b *failingBody) NextChunk(ctx context.Context) ([]byte, error) {
	if len(b.chunks) == 0 {
		select {
		case <-b.gate:
			return nil, b.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := b.chunks[0]
	b.chunks = b.chunks[1:]
	return []byte(c), nil
}

// detailsOf is the local reply's details, "" when there was none.
func detailsOf(res Result) string {
	if res.LocalReply == nil {
		return ""
	}
	return res.LocalReply.Details
}
