package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iasolaris/tokengate/envoy/envoysim"
)

// Big prompts are not dropped: a body past gRPC's default 4 MiB message
// limit is metered, and one past grpc.max_request_bytes is refused with a
// 413 in OpenAI's format rather than failing the stream (which Envoy would
// answer with a 500, or let through unmetered when failing open).
func TestRequestBodySizeAgainstTheGRPCLimit(t *testing.T) {
	s := startStack(t, map[string]any{"grpc.max_request_bytes": 8 << 20})
	conn, err := grpc.NewClient(loopback(s.app.grpcLn.Addr()), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// An Envoy whose buffer limit was raised past tokengate's, the
	// misconfiguration this guards against (envoy-ext-proc.md E20).
	filter := envoysim.New(extprocv3.NewExternalProcessorClient(conn), envoysim.Options{BufferLimit: 32 << 20, FailureModeAllow: true, MessageTimeout: 10 * time.Second})
	body := func(size int) []byte {
		filler := strings.Repeat("a", size)
		return []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + filler + `"}]}`)
	}
	for _, tt := range []struct {
		name string
		size int
		want int
	}{
		{"6 MiB, over gRPC's default", 6 << 20, 200},
		{"9 MiB, over the limit", 9 << 20, 413},
	} {
		t.Run(tt.name, func(t *testing.T) {
			up := &envoysim.ScriptedUpstream{Header: http.Header{"Content-Type": {"application/json"}},
				Chunks: [][]byte{[]byte(`{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":1}}`)}}
			req := &envoysim.Request{Method: "POST", Path: "/v1/chat/completions", Authority: "llm",
				Header: http.Header{"Content-Type": {"application/json"}, "X-User-Email": {"big@example.com"}}, Body: body(tt.size)}
			rec := &envoysim.Recorder{}
			res := filter.Serve(t.Context(), req, up, rec)
			if res.Status != tt.want || res.FailedOpen != 0 {
				t.Fatalf("status %d (failed open %d times), want %d: %.200s", res.Status, res.FailedOpen, tt.want, rec.Body())
			}
			if tt.want != 413 {
				return
			}
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body(), &e); err != nil || e.Error.Code != "request_too_large" || up.Calls() != 0 {
				t.Fatalf("body %s (%v), upstream calls %d", rec.Body(), err, up.Calls())
			}
		})
	}
}
