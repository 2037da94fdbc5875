package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iasolaris/tokengate/envoy/envoysim"
)

// Bounds of the waits around the load phase, which -duration does not cover.
const (
	connectTimeout = 5 * time.Second
	settleWait     = 15 * time.Second // tokengate's settlement deadline is 5 s
	pollEvery      = 100 * time.Millisecond
)

// runner holds what every stream of a run shares.
type runner struct {
	cfg      config
	clk      clock
	body     []byte
	prompt   int64
	filters  []*envoysim.Filter
	progress progress
	tally    *tally
}

// run puts the configured load on the tokengate at cfg.Target, writes the
// report to out and returns it. It returns an error only when it could not
// measure at all (server unreachable, bad body); failed streams are in the
// report.
func run(ctx context.Context, cfg config, out io.Writer) (*report, error) {
	body, model, err := requestBody(cfg.BodyFile)
	if err != nil {
		return nil, err
	}
	if cfg.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.RunID = hex.EncodeToString(b[:])
	}
	r := &runner{cfg: cfg, body: body, prompt: promptTokens(body, model), tally: newTally(cfg.Tokens)}
	conns, err := dial(ctx, cfg.Target, cfg.Conns)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	if err != nil {
		return nil, err
	}
	for _, c := range conns {
		r.filters = append(r.filters, envoysim.New(extprocv3.NewExternalProcessorClient(c), envoysim.Options{
			MessageTimeout: cfg.MessageTimeout,
			// The tool bounds itself with -duration; LLM routes run with
			// Envoy's `timeout: 0s`, or the 15 s default would cut long streams.
			RouteTimeout: -1,
		}))
	}

	r.clk = clock{base: time.Now()}
	smp := newSampler(cfg.Admin, cfg.PID, r.clk, &r.progress)
	before := smp.take(ctx)
	if before.err != nil {
		return nil, fmt.Errorf("loadgen: cannot sample the server before the load: %w", before.err)
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	var balancesBefore map[string]balance
	if cfg.CheckBalance {
		if balancesBefore, err = readBalances(ctx, hc, cfg.Admin, r.accounts()); err != nil {
			return nil, err
		}
	}

	elapsed := r.load(ctx, smp)

	rep := newReport(cfg, len(body), r.prompt, r.tally.totals(), elapsed)
	waitSettled(ctx, smp, before)
	after := smp.take(context.WithoutCancel(ctx))
	rep.memory(before, smp.taken(), after)
	if cfg.CheckBalance {
		rep.balances = checkBalances(context.WithoutCancel(ctx), hc, cfg.Admin, rep, balancesBefore)
	}
	rep.write(out)
	return rep, nil
}

// load runs the streams, ramped, until their requests end or -duration
// passes, while the sampler reads the server's memory. Each request is
// counted in r.tally as it ends.
func (r *runner) load(ctx context.Context, smp *sampler) time.Duration {
	loadCtx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	var bg sync.WaitGroup
	bg.Go(func() { smp.run(loadCtx, r.cfg.SampleInterval) })

	n := min(r.cfg.Streams, r.cfg.planned())
	var next atomic.Int64 // the soak's next request number
	next.Store(int64(n))
	start := time.Now()
	var streams sync.WaitGroup
	for i := range n {
		due := start.Add(r.cfg.Ramp * time.Duration(i) / time.Duration(n))
		if waitUntil(loadCtx, due) != nil {
			break
		}
		streams.Go(func() {
			// Stream i makes request i, then, in a soak, the next request
			// not yet taken until all are, or the load phase is over.
			for k := int64(i); k < int64(r.cfg.planned()); k = next.Add(1) - 1 {
				r.tally.add(r.request(loadCtx, int(k)))
				if !r.cfg.soak() || loadCtx.Err() != nil {
					return
				}
			}
		})
	}
	streams.Wait()
	elapsed := time.Since(start)
	cancel()
	bg.Wait()
	if r.cfg.soak() {
		// The flatness read-out needs a sample with every request done,
		// which the ticker may not have taken; stopped first, it cannot
		// add one after this.
		smp.keep(smp.take(context.WithoutCancel(ctx)))
	}
	return elapsed
}

