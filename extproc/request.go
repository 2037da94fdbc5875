package extproc

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
	"strings"

	extprocv3cfg "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_proc/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"

	"github.com/iasolaris/tokengate/extproc/openai"
	"github.com/iasolaris/tokengate/quota"
)

func (ex *exchange) requestHeaders(m *extprocv3.HttpHeaders) *extprocv3.ProcessingResponse {
	ex.sawRequestHeaders = true
	h := Headers{m.GetHeaders()}
	method, _ := h.bytes(":method")
	rawPath, _ := h.bytes(":path")
	var p requestPath
	class := ex.s.classify(method, rawPath, &p)
	if class == routeRefused {
		return ex.refuse(outcomeRefusedRoute, endpointNotAllowed(method, rawPath))
	}
	if isUpgrade(method, h) {
		// A WebSocket (LiteLLM's /v1/realtime) carries model traffic
		// tokengate cannot read once the connection is upgraded: whatever
		// route it names, it would pass unmetered.
		return ex.refuse(outcomeRefusedRoute, upgradeNotAllowed(method, rawPath))
	}
	if n, ok := contentLength(h); ok && n > ex.s.opts.MaxRequestBytes {
		// Refused before Envoy buffers and sends a body tokengate could
		// not take (envoy-ext-proc.md E20, E66).
		return ex.refuse(outcomeTooLarge, tooLarge(n, ex.s.opts.MaxRequestBytes))
	}
	if class == routePassthrough {
		ex.s.metrics.decisions[outcomePassthrough].Inc()
		return ex.s.upstreamAuth.passthrough
	}
	if !meterable(ex.protocol) {
		ex.logger().Error("envoy does not send this route's bodies as tokengate needs; refusing the model call",
			"request_body_mode", ex.protocol.GetRequestBodyMode().String(), "response_body_mode", ex.protocol.GetResponseBodyMode().String())
		return ex.refuse(outcomeMisconfigured, misconfigured())
	}
	ex.metered = true
	ex.id = ex.s.ids.next()
	ex.envoyID = envoyRequestID(h)
	ctx, cancel := ex.phaseContext()
	defer cancel()
	acct, err := ex.s.identity.Identify(ctx, h)
	switch {
	case errors.Is(err, ErrInactive):
		return ex.refuse(outcomeInactive, forbidden("This account may not use the API right now."))
	case err != nil:
		return ex.refuse(outcomeNoIdentity, unauthenticated("Request is not attributable to a user: "+err.Error()))
	}
	ex.acct = acct
	if m.GetEndOfStream() {
		// No body message will follow (envoy-ext-proc.md E16), and a chat
		// completion without a body is not one.
		return ex.refuse(outcomeBadRequest, badRequest("A chat completion request needs a JSON body.", ""))
	}
	return continueRequestHeaders
}

// meterable reports whether Envoy's processing mode lets tokengate meter a
// request: the whole request body in one message (BUFFERED), to size the
// hold, and every byte of the response body, to read the usage (STREAMED or
// BUFFERED; BUFFERED_PARTIAL stops after one message, FULL_DUPLEX_STREAMED
// wants replies tokengate does not give). A route whose
// override turns either off would otherwise pass unreserved, or settle
// every request at its estimate (envoy-ext-proc.md E19, E27, E54). An
// Envoy that announces no modes is taken at its word of the reference
// configuration.
func meterable(pc *extprocv3.ProtocolConfiguration) bool {
	if pc == nil {
		return true
	}
	resp := pc.GetResponseBodyMode()
	return pc.GetRequestBodyMode() == extprocv3cfg.ProcessingMode_BUFFERED &&
		(resp == extprocv3cfg.ProcessingMode_STREAMED || resp == extprocv3cfg.ProcessingMode_BUFFERED)
}

// isUpgrade reports a request that asks to leave HTTP: an HTTP/1.1 Upgrade
// (WebSocket) or a CONNECT, plain or extended (HTTP/2 WebSocket). An
// upgrade to h2c is not one: it only changes the HTTP version, and a
// client such as curl --http2 offers it on ordinary requests.
func isUpgrade(method []byte, h Headers) bool {
	if string(method) == "CONNECT" {
		return true
	}
	v, ok := h.bytes("upgrade")
	return ok && !bytes.EqualFold(bytes.TrimSpace(v), []byte("h2c"))
}

