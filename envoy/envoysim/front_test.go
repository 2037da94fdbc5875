package envoysim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
)

// upstreamSeen records what the fake LLM upstream received.
type upstreamSeen struct {
	mu     sync.Mutex
	header http.Header
	body   []byte
	host   string
}

func (u *upstreamSeen) record(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	defer u.mu.Unlock()
	u.header, u.body, u.host = r.Header.Clone(), body, r.Host
}

func (u *upstreamSeen) get() (http.Header, []byte, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.header, u.body, u.host
}

// startFront runs upstream behind a Front whose filter talks to a fake
// processor answering with fn.
func startFront(t *testing.T, fn func(int, *extprocv3.ProcessingRequest) answer, upstream http.HandlerFunc) (*fakeProcessor, *httptest.Server) {
	t.Helper()
	p, client := startProcessor(t, fn)
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	u, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(NewFront(newFilter(client, Options{}), u, FrontOptions{NewRequestID: func() string { return "rid-1" }}))
	t.Cleanup(front.Close)
	return p, front
}

func headerValue(m *extprocv3.ProcessingRequest, key string) string {
	hs := m.GetRequestHeaders()
	if hs == nil {
		hs = m.GetResponseHeaders()
	}
	for _, h := range hs.GetHeaders().GetHeaders() {
		if h.GetKey() == key {
			return string(h.GetRawValue())
		}
	}
	return ""
}

// TestFrontStreamsSSE checks the HTTP front end to end: the headers Envoy
// adds before ext_proc (E62) and after the router (E63), content-length
// gone and chunks flushed one by one to the client (E51, E53, E70) — the
// upstream sends its second event only after the client has read the first.
func TestFrontStreamsSSE(t *testing.T) {
	second := make(chan struct{})
	seen := &upstreamSeen{}
	p, front := startFront(t, continueAll, func(w http.ResponseWriter, r *http.Request) {
		seen.record(r)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Oi\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-second:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "data: [DONE]\n\n")
	})
	resp, err := http.Post(front.URL+"/v1/chat/completions?x=1", "application/json", strings.NewReader(chatBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, "data: {") {
		t.Fatalf("first event: %q, %v", first, err)
	}
	close(second)
	rest, err := io.ReadAll(br)
	if err != nil || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("rest: %q, %v", rest, err)
	}
	if resp.ContentLength != -1 || resp.Header.Get("Server") != "envoy" || len(resp.TransferEncoding) == 0 {
		t.Errorf("client got content-length %d, server %q, transfer-encoding %v", resp.ContentLength, resp.Header.Get("Server"), resp.TransferEncoding)
	}
	p.waitEnd(t)
	msgs := p.messages()
	frontHost := strings.TrimPrefix(front.URL, "http://")
	for key, want := range map[string]string{
		":authority": frontHost, ":path": "/v1/chat/completions?x=1", ":method": "POST", ":scheme": "http",
		"x-request-id": "rid-1", "x-forwarded-proto": "http", "x-envoy-external-address": "127.0.0.1",
		"content-length": strconv.Itoa(len(chatBody)),
	} {
		if got := headerValue(msgs[0], key); got != want {
			t.Errorf("request_headers %s = %q, want %q", key, got, want)
		}
	}
	if headerValue(msgs[0], "connection") != "" || headerValue(msgs[0], "host") != "" {
		t.Error("hop-by-hop or host header reached the processor")
	}
	if headerValue(msgs[2], "x-envoy-upstream-service-time") == "" || headerValue(msgs[2], "server") != "" {
		t.Errorf("response_headers: %v", msgs[2].GetResponseHeaders())
	}
	if h, body, host := seen.get(); string(body) != chatBody || host != frontHost || h.Get("X-Request-Id") != "rid-1" {
		t.Errorf("upstream got host %q body %q headers %v", host, body, h)
	}
}

