package envoysim

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// exchange is one HTTP stream through the filter. The goroutine running Serve
// owns all of it, as Envoy's worker thread owns a stream; other goroutines
// (gRPC receive, upstream round trip, body reads) only hand it events.
type exchange struct {
	o    Options
	f    *Filter
	log  *slog.Logger
	ctx  context.Context // the downstream; done = client gone (E12)
	req  *Request
	up   Upstream
	down Downstream
	res  Result
	// ended: the HTTP exchange is over (local reply, reset or client gone).
	ended bool
	bg    sync.WaitGroup

	// Processor stream (stream.go).
	stream       extprocv3.ExternalProcessor_ProcessClient
	cancelStream context.CancelFunc
	msgs         chan received
	closing      chan struct{} // closed when the filter closes its side
	recvDone     chan struct{}
	closed       bool
	complete     bool // processing_complete_: the processor is out of the picture (E7)
	configSent   bool // protocol_config went out (E27)
	late         atomic.Int64
	endMu        sync.Mutex
	serverEnd    *status.Status
	graceful     atomic.Bool
	timedOut     atomic.Bool

	mode     mode
	dec, enc direction
	metadata map[string]*structpb.Struct

	// Request side (request.go).
	reqHeaders headerMap
	reqBody    []byte

	// Router (upstream.go).
	upCtx        context.Context
	cancelUp     context.CancelFunc
	upDone       chan roundTrip
	upStart      time.Time
	route        *time.Timer
	routeArmed   bool
	respReceived bool

	// Response side (response.go).
	resp        *UpstreamResponse
	localResp   bool
	respHeaders headerMap
	headersSent bool
	body        ChunkReader
	arrival     ArrivalScript
	notified    bool
	chunks      chan chunk
	reading     bool
	chunksSeen  int
	held        []byte // data held with the headers (E18, E19, E30)
	heldData    bool   // a data callback happened while held
	heldEOS     bool
	queue       []queuedChunk // STREAMED chunks awaiting replies (E28)
	queued      int
	watermark   bool // reading paused (E32)
	respDone    bool
}

type queuedChunk struct {
	data []byte
	eos  bool
}

type received struct {
	msg *extprocv3.ProcessingResponse
	err error
}

type roundTrip struct {
	resp *UpstreamResponse
	err  error
}

type chunk struct {
	data []byte
	err  error
}

func newExchange(ctx context.Context, f *Filter, req *Request, up Upstream, down Downstream) *exchange {
	x := &exchange{
		o:        f.opts,
		f:        f,
		log:      f.opts.Logger,
		ctx:      ctx,
		req:      req,
		up:       up,
		down:     down,
		mode:     tokengateMode,
		metadata: make(map[string]*structpb.Struct),
		res: Result{
			Sent:     make(map[MessageKind]int),
			Received: make(map[MessageKind]int),
		},
	}
	for ns, s := range req.DynamicMetadata {
		x.metadata[ns] = proto.Clone(s).(*structpb.Struct)
	}
	return x
}

// run walks the phases of envoy-ext-proc.md E68–E70; each wait handles
// whatever arrives meanwhile (replies, timeouts, errors, the client leaving).
func (x *exchange) run() {
	x.startRequest()
	x.wait(func() bool { return x.dec.state == idle })
	if x.ended {
		return
	}
	x.startUpstream() // E61: only after the last request-side reply
	x.wait(func() bool { return x.resp != nil })
	if x.ended {
		return
	}
	x.startResponse()
	x.wait(func() bool { return x.respDone })
}

func (x *exchange) wait(done func() bool) {
	for !x.ended && !done() {
		x.handle(x.next())
	}
}

type eventKind int

const (
	evGone eventKind = iota
	evMessage
	evDecodeTimeout
	evEncodeTimeout
	evRouteTimeout
	evUpstream
	evChunk
)

type event struct {
	kind  eventKind
	recv  received
	trip  roundTrip
	chunk chunk
}

