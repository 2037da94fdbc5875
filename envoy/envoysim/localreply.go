package envoysim

import (
	"net/http"
	"strconv"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// immediateReply is sendImmediateResponse (envoy-ext-proc.md E41): a status
// below 200 (or none) becomes 200, details have their spaces replaced.
func (x *exchange) immediateReply(status int, body []byte, mut *extprocv3.HeaderMutation, details string) {
	if status < 200 {
		status = http.StatusOK
	}
	x.localReply(status, body, mut, replaceSpaces(details))
}

// localReply is a reply Envoy makes up (E56). Where it goes is E42: with no
// response headers sent yet it reaches the client as a fresh response (the
// upstream request is never sent, or reset, and ext_proc does not process it,
// E43, E58); once headers were sent the stream can only be reset.
func (x *exchange) localReply(status int, body []byte, mut *extprocv3.HeaderMutation, details string) {
	if x.ended {
		return
	}
	x.cancelUpstream()
	x.stopRoute()
	reply := &LocalReply{Status: status, Details: details, Body: body}
	x.res.LocalReply = reply
	if x.headersSent {
		x.reset(details)
		return
	}
	h := headerMap{{":status", strconv.Itoa(status)}}
	if mut != nil {
		// E41: checked with the filter's mutation rules; failures only logged.
		rejected, err := applyHeaderMutation(&h, mut, mutationPolicy{
			rules:    x.o.MutationRules,
			maxCount: x.o.MaxHeadersCount,
			maxBytes: x.o.MaxHeadersKB * 1024,
		})
		x.res.RejectedMutations += rejected
		if err != nil {
			x.log.Debug("envoysim: immediate response mutations failed", "err", err)
		}
	}
	// E43 (Utility::prepareLocalReply): a body gets its length and, only if
	// none was set, text/plain; no body means neither header.
	if len(body) > 0 {
		h.set("content-length", strconv.Itoa(len(body)))
		if _, ok := h.get("content-type"); !ok {
			h.set("content-type", "text/plain")
		}
	} else {
		h.remove("content-length")
		h.remove("content-type")
	}
	reply.Status = h.status(status)
	reply.Header = h.httpHeader()
	x.writeHeaders(reply.Status, h)
	x.ended = true
	if len(body) > 0 && x.req.Method != http.MethodHead { // E65: HEAD replies carry no body
		x.writeBody(body)
	}
}