// TestFrontBodyMutationAndBytes checks that a buffered body mutation with
// its content-length reaches the upstream (E52), that the processor sees the
// upstream's content-length while the client does not (E51), and that
// compressed bytes pass untouched in both directions.
func TestFrontBodyMutationAndBytes(t *testing.T) {
	const rewritten = `{"model":"gpt-4o-mini","max_tokens":100}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"id":"chatcmpl-1","usage":{"total_tokens":12}}`))
	_ = zw.Close()
	seen := &upstreamSeen{}
	p, front := startFront(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
		if kindOf(req) == KindRequestBody {
			return answer{send: []*extprocv3.ProcessingResponse{cont(KindRequestBody, &extprocv3.CommonResponse{
				HeaderMutation: mutation(map[string]string{"content-length": strconv.Itoa(len(rewritten))}),
				BodyMutation:   bodyMutation(rewritten),
			})}}
		}
		return continueAll(0, req)
	}, func(w http.ResponseWriter, r *http.Request) {
		seen.record(r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		_, _ = w.Write(gz.Bytes())
	})
	req, _ := http.NewRequest(http.MethodPost, front.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: Go then leaves the body compressed
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !bytes.Equal(got, gz.Bytes()) || resp.Header.Get("Content-Length") != "" {
		t.Errorf("client got %d bytes (want %d), content-length %q", len(got), gz.Len(), resp.Header.Get("Content-Length"))
	}
	p.waitEnd(t)
	if cl := headerValue(p.messages()[2], "content-length"); cl != strconv.Itoa(gz.Len()) {
		t.Errorf("processor saw response content-length %q", cl)
	}
	h, body, _ := seen.get()
	if string(body) != rewritten || h.Get("Content-Length") != strconv.Itoa(len(rewritten)) || h.Get("Accept-Encoding") != "gzip" {
		t.Errorf("upstream got %q with %v", body, h)
	}
}

// TestFrontImmediateAndReset checks E41–E43 through the front: a refusal at
// request_body is an ordinary response the upstream never sees; one after
// the response headers went out aborts the client connection (E42).
func TestFrontImmediateAndReset(t *testing.T) {
	const refusal = `{"error":{"code":"insufficient_quota"}}`
	calls := 0
	var mu sync.Mutex
	upstream := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // a stream still going: the first chunk cannot be the whole body
	}
	t.Run("refused", func(t *testing.T) {
		_, front := startFront(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
			if kindOf(req) == KindRequestBody {
				return answer{send: []*extprocv3.ProcessingResponse{immediate(typev3.StatusCode_TooManyRequests, refusal, "quota",
					mutation(map[string]string{"content-type": "application/json"}))}}
			}
			return continueAll(0, req)
		}, upstream)
		resp, err := http.Post(front.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 429 || string(body) != refusal || resp.Header.Get("Content-Type") != "application/json" ||
			resp.ContentLength != int64(len(refusal)) {
			t.Errorf("client got %d %q %v", resp.StatusCode, body, resp.Header)
		}
		mu.Lock()
		defer mu.Unlock()
		if calls != 0 {
			t.Error("upstream called")
		}
	})
	t.Run("reset", func(t *testing.T) {
		_, front := startFront(t, func(_ int, req *extprocv3.ProcessingRequest) answer {
			if kindOf(req) == KindResponseBody {
				return answer{send: []*extprocv3.ProcessingResponse{immediate(typev3.StatusCode_TooManyRequests, refusal, "", nil)}}
			}
			return continueAll(0, req)
		}, upstream)
		resp, err := http.Post(front.URL+"/v1/chat/completions", "application/json", strings.NewReader(chatBody))
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || err == nil {
			t.Errorf("client got %d and read error %v, want 200 then a broken body", resp.StatusCode, err)
		}
	})
}

// TestFrontClientGoesAway checks E12 through the front: the client hanging
// up mid-stream ends the processor stream and cancels the upstream request.
func TestFrontClientGoesAway(t *testing.T) {
	upstreamGone := make(chan struct{})
	p, front := startFront(t, continueAll, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: 1\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(upstreamGone)
	})
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, front.URL+"/v1/chat/completions", strings.NewReader(chatBody))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "data: 1\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	_ = resp.Body.Close()
	if end := p.waitEnd(t); !isNormalEnd(end) {
		t.Errorf("processor saw %v", end)
	}
	select {
	case <-upstreamGone:
	case <-t.Context().Done():
	}
	for _, m := range p.messages() {
		if m.GetResponseBody().GetEndOfStream() {
			t.Error("an end_of_stream body message was sent")
		}
	}
}
