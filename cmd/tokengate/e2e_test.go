package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/internal/fakeupstream"
)

// testRedisURL is the Redis the integration tests use; CI starts it.
func testRedisURL() string {
	if u := os.Getenv("TOKENGATE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// stack is the whole production path on loopback: the openai-go SDK → the
// Envoy emulator's HTTP front → tokengate's ext_proc server (the real app
// wiring, Redis ledger) → the fake OpenAI upstream.
type stack struct {
	app       *app
	front     *front
	frontHits atomic.Int64
	base      string
}

func startStack(t *testing.T, settings map[string]any) *stack {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "tgtest:e2e:" + hex.EncodeToString(b[:]) + ":"
	flags := map[string]any{
		"grpc.listen": "127.0.0.1:0", "admin.listen": "127.0.0.1:0", "dev.listen": "127.0.0.1:0",
		"redis.url": testRedisURL(), "redis.key_prefix": prefix,
	}
	for k, v := range settings {
		flags[k] = v
	}
	cfg, err := loadConfig("", nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	cleanRedis(t, prefix)
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.rdb.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("Redis at %s is required for this test: %v", testRedisURL(), err)
	}
	// Envoy's 200 ms message timeout is for production: on a loaded test
	// machine it turns a slow scheduler into a 504 that the SDK retries,
	// and the retried request is rightly charged twice.
	f, err := newFront(a, cfg.Dev.Listen, "", log, envoysim.Options{MessageTimeout: 10 * time.Second})
	if err != nil {
		a.release()
		t.Fatal(err)
	}
	s := &stack{app: a, front: f, base: "http://" + f.ln.Addr().String()}
	inner := f.http.Handler
	f.http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.frontHits.Add(1)
		inner.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- a.run(ctx) }()
	failed := make(chan error, 2)
	f.serve(failed)
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = f.shutdown(sctx)
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("app shutdown: %v", err)
		}
	})
	return s
}

// cleanRedis deletes the test's keys once it is over. The Cleanup has its own
// context: t.Context() is already cancelled when cleanups run.
func cleanRedis(t *testing.T, prefix string) {
	opts, _ := redis.ParseURL(testRedisURL())
	rdb := redis.NewClient(opts)
	t.Cleanup(func() {
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 200).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

type balanceBody struct {
	Account   string `json:"account"`
	Period    string `json:"period"`
	PeriodEnd string `json:"period_end"`
	Allowance int64  `json:"allowance"`
	Used      int64  `json:"used"`
	Reserved  int64  `json:"reserved"`
	Prepaid   int64  `json:"prepaid"`
	Remaining int64  `json:"remaining"`
}

func (s *stack) balance(t *testing.T, acct string) balanceBody {
	t.Helper()
	resp, err := http.Get("http://" + s.app.adminLn.Addr().String() + "/api/v1/accounts/" + acct + "/balance")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("balance: status %d", resp.StatusCode)
	}
	var b balanceBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

// settled waits until acct holds nothing in flight. Settlement runs right
// after the last reply of a stream, so it can trail the client's last byte
// by a moment; the admin API is where an operator would see it land.
func (s *stack) settled(t *testing.T, acct string) balanceBody {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b := s.balance(t, acct)
		if b.Reserved == 0 {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %d tokens reserved", b.Reserved)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestEndToEndQuotaWithOpenAISDK(t *testing.T) {
	const (
		prompt, completion = 20, 10
		perRequest         = prompt + completion
		user               = "ana@example.com"
	)
	// Five requests' worth, and a little more than nothing for the sixth:
	// less than any prompt could cost.
	const allowance = 5*perRequest + 2
	s := startStack(t, map[string]any{"quota.default_allowance": allowance, "ratelimit.rpm": 0})
	s.front.fake.SetOptions(fakeupstream.Options{PromptTokens: prompt, CompletionTokens: completion})

	client := openai.NewClient(option.WithBaseURL(s.base+"/v1/"), option.WithAPIKey("sk-caller"),
		option.WithHeader("x-user-email", user))
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Olá! Resuma a reunião de ontem.")},
	}
	for i := range 5 {
		if i%2 == 0 {
			stream := client.Chat.Completions.NewStreaming(t.Context(), params)
			var acc openai.ChatCompletionAccumulator
			for stream.Next() {
				chunk := stream.Current()
				acc.AddChunk(chunk)
				// The client did not ask for usage: no chunk may carry it,
				// not even "usage":null.
				if bytes.Contains([]byte(chunk.RawJSON()), []byte(`"usage"`)) {
					t.Fatalf("request %d: the client received usage it did not ask for: %s", i, chunk.RawJSON())
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("request %d (streamed): %v", i, err)
			}
			if len(acc.Choices) != 1 || acc.Choices[0].Message.Content == "" {
				t.Fatalf("request %d: no completion streamed", i)
			}
		} else {
			resp, err := client.Chat.Completions.New(t.Context(), params)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			if resp.Usage.TotalTokens != perRequest {
				t.Fatalf("request %d: usage %+v", i, resp.Usage)
			}
		}
		if b := s.settled(t, user); b.Used != int64((i+1)*perRequest) {
			t.Fatalf("after request %d: used %d, want exactly the %d tokens the upstream reported", i, b.Used, (i+1)*perRequest)
		}
	}
	b := s.settled(t, user)
	if b.Used != 5*perRequest || b.Remaining != allowance-5*perRequest || b.Allowance != allowance {
		t.Fatalf("balance %+v", b)
	}

	_, err := client.Chat.Completions.New(t.Context(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "insufficient_quota" {
		t.Fatalf("sixth request: %v, want 429 insufficient_quota", err)
	}
	if got := s.front.fake.Hits(); got != 5 {
		t.Fatalf("upstream hits %d, want 5", got)
	}
	if got := s.frontHits.Load(); got != 6 {
		t.Fatalf("the SDK sent %d requests, want 6: it retried the quota refusal", got)
	}
	if b := s.balance(t, user); b.Used != 5*perRequest {
		t.Fatalf("a refusal changed the balance: %+v", b)
	}
}

func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), []string{"version"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("tokengate %s\n", version); out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
