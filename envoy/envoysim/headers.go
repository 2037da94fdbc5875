package envoysim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// headerEntry is one entry of Envoy's header map; keys are lower-case.
type headerEntry struct{ key, value string }

// headerMap keeps the order of Envoy's HeaderMapImpl: pseudo-headers first,
// then the others in insertion order; one entry per value.
type headerMap []headerEntry

// requestHeaderMap builds the request header map the way Envoy's HTTP/1 codec
// does: Host becomes :authority (envoy-ext-proc.md E62) and the
// pseudo-headers come first (E15). Regular headers are sorted by name because
// http.Header has lost the wire order.
func requestHeaderMap(r *Request) headerMap {
	authority := r.Authority
	if authority == "" {
		authority = r.Header.Get("Host")
	}
	m := headerMap{{":authority", authority}, {":path", r.Path}, {":method", r.Method}}
	if r.Scheme != "" {
		m = append(m, headerEntry{":scheme", r.Scheme})
	}
	return m.appendHTTP(r.Header, "host")
}

// responseHeaderMap builds the response header map: :status, then the
// upstream's headers (E15, E63).
func responseHeaderMap(status int, h http.Header) headerMap {
	m := headerMap{{":status", strconv.Itoa(status)}}
	return m.appendHTTP(h, "")
}

func (m headerMap) appendHTTP(h http.Header, skip string) headerMap {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lk := strings.ToLower(k)
		if lk == skip || strings.HasPrefix(lk, ":") {
			continue
		}
		for _, v := range h[k] {
			m = append(m, headerEntry{lk, v})
		}
	}
	return m
}

// get returns the first value of key.
func (m headerMap) get(key string) (string, bool) {
	for _, e := range m {
		if e.key == key {
			return e.value, true
		}
	}
	return "", false
}

// add appends an entry; a pseudo-header goes after the last pseudo-header,
// as HeaderMapImpl inserts it.
func (m *headerMap) add(key, value string) {
	e := headerEntry{key, value}
	if !strings.HasPrefix(key, ":") {
		*m = append(*m, e)
		return
	}
	i := 0
	for i < len(*m) && strings.HasPrefix((*m)[i].key, ":") {
		i++
	}
	*m = slices.Insert(*m, i, e)
}

// set is HeaderMapImpl::setCopy since Envoy 1.16 (guard
// http_set_copy_replace_all_headers, since removed): every entry of key is
// dropped and one is added, so append=false overwrites all values
// (envoy-ext-proc.md E49).
func (m *headerMap) set(key, value string) {
	m.remove(key)
	m.add(key, value)
}

// remove drops every entry of key.
func (m *headerMap) remove(key string) {
	*m = slices.DeleteFunc(*m, func(e headerEntry) bool { return e.key == key })
}

// byteSize is HeaderMap::byteSize: keys plus values.
func (m headerMap) byteSize() int {
	n := 0
	for _, e := range m {
		n += len(e.key) + len(e.value)
	}
	return n
}

// proto renders the map as Envoy sends it: one HeaderValue per entry, the
// value in raw_value only (E15, E50).
func (m headerMap) proto() *corev3.HeaderMap {
	out := &corev3.HeaderMap{Headers: make([]*corev3.HeaderValue, 0, len(m))}
	for _, e := range m {
		out.Headers = append(out.Headers, &corev3.HeaderValue{Key: e.key, RawValue: []byte(e.value)})
	}
	return out
}

// httpHeader returns the regular headers with canonical keys.
func (m headerMap) httpHeader() http.Header {
	h := make(http.Header, len(m))
	for _, e := range m {
		if !strings.HasPrefix(e.key, ":") {
			h.Add(e.key, e.value)
		}
	}
	return h
}

// status parses :status, falling back to fallback when it is unusable.
func (m headerMap) status(fallback int) int {
	v, _ := m.get(":status")
	if n, err := strconv.Atoi(v); err == nil && n >= 100 && n <= 999 {
		return n
	}
	return fallback
}
