package redisledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// EvictionPolicyError reports a Redis server that may evict keys when it
// runs out of memory. An evicted acct, holds or period key is exactly the
// loss the ledger survives only once (see the package doc), so tokengate
// needs maxmemory-policy noeviction: a full Redis refuses writes instead,
// which the ledger's callers see as an error and handle by their fail mode.
type EvictionPolicyError struct {
	Addr   string // the server, as the client dials it
	Policy string // its maxmemory-policy
}

// Error names the setting, its value and the server.
func (e *EvictionPolicyError) Error() string {
	return fmt.Sprintf("redis maxmemory-policy is %s on %s; tokengate needs noeviction: evicted keys would mint or lose tokens", e.Policy, e.Addr)
}

// CheckEvictionPolicy asks every master behind rdb (each shard of a Redis
// Cluster) for its maxmemory-policy and returns nil when all say
// noeviction. It reads INFO memory, which managed Redis services allow even
// where they rename CONFIG. An error wrapping one or more
// *EvictionPolicyError (use errors.As) means every server answered and some
// may evict; any other error means a server could not be asked.
func CheckEvictionPolicy(ctx context.Context, rdb redis.UniversalClient) error {
	var (
		mu     sync.Mutex
		policy []error
	)
	check := func(ctx context.Context, c redis.UniversalClient, addr string) error {
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return fmt.Errorf("redisledger: read maxmemory-policy on %s: %w", addr, err)
		}
		p, ok := infoField(info, "maxmemory_policy")
		if !ok {
			return fmt.Errorf("redisledger: INFO memory on %s has no maxmemory_policy", addr)
		}
		if p != "noeviction" {
			mu.Lock()
			policy = append(policy, &EvictionPolicyError{Addr: addr, Policy: p})
			mu.Unlock()
		}
		return nil
	}
	perServer := func(ctx context.Context, c *redis.Client) error { return check(ctx, c, c.Options().Addr) }
	var err error
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, perServer)
	case *redis.Ring:
		err = c.ForEachShard(ctx, perServer)
	case *redis.Client:
		err = perServer(ctx, c)
	default:
		err = check(ctx, rdb, "redis")
	}
	if err != nil {
		return err
	}
	// Masters answer in any order; name them in a stable one.
	slices.SortFunc(policy, func(a, b error) int {
		return strings.Compare(a.(*EvictionPolicyError).Addr, b.(*EvictionPolicyError).Addr)
	})
	return errors.Join(policy...)
}

// infoField returns the value of one "name:value" line of an INFO reply.
func infoField(info, name string) (string, bool) {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}
