package extproc_test

import (
	"net"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota/redisledger"
)

// unreachableLedger is a real Redis ledger whose server is gone: a port on
// loopback that was listening a moment ago and no longer is.
func unreachableLedger(t *testing.T) *redisledger.Ledger {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	return redisledger.New(rdb, redisledger.Options{})
}

func TestLedgerDownFailOpenAdmitsAndTriesToSettle(t *testing.T) {
	// Settlement retries until its deadline; a short one keeps the test short.
	h := newHarness(t, harnessOptions{ledger: unreachableLedger(t), extproc: extproc.Options{SettleTimeout: 100 * time.Millisecond}})
	up := newCutUpstream()
	req := chatRequest(ana, jsonBody)
	res, rec := h.serve(t.Context(), req, up)
	if res.Status != 200 || up.callCount() != 1 {
		t.Fatalf("fail open: status %d, upstream calls %d: %s", res.Status, up.callCount(), rec.Body())
	}
	r := h.record()
	if r.Err == nil || r.Usage.Total() == 0 {
		t.Fatalf("record %+v: want the reported usage and the ledger's error, for reconciliation", r)
	}
	if r.EnvoyRequestID != req.Header.Get("x-request-id") {
		t.Fatalf("record lost Envoy's request id: %q", r.EnvoyRequestID)
	}
}

func TestLedgerDownFailClosedAnswers503(t *testing.T) {
	h := newHarness(t, harnessOptions{ledger: unreachableLedger(t), extproc: extproc.Options{FailClosed: true}})
	up := newCutUpstream()
	res, rec := h.serve(t.Context(), chatRequest(ana, jsonBody), up)
	if res.Status != 503 || up.callCount() != 0 {
		t.Fatalf("fail closed: status %d, upstream calls %d", res.Status, up.callCount())
	}
	if e := decodeError(t, rec.Body()); e.Error.Code == nil || *e.Error.Code != "quota_unavailable" {
		t.Fatalf("code %v", e.Error.Code)
	}
}
