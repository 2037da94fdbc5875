package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/iasolaris/tokengate/admin"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
	"github.com/iasolaris/tokengate/quota/redisledger"
)

// shutdownTimeout bounds the whole ordered shutdown; Kubernetes' default
// grace period is 30 s.
const shutdownTimeout = 20 * time.Second

// app is one running tokengate: the ext_proc gRPC server with its health
// service, and the admin HTTP port. Its listeners are bound when it is made,
// so "address in use" is an error from newApp, not a log line later.
type app struct {
	cfg      *Config
	log      *slog.Logger
	ledger   quota.Ledger
	rdb      redis.UniversalClient
	registry *prometheus.Registry
	extproc  *extproc.Server
	grpc     *grpc.Server
	health   *health.Server
	grpcLn   net.Listener
	admin    *http.Server
	adminLn  net.Listener
}

func newLogger(cfg *Config, out io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated in Config.validate
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(out, opts))
	}
	return slog.New(slog.NewJSONHandler(out, opts))
}

// redisLog carries go-redis's own messages (pool dial failures and the like)
// into tokengate's log at debug level. Left alone, go-redis prints them on
// stderr outside the structured log, around a failed start's one line; each
// failure it reports also reaches tokengate as the error of the call that met
// it, and is logged there.
type redisLog struct{ log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (r redisLog) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if r.log.Enabled(ctx, slog.LevelDebug) {
		r.log.Log(ctx, slog.LevelDebug, "redis client", "detail", fmt.Sprintf(format, v...))
	}
}

