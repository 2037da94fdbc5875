package envoysim

import (
	"context"
	"net/http"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/protobuf/types/known/structpb"
)

// Request is one HTTP request as Envoy's filter chain sees it, after the
// connection manager has done its part (envoy-ext-proc.md E62): Authority is
// the HTTP/1 Host, and headers such as x-request-id are already in Header.
type Request struct {
	Method    string
	Path      string // path and query, as in :path
	Authority string // :authority; a "Host" entry in Header is used when empty
	Scheme    string // :scheme; left out of the headers message when empty
	Header    http.Header
	// Body is the whole request body; Envoy's BUFFERED mode holds all of it
	// before the processor sees any (E19).
	Body []byte
	// Trailers, when non-empty, make the request_body message end_of_stream=false
	// (E19); with trailers SKIP they pass to the upstream untouched (E24).
	Trailers http.Header
	// DynamicMetadata is what earlier filters put on the stream (for example
	// jwt_authn); namespaces in Options.ForwardingNamespaces reach the
	// processor in metadata_context (E26).
	DynamicMetadata map[string]*structpb.Struct
}

// UpstreamRequest is what reaches the upstream after the processor's
// mutations, and only after the last request-side reply (E61).
type UpstreamRequest struct {
	Method    string
	Path      string
	Authority string
	Header    http.Header // includes content-length when Envoy keeps it (E52)
	Body      []byte
	Trailers  http.Header
}

// UpstreamResponse is the upstream's answer as the router hands it to the
// filter chain.
type UpstreamResponse struct {
	Status int
	Header http.Header
	// Body yields the response body one upstream read at a time; nil means a
	// headers-only response (E65).
	Body ChunkReader
}

// ChunkReader yields a response body the way Envoy's codec does: each call is
// one upstream read and becomes one data callback of the filter, so one
// STREAMED response_body message (E21, E28). A call returning io.EOF ends the
// body; data returned together with io.EOF is the last chunk, carrying
// end_of_stream (an empty last chunk is an HTTP/1 chunked terminator, E17).
// Any other error is an upstream reset. NextChunk must return once ctx is done.
// A ChunkReader that also implements io.Closer is closed when Serve ends.
type ChunkReader interface {
	NextChunk(ctx context.Context) ([]byte, error)
}

// ArrivalScript is an optional extension of ChunkReader that makes the timing
// of upstream reads against the processor's response_headers reply
// deterministic, which a real network leaves to chance. Data that arrives
// before that reply is handled is coalesced into one message, or sent whole
// when the body is complete (E30).
type ArrivalScript interface {
	// EarlyChunks is how many chunks have arrived by the time the filter
	// handles the response_headers reply; the filter reads exactly those
	// before it handles the reply.
	EarlyChunks() int
	// HeaderReplyHandled tells the reader that the filter no longer waits for
	// the response_headers reply; later chunks may arrive from now on.
	HeaderReplyHandled()
}

// Upstream is what the router talks to. RoundTrip must return once ctx is done:
// the filter cancels it when the client goes away, when the processor answers
// with an immediate response, or when the route times out.
type Upstream interface {
	RoundTrip(ctx context.Context, req *UpstreamRequest) (*UpstreamResponse, error)
}

// Downstream is the client side of the HTTP stream.
type Downstream interface {
	// WriteHeader sends the response status and headers (pseudo-headers left out).
	WriteHeader(status int, h http.Header)
	// Write sends one chunk of body as the client receives it; an error means
	// the client is gone (E12).
	Write(chunk []byte) error
	// Reset aborts the stream; Envoy does this when it must fail a response
	// whose headers were already sent (E42).
	Reset()
}

// Filter is one configured ext_proc filter with the router behind it. It is
// safe for concurrent use; each Serve call is an independent HTTP stream with
// its own gRPC stream (E1).
type Filter struct {
	client extprocv3.ExternalProcessorClient
	opts   Options
}

// New returns a Filter that opens its processor streams on client.
func New(client extprocv3.ExternalProcessorClient, opts Options) *Filter {
	return &Filter{client: client, opts: opts.withDefaults()}
}

// Serve runs one HTTP exchange through the filter: the request goes to the
// processor and then to up, the response to the processor and then to down.
// Cancelling ctx is the downstream going away (E12). Serve returns when the
// exchange is over and every goroutine it started has ended; with
// Options.GracefulClose that includes waiting for the processor to end the RPC
// (E5).
func (f *Filter) Serve(ctx context.Context, req *Request, up Upstream, down Downstream) Result {
	x := newExchange(ctx, f, req, up, down)
	x.run()
	x.finish()
	return x.res
}
