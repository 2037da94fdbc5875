package envoysim

import (
	"log/slog"
	"regexp"
	"time"
)

// Defaults Envoy applies when the corresponding setting is left out.
const (
	defaultMessageTimeout     = 200 * time.Millisecond // envoy-ext-proc.md E10
	defaultStatusOnError      = 500                    // E9
	defaultBufferLimit        = 1 << 20                // E20: 1 MiB
	defaultRouteTimeout       = 15 * time.Second       // E59
	defaultRemoteCloseTimeout = time.Second            // E5
	defaultMaxHeadersCount    = 100                    // E48: HCM max_headers_count
	defaultMaxHeadersKB       = 60                     // E48: HCM max_request_headers_kb
)

// Options configures a Filter the way envoy.yaml configures the ext_proc
// filter, the router behind it and the connection manager around it. The zero
// value is Envoy's defaults for tokengate's processing mode.
type Options struct {
	// MessageTimeout bounds each wait for a processor reply, per direction
	// (envoy-ext-proc.md E10). Zero means Envoy's default, 200ms.
	MessageTimeout time.Duration
	// MaxMessageTimeout is max_message_timeout: the ceiling for a processor's
	// override_message_timeout (E11). Zero leaves overrides off, as in Envoy.
	MaxMessageTimeout time.Duration
	// FailureModeAllow continues unprocessed instead of failing the request
	// when the processor errs, times out or misbehaves (E9, E10, E40).
	FailureModeAllow bool
	// StatusOnError is status_on_error for gRPC errors, spurious replies and
	// mutation errors (E9, E48). Zero means 500.
	StatusOnError int
	// BufferLimit is the stream's buffer limit in bytes (E20, E32). Zero means 1 MiB.
	BufferLimit int
	// RouteTimeout is the route's upstream timeout (E59). Zero means Envoy's
	// 15s; negative means no timeout, Envoy's `timeout: 0s`.
	RouteTimeout time.Duration
	// LocalRepliesReachProcessor makes router local replies (503 connect
	// failure, 504 route timeout) go through the processor as responses, as
	// Envoy 1.37+ does; false is the 1.34–1.36 behaviour (E57).
	LocalRepliesReachProcessor bool
	// GracefulClose half-closes and waits for the processor to end the RPC
	// instead of resetting it (runtime guard ext_proc_graceful_grpc_close, E5).
	GracefulClose bool
	// RemoteCloseTimeout bounds the graceful wait (E5). Zero means 1s.
	RemoteCloseTimeout time.Duration
	// MutationRules are the filter's mutation_rules (E47).
	MutationRules MutationRules
	// AllowModeOverride honours mode_override in header replies (E45).
	AllowModeOverride bool
	// DisableImmediateResponse treats immediate_response as spurious (E40).
	DisableImmediateResponse bool
	// AllowContentLengthHeader keeps content-length in STREAMED mode (Envoy
	// 1.38 allow_content_length_header, E51).
	AllowContentLengthHeader bool
	// ForwardingNamespaces are metadata_options.forwarding_namespaces.untyped:
	// dynamic-metadata namespaces copied into every metadata_context (E26).
	ForwardingNamespaces []string
	// ReceivingNamespaces are metadata_options.receiving_namespaces.untyped:
	// the only namespaces a processor may write with dynamic_metadata (E46).
	ReceivingNamespaces []string
	// RequestAttributes and ResponseAttributes name the attributes sent on
	// the first message of each direction (E25). Supported: request.path,
	// request.url_path, request.host, request.scheme, request.method,
	// request.id, request.query, request.referer, request.useragent,
	// response.code; others are left out.
	RequestAttributes  []string
	ResponseAttributes []string
	// SuppressEnvoyHeaders stops the router adding x-envoy-upstream-service-time (E63).
	SuppressEnvoyHeaders bool
	// MaxHeadersCount and MaxHeadersKB limit header maps after a mutation
	// (E48). Zero means Envoy's 100 headers and 60 KiB.
	MaxHeadersCount int
	MaxHeadersKB    int
	// Now is the clock for x-envoy-upstream-service-time. Nil means time.Now.
	Now func() time.Time
	// Logger receives debug logs of what the filter decided. Nil discards them.
	Logger *slog.Logger
}

// MutationRules mirrors envoy.config.common.mutation_rules.v3.HeaderMutationRules
// (E47). The zero value is Envoy's default: routing headers (host,
// :authority, :method, :scheme) and x-envoy* headers are silently left alone.
type MutationRules struct {
	AllowAllRouting    bool
	AllowEnvoy         bool
	DisallowSystem     bool
	DisallowAll        bool
	DisallowIsError    bool
	AllowExpression    *regexp.Regexp
	DisallowExpression *regexp.Regexp
}

// withDefaults fills the zero fields with Envoy's defaults.
func (o Options) withDefaults() Options {
	if o.MessageTimeout <= 0 {
		o.MessageTimeout = defaultMessageTimeout
	}
	if o.StatusOnError == 0 {
		o.StatusOnError = defaultStatusOnError
	}
	if o.BufferLimit <= 0 {
		o.BufferLimit = defaultBufferLimit
	}
	if o.RouteTimeout == 0 {
		o.RouteTimeout = defaultRouteTimeout
	}
	if o.RemoteCloseTimeout <= 0 {
		o.RemoteCloseTimeout = defaultRemoteCloseTimeout
	}
	if o.MaxHeadersCount <= 0 {
		o.MaxHeadersCount = defaultMaxHeadersCount
	}
	if o.MaxHeadersKB <= 0 {
		o.MaxHeadersKB = defaultMaxHeadersKB
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
