package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// runMainEnv makes the test binary run main() instead of the tests, so the
// tests below can run the real program in a process of its own and see its
// exit status and stderr exactly as an operator would.
const runMainEnv = "TOKENGATE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// unreachableRedis has nothing listening: port 1 needs root to bind, and
// nothing on these machines does. Connecting is refused at once, so the
// start-up PING fails fast instead of waiting out redisStartTimeout.
const unreachableRedis = "redis://127.0.0.1:1/0"

// busyAddr returns an address the test keeps bound until it ends.
func busyAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

// freeAddr returns a loopback address nothing listens on. It is released
// before tokengate binds it; that a released port can be bound again is what
// these tests rely on, and what they check of tokengate's own ports.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// Every failed start of the real binary exits 1 with exactly one line on
// stderr that names the cause and the setting to change, and no panic.
func TestFailedStartExitsWithOneLine(t *testing.T) {
	busy := busyAddr(t)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{
			name: "serve, grpc.listen busy",
			args: []string{"serve"},
			env:  map[string]string{"TOKENGATE_GRPC_LISTEN": busy},
			want: []string{"grpc.listen: address " + busy + " is already in use (set grpc.listen or TOKENGATE_GRPC_LISTEN to a free address)"},
		},
		{
			name: "dev, admin.listen busy",
			args: []string{"dev"},
			env:  map[string]string{"TOKENGATE_ADMIN_LISTEN": busy},
			want: []string{"admin.listen: address " + busy + " is already in use (set admin.listen or TOKENGATE_ADMIN_LISTEN to a free address)"},
		},
		{
			name: "dev, dev.listen busy",
			args: []string{"dev"},
			env:  map[string]string{"TOKENGATE_DEV_LISTEN": busy},
			want: []string{"dev.listen: address " + busy + " is already in use (set dev.listen or TOKENGATE_DEV_LISTEN to a free address)"},
		},
		{
			name: "serve, grpc.listen not on this host",
			args: []string{"serve"},
			env:  map[string]string{"TOKENGATE_GRPC_LISTEN": "192.0.2.1:0"}, // TEST-NET-1, never local
			want: []string{"grpc.listen: listen tcp 192.0.2.1:0", "(set grpc.listen or TOKENGATE_GRPC_LISTEN to an address this host can bind)"},
		},
		{
			name: "serve, redis unreachable, fail closed",
			args: []string{"serve"},
			env:  map[string]string{"TOKENGATE_REDIS_URL": unreachableRedis, "TOKENGATE_QUOTA_FAIL_MODE": "closed"},
			want: []string{"redis.url: cannot reach redis at " + unreachableRedis, "TOKENGATE_REDIS_URL", "with quota.fail_mode closed every request would be refused"},
		},
		{
			name: "dev, redis unreachable, fail closed",
			args: []string{"dev"},
			env:  map[string]string{"TOKENGATE_REDIS_URL": unreachableRedis, "TOKENGATE_QUOTA_FAIL_MODE": "closed"},
			want: []string{"redis.url: cannot reach redis at " + unreachableRedis, "quota.fail_mode closed"},
		},
		{
			name: "serve, unknown key in the file",
			args: []string{"serve", "--config", "testdata/unknown_key.yaml"},
			want: []string{"config: decoding failed due to the following error(s): 'quota' has invalid keys: enforcment"},
		},
		{
			name: "serve, value of the wrong type in the file",
			args: []string{"serve", "--config", "testdata/bad_type.yaml"},
			want: []string{"'quota.default_allowance' cannot parse value"},
		},
		{
			name: "dev, two bad values",
			args: []string{"dev"},
			env:  map[string]string{"TOKENGATE_QUOTA_ENFORCEMENT": "strict", "TOKENGATE_LOG_LEVEL": "loud"},
			want: []string{`quota.enforcement: want soft or hard, got "strict"`, `; `, `log.level: want debug, info, warn or error, got "loud"`},
		},
		{
			name: "dev, upstream not an http URL",
			args: []string{"dev", "--upstream", "localhost:8080"},
			want: []string{`dev.upstream: want an http(s) URL, got "localhost:8080" (set --upstream, dev.upstream or TOKENGATE_DEV_UPSTREAM)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Bounded: a start that wrongly succeeds is killed, and fails below.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), runMainEnv+"=1",
				"TOKENGATE_GRPC_LISTEN=127.0.0.1:0", "TOKENGATE_ADMIN_LISTEN=127.0.0.1:0", "TOKENGATE_DEV_LISTEN=127.0.0.1:0")
			for k, v := range tt.env {
				cmd.Env = append(cmd.Env, k+"="+v) // the last of a repeated variable wins
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; stderr:\n%s", err, stderr.String())
			}
			out := stderr.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") || !strings.HasPrefix(out, "tokengate: ") {
				t.Fatalf("stderr is not one line \"tokengate: <cause>\":\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("stderr %q does not say %q", out, w)
				}
			}
		})
	}
}

// startWatch is the stderr of an in-process start: it cancels the run once
// the app logs that it serves, so a successful start returns nil.
type startWatch struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	serving func()
}

func (w *startWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(p, []byte("tokengate serving")) {
		w.serving()
	}
	return len(p), nil
}

func (w *startWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startOnce runs the command until it serves, then stops it; it returns what
// it logged and the start's error.
func startOnce(t *testing.T, command string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	logs := &startWatch{serving: cancel}
	err := run(ctx, []string{command}, &bytes.Buffer{}, logs)
	if err == nil && !strings.Contains(logs.String(), "tokengate serving") {
		t.Fatalf("%s returned without error before serving; log:\n%s", command, logs.String())
	}
	return logs.String(), err
}

// A failed start leaves nothing bound: once the cause is gone, a second start
// on the very same addresses succeeds.
func TestFailedStartReleasesItsPorts(t *testing.T) {
	tests := []struct {
		command string
		busy    string // the setting whose address is taken, or "" for Redis
		want    string
	}{
		{command: "serve", busy: "grpc.listen", want: "is already in use (set grpc.listen or TOKENGATE_GRPC_LISTEN"},
		{command: "serve", busy: "admin.listen", want: "is already in use (set admin.listen or TOKENGATE_ADMIN_LISTEN"},
		{command: "dev", busy: "admin.listen", want: "is already in use (set admin.listen or TOKENGATE_ADMIN_LISTEN"},
		{command: "dev", busy: "dev.listen", want: "is already in use (set dev.listen or TOKENGATE_DEV_LISTEN"},
		{command: "serve", want: "redis.url: cannot reach redis"},
		{command: "dev", want: "redis.url: cannot reach redis"},
	}
	for _, tt := range tests {
		name := tt.command + ", " + tt.busy + " busy"
		if tt.busy == "" {
			name = tt.command + ", redis unreachable"
		}
		t.Run(name, func(t *testing.T) {
			var blocker net.Listener
			for _, key := range []string{"grpc.listen", "admin.listen", "dev.listen"} {
				addr := freeAddr(t)
				if key == tt.busy {
					var err error
					if blocker, err = net.Listen("tcp", addr); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = blocker.Close() })
				}
				t.Setenv(envName(key), addr)
			}
			t.Setenv("TOKENGATE_QUOTA_FAIL_MODE", "closed")
			t.Setenv("TOKENGATE_REDIS_URL", testRedisURL())
			t.Setenv("TOKENGATE_REDIS_KEY_PREFIX", "tgtest:startup:")
			if tt.busy == "" {
				t.Setenv("TOKENGATE_REDIS_URL", unreachableRedis)
			}

			logs, err := startOnce(t, tt.command)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("first start: %v, want one line saying %q; log:\n%s", err, tt.want, logs)
			}

			if blocker != nil {
				_ = blocker.Close()
			}
			t.Setenv("TOKENGATE_REDIS_URL", testRedisURL())
			if logs, err := startOnce(t, tt.command); err != nil {
				t.Fatalf("second start on the same addresses: %v; log:\n%s", err, logs)
			}
		})
	}
}

// With quota.fail_mode open an unreachable Redis only warns: requests are
// admitted and settled once it answers.
func TestUnreachableRedisFailOpenStarts(t *testing.T) {
	for _, command := range []string{"serve", "dev"} {
		t.Run(command, func(t *testing.T) {
			for _, key := range []string{"grpc.listen", "admin.listen", "dev.listen"} {
				t.Setenv(envName(key), "127.0.0.1:0")
			}
			t.Setenv("TOKENGATE_REDIS_URL", unreachableRedis)
			t.Setenv("TOKENGATE_QUOTA_FAIL_MODE", "open")
			logs, err := startOnce(t, command)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			if !strings.Contains(logs, "redis does not answer") || !strings.Contains(logs, "127.0.0.1:1") {
				t.Fatalf("no warning naming the unreachable redis; log:\n%s", logs)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"one line", errors.New("grpc.listen: address :50051 is already in use"), "grpc.listen: address :50051 is already in use"},
		{"joined causes", errors.Join(errors.New("quota.enforcement: bad"), errors.New("log.level: bad")), "quota.enforcement: bad; log.level: bad"},
		{"introduced list", errors.New("config: decoding failed due to the following error(s):\n\n'quota' has invalid keys: enforcment"),
			"config: decoding failed due to the following error(s): 'quota' has invalid keys: enforcment"},
		{"blank and trailing lines", errors.New("a\n\n  b  \n"), "a; b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oneLine(tt.err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
