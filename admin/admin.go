// Package admin serves tokengate's admin HTTP port: health, Prometheus
// metrics and the accounts API. It must not be exposed beyond the operators'
// network: it answers without authentication.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/iasolaris/tokengate/quota"
)

// Balances is what the admin API reads account balances from.
type Balances interface {
	Balance(ctx context.Context, acct quota.AccountID) (quota.Balance, error)
}

// Options tunes the admin handler. The zero value is usable.
type Options struct {
	// Gatherer is what /metrics exposes; nil → an empty registry.
	Gatherer prometheus.Gatherer
	// Ready reports whether the process should receive traffic; nil → always.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
}

// New returns the admin HTTP handler.
func New(balances Balances, opts Options) http.Handler {
	if opts.Gatherer == nil {
		opts.Gatherer = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{balances: balances, opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("content-type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/accounts/{account}/balance", a.balance)
	// Profiles are how a memory or latency budget gets explained in
	// production; they live on the admin port, never on a public one.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

type api struct {
	balances Balances
	opts     Options
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	if a.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := a.opts.Ready(ctx); err != nil {
			writeError(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	w.Header().Set("content-type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready\n"))
}

// balanceJSON is the wire shape of GET /api/v1/accounts/{account}/balance.
type balanceJSON struct {
	Account   string `json:"account"`
	Period    string `json:"period"`
	PeriodEnd string `json:"period_end"`
	Allowance int64  `json:"allowance"`
	Used      int64  `json:"used"`
	Reserved  int64  `json:"reserved"`
	Prepaid   int64  `json:"prepaid"`
	Remaining int64  `json:"remaining"`
}

func (a *api) balance(w http.ResponseWriter, r *http.Request) {
	// Accounts are keyed by lower-cased e-mail, as identity stores them.
	acct := quota.AccountID(strings.ToLower(r.PathValue("account")))
	b, err := a.balances.Balance(r.Context(), acct)
	switch {
	case errors.Is(err, quota.ErrUnknownAccount):
		writeError(w, http.StatusNotFound, "unknown_account", "no such account")
		return
	case err != nil:
		a.opts.Logger.Error("balance lookup failed", "account", string(acct), "err", err)
		writeError(w, http.StatusServiceUnavailable, "ledger_unavailable", "the ledger did not answer")
		return
	}
	writeJSON(w, http.StatusOK, balanceJSON{
		Account:   string(b.Account),
		Period:    b.Period.Key(),
		PeriodEnd: b.Period.End.UTC().Format(time.RFC3339),
		Allowance: int64(b.Allowance),
		Used:      int64(b.Used),
		Reserved:  int64(b.Reserved),
		Prepaid:   int64(b.Prepaid),
		Remaining: int64(b.Remaining),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("content-type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var e errorJSON
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}
