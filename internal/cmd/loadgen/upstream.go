package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/iasolaris/tokengate/envoy/envoysim"
)

// words are the completion's tokens, one per content chunk, JSON-quoted once.
var words = func() [][]byte {
	list := []string{" The", " credits", " from", " injected", " energy", " offset", " consumption", " in",
		" the", " same", " billing", " cycle", ",", " and", " any", " surplus", " is", " carried", " over",
		" for", " up", " to", " sixty", " months", "."}
	out := make([][]byte, len(list))
	for i, w := range list {
		out[i], _ = json.Marshal(w)
	}
	return out
}()

// clock is the run's time base: stamps are offsets from it, so a stream's
// thousand-odd timestamps are int64s, not time.Times.
type clock struct{ base time.Time }

func (c clock) now() time.Duration { return time.Since(c.base) }

// upstream is one stream's LLM behind Envoy: it answers 200 text/event-stream
// with OpenAI chat.completion.chunk events, paced, and notes when each event
// left it. It runs in process, so what is measured is tokengate and the
// ext_proc round trips, not a network.
type upstream struct {
	clk      clock
	id       string // chatcmpl id, stream-unique
	tokens   int
	interval time.Duration
	prompt   int64 // prompt_tokens it reports

	// Set by RoundTrip and the body reader; read after Serve returns, which
	// waits for both (envoysim.Filter.Serve).
	called       bool
	calledAt     time.Duration
	includeUsage bool
	reported     int64 // prompt+completion in the usage chunk, once sent
	body         *sseBody
}

// RoundTrip implements [envoysim.Upstream.RoundTrip].
func (u *upstream) RoundTrip(ctx context.Context, req *envoysim.UpstreamRequest) (*envoysim.UpstreamResponse, error) {
	u.called, u.calledAt = true, u.clk.now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r struct {
		Model         string `json:"model"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(req.Body, &r); err != nil {
		return &envoysim.UpstreamResponse{Status: http.StatusBadRequest, Header: http.Header{"Content-Type": {"application/json"}},
			Body: &oneChunk{data: []byte(`{"error":{"message":"We could not parse the JSON body of your request.","type":"invalid_request_error","param":null,"code":null}}`)}}, nil
	}
	// OpenAI sends usage only when asked; tokengate is expected to ask.
	u.includeUsage = r.StreamOptions != nil && r.StreamOptions.IncludeUsage
	u.body = &sseBody{u: u, start: time.Now(), prefix: chunkPrefix(u.id, r.Model)}
	h := http.Header{
		"Content-Type":         {"text/event-stream; charset=utf-8"},
		"Cache-Control":        {"no-cache, must-revalidate"},
		"X-Request-Id":         {"req_" + u.id},
		"Openai-Processing-Ms": {"212"},
	}
	return &envoysim.UpstreamResponse{Status: http.StatusOK, Header: h, Body: u.body}, nil
}

// chunkPrefix is the part of every chat.completion.chunk before "choices".
func chunkPrefix(id, model string) []byte {
	m, _ := json.Marshal(model)
	return fmt.Appendf(nil, `{"id":"chatcmpl-%s","object":"chat.completion.chunk","created":%d,"model":%s,"service_tier":"default","system_fingerprint":"fp_b376dfbbd5","choices":`,
		id, time.Now().Unix(), m)
}

// sseBody yields OpenAI's sequence, one event per read: a role chunk; the
// content tokens; a finish chunk; with include_usage a usage-only chunk with
// "choices":[]; then [DONE]; then an empty read with io.EOF, the HTTP/1
// chunked terminator. Each content chunk and the finish chunk come
// interval after the previous one, on a fixed schedule so slow reads do not
// stretch the stream; usage and [DONE] follow the finish at once, as
// OpenAI sends them.
type sseBody struct {
	u      *upstream
	start  time.Time
	prefix []byte
	next   int
	// When events left the upstream: the choice events (role, content,
	// finish) in order, the usage chunk if sent, and [DONE].
	choiceAt []time.Duration
	usageAt  time.Duration
	doneAt   time.Duration
	done     bool
}

// NextChunk implements [envoysim.ChunkReader.NextChunk].
func (b *sseBody) NextChunk(ctx context.Context) ([]byte, error) {
	u := b.u
	k := b.next
	b.next++
	finish := u.tokens + 1
	if k >= 1 && k <= finish {
		if err := waitUntil(ctx, b.start.Add(time.Duration(k)*u.interval)); err != nil {
			return nil, err
		}
	} else if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ev []byte
	switch {
	case k == 0:
		ev = b.choice(`{"role":"assistant","content":"","refusal":null}`, nil, "null")
	case k < finish:
		ev = b.choice(`{"content":`, words[(k-1)%len(words)], "null")
	case k == finish:
		ev = b.choice(`{}`, nil, `"stop"`)
	case k == finish+1 && u.includeUsage:
		completion := int64(u.tokens)
		ev = append(append([]byte("data: "), b.prefix...), fmt.Sprintf(`[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}`+"\n\n",
			u.prompt, completion, u.prompt+completion)...)
		u.reported = u.prompt + completion
		b.usageAt = u.clk.now()
		return ev, nil
	case !b.done:
		b.done, b.doneAt = true, u.clk.now()
		return []byte("data: [DONE]\n\n"), nil
	default:
		return nil, io.EOF
	}
	b.choiceAt = append(b.choiceAt, u.clk.now())
	return ev, nil
}

// choice frames one chunk with a single choice. delta is the delta object,
// or, with content set, its opening up to the quoted content.
func (b *sseBody) choice(delta string, content []byte, finish string) []byte {
	ev := make([]byte, 0, len(b.prefix)+160)
	ev = append(append(ev, "data: "...), b.prefix...)
	ev = append(append(ev, `[{"index":0,"delta":`...), delta...)
	if content != nil {
		ev = append(append(ev, content...), '}')
	}
	ev = append(append(ev, `,"logprobs":null,"finish_reason":`...), finish...)
	ev = append(ev, "}]"...)
	if b.u.includeUsage {
		ev = append(ev, `,"usage":null`...)
	}
	return append(ev, "}\n\n"...)
}

// waitUntil returns at t, or early with ctx's error.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// oneChunk is a whole body in one read.
type oneChunk struct{ data []byte }

// NextChunk implements [envoysim.ChunkReader.NextChunk].
func (o *oneChunk) NextChunk(context.Context) ([]byte, error) {
	if o.data == nil {
		return nil, io.EOF
	}
	d := o.data
	o.data = nil
	return d, io.EOF
}

// streamID is stream i's id within the run, for chatcmpl and x-request-id.
func streamID(run string, i int) string { return run + "-" + strconv.Itoa(i) }
