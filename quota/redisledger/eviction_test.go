package redisledger

import (
	"errors"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/internal/redistest"
)

func TestCheckEvictionPolicy(t *testing.T) {
	srv := redistest.Start(t, false, "--maxmemory-policy", "allkeys-lru")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, c := range []struct {
		policy string
		want   string // the error, or "" for none
	}{
		{"allkeys-lru", "redis maxmemory-policy is allkeys-lru on " + srv.Addr + "; tokengate needs noeviction: evicted keys would mint or lose tokens"},
		{"volatile-lru", "redis maxmemory-policy is volatile-lru on " + srv.Addr + "; tokengate needs noeviction: evicted keys would mint or lose tokens"},
		{"allkeys-random", "redis maxmemory-policy is allkeys-random on " + srv.Addr + "; tokengate needs noeviction: evicted keys would mint or lose tokens"},
		{"noeviction", ""},
	} {
		t.Run(c.policy, func(t *testing.T) {
			if c.policy != "allkeys-lru" { // the server started with it
				if err := rdb.ConfigSet(t.Context(), "maxmemory-policy", c.policy).Err(); err != nil {
					t.Fatal(err)
				}
			}
			err := CheckEvictionPolicy(t.Context(), rdb)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckEvictionPolicy: %v, want nil", err)
				}
				return
			}
			var pe *EvictionPolicyError
			if err == nil || err.Error() != c.want || !errors.As(err, &pe) || pe.Policy != c.policy {
				t.Fatalf("CheckEvictionPolicy: %v\nwant %s", err, c.want)
			}
		})
	}
}

// TestCheckEvictionPolicyUnanswered: a server that cannot be asked is an
// error, and not one a caller could mistake for a policy to warn about.
func TestCheckEvictionPolicyUnanswered(t *testing.T) {
	// A listener that hangs up on every connection: no Redis answers there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_ = c.Close()
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: l.Addr().String(), MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	err = CheckEvictionPolicy(t.Context(), rdb)
	var pe *EvictionPolicyError
	if err == nil || errors.As(err, &pe) {
		t.Fatalf("CheckEvictionPolicy of a server that hangs up: %v, want an error that is no EvictionPolicyError", err)
	}
}
