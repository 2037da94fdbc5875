package redisledger

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/internal/redistest"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/ledgertest"
)

// TestLedgerOnCluster runs the ledger contract on a Redis Cluster of three
// masters, started by the test, through a client built from a
// redis+cluster:// URL: every script's keys share one slot, and each
// master runs the scripts for the accounts it serves.
func TestLedgerOnCluster(t *testing.T) {
	rdb, nodes := startCluster(t)
	ledgertest.Run(t, func(t *testing.T, o ledgertest.Options) quota.Ledger {
		return New(rdb, Options{Prefix: testPrefix(t, rdb), Now: o.Now, Location: o.Location, HoldTTL: o.HoldTTL, SettledTTL: o.SettledTTL})
	})

	t.Run("AccountsSpreadOverMasters", func(t *testing.T) {
		l := New(rdb, Options{Prefix: testPrefix(t, rdb)})
		for i := range 30 {
			acct := quota.Account{ID: quota.AccountID("spread-" + strconv.Itoa(i) + "@example.com"), Allowance: 100}
			if _, err := l.Reserve(t.Context(), acct, "r", quota.Hold{Prompt: 1}); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range nodes {
			c := redis.NewClient(&redis.Options{Addr: n.Addr})
			keys, err := c.DBSize(t.Context()).Result()
			_ = c.Close()
			if err != nil || keys == 0 {
				t.Fatalf("master %s holds %d keys (%v): the accounts did not spread", n.Addr, keys, err)
			}
		}
	})

	t.Run("EvictionPolicyOnEveryMaster", func(t *testing.T) {
		if err := CheckEvictionPolicy(t.Context(), rdb); err != nil {
			t.Fatalf("CheckEvictionPolicy with noeviction everywhere: %v", err)
		}
		c := redis.NewClient(&redis.Options{Addr: nodes[1].Addr})
		defer c.Close()
		if err := c.ConfigSet(t.Context(), "maxmemory-policy", "allkeys-lfu").Err(); err != nil {
			t.Fatal(err)
		}
		err := CheckEvictionPolicy(t.Context(), rdb)
		want := "redis maxmemory-policy is allkeys-lfu on " + nodes[1].Addr + "; tokengate needs noeviction: evicted keys would mint or lose tokens"
		var pe *EvictionPolicyError
		if err == nil || err.Error() != want || !errors.As(err, &pe) {
			t.Fatalf("CheckEvictionPolicy with one master on allkeys-lfu: %v\nwant %s", err, want)
		}
	})
}

// startCluster starts three redis-servers in cluster mode, gives each a
// third of the slots, joins them and waits until every node reports the
// cluster ok and go-redis routes to all three masters.
func startCluster(t *testing.T) (*redis.ClusterClient, []*redistest.Server) {
	t.Helper()
	ctx := t.Context()
	nodes := make([]*redistest.Server, 3)
	direct := make([]*redis.Client, len(nodes))
	for i := range nodes {
		nodes[i] = redistest.Start(t, true, "--cluster-node-timeout", "5000")
		direct[i] = redis.NewClient(&redis.Options{Addr: nodes[i].Addr})
		t.Cleanup(func() { _ = direct[i].Close() })
	}
	for i, c := range direct {
		lo, hi := i*16384/len(direct), (i+1)*16384/len(direct)-1
		if err := c.ClusterAddSlotsRange(ctx, lo, hi).Err(); err != nil {
			t.Fatalf("CLUSTER ADDSLOTSRANGE %d %d on %s: %v", lo, hi, nodes[i].Addr, err)
		}
	}
	for _, n := range nodes[1:] {
		if err := direct[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", n.Port, n.ClusterPort).Err(); err != nil {
			t.Fatalf("CLUSTER MEET %s: %v", n.Addr, err)
		}
	}
	waitFor(t, 15*time.Second, "every node to report cluster_state:ok with 3 nodes", func() bool {
		for _, c := range direct {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return false
			}
		}
		return true
	})

	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr
	}
	e, err := ParseURL("redis+cluster://" + strings.Join(addrs, ","))
	if err != nil {
		t.Fatal(err)
	}
	if e.Cluster == nil {
		t.Fatalf("redis+cluster URL parsed to %+v, want a cluster", e)
	}
	rdb := e.NewClient().(*redis.ClusterClient)
	t.Cleanup(func() { _ = rdb.Close() })
	waitFor(t, 10*time.Second, "go-redis to route to 3 masters", func() bool {
		rdb.ReloadState(ctx)
		var masters atomic.Int32
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			masters.Add(1)
			return c.Ping(ctx).Err()
		})
		return err == nil && masters.Load() == int32(len(nodes))
	})
	return rdb, nodes
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", timeout, what)
		}
		<-tick.C
	}
}