// newApp builds the app and binds its listeners. On failure it releases what
// it acquired and returns one line naming the setting to change. ctx bounds
// the wait for Redis at start.
func newApp(ctx context.Context, cfg *Config, log *slog.Logger) (_ *app, err error) {
	// a is not the result: `return nil, err` must not clear what the
	// deferred release needs.
	a := &app{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.release()
		}
	}()
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if cfg.Redis.URL == "" {
		a.ledger = memledger.New(memledger.Options{Location: cfg.location, HoldTTL: cfg.Quota.HoldTTL, SettledTTL: cfg.Quota.SettledTTL})
	} else {
		// One server or a Redis Cluster; either way the client honours the
		// deadline each ledger call carries (redisledger.ParseURL).
		a.rdb = cfg.redis.NewClient()
		a.ledger = redisledger.New(a.rdb, redisledger.Options{Prefix: cfg.Redis.KeyPrefix, Location: cfg.location, HoldTTL: cfg.Quota.HoldTTL, SettledTTL: cfg.Quota.SettledTTL})
	}

	enforcement := extproc.Soft
	if cfg.Quota.Enforcement == "hard" {
		enforcement = extproc.Hard
	}
	a.extproc, err = extproc.New(a.ledger, extproc.UserHeader{
		Header:    cfg.Identity.UserHeader,
		Allowance: quota.Tokens(cfg.Quota.DefaultAllowance),
		RPM:       cfg.RateLimit.RPM,
	}, extproc.Options{
		Enforcement:           enforcement,
		CompletionAllowance:   quota.Tokens(cfg.Quota.CompletionAllowance),
		DefaultCompletionCap:  quota.Tokens(cfg.Quota.DefaultCompletionCap),
		FileTokens:            quota.Tokens(cfg.Quota.FileTokens),
		PhaseTimeout:          cfg.Quota.PhaseTimeout,
		FailClosed:            cfg.Quota.FailMode == "closed",
		UpstreamAuthorization: cfg.Upstream.Authorization,
		Passthrough:           cfg.passthrough,
		MaxRequestBytes:       cfg.GRPC.MaxRequestBytes,
		Ceilings:              cfg.ceilings,
		Models:                cfg.Metrics.Models,
		Records:               settledLog(log),
		Logger:                log,
		Registerer:            a.registry,
	})
	if err != nil {
		return nil, err
	}

	a.grpc = grpc.NewServer(
		grpc.MaxRecvMsgSize(grpcMaxMessage(cfg.GRPC.MaxRequestBytes)),
		// A connection whose peer vanished without a FIN would keep its
		// streams, and their holds, until the holds expire: probe it.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		// Envoy may ping its ext_proc cluster on idle connections.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
	)
	extprocv3.RegisterExternalProcessorServer(a.grpc, a.extproc)
	// Envoy health-checks its ext_proc cluster over gRPC on the same port.
	a.health = health.NewServer()
	a.health.SetServingStatus(extprocv3.ExternalProcessor_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(a.grpc, a.health)

	a.admin = &http.Server{
		Handler: admin.New(a.ledger, admin.Options{
			Gatherer: a.registry,
			Ready:    a.ready,
			Logger:   log,
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}

	if a.grpcLn, err = listen("grpc.listen", cfg.GRPC.Listen); err != nil {
		return nil, err
	}
	if a.adminLn, err = listen("admin.listen", cfg.Admin.Listen); err != nil {
		return nil, err
	}
	if err = a.checkRedis(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// grpcMaxMessage is the largest ext_proc message the server accepts. A
// request body over grpc.max_request_bytes must reach tokengate to be
// refused with a 413 in the caller's format: a message over the gRPC limit
// instead fails the whole stream, which Envoy turns into a 500, or, failing
// open, lets the request through unmetered (envoy-ext-proc.md E9, E66). So
// the server takes twice the limit plus room for headers and metadata.
func grpcMaxMessage(maxRequestBytes int64) int {
	return int(2*maxRequestBytes) + 1<<20
}

// ready fails while the ledger's store does not answer, or may evict keys.
func (a *app) ready(ctx context.Context) error {
	if a.rdb == nil {
		return nil
	}
	if err := a.rdb.Ping(ctx).Err(); err != nil {
		return err
	}
	return a.checkEviction(ctx, false)
}

// release gives back what newApp acquired, for an app that will not run.
func (a *app) release() {
	for _, ln := range []net.Listener{a.grpcLn, a.adminLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
}

// warnBroadPassthrough says, once at start, when the upstream's key goes
// with every request a broad passthrough rule covers: with the default
// GET /, a caller could read LiteLLM's management API (keys, spend logs,
// other users' files) with that key if it is the master key.
func (a *app) warnBroadPassthrough() {
	if a.cfg.Upstream.Authorization == "" {
		return
	}
	for _, r := range a.cfg.passthrough {
		if r.Prefix == "/" {
			a.log.Warn("routes.passthrough covers every path of a method and upstream.authorization is set: "+
				"every such request reaches the upstream with its key; use a LiteLLM key limited to model routes, "+
				"or narrow routes.passthrough (e.g. GET /v1/models)", "route", r.String())
		}
	}
}

// run serves until ctx ends or a server fails, then shuts down in order.
func (a *app) run(ctx context.Context) error {
	// Logged here, not in newApp, so that a failed start prints only its cause.
	if a.rdb == nil {
		a.log.Info("redis.url is empty: using the in-memory ledger; balances are lost on restart and not shared between replicas")
	} else {
		a.log.Info("using the redis ledger", "redis", redactURL(a.cfg.Redis.URL))
	}
	a.warnBroadPassthrough()
	a.log.Info("tokengate serving", "version", version, "grpc", a.grpcLn.Addr().String(), "admin", a.adminLn.Addr().String())
	failed := make(chan error, 2)
	go func() { failed <- fmt.Errorf("grpc: %w", a.grpc.Serve(a.grpcLn)) }()
	go func() {
		if err := a.admin.Serve(a.adminLn); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("admin: %w", err)
		}
	}()
	var cause error
	select {
	case <-ctx.Done():
	case cause = <-failed:
		a.log.Error("server failed; shutting down", "err", cause)
	}
	return errors.Join(cause, a.shutdown())
}

// shutdown stops in an order that loses nothing: Envoy is told to stop
// opening streams, streams in flight finish and settle, then the stores
// close, and the admin port goes last so /metrics shows the drain.
func (a *app) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	steps := []struct {
		name string
		stop func(context.Context) error
	}{
		{"health", func(context.Context) error { a.health.Shutdown(); return nil }},
		{"grpc", a.stopGRPC},
		{"redis", func(context.Context) error {
			if a.rdb == nil {
				return nil
			}
			return a.rdb.Close()
		}},
		{"admin", a.admin.Shutdown},
	}
	var errs []error
	for _, s := range steps {
		if err := s.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("shutdown %s: %w", s.name, err))
		}
	}
	a.log.Info("tokengate stopped")
	return errors.Join(errs...)
}

// stopGRPC lets every stream finish (each settles on its way out), and cuts
// the rest at the deadline.
func (a *app) stopGRPC(ctx context.Context) error {
	done := make(chan struct{})
	go func() { a.grpc.GracefulStop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		a.grpc.Stop()
		<-done
		return fmt.Errorf("streams still open at the deadline were cut: %w", ctx.Err())
	}
}

// runServe is `tokengate serve`.
func runServe(ctx context.Context, cfg *Config, logOut io.Writer, started func(*app)) error {
	log := newLogger(cfg, logOut)
	redis.SetLogger(redisLog{log}) // go-redis has one logger per process
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	if started != nil {
		started(a)
	}
	return a.run(ctx)
}

// settledLog logs each finished request at debug level, the one place an
// operator can follow accounting request by request until usage records
// are persisted. Prompts and completions are never logged, only counts.
func settledLog(log *slog.Logger) func(extproc.Record) {
	return func(r extproc.Record) {
		if !log.Enabled(context.Background(), slog.LevelDebug) {
			return
		}
		log.Debug("request finished",
			"account", string(r.Account), "request_id", string(r.RequestID), "envoy_request_id", r.EnvoyRequestID,
			"model", r.Model, "prompt_tokens", int64(r.Usage.Prompt), "completion_tokens", int64(r.Usage.Completion),
			"estimated", r.Estimated, "released", r.Released, "debited", int64(r.Settlement.Debited),
			"remaining", int64(r.Settlement.Balance.Remaining), "err", r.Err)
	}
}
