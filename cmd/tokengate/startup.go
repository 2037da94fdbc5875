package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/iasolaris/tokengate/quota/redisledger"
)

// A failed start is reported as one line that names the cause and the
// setting to change: whoever reads it (a developer's terminal, a pod's last
// log line in `kubectl describe`) sees the fix without reading code.

// redisStartTimeout bounds the PING at start. Long enough for a Redis still
// coming up beside tokengate in the same pod, short enough that a wrong
// address fails the start promptly.
const redisStartTimeout = 3 * time.Second

// envName is the environment variable that sets key, as loadConfig maps them.
func envName(key string) string {
	return "TOKENGATE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// listen binds addr, the value of the setting key, and says which setting
// to change when it cannot.
func listen(key, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	switch {
	case err == nil:
		return ln, nil
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("%s: address %s is already in use (set %s or %s to a free address)", key, addr, key, envName(key))
	default:
		return nil, fmt.Errorf("%s: %w (set %s or %s to an address this host can bind)", key, err, key, envName(key))
	}
}

// checkRedis pings the ledger's Redis once at start. With quota.fail_mode
// closed a Redis that does not answer would refuse every request, so the
// start fails; with open, requests are admitted and settled later, so it
// only warns.
func (a *app) checkRedis(ctx context.Context) error {
	if a.rdb == nil {
		return nil
	}
	pctx, cancel := context.WithTimeout(ctx, redisStartTimeout)
	defer cancel()
	err := a.rdb.Ping(pctx).Err()
	if err == nil {
		return a.checkEviction(pctx, true)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("start interrupted while waiting for redis: %w", ctx.Err())
	}
	where := redactURL(a.cfg.Redis.URL)
	if a.cfg.Quota.FailMode == "closed" {
		return fmt.Errorf("redis.url: cannot reach redis at %s (start it, or set redis.url or %s to one that answers): %v; with quota.fail_mode closed every request would be refused",
			where, envName("redis.url"), err)
	}
	a.log.Warn("redis does not answer; starting anyway because quota.fail_mode is open: requests are admitted and settled once it answers",
		"redis", where, "err", err)
	return nil
}

// checkEviction fails when a Redis server behind redis.url may evict keys
// under memory pressure: the ledger survives losing one key, not a steady
// stream of evictions. redis.require_noeviction false downgrades that to a
// warning; a server that cannot be asked is only warned about, since
// readiness already follows whether Redis answers. Warnings are logged only
// when warn is set, so /readyz probes do not repeat them every few seconds.
func (a *app) checkEviction(ctx context.Context, warn bool) error {
	err := redisledger.CheckEvictionPolicy(ctx, a.rdb)
	var policy *redisledger.EvictionPolicyError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &policy):
		if warn {
			a.log.Warn("could not read redis maxmemory-policy", "err", err)
		}
		return nil
	case a.cfg.Redis.RequireNoEviction:
		return fmt.Errorf("redis.url: %v (set maxmemory-policy noeviction on the server, or redis.require_noeviction false or %s=false to only warn)",
			oneLine(err), envName("redis.require_noeviction"))
	}
	if warn {
		a.log.Warn("redis may evict ledger keys; redis.require_noeviction is false", "err", oneLine(err))
	}
	return nil
}

// oneLine renders err on a single line. errors.Join, and the configuration
// decoder, put each cause on a line of its own; a supervisor that shows a
// process's last line would show only the last cause.
func oneLine(err error) string {
	var b strings.Builder
	for line := range strings.Lines(err.Error()) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		switch {
		case b.Len() == 0:
		case strings.HasSuffix(b.String(), ":"): // "the following error(s):" introduces the next line
			b.WriteByte(' ')
		default:
			b.WriteString("; ")
		}
		b.WriteString(line)
	}
	return b.String()
}
