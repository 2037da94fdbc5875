package redisledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// testClient connects to the Redis the project's tests run against. A
// missing Redis fails the test: CI must never pass by skipping the store.
func testClient(tb testing.TB, opts ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	addr := os.Getenv("TOKENGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	o := &redis.Options{Addr: addr}
	for _, f := range opts {
		f(o)
	}
	rdb := redis.NewClient(o)
	tb.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redis at %s (set TOKENGATE_TEST_REDIS_ADDR): %v", addr, err)
	}
	return rdb
}

// testPrefix returns a key prefix no other test uses and deletes every key
// under it when tb ends, on every master of a cluster.
func testPrefix(tb testing.TB, rdb redis.UniversalClient) string {
	tb.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	prefix := "tgtest:" + hex.EncodeToString(b) + ":"
	tb.Cleanup(func() {
		// t.Context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if c, ok := rdb.(*redis.ClusterClient); ok {
			err = c.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error { return unlinkAll(ctx, m, prefix) })
		} else {
			err = unlinkAll(ctx, rdb, prefix)
		}
		if err != nil {
			tb.Errorf("cleaning up %s*: %v", prefix, err)
		}
	})
	return prefix
}

// unlinkAll deletes every key under prefix on one server. It sends one key
// per UNLINK, pipelined: a cluster node refuses a command whose keys lie in
// different slots, even slots it serves.
func unlinkAll(ctx context.Context, c redis.Cmdable, prefix string) error {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	pipe := c.Pipeline()
	for iter.Next(ctx) {
		pipe.Unlink(ctx, iter.Val())
		if pipe.Len() == 500 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
	}
	if pipe.Len() > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
	}
	return iter.Err()
}
