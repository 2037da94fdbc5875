package extproc

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
	"github.com/iasolaris/tokengate/quota/redisledger"
)

// benchRedisLedger is a Redis ledger on a key prefix of its own, deleted
// afterwards.
func benchRedisLedger(b *testing.B) quota.Ledger {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	prefix := fmt.Sprintf("tgbench:%d:", os.Getpid())
	b.Cleanup(func() {
		ctx := context.Background()
		for iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator(); iter.Next(ctx); {
			rdb.Del(ctx, iter.Val())
		}
		_ = rdb.Close()
	})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("Redis at 127.0.0.1:6379: %v", err)
	}
	return redisledger.New(rdb, redisledger.Options{Prefix: prefix})
}

// These benchmarks measure tokengate's own work per ext_proc message, as
// exchange.handle does it, without gRPC around it: that is the part of each
// message's latency tokengate controls.

func benchServer(b *testing.B, opts Options) *Server {
	b.Helper()
	return benchServerOn(b, memledger.New(memledger.Options{}), opts)
}

func benchServerOn(b *testing.B, ledger quota.Ledger, opts Options) *Server {
	b.Helper()
	s, err := New(ledger, UserHeader{Header: "x-user-email", Allowance: 1 << 50}, opts)
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func requestHeaders(id string) *extprocv3.ProcessingRequest {
	hv := func(k, v string) *corev3.HeaderValue { return &corev3.HeaderValue{Key: k, RawValue: []byte(v)} }
	return &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestHeaders{RequestHeaders: &extprocv3.HttpHeaders{
		Headers: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{
			hv(":authority", "llm.internal"), hv(":path", "/v1/chat/completions"), hv(":method", "POST"), hv(":scheme", "http"),
			hv("content-type", "application/json"), hv("content-length", "4030"), hv("authorization", "Bearer sk-librechat"),
			hv("user-agent", "OpenAI/JS 4.96.0"), hv("x-user-email", "ana@example.com"), hv("x-request-id", id),
			hv("x-forwarded-proto", "http"), hv("x-envoy-external-address", "10.0.0.7"),
		}},
	}}}
}

// BenchmarkRequestPhase is one chat completion's request phase: the headers
// message, then the 4 KB body message with its ledger reservation (in
// memory, or one EVALSHA to the Redis at 127.0.0.1:6379). The hold is
// released after each iteration so the ledger does not grow across b.N; the
// release is part of the measured time (and, on Redis, a second round trip).
func BenchmarkRequestPhase(b *testing.B) {
	body, err := os.ReadFile("openai/testdata/requests/librechat_4kb.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name  string
		opts  Options
		redis bool
	}{{"soft", Options{}, false}, {"hard", Options{Enforcement: Hard}, false}, {"soft redis", Options{}, true}} {
		b.Run(mode.name, func(b *testing.B) {
			var ledger quota.Ledger = memledger.New(memledger.Options{})
			if mode.redis {
				ledger = benchRedisLedger(b)
			}
			s := benchServerOn(b, ledger, mode.opts)
			headers := make([]*extprocv3.ProcessingRequest, 1024)
			for i := range headers {
				headers[i] = requestHeaders(fmt.Sprintf("0f3c9a4e-7d21-4b8e-9a55-%012d", i))
			}
			bodyMsg := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_RequestBody{
				RequestBody: &extprocv3.HttpBody{Body: body, EndOfStream: true}}}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ex := s.newExchange(context.Background())
				if r := ex.handle(headers[i%len(headers)]); r.GetRequestHeaders() == nil {
					b.Fatalf("headers: %v", r)
				}
				if r := ex.handle(bodyMsg); r.GetRequestBody() == nil {
					b.Fatalf("body: %v", r)
				}
				if err := s.ledger.Release(context.Background(), ex.acct.ID, ex.id); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// A typical OpenAI content delta, as one SSE event in one chunk.
const deltaEvent = `data: {"id":"chatcmpl-CX8fNnR1BmD2wq5mYkqZ7l3x9Tt0a","object":"chat.completion.chunk","created":1764064800,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":" relatório"},"logprobs":null,"finish_reason":null}]}` + "\n\n"

const deltaEventNullUsage = `data: {"id":"chatcmpl-CX8fNnR1BmD2wq5mYkqZ7l3x9Tt0a","object":"chat.completion.chunk","created":1764064800,"model":"gpt-4o-mini-2024-07-18","service_tier":"default","system_fingerprint":"fp_560af6e559","choices":[{"index":0,"delta":{"content":" relatório"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n"

// BenchmarkStreamedChunk is one streamed response chunk without usage in
// it, in steady state: "as sent" passes it untouched (the client asked for
// usage), "usage stripped" rewrites it to remove the "usage":null tokengate
// caused by asking for usage on the client's behalf.
func BenchmarkStreamedChunk(b *testing.B) {
	for _, tc := range []struct {
		name  string
		event string
		strip bool
	}{{"as sent", deltaEvent, false}, {"usage stripped", deltaEventNullUsage, true}} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchServer(b, Options{})
			ex := s.newExchange(context.Background())
			ex.admitted, ex.held, ex.eventStream, ex.stripUsage = true, true, true, tc.strip
			ex.acct, ex.id = quota.Account{ID: "ana@example.com"}, "bench"
			msg := &extprocv3.ProcessingRequest{Request: &extprocv3.ProcessingRequest_ResponseBody{
				ResponseBody: &extprocv3.HttpBody{Body: []byte(tc.event)}}}
			b.SetBytes(int64(len(tc.event)))
			b.ReportAllocs()
			for b.Loop() {
				if r := ex.handle(msg); r.GetResponseBody() == nil {
					b.Fatalf("reply %v", r)
				}
			}
			if ex.deltas == 0 {
				b.Fatal("no delta counted")
			}
		})
	}
}
