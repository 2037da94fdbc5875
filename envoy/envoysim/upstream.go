package envoysim

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Router local replies. Their exact texts are not verified against Envoy
// (envoy-ext-proc.md, "Unverified").
const (
	connectFailureBody    = "upstream connect error or disconnect/reset before headers. reset reason: connection failure"
	connectFailureDetails = "upstream_reset_before_response_started{connection_failure}"
	routeTimeoutBody      = "upstream request timeout"
	routeTimeoutDetails   = "upstream_response_timeout"
)

// startUpstream is the router forwarding the request once the filter let it
// through (E61); the route timeout runs until the response is complete (E59).
func (x *exchange) startUpstream() {
	x.upCtx, x.cancelUp = context.WithCancel(x.ctx)
	req := x.upstreamRequest()
	x.res.UpstreamCalled = true
	x.res.UpstreamRequest = req
	x.upStart = x.o.Now()
	done := make(chan roundTrip, 1) // buffered: nobody may be listening any more
	x.upDone = done
	x.bg.Add(1)
	go func(ctx context.Context) {
		defer x.bg.Done()
		resp, err := x.up.RoundTrip(ctx, req)
		done <- roundTrip{resp, err}
	}(x.upCtx)
	if x.o.RouteTimeout > 0 {
		x.route = time.NewTimer(x.o.RouteTimeout)
		x.routeArmed = true
	}
}

// onUpstream takes the upstream's response headers, or its failure (E57).
func (x *exchange) onUpstream(t roundTrip) {
	if t.err != nil {
		x.log.Debug("envoysim: upstream failed", "err", t.err)
		x.routerReply(http.StatusServiceUnavailable, connectFailureBody, connectFailureDetails)
		return
	}
	x.respReceived = true
	x.resp = t.resp
}

// onRouteTimeout is E59: a 504 local reply before the upstream answered,
// a reset once its headers went into the filter chain.
func (x *exchange) onRouteTimeout() {
	x.upDone = nil
	if !x.respReceived {
		x.routerReply(http.StatusGatewayTimeout, routeTimeoutBody, routeTimeoutDetails)
		return
	}
	x.reset(routeTimeoutDetails)
}

func (x *exchange) stopRoute() {
	if x.route != nil {
		x.route.Stop()
	}
	x.routeArmed = false
}

// routerReply is a router local reply (E57). With
// Options.LocalRepliesReachProcessor (Envoy 1.37+) it goes through the
// encoder chain, so the processor sees it as a response formatted per E43;
// otherwise (1.34–1.36) it goes straight to the client.
func (x *exchange) routerReply(status int, body, details string) {
	x.cancelUpstream()
	x.stopRoute()
	if !x.o.LocalRepliesReachProcessor || x.complete {
		x.localReply(status, []byte(body), nil, details)
		return
	}
	h := http.Header{}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Content-Type", "text/plain")
	x.res.LocalReply = &LocalReply{Status: status, Details: details, Body: []byte(body), Header: h.Clone(), ViaProcessor: true}
	x.localResp = true
	// The upstream is gone; the local reply's body is read under a context of its own.
	x.upCtx, x.cancelUp = context.WithCancel(x.ctx)
	x.resp = &UpstreamResponse{Status: status, Header: h, Body: &localBody{data: []byte(body)}}
}

// localBody is a local reply's body: encoded in the same dispatch as its
// headers, so it has arrived before the processor's header reply (E30).
type localBody struct {
	data []byte
	done bool
}

// NextChunk implements [ChunkReader.NextChunk].
func (b *localBody) NextChunk(context.Context) ([]byte, error) {
	if b.done {
		return nil, io.EOF
	}
	b.done = true
	return b.data, io.EOF
}

// EarlyChunks implements [ArrivalScript.EarlyChunks].
func (b *localBody) EarlyChunks() int { return 1 }

// HeaderReplyHandled implements [ArrivalScript.HeaderReplyHandled].
func (b *localBody) HeaderReplyHandled() {}
