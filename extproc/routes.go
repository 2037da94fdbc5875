package extproc

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"
)

// routeClass is what tokengate does with a request, decided at its headers.
type routeClass uint8

const (
	// routeRefused: answered 403 endpoint_not_allowed at the headers, so
	// nothing that costs money reaches the upstream by omission.
	routeRefused routeClass = iota
	// routePassthrough: an operator-listed route (model lists, health) that
	// goes upstream unmetered.
	routePassthrough
	// routeMetered: a model call in a format tokengate reads.
	routeMetered
)

// Route is one passthrough rule: requests with Method whose normalised path
// is Prefix or lies below it (whole segments: /v1/models covers
// /v1/models/gpt-4o, not /v1/modelsx) go upstream unmetered.
type Route struct {
	Method string
	Prefix string
	segs   []string // Prefix's segments, for matching without allocating
}

// ParseRoute reads a passthrough rule written as "METHOD /path-prefix",
// e.g. "GET /" or "GET /v1/models". The prefix is normalised as request
// paths are, so a rule matches whatever spelling a client uses.
func ParseRoute(s string) (Route, error) {
	method, prefix, ok := strings.Cut(strings.TrimSpace(s), " ")
	prefix = strings.TrimSpace(prefix)
	if !ok || method == "" || prefix == "" {
		return Route{}, fmt.Errorf("want \"METHOD /path-prefix\", got %q", s)
	}
	for i := 0; i < len(method); i++ {
		if c := method[i]; c < 'A' || c > 'Z' {
			return Route{}, fmt.Errorf("method %q: want an upper-case HTTP method such as GET", method)
		}
	}
	if !strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, "?# \t") {
		return Route{}, fmt.Errorf("path prefix %q: want an absolute path without query, e.g. /v1/models", prefix)
	}
	var p requestPath
	if !p.parse([]byte(prefix)) {
		return Route{}, fmt.Errorf("path prefix %q: not a valid path", prefix)
	}
	r := Route{Method: method, Prefix: p.String()}
	for _, seg := range p.segments() {
		r.segs = append(r.segs, string(seg))
	}
	return r, nil
}

// String renders the rule as ParseRoute reads it.
func (r Route) String() string { return r.Method + " " + r.Prefix }

// covers reports whether p lies at or below the rule's prefix.
func (r Route) covers(method []byte, p *requestPath) bool {
	if string(method) != r.Method || len(r.segs) > p.n {
		return false
	}
	for i, s := range r.segs {
		if string(p.segs[i]) != s {
			return false
		}
	}
	return true
}

// maxSegments bounds the path segments tokengate follows. Model routes have
// a handful; a path deeper than this is refused, not guessed at.
const maxSegments = 32

// requestPath is a request's :path as the upstream will route it: the query
// dropped, percent-escapes decoded, empty and "." segments dropped and ".."
// resolved. LiteLLM's server decodes escapes and tolerates doubled or
// trailing slashes, so /v1/chat/complet%69ons and /v1//chat/completions/ are
// the chat route there and must be here; resolving ".." means a prefix rule
// cannot be climbed out of (/v1/models/../embeddings is not under
// /v1/models). The segments point into the path (or its decoded copy).
type requestPath struct {
	segs [maxSegments][]byte
	n    int
}

// parse fills p from raw and reports whether raw is a path tokengate can
// judge: absolute, with valid escapes and at most maxSegments segments.
// Only a path with escapes allocates (its decoded copy).
func (p *requestPath) parse(raw []byte) bool {
	if i := bytes.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if len(raw) == 0 || raw[0] != '/' {
		return false
	}
	if bytes.IndexByte(raw, '%') >= 0 {
		decoded, err := url.PathUnescape(string(raw))
		if err != nil {
			return false
		}
		raw = []byte(decoded)
	}
	p.n = 0
	for seg := range bytes.SplitSeq(raw[1:], []byte("/")) {
		switch string(seg) {
		case "", ".":
		case "..":
			if p.n > 0 {
				p.n--
			}
		default:
			if p.n == maxSegments {
				return false
			}
			p.segs[p.n] = seg
			p.n++
		}
	}
	return true
}

// segments returns the path's segments in order.
func (p *requestPath) segments() [][]byte { return p.segs[:p.n] }

// endsWith reports whether the path's last segments are tail.
func (p *requestPath) endsWith(tail ...string) bool {
	if len(tail) > p.n {
		return false
	}
	for i, s := range tail {
		if string(p.segs[p.n-len(tail)+i]) != s {
			return false
		}
	}
	return true
}

// String renders the normalised path, for messages and logs.
func (p *requestPath) String() string {
	if p.n == 0 {
		return "/"
	}
	var b strings.Builder
	for _, s := range p.segments() {
		b.WriteByte('/')
		b.Write(s)
	}
	return b.String()
}

// isMeteredRoute reports whether the request is a model call in a format
// tokengate reads. Chat completions are matched on the path's end: LiteLLM serves the
// same handler at /chat/completions, /v1/chat/completions and under
// deployment-style prefixes (/openai/deployments/{model}/chat/completions).
func isMeteredRoute(method []byte, p *requestPath) bool {
	return string(method) == "POST" && p.endsWith("chat", "completions")
}

// classify decides a request's route: metered first (a model route cannot
// be made to pass unmetered by a passthrough rule that happens to cover it),
// then the passthrough rules, and everything else is refused.
func (s *Server) classify(method, rawPath []byte, p *requestPath) routeClass {
	if !p.parse(rawPath) {
		return routeRefused
	}
	if isMeteredRoute(method, p) {
		return routeMetered
	}
	for i := range s.opts.Passthrough {
		if s.opts.Passthrough[i].covers(method, p) {
			return routePassthrough
		}
	}
	return routeRefused
}