// contentLength reads a request's declared body size. Envoy keeps and
// forwards the client's content-length on a buffered body
// (envoy-ext-proc.md E52), so it is known before the body arrives.
func contentLength(h Headers) (int64, bool) {
	v, ok := h.bytes("content-length")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil && n >= 0
}

// envoyRequestID is Envoy's x-request-id (envoy-ext-proc.md E62), kept to
// correlate tokengate's records and logs with Envoy's access log. It is not
// the ledger's key: with preserve_external_request_id a client chooses it,
// and two requests sharing one id would share one hold and one settlement.
func envoyRequestID(h Headers) string {
	v, _ := h.Get("x-request-id")
	if len(v) > 128 || validIdentity(v) != nil {
		return ""
	}
	return v
}

func (ex *exchange) requestBody(b *extprocv3.HttpBody) *extprocv3.ProcessingResponse {
	if !ex.sawRequestHeaders {
		// Envoy skips the request headers on this route (a processing mode
		// override): tokengate cannot tell a model call from anything else,
		// and must not let one through unmetered.
		ex.logger().Error("a request body arrived without its headers; refusing (request_header_mode must be SEND)")
		return ex.refuse(outcomeMisconfigured, misconfigured())
	}
	body := b.GetBody()
	if int64(len(body)) > ex.s.opts.MaxRequestBytes {
		// A body without content-length (chunked) is only measured here.
		return ex.refuse(outcomeTooLarge, tooLarge(int64(len(body)), ex.s.opts.MaxRequestBytes))
	}
	if !ex.metered {
		return continueRequestBody
	}
	chat, err := openai.ParseChat(body)
	if err != nil {
		return ex.refuse(outcomeBadRequest, requestError(err))
	}
	ex.model = chat.Model
	plan := ex.s.plan(ex.acct.ID, &chat, body)
	// One deadline for the phase, however many ledger calls it makes: Envoy
	// times the whole reply (envoy-ext-proc.md E10).
	ctx, cancel := ex.phaseContext()
	defer cancel()
	res, err := ex.s.ledger.Reserve(ctx, ex.acct, ex.id, plan.hold)
	// A call that failed (timed out, lost its connection) may still have
	// run in Redis and left a hold: unless a Settle replaces it, finish
	// releases it, so nobody is charged at expiry for a request that was
	// refused or that the upstream failed.
	ex.maybeHeld = isLedgerFailure(err)
	var refusal *quota.Refusal
	if errors.As(err, &refusal) && errors.Is(err, quota.ErrQuotaExhausted) && !plan.precise {
		// The cheap bound did not fit: only now is an exact count worth its
		// cost, since it can turn the refusal into an admission. A stale
		// hint is the only way here, so this second call is rare.
		refined := ex.s.refine(plan, &chat, body)
		if refined.hold.Prompt < plan.hold.Prompt {
			res2, err2 := ex.s.ledger.Reserve(ctx, ex.acct, ex.id, refined.hold)
			if isLedgerFailure(err2) {
				ex.maybeHeld = true // the refusal stands; the retry may have held
			} else {
				res, err = res2, err2
			}
		}
		plan = refined
	}
	ex.promptEstimate, ex.asked = plan.estimate, plan.hold
	switch {
	case ex.ctx.Err() != nil:
		// The client went away while the ledger answered: nothing goes
		// upstream, and a hold the ledger may have made is dropped.
		ex.maybeHeld = ex.maybeHeld || err == nil
		return ex.refuse(outcomeCancelled, callerError{status: 499, message: "client closed request", typ: "invalid_request_error"})
	case errors.As(err, &refusal):
		ex.s.hints.put(ex.acct.ID, refusal.Balance.Remaining)
		if errors.Is(err, quota.ErrRateLimited) {
			return ex.refuse(outcomeRate, refusalError(refusal, ex.acct.RPM))
		}
		return ex.refuse(outcomeQuota, refusalError(refusal, ex.acct.RPM))
	case errors.Is(err, quota.ErrFinished):
		// The ledger has already settled this id: only a reused request id
		// gets here, and admitting would let the call go unpaid (its
		// Settle would be a duplicate). Nothing is held.
		ex.logger().Error("the ledger has already settled this request id; refusing", "err", err)
		return ex.refuse(outcomeDuplicateID, unavailable())
	case err != nil && ex.s.opts.FailClosed:
		ex.logger().Error("ledger unavailable; refusing", "phase", ex.phase.String(), "err", err)
		return ex.refuse(outcomeFailClosed, unavailable())
	case err != nil:
		// Fail open: the request goes through and is settled like any other;
		// Settle debits even without a hold (and replaces one the failed
		// call may have left), so the usage is not lost.
		ex.logger().Warn("ledger unavailable; admitting without a reservation", "phase", ex.phase.String(), "err", err)
		ex.s.metrics.decisions[outcomeFailOpen].Inc()
		ex.admitted = true
	default:
		ex.s.hints.put(ex.acct.ID, res.Balance.Remaining)
		ex.s.metrics.decisions[outcomeAdmitted].Inc()
		ex.admitted, ex.held, ex.res = true, true, res
	}
	return ex.admit(&chat, body, plan)
}

