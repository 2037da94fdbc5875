package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/internal/redistest"
)

// A Redis that may evict keys would, under memory pressure, lose the
// ledger's books a key at a time: serve refuses to start on one, naming the
// setting, unless told to only warn, and /readyz fails once the policy
// changes under a running tokengate.
func TestRedisEvictionPolicy(t *testing.T) {
	srv := redistest.Start(t, false, "--maxmemory-policy", "allkeys-lru")
	url := "redis://" + srv.Addr + "/0"
	flags := map[string]any{"grpc.listen": "127.0.0.1:0", "admin.listen": "127.0.0.1:0", "redis.url": url}

	cfg, err := loadConfig("", nil, flags)
	if err != nil {
		t.Fatal(err)
	}
	_, err = newApp(t.Context(), cfg, discardLog())
	if err == nil || !strings.Contains(err.Error(), "maxmemory-policy is allkeys-lru") || !strings.Contains(err.Error(), "redis.require_noeviction") {
		t.Fatalf("start on an evicting redis: %v", err)
	}
	if strings.Contains(oneLine(err), "\n") {
		t.Fatalf("not one line: %q", err)
	}

	flags["redis.require_noeviction"] = false
	if cfg, err = loadConfig("", nil, flags); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(t.Context(), cfg, discardLog())
	if err != nil {
		t.Fatalf("with redis.require_noeviction false the start only warns: %v", err)
	}
	a.release()

	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if err := rdb.ConfigSet(t.Context(), "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	delete(flags, "redis.require_noeviction")
	if cfg, err = loadConfig("", nil, flags); err != nil {
		t.Fatal(err)
	}
	a, err = newApp(t.Context(), cfg, discardLog())
	if err != nil {
		t.Fatalf("start on a noeviction redis: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- a.run(ctx) }()
	defer func() { cancel(); <-stopped }()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + a.adminLn.Addr().String() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := readyz(); code != 200 {
		t.Fatalf("/readyz on a noeviction redis: %d %s", code, body)
	}
	if err := rdb.ConfigSet(t.Context(), "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(); code != 503 || !strings.Contains(body, "maxmemory-policy") {
		t.Fatalf("/readyz after the policy changed: %d %s", code, body)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
