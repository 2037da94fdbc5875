package extproc_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// harness is tokengate's ext_proc server on a loopback gRPC port, driven by
// the Envoy emulator, with an in-memory ledger.
type harness struct {
	t       *testing.T
	ledger  quota.Ledger
	filter  *envoysim.Filter
	records chan extproc.Record
}

type harnessOptions struct {
	extproc   extproc.Options
	envoy     envoysim.Options
	allowance quota.Tokens
	rpm       int
	ledger    quota.Ledger
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, ledger: o.ledger, records: make(chan extproc.Record, 64)}
	if h.ledger == nil {
		h.ledger = memledger.New(memledger.Options{})
	}
	if o.allowance == 0 {
		o.allowance = 1_000_000
	}
	o.extproc.Records = func(r extproc.Record) { h.records <- r }
	srv, err := extproc.New(h.ledger, extproc.UserHeader{Header: "x-user-email", Allowance: o.allowance, RPM: o.rpm}, o.extproc)
	if err != nil {
		t.Fatal(err)
	}
	conn := serveOnLoopback(t, srv)
	if o.envoy.MessageTimeout == 0 {
		// Envoy's 200 ms is for production; a loaded CI machine running the
		// race detector must not turn a slow scheduler into a 504.
		o.envoy.MessageTimeout = 5 * time.Second
	}
	h.filter = envoysim.New(extprocv3.NewExternalProcessorClient(conn), o.envoy)
	return h
}

// serveOnLoopback runs srv on a loopback gRPC port for the test's duration
// and returns a connection to it.
func serveOnLoopback(t *testing.T, srv extprocv3.ExternalProcessorServer) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	extprocv3.RegisterExternalProcessorServer(gs, srv)
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// chat builds a chat-completion request from user.
func chatRequest(user, body string) *envoysim.Request {
	hdr := http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {newID()}}
	// A NUL separates several values of the header, for tests of forgery.
	for _, u := range strings.Split(user, "\x00") {
		if u != "" {
			hdr.Add("x-user-email", u)
		}
	}
	return &envoysim.Request{Method: "POST", Path: "/v1/chat/completions", Authority: "llm.internal", Scheme: "http", Header: hdr, Body: []byte(body)}
}

// serve runs one request through the emulator and returns what the client got.
func (h *harness) serve(ctx context.Context, req *envoysim.Request, up envoysim.Upstream) (envoysim.Result, *envoysim.Recorder) {
	rec := &envoysim.Recorder{}
	return h.filter.Serve(ctx, req, up, rec), rec
}

// record waits for the next finished request; settlement runs after the
// exchange's last reply, so it may still be under way when Serve returns.
func (h *harness) record() extproc.Record {
	h.t.Helper()
	select {
	case r := <-h.records:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("no request was settled or released")
		return extproc.Record{}
	}
}

func (h *harness) balance(acct string) quota.Balance {
	h.t.Helper()
	b, err := h.ledger.Balance(context.Background(), quota.AccountID(acct))
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}