// isLedgerFailure reports an error that is not the ledger's answer (a
// refusal) but the lack of one: a timeout, a lost connection.
func isLedgerFailure(err error) bool {
	var refusal *quota.Refusal
	return err != nil && !errors.As(err, &refusal) && !errors.Is(err, quota.ErrFinished)
}

// admit lets the request go upstream, rewriting its body where admission
// requires it: usage must come back in a stream, and hard enforcement caps the
// completion at what the reservation holds.
func (ex *exchange) admit(chat *openai.Chat, body []byte, plan admission) *extprocv3.ProcessingResponse {
	var edit openai.Edit
	if chat.Stream && !chat.IncludeUsage {
		edit.IncludeUsage = true
		ex.stripUsage = true
	}
	if ex.s.opts.Enforcement == Hard && ex.held {
		if c := plan.completionCap(ex.res.Completion); c > 0 {
			edit.CompletionCap, edit.CapField = c, capField(chat.Model)
		}
	}
	hm := &extprocv3.HeaderMutation{
		SetHeaders:    ex.s.upstreamAuth.set,
		RemoveHeaders: ex.s.upstreamAuth.removeMetered,
	}
	common := &extprocv3.CommonResponse{HeaderMutation: hm}
	if edited := chat.Apply(body, edit); !sameBytes(edited, body) {
		// Envoy keeps the client's content-length on a buffered body and answers
		// 500 if it disagrees with the new body (envoy-ext-proc.md E52).
		hm.SetHeaders = append(slices.Clip(hm.SetHeaders), setHeader("content-length", itoa(int64(len(edited)))))
		common.BodyMutation = &extprocv3.BodyMutation{Mutation: &extprocv3.BodyMutation_Body{Body: edited}}
	}
	return &extprocv3.ProcessingResponse{Response: &extprocv3.ProcessingResponse_RequestBody{
		RequestBody: &extprocv3.BodyResponse{Response: common}}}
}

// capField names the completion cap to add to a request that has none.
// OpenAI's reasoning models refuse max_tokens; everything else, including
// LiteLLM's translations to other providers, understands it.
func capField(model string) string {
	m := model[strings.LastIndexByte(model, '/')+1:]
	for _, p := range []string{"o1", "o3", "o4", "gpt-5"} {
		if strings.HasPrefix(m, p) {
			return "max_completion_tokens"
		}
	}
	return "max_tokens"
}

// refuse answers with an immediate response; nothing goes upstream and there
// is nothing to settle (envoy-ext-proc.md E41, E42).
func (ex *exchange) refuse(outcome string, e callerError) *extprocv3.ProcessingResponse {
	ex.s.metrics.decisions[outcome].Inc()
	return e.response()
}

// requestError turns a parse failure into a 400 naming the offending field.
func requestError(err error) callerError {
	var re *openai.RequestError
	if errors.As(err, &re) {
		return badRequest(re.Error(), re.Field)
	}
	return badRequest("The request body is not a valid chat completion request.", "")
}

// sameBytes reports whether a and b are the same slice of memory, which is
// how Apply says it changed nothing.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
