package extproc_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/iasolaris/tokengate/envoy/envoysim"
	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

// streamWithUsage is a streamed request whose client asked for usage.
const streamWithUsage = `{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Conte uma história."}]}`

// holdLedger is the in-memory ledger, remembering the last reservation it
// granted so a test can tell what a request held.
type holdLedger struct {
	quota.Ledger
	mu   sync.Mutex
	last quota.Reservation
}

func newHoldLedger() *holdLedger { return &holdLedger{Ledger: memledger.New(memledger.Options{})} }

// Reserve implements [quota.Ledger.Reserve].
func (l *holdLedger) Reserve(ctx context.Context, acct quota.Account, id quota.RequestID, h quota.Hold) (quota.Reservation, error) {
	res, err := l.Ledger.Reserve(ctx, acct, id, h)
	if err == nil {
		l.mu.Lock()
		l.last = res
		l.mu.Unlock()
	}
	return res, err
}

func (l *holdLedger) held() quota.Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quota.Usage{Prompt: l.last.Prompt, Completion: l.last.Completion}
}

// every cuts a body of up to n bytes into chunks of size.
func every(size, n int) []int {
	var cuts []int
	for c := size; c < n; c += size {
		cuts = append(cuts, c)
	}
	return cuts
}

// An upstream that compresses although accept-encoding was removed is read
// through its coding: settled at exactly the usage it reported, while the
// client receives the upstream's bytes exactly, usage chunk tokengate asked
// for included (tokengate does not code a stream again).
func TestCodedResponseIsCountedAndPassedUntouched(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	shapes := []struct{ name, body string }{
		{"json", jsonBody},
		{"stream, usage asked for by tokengate", streamBody},
		{"stream, usage asked for by the client", streamWithUsage},
	}
	for _, coding := range []string{"gzip", "deflate", "raw-deflate", "br", "gzip, br"} {
		for _, shape := range shapes {
			for _, cuts := range [][]int{nil, {1}, {10, 11, 40}, every(7, 8<<10)} {
				up := newCutUpstream(cuts...)
				req := chatRequest(ana, shape.body)
				req.Header.Set("x-fake-content-encoding", coding)
				res, rec := h.serve(t.Context(), req, up)
				if bytes.Contains(up.sent, []byte("chat.completion")) {
					t.Fatalf("%s, %s: the upstream did not code its answer", coding, shape.name)
				}
				if res.Status != 200 || !bytes.Equal(rec.Body(), up.sent) || rec.Header().Get("content-encoding") == "" {
					t.Fatalf("%s, %s, cuts %v: status %d, content-encoding %q, the client got %d bytes of the upstream's %d (equal: %v)",
						coding, shape.name, cuts, res.Status, rec.Header().Get("content-encoding"), len(rec.Body()), len(up.sent), bytes.Equal(rec.Body(), up.sent))
				}
				r, u := h.record(), up.usage()
				want := quota.Usage{Prompt: quota.Tokens(u.PromptTokens), Completion: quota.Tokens(u.CompletionTokens)}
				if r.Estimated || r.Usage != want {
					t.Fatalf("%s, %s, cuts %v: settled %+v (estimated %v), upstream reported %+v", coding, shape.name, cuts, r.Usage, r.Estimated, want)
				}
			}
		}
	}
}

