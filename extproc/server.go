// Package extproc is tokengate's side of Envoy's external-processing stream:
// one exchange per HTTP request, phase by phase, deciding admission in the
// request phase and reading real usage out of the response to settle it.
package extproc

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/iasolaris/tokengate/extproc/ceiling"
	"github.com/iasolaris/tokengate/extproc/tokens"
	"github.com/iasolaris/tokengate/quota"
)

// Enforcement says what a caller may spend once admitted.
type Enforcement int

const (
	// Soft admits while the caller has at least the prompt estimate left; the
	// completion may take usage slightly over. The overspend is measured.
	Soft Enforcement = iota
	// Hard also clamps the request's completion cap to what is left, so the
	// request cannot spend more than the caller has.
	Hard
)

// Options tunes a Server. The zero value is usable.
type Options struct {
	Enforcement Enforcement
	// CompletionAllowance is what soft enforcement holds for the completion
	// beyond the prompt (capped by the request's own max_tokens). Zero → 256.
	CompletionAllowance quota.Tokens
	// DefaultCompletionCap is the completion cap hard enforcement assumes for a
	// request that names none. Zero → 4096.
	DefaultCompletionCap quota.Tokens
	// Ceilings are the models' output ceilings: hard enforcement never holds
	// (nor writes into a request) more completion tokens per choice than the
	// model can produce. Nil → the embedded table.
	Ceilings *ceiling.Table
	// PhaseTimeout bounds the ledger call of one phase. It must stay below
	// Envoy's message timeout (200 ms by default, envoy-ext-proc.md E10), or
	// Envoy answers 504 before tokengate can decide. Zero → 150 ms.
	PhaseTimeout time.Duration
	// SettleTimeout bounds settlement after the stream ended. Zero → 5 s.
	SettleTimeout time.Duration
	// FailClosed answers 503 when the ledger cannot be reached; the default,
	// fail open, admits the request and settles it when the ledger is back.
	FailClosed bool
	// UpstreamAuthorization, when set, replaces the caller's Authorization
	// header, and removes the other headers that carry caller keys, on every
	// request that reaches the upstream (metered or passthrough), so caller
	// keys never reach it and its key never leaves the cluster.
	UpstreamAuthorization string
	// Passthrough lists the routes that go upstream unmetered (model lists,
	// health). Every other route that is not a metered model call is refused
	// with 403 endpoint_not_allowed; nil passes nothing.
	Passthrough []Route
	// MaxRequestBytes is the largest request body tokengate takes; larger
	// ones are refused with 413. The gRPC server must accept messages of at
	// least this size (envoy-ext-proc.md E66), and Envoy's request buffer
	// limit should not exceed it (E20). Zero → 16 MiB.
	MaxRequestBytes int64
	// MaxJSONResponse bounds how much of a non-streamed response body is kept
	// to read its usage. Zero → 4 MiB.
	MaxJSONResponse int
	// ImageTokens is what one image part is assumed to cost in the prompt
	// hold. Zero → 1105 (a high-detail 1024×1024 image on gpt-4o-class models).
	ImageTokens quota.Tokens
	// FileTokens is what one file part naming an uploaded file (file_id) is
	// assumed to cost in the prompt hold: the file's size is not in the
	// request. Zero → 8192 (about a dozen pages of text). Settlement charges
	// what the upstream reports.
	FileTokens quota.Tokens
	// Models are the model names tokengate_tokens_total reports by name;
	// every other model is counted as "other".
	Models []string
	// Records, if set, receives every finished metered request. It is called
	// on the request's goroutine after settlement and must not block.
	Records    func(Record)
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

func (o *Options) setDefaults() {
	if o.CompletionAllowance == 0 {
		o.CompletionAllowance = 256
	}
	if o.DefaultCompletionCap == 0 {
		o.DefaultCompletionCap = 4096
	}
	if o.Ceilings == nil {
		o.Ceilings, _ = ceiling.New(nil) // no overrides: cannot fail
	}
	if o.PhaseTimeout == 0 {
		o.PhaseTimeout = 150 * time.Millisecond
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = 5 * time.Second
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if o.MaxJSONResponse == 0 {
		o.MaxJSONResponse = 4 << 20
	}
	if o.ImageTokens == 0 {
		o.ImageTokens = 1105
	}
	if o.FileTokens == 0 {
		o.FileTokens = 8192
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server implements Envoy's ExternalProcessor service.
type Server struct {
	extprocv3.UnimplementedExternalProcessorServer

	ledger   quota.Ledger
	identity Identity
	opts     Options
	metrics  *metrics
	ids      *requestIDs
	// upstreamAuth is the header edit of every request sent upstream.
	upstreamAuth upstreamAuth
	// hints remembers accounts' last known remaining balances, in bounded
	// memory; a stale or lost hint costs at most one extra ledger call.
	hints *hints
	// warming records the encodings whose vocabulary build has started.
	warming sync.Map // encoding name → true
}

// New returns a Server that admits against ledger and charges whoever
// identity names.
func New(ledger quota.Ledger, identity Identity, opts Options) (*Server, error) {
	if ledger == nil || identity == nil {
		return nil, errors.New("extproc: a ledger and an identity are required")
	}
	opts.setDefaults()
	// Routes are normalised here whatever built them, so a Route written as
	// a literal matches exactly as its parsed form would.
	routes := make([]Route, len(opts.Passthrough))
	for i, r := range opts.Passthrough {
		var err error
		if routes[i], err = ParseRoute(r.String()); err != nil {
			return nil, fmt.Errorf("extproc: passthrough route %d: %w", i, err)
		}
	}
	opts.Passthrough = routes
	m, err := newMetrics(opts.Registerer, opts.Models)
	if err != nil {
		return nil, fmt.Errorf("extproc: metrics: %w", err)
	}
	return &Server{ledger: ledger, identity: identity, opts: opts, metrics: m, ids: newRequestIDs(),
		hints: newHints(), upstreamAuth: newUpstreamAuth(opts.UpstreamAuthorization)}, nil
}

// DefaultMaxRequestBytes is the request body limit when none is configured:
// far above any chat request without attachments, and within what one gRPC
// message may carry once the server allows it.
const DefaultMaxRequestBytes = 16 << 20

// Process implements [extprocv3.ExternalProcessorServer.Process]. It runs once
// per HTTP request on a goroutine grpc-go gives it; all the request's state
// lives in one exchange owned by this goroutine alone.
func (s *Server) Process(stream extprocv3.ExternalProcessor_ProcessServer) error {
	ex := s.newExchange(stream.Context())
	defer ex.finish()
	for {
		req, err := stream.Recv()
		// Envoy ends every stream with a half-close followed by a reset, and a
		// client that goes away shows only as the same (envoy-ext-proc.md E4,
		// E12): both are a normal end, and finish does the accounting.
		if errors.Is(err, io.EOF) || status.Code(err) == codes.Canceled {
			return nil
		}
		if err != nil {
			return fmt.Errorf("extproc: receive: %w", err)
		}
		resp := ex.handle(req)
		if resp == nil {
			return status.Errorf(codes.InvalidArgument, "extproc: unexpected message in phase %s", ex.phase)
		}
		if err := stream.Send(resp); err != nil {
			if status.Code(err) == codes.Canceled || errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("extproc: send %s: %w", ex.phase, err)
		}
		ex.sent()
	}
}

// warm builds enc's vocabulary in the background, once per encoding. The
// goroutine ends by itself within milliseconds; nothing waits for it.
func (s *Server) warm(enc *tokens.Encoding) {
	if _, started := s.warming.LoadOrStore(enc.Name(), true); !started {
		go tokens.Warm(enc.Name())
	}
}
