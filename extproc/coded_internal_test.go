package extproc

import (
	"bytes"
	"compress/gzip"
	"context"
	"runtime"
	"strconv"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/andybalholm/brotli"

	"github.com/iasolaris/tokengate/extproc/contentcoding"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// codedExchange is an admitted exchange holding 40 prompt and 100
// completion tokens, whose upstream has answered 200 with a stream in
// coding.
func codedExchange(t *testing.T, s *Server, n int, coding string) *exchange {
	t.Helper()
	ex := s.newExchange(context.Background())
	ex.admitted, ex.held = true, true
	ex.acct, ex.id = quota.Account{ID: "ana@example.com", Allowance: 1 << 40}, quota.RequestID("coded-"+strconv.Itoa(n))
	ex.res = quota.Reservation{Prompt: 40, Completion: 100}
	ex.promptEstimate = 30
	hv := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }
	ex.handle(&extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
		Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			hv(":status", "200"), hv("content-type", "text/event-stream"), hv("content-encoding", coding),
		}},
	}}})
	return ex
}

func bodyChunk(b []byte, last bool) *extprocv3.ProcessingRequest {
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
		ResponseBody: &extprocv3.HttpBody{Body: b, EndOfStream: last}}}
}

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := New(memledger.New(memledger.Options{}), UserHeader{Header: "x-user-email", Allowance: 1 << 40}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// gzipped codes n copies of event as a server streams them, flushing after
// each: deflate emits nothing of a block before it ends or fills its window.
func gzipped(t *testing.T, event string, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for range n {
		if _, err := zw.Write([]byte(event)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A body built to decode without end is read up to the bound and no
// further, then settled at the hold; the client still gets every byte.
func TestDecompressionBombIsChargedTheHold(t *testing.T) {
	var bomb bytes.Buffer
	bw := brotli.NewWriter(&bomb)
	zeros := make([]byte, 1<<20)
	for range 8 {
		if _, err := bw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	ex := codedExchange(t, newTestServer(t), 0, "br")
	ex.startDecoding(contentcoding.Options{MaxDecoded: 1 << 20})
	if r := ex.handle(bodyChunk(bomb.Bytes(), true)); r != continueResponseBody {
		t.Fatalf("reply %v: a coded body must pass unchanged", r)
	}
	if !ex.unreadable || ex.body.Decoded() > 1<<20 {
		t.Fatalf("unreadable %v after decoding %d bytes", ex.unreadable, ex.body.Decoded())
	}
	if u := ex.settledUsage(); u != (quota.Usage{Prompt: 40, Completion: 100}) {
		t.Fatalf("settled %+v, want the hold", u)
	}
}

// Deltas that reached the client before the body went bad are charged
// when they come to more than the hold.
func TestCorruptBodyIsChargedTheTextSeenWhenMore(t *testing.T) {
	ex := codedExchange(t, newTestServer(t), 0, "gzip")
	ex.handle(bodyChunk(gzipped(t, deltaEvent, 150), false))
	ex.handle(bodyChunk([]byte("not a gzip member"), true))
	if !ex.unreadable || ex.deltas != 150 {
		t.Fatalf("unreadable %v, %d deltas", ex.unreadable, ex.deltas)
	}
	want := completionSeen(ex.deltas, ex.completion.Estimate())
	if u := ex.settledUsage(); u.Prompt != 40 || u.Completion != want || want <= 100 {
		t.Fatalf("settled %+v, want the prompt hold and the %d completion tokens seen", u, want)
	}
}

// decoders counts the decoder goroutines alive, from every goroutine's
// stack: gRPC's and the test binary's own come and go on their own.
func decoders() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return bytes.Count(buf[:n], []byte("contentcoding.(*Decoder).run("))
		}
		buf = make([]byte, 2*len(buf))
	}
}

// The decoder's goroutine ends with its exchange, also when the body never
// ended: a client that left, Envoy closing the stream.
func TestDecoderEndsWithTheExchange(t *testing.T) {
	s := newTestServer(t)
	half := gzipped(t, deltaEvent, 50)
	half = half[:len(half)/2]
	const n = 20
	base := decoders()
	exs := make([]*exchange, n)
	for i := range exs {
		exs[i] = codedExchange(t, s, i, "gzip")
		exs[i].handle(bodyChunk(half, false))
		if exs[i].body == nil || exs[i].deltas == 0 {
			t.Fatalf("exchange %d read nothing", i)
		}
	}
	if got := decoders(); got != base+n {
		t.Fatalf("%d decoder goroutines with %d bodies mid-stream, %d before", got, n, base)
	}
	for _, ex := range exs {
		ex.finish()
	}
	if got := decoders(); got != base {
		t.Fatalf("%d decoder goroutines after the exchanges finished, %d before", got, base)
	}
}

// Reading coded bodies must cost plain ones nothing: a plain streamed
// response, from its headers through a chunk, allocates nothing at all,
// which also means the exchange stays on its goroutine's stack (the decoder
// keeps no reference to it).
func TestPlainResponseAllocatesNothing(t *testing.T) {
	s := newTestServer(t)
	hv := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }
	headers := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseHeaders{ResponseHeaders: &extprocv3.HttpHeaders{
		Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{hv(":status", "200"), hv("content-type", "text/event-stream")}},
	}}}
	chunk := bodyChunk([]byte(deltaEvent), false)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		ex := s.newExchange(ctx)
		ex.admitted = true
		ex.handle(headers)
		ex.handle(chunk)
		if ex.deltas != 1 {
			t.Fatalf("%d deltas", ex.deltas)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per plain response", allocs)
	}
}