// A coding tokengate cannot undo leaves the usage unknown: the request is
// charged what it was allowed to spend, its hold, never the prompt alone.
func TestUnknownCodingIsChargedTheHold(t *testing.T) {
	tests := []struct {
		name string
		opts extproc.Options
		body string
	}{
		{"json, soft", extproc.Options{}, jsonBody},
		{"stream, soft", extproc.Options{CompletionAllowance: 300}, streamBody},
		{"json, hard", extproc.Options{Enforcement: extproc.Hard}, `{"model":"gpt-4o-mini","max_tokens":40,"messages":[{"role":"user","content":"Olá!"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledger := newHoldLedger()
			h := newHarness(t, harnessOptions{ledger: ledger, extproc: tt.opts})
			up := newCutUpstream(50)
			req := chatRequest(ana, tt.body)
			req.Header.Set("x-fake-content-encoding", "zstd")
			res, rec := h.serve(t.Context(), req, up)
			if res.Status != 200 || !bytes.Equal(rec.Body(), up.sent) || rec.Header().Get("content-encoding") != "zstd" {
				t.Fatalf("status %d, content-encoding %q; the client must get the body as sent", res.Status, rec.Header().Get("content-encoding"))
			}
			r, held := h.record(), ledger.held()
			if !r.Estimated || r.Usage != held || held.Completion == 0 {
				t.Fatalf("settled %+v (estimated %v), held %+v", r.Usage, r.Estimated, held)
			}
			if b := h.balance(ana); b.Used != held.Total() || b.Reserved != 0 {
				t.Fatalf("balance %+v after charging the hold %+v", b, held)
			}
		})
	}
}

// Admitted with the ledger down there is no hold: an unreadable body is
// charged what the request would have held, the prompt and the completion
// allowance.
func TestUnknownCodingFailOpenIsChargedWhatItWouldHaveHeld(t *testing.T) {
	const allowance = 300
	h := newHarness(t, harnessOptions{ledger: unreachableLedger(t), extproc: extproc.Options{CompletionAllowance: allowance}})
	up := newCutUpstream()
	req := chatRequest(ana, streamBody)
	req.Header.Set("x-fake-content-encoding", "compress")
	if res, _ := h.serve(t.Context(), req, up); res.Status != 200 {
		t.Fatalf("status %d", res.Status)
	}
	r := h.record()
	if !r.Estimated || r.Usage.Completion != allowance || r.Usage.Prompt <= 0 {
		t.Fatalf("settled %+v (estimated %v), want the prompt and the allowance of %d", r.Usage, r.Estimated, allowance)
	}
}

// A coded body that turns out corrupt cannot be trusted, even for a usage
// that decoded before the damage: it is charged the hold, or the text seen
// when that is more.
func TestCorruptCodedBodyIsChargedTheHold(t *testing.T) {
	_, hdr, gz := direct(streamWithUsage, "x-fake-content-encoding", "gzip")
	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-6] ^= 0xff // the gzip trailer: every event, usage included, decodes first
	tests := []struct {
		name   string
		header http.Header
		chunks [][]byte
	}{
		{"not gzip at all", http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"gzip"}},
			[][]byte{[]byte(`{"id":"chatcmpl-1","object":"chat.completion","usage":{"prompt_tokens":1,"completion_tokens":1}}`)}},
		{"checksum fails after the usage", hdr, [][]byte{badCRC[:100], badCRC[100:]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ledger := newHoldLedger()
			h := newHarness(t, harnessOptions{ledger: ledger, extproc: extproc.Options{CompletionAllowance: 100}})
			up := &envoysim.ScriptedUpstream{Header: tt.header, Chunks: tt.chunks}
			res, rec := h.serve(t.Context(), chatRequest(ana, streamWithUsage), up)
			if res.Status != 200 || !bytes.Equal(rec.Body(), bytes.Join(tt.chunks, nil)) {
				t.Fatalf("status %d; the client must get the body as sent", res.Status)
			}
			r, held := h.record(), ledger.held()
			if !r.Estimated || r.Usage != held {
				t.Fatalf("settled %+v (estimated %v), held %+v", r.Usage, r.Estimated, held)
			}
		})
	}
}

// gzipEvents codes a stream as a compressing server does, flushing after
// each event, and returns one chunk per event.
func gzipEvents(t *testing.T, events [][]byte) [][]byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	var chunks [][]byte
	for _, ev := range events {
		if _, err := zw.Write(ev); err != nil {
			t.Fatal(err)
		}
		if err := zw.Flush(); err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, bytes.Clone(buf.Bytes()))
		buf.Reset()
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	chunks[len(chunks)-1] = append(chunks[len(chunks)-1], buf.Bytes()...)
	return chunks
}

// A coded stream the client leaves midway is charged like a plain one: the
// prompt estimate and the completion tokens of the deltas that went by.
func TestCutCodedStreamIsChargedLikeAPlainOne(t *testing.T) {
	_, hdr, full := direct(streamWithUsage)
	var events [][]byte
	for ev := range bytes.SplitAfterSeq(full, []byte("\n\n")) {
		events = append(events, ev)
	}
	coded := hdr.Clone()
	coded.Set("Content-Encoding", "gzip")
	var got []quota.Usage
	for _, up := range []*envoysim.ScriptedUpstream{
		{Header: hdr, Chunks: events},
		{Header: coded, Chunks: gzipEvents(t, events)},
	} {
		h := newHarness(t, harnessOptions{})
		never := make(chan struct{}) // the upstream stalls after the role delta and three tokens
		up.Hold = map[int]<-chan struct{}{4: never}
		ctx, cancel := context.WithCancel(t.Context())
		rec := &envoysim.Recorder{}
		done := make(chan envoysim.Result)
		go func() { done <- h.filter.Serve(ctx, chatRequest(ana, streamBody), up, rec) }()
		if err := rec.WaitChunks(t.Context(), 4); err != nil {
			t.Fatal(err)
		}
		cancel()
		<-done
		r := h.record()
		if !r.Estimated || r.Usage.Completion != 3 || r.Usage.Prompt <= 0 {
			t.Fatalf("%s: settled %+v (estimated %v), want the prompt estimate and 3 completion tokens",
				up.Header.Get("Content-Encoding"), r.Usage, r.Estimated)
		}
		got = append(got, r.Usage)
	}
	if got[0] != got[1] {
		t.Fatalf("plain stream settled %+v, coded %+v", got[0], got[1])
	}
}

// A coded stream whose end is missing but whose events all arrived is read
// like a plain stream that ends there: the usage it carried counts.
func TestCodedStreamWithoutItsEndStillCountsItsUsage(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	_, hdr, gz := direct(streamWithUsage, "x-fake-content-encoding", "gzip")
	up := &envoysim.ScriptedUpstream{Header: hdr, Chunks: [][]byte{gz[:len(gz)-8]}} // no gzip trailer
	if res, _ := h.serve(t.Context(), chatRequest(ana, streamWithUsage), up); res.Status != 200 {
		t.Fatalf("status %d", res.Status)
	}
	if r := h.record(); r.Estimated || r.Usage.Completion != 16 {
		t.Fatalf("settled %+v (estimated %v), want the 16 completion tokens reported", r.Usage, r.Estimated)
	}
}
