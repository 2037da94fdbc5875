package redisledger

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/quota"
)

// commandLog records the name of every command a client sends.
type commandLog struct {
	mu    sync.Mutex
	names []string
}

func (c *commandLog) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.names
	c.names = nil
	return n
}

func (c *commandLog) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, cmd := range cmds {
		c.names = append(c.names, cmd.Name())
	}
}

func (c *commandLog) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *commandLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

// TestOneEvalShaPerCall checks the hot path's promise: once a script is in
// Redis's cache, each ledger call is exactly one EVALSHA, never the script
// source again and never a second round trip.
func TestOneEvalShaPerCall(t *testing.T) {
	rdb := testClient(t)
	log := &commandLog{}
	rdb.AddHook(log)
	l := New(rdb, Options{Prefix: testPrefix(t, rdb)})
	ctx := t.Context()
	acct := quota.Account{ID: "sha@example.com", Allowance: 1000}

	// Each round is a new request: a settled id is finished for Reserve.
	id := quota.RequestID("r1")
	calls := []struct {
		name string
		call func() error
	}{
		{"reserve", func() error { _, err := l.Reserve(ctx, acct, id, quota.Hold{Prompt: 10}); return err }},
		{"settle", func() error { _, err := l.Settle(ctx, acct, id, quota.Usage{Prompt: 10}); return err }},
		{"release", func() error { return l.Release(ctx, acct.ID, "x") }},
		{"balance", func() error { _, err := l.Balance(ctx, acct.ID); return err }},
		{"top up", func() error { _, err := l.TopUp(ctx, acct.ID, 1); return err }},
	}
	// The first round may meet an empty script cache (EVALSHA, NOSCRIPT,
	// EVAL); what matters is every call after.
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	log.take()
	id = "r2"
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := log.take(); !slices.Equal(got, []string{"evalsha"}) {
			t.Errorf("%s sent %q, want one evalsha", c.name, got)
		}
	}

	scripts := []*redis.Script{reserveScript, settleScript, releaseScript, balanceScript, topUpScript}
	hashes := make([]string, len(scripts))
	for i, s := range scripts {
		hashes[i] = s.Hash()
	}
	exists, err := rdb.ScriptExists(ctx, hashes...).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range exists {
		if !ok {
			t.Errorf("script %s is not in Redis's script cache", hashes[i])
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(hashes)))) != len(hashes) {
		t.Errorf("two scripts share a hash: %v", hashes)
	}
}