// next blocks for the next event. A source is listened to only while it can
// matter: replies until the filter closes its side (E7), body data while
// reading is not paused by a watermark (E32).
func (x *exchange) next() event {
	var msgs chan received
	if x.stream != nil && !x.closed {
		msgs = x.msgs
	}
	var chunks chan chunk
	if x.reading && !x.watermark {
		chunks = x.chunks
	}
	var route <-chan time.Time
	if x.routeArmed {
		route = x.route.C
	}
	select {
	case <-x.ctx.Done():
		return event{kind: evGone}
	case r := <-msgs:
		return event{kind: evMessage, recv: r}
	case <-x.dec.expired():
		x.dec.armed = false
		return event{kind: evDecodeTimeout}
	case <-x.enc.expired():
		x.enc.armed = false
		return event{kind: evEncodeTimeout}
	case <-route:
		x.routeArmed = false
		return event{kind: evRouteTimeout}
	case t := <-x.upDone:
		x.upDone = nil
		return event{kind: evUpstream, trip: t}
	case c := <-chunks:
		return event{kind: evChunk, chunk: c}
	}
}

func (x *exchange) handle(ev event) {
	switch ev.kind {
	case evGone:
		x.downstreamGone()
	case evMessage:
		if ev.recv.err != nil {
			x.onStreamEnd(ev.recv.err)
		} else {
			x.onMessage(ev.recv.msg)
		}
	case evDecodeTimeout, evEncodeTimeout:
		x.onMessageTimeout()
	case evRouteTimeout:
		x.onRouteTimeout()
	case evUpstream:
		x.onUpstream(ev.trip)
	case evChunk:
		x.onChunk(ev.chunk)
	}
}

// finish is the end of the HTTP stream, Envoy's onDestroy: timers stop and a
// stream still open is closed (E6e, E12); then every goroutine is waited for.
func (x *exchange) finish() {
	x.dec.stop()
	x.enc.stop()
	x.stopRoute()
	if x.stream != nil && !x.closed {
		cause := CloseStreamEnd
		if x.res.DownstreamGone {
			cause = CloseDownstreamGone
		}
		x.closeStream(cause, true)
	}
	x.complete = true
	x.cancelUpstream()
	if c, ok := x.body.(io.Closer); ok {
		_ = c.Close()
	}
	x.bg.Wait()
	x.res.IgnoredAfterClose = int(x.late.Load())
	x.res.RemoteCloseTimedOut = x.timedOut.Load()
	x.endMu.Lock()
	x.res.ServerEnd = x.serverEnd
	x.endMu.Unlock()
	if len(x.metadata) > 0 {
		x.res.DynamicMetadata = maps.Clone(x.metadata)
	}
}

// downstreamGone is E12: the client reset or disconnected. No message tells
// the processor why; it sees the stream end. The router resets the upstream.
func (x *exchange) downstreamGone() {
	x.res.DownstreamGone = true
	x.ended = true
	x.closeStream(CloseDownstreamGone, true)
	x.cancelUpstream()
}

// writeHeaders sends the response headers downstream.
func (x *exchange) writeHeaders(status int, h headerMap) {
	x.headersSent = true
	x.res.Status = status
	x.down.WriteHeader(status, h.httpHeader())
}

// writeBody sends data downstream; a failed write is the client gone (E12).
func (x *exchange) writeBody(data []byte) bool {
	if err := x.down.Write(data); err != nil {
		x.log.Debug("envoysim: downstream write failed", "err", err)
		x.downstreamGone()
		return false
	}
	return true
}

// reset aborts the downstream stream (E42).
func (x *exchange) reset(details string) {
	x.res.Reset = true
	x.res.ResetDetails = details
	x.ended = true
	x.cancelUpstream()
	x.down.Reset()
}

func (x *exchange) cancelUpstream() {
	if x.cancelUp != nil {
		x.cancelUp()
	}
}

// isEOF reports whether a ChunkReader error is the end of the body.
func isEOF(err error) bool { return errors.Is(err, io.EOF) }
