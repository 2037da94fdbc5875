package extproc

import (
	"context"
	"log/slog"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/extproc/contentcoding"
	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/extproc/sse"
	"github.com/iasolaris/tokengate/extproc/tokens"
	"github.com/iasolaris/tokengate/quota"
)

// exchange is one HTTP request's life as tokengate sees it: identified in the
// request headers, admitted (or refused) in the request body, read in the
// response, settled at the end. Only the goroutine running Process touches it.
type exchange struct {
	s     *Server
	ctx   context.Context
	phase phase

	// Set in the request phase.
	sawRequestHeaders bool
	metered           bool // a model call we account for; false → every reply is CONTINUE
	acct              quota.Account
	id                quota.RequestID // the ledger's key, unique per exchange
	envoyID           string          // Envoy's x-request-id, for correlation
	model             string
	// admitted means the request went upstream on tokengate's account: it must
	// be settled or released exactly once, whatever happens to the stream.
	admitted bool
	held     bool // the ledger holds a reservation for id (false when admitted with the ledger down)
	// maybeHeld means a refused request's ledger call failed or was
	// abandoned and may have left a hold behind, which finish releases.
	maybeHeld bool
	res       quota.Reservation
	// asked is the hold the request asked the ledger for; an unreadable
	// response of a request admitted without a hold is charged at it.
	asked quota.Hold
	// promptEstimate is what the prompt is charged at when the upstream never
	// reports usage: the exact count where it was computed, else the estimate.
	promptEstimate quota.Tokens
	// stripUsage means tokengate asked for the usage chunk the client did not,
	// so that chunk and the "usage":null members it causes are removed again.
	stripUsage bool

	// Set in the response phase.
	upstreamFailed bool // status >= 400: release, do not debit
	eventStream    bool
	dec            sse.Decoder
	usage          openai.Usage
	haveUsage      bool
	completion     tokens.Text // text of the deltas seen, for when usage never comes
	deltas         int64
	jsonBody       []byte // a non-streamed body, kept to read its usage at the end
	jsonTooBig     bool
	ended          bool // the end_of_stream message was answered or is being answered
	finished       bool

	// A coded body (content-encoding other than identity) reaches the client
	// as the upstream sent it and is read through body, made at its first
	// chunk; body's goroutine ends with the exchange. unreadable means the
	// usage cannot be known (a coding tokengate cannot undo, a corrupt body,
	// one that decodes past its bound): the response is settled at its hold.
	codings    []contentcoding.Coding
	body       *contentcoding.Decoder
	unreadable bool

	// Rewriting a stream (stripUsage): bytes of an event cut by a chunk
	// boundary are held back in carry until the event is whole, because the
	// event may be the one to remove. carry holds stream bytes
	// [emitted, offset of the current chunk).
	out, carry, spare []byte
	emitted           int64
	bodyMutation      *extprocv3.ProcessingResponse // reused: Send marshals before it returns
	bodyMutationBytes *extprocv3.BodyMutation_Body

	log *slog.Logger // request-scoped, made when first needed

	// protocol is the body modes Envoy announced on the first message, nil
	// if it announced none.
	protocol *extprocv3.ProtocolConfiguration

	// received is when the message being answered arrived: a phase's
	// deadline counts from it, since Envoy's message timer runs from when
	// it sent the message, parsing included (envoy-ext-proc.md E10).
	received time.Time
}

// phaseContext bounds the store calls of the message being answered by
// what is left of quota.phase_timeout since it arrived.
func (ex *exchange) phaseContext() (context.Context, context.CancelFunc) {
	return context.WithDeadline(ex.ctx, ex.received.Add(ex.s.opts.PhaseTimeout))
}

func (s *Server) newExchange(ctx context.Context) *exchange {
	return &exchange{s: s, ctx: ctx}
}

// logger returns the request-scoped logger. It is built on first use so the
// hot path, which logs nothing, pays nothing for it.
func (ex *exchange) logger() *slog.Logger {
	if ex.log == nil {
		ex.log = ex.s.opts.Logger.With("request_id", string(ex.id), "envoy_request_id", ex.envoyID, "account", string(ex.acct.ID))
	}
	return ex.log
}

// handle answers one message from Envoy. Envoy expects exactly one reply per
// message, of the matching type, or an immediate response
// (envoy-ext-proc.md E35, E41).
func (ex *exchange) handle(req *extprocv3.ProcessingRequest) *extprocv3.ProcessingResponse {
	start := time.Now()
	ex.received = start
	if pc := req.GetProtocolConfig(); pc != nil {
		ex.protocol = pc // only the first message carries it (envoy-ext-proc.md E27)
	}
	var resp *extprocv3.ProcessingResponse
	switch r := req.GetRequest().(type) {
	case *extprocv3.ProcessingRequest_RequestHeaders:
		ex.phase = phaseRequestHeaders
		resp = ex.requestHeaders(r.RequestHeaders)
	case *extprocv3.ProcessingRequest_RequestBody:
		ex.phase = phaseRequestBody
		resp = ex.requestBody(r.RequestBody)
	case *extprocv3.ProcessingRequest_ResponseHeaders:
		ex.phase = phaseResponseHeaders
		resp = ex.responseHeaders(r.ResponseHeaders)
	case *extprocv3.ProcessingRequest_ResponseBody:
		ex.phase = phaseResponseBody
		resp = ex.responseBody(r.ResponseBody)
	case *extprocv3.ProcessingRequest_RequestTrailers:
		// Trailers are SKIP in tokengate's mode (envoy-ext-proc.md E24); a
		// deployment that sends them anyway gets them back untouched.
		ex.phase = phaseStart
		resp = continueRequestTrailers
	case *extprocv3.ProcessingRequest_ResponseTrailers:
		ex.phase = phaseStart
		resp = continueResponseTrailers
	default:
		return nil
	}
	ex.s.metrics.phase[ex.phase].Observe(time.Since(start).Seconds())
	return resp
}

// sent runs after a reply reached gRPC. Once the reply to the last response
// message is out, the request is over: settle now rather than when Envoy
// gets round to closing the stream (envoy-ext-proc.md E6c).
func (ex *exchange) sent() {
	if ex.ended {
		ex.finish()
	}
}

// Replies that change nothing are the same for every exchange; they are
// never modified, so goroutines may marshal them concurrently.
var (
	continueRequestHeaders = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestHeaders{
		RequestHeaders: &extprocv3.HeadersResponse{}}}
	continueRequestBody = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{}}}
	continueResponseHeaders = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseHeaders{
		ResponseHeaders: &extprocv3.HeadersResponse{}}}
	continueResponseBody = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseBody{
		ResponseBody: &extprocv3.BodyResponse{}}}
	continueRequestTrailers = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestTrailers{
		RequestTrailers: &extprocv3.TrailersResponse{}}}
	continueResponseTrailers = &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_ResponseTrailers{
		ResponseTrailers: &extprocv3.TrailersResponse{}}}
)