// request runs request k: one metered chat completion through the
// emulator, charged to account k % -accounts.
func (r *runner) request(ctx context.Context, k int) streamResult {
	acct := r.account(k % r.cfg.Accounts)
	id := streamID(r.cfg.RunID, k)
	up := &upstream{clk: r.clk, id: id, tokens: r.cfg.Tokens, interval: r.cfg.ChunkInterval, prompt: r.prompt}
	down := &downstream{clk: r.clk}
	req := &envoysim.Request{
		Method: http.MethodPost, Path: "/v1/chat/completions", Authority: "llm.internal", Scheme: "http",
		Header: http.Header{
			"Content-Type":      {"application/json"},
			"Content-Length":    {strconv.Itoa(len(r.body))},
			"Accept":            {"application/json"},
			"Authorization":     {"Bearer sk-loadgen"},
			"User-Agent":        {"OpenAI/JS 4.96.0"},
			"X-Stainless-Lang":  {"js"},
			"X-User-Email":      {acct},
			"X-Request-Id":      {id},
			"X-Forwarded-Proto": {"http"},
		},
		Body: bytes.Clone(r.body),
	}
	start := r.clk.now()
	r.progress.open.Add(1)
	res := r.filters[k%len(r.filters)].Serve(ctx, req, up, down)
	r.progress.open.Add(-1)
	r.progress.finished.Add(1)
	return streamResult{account: acct, res: res, up: up, down: down, start: start}
}

// account is the e-mail of account k of this run: a run's accounts are its
// own, so earlier runs against the same ledger do not blur the check.
func (r *runner) account(k int) string {
	return fmt.Sprintf("loadgen-%s-%04d@example.com", r.cfg.RunID, k)
}

func (r *runner) accounts() []string {
	out := make([]string, min(r.cfg.Accounts, r.cfg.planned()))
	for k := range out {
		out[k] = r.account(k)
	}
	return out
}

// dial opens n gRPC connections to target and waits until each is ready, so
// that a server that is not running is one clear error, not N failed streams.
func dial(ctx context.Context, target string, n int) ([]*grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var conns []*grpc.ClientConn
	for range n {
		c, err := grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return conns, fmt.Errorf("loadgen: dial %s: %w", target, err)
		}
		conns = append(conns, c)
		c.Connect()
		for s := c.GetState(); s != connectivity.Ready; s = c.GetState() {
			if !c.WaitForStateChange(ctx, s) {
				return conns, fmt.Errorf("loadgen: ext_proc at %s is not reachable (last state %s): is `tokengate serve` running?", target, s)
			}
		}
	}
	return conns, nil
}

// waitSettled waits, within settleWait, until tokengate has finished (settled
// or released) as many requests as it admitted since before, so the after
// sample and the balances see the run's whole accounting.
func waitSettled(ctx context.Context, smp *sampler, before sample) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleWait)
	defer cancel()
	for {
		s := smp.take(ctx)
		if s.err != nil || s.series == nil {
			return
		}
		admitted := delta(before.series, s.series, `tokengate_decisions_total{outcome="admitted"}`) +
			delta(before.series, s.series, `tokengate_decisions_total{outcome="admitted_ledger_down"}`)
		finished := delta(before.series, s.series, `tokengate_phase_duration_seconds_count{phase="settle"}`)
		if finished >= admitted {
			return
		}
		if err := waitUntil(ctx, time.Now().Add(pollEvery)); err != nil {
			return
		}
	}
}

// delta is how much a series grew between two scrapes; 0 when absent.
func delta(before, after metricSet, key string) float64 {
	a, ok := after[key]
	if !ok {
		return 0
	}
	return a - before[key]
}
