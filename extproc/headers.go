package extproc

import (
	"bytes"
	"strconv"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// Headers is the header map of one ext_proc headers message. Envoy sends every
// header lower-cased with its value in raw_value and value empty
// (envoy-ext-proc.md E15, E50); value is read only when raw_value is empty,
// for processors' other clients.
type Headers struct{ m *corev3.HeaderMap }

// Get returns the first value of the header named name, which must be lower-case.
func (h Headers) Get(name string) (string, bool) {
	v, ok := h.bytes(name)
	return string(v), ok
}

// count reports how many times the header named name appears.
func (h Headers) count(name string) int {
	n := 0
	for _, hv := range h.m.GetHeaders() {
		if hv.GetKey() == name {
			n++
		}
	}
	return n
}

// bytes returns the first value of name without copying it.
func (h Headers) bytes(name string) ([]byte, bool) {
	for _, hv := range h.m.GetHeaders() {
		if hv.GetKey() != name {
			continue
		}
		if raw := hv.GetRawValue(); len(raw) > 0 {
			return raw, true
		}
		return []byte(hv.GetValue()), true
	}
	return nil, false
}

// status reads the :status pseudo-header of a response, 0 if absent or malformed.
func (h Headers) status() int {
	v, _ := h.bytes(":status")
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0
	}
	return n
}

// isEventStream reports whether the response is server-sent events.
func (h Headers) isEventStream() bool {
	const sse = "text/event-stream"
	v, _ := h.bytes("content-type")
	v = bytes.TrimSpace(v)
	return len(v) >= len(sse) && bytes.EqualFold(v[:len(sse)], []byte(sse))
}

// setHeader builds a mutation that overwrites one header. The value goes in
// raw_value because Envoy reads only that field and would set the header to
// the empty string from value (envoy-ext-proc.md E50); append stays unset,
// which means overwrite (E49).
func setHeader(name, value string) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: name, RawValue: []byte(value)}}
}

// mutation collects header edits for one reply; nil when there are none, so a
// reply without edits carries no header_mutation at all.
func mutation(set ...*corev3.HeaderValueOption) *extprocv3.HeaderMutation {
	if len(set) == 0 {
		return nil
	}
	return &extprocv3.HeaderMutation{SetHeaders: set}
}
