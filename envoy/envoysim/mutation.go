package envoysim

import (
	"fmt"
	"strconv"
	"strings"

	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
)

// mutationError is a failed mutation that Envoy answers with status_on_error
// even under failure_mode_allow (envoy-ext-proc.md E48).
type mutationError struct{ msg string }

// Error returns Envoy's text for the failure, which becomes the details.
func (e *mutationError) Error() string { return e.msg }

// mutationPolicy is what applyHeaderMutation needs to know about the filter
// and the reply.
type mutationPolicy struct {
	rules MutationRules
	// replacing: the reply is CONTINUE_AND_REPLACE, where :method may change (E37).
	replacing bool
	// removeContentLength: the direction strips content-length, so setting
	// it is skipped (E51).
	removeContentLength bool
	maxCount, maxBytes  int
}

// applyHeaderMutation applies m to h the way MutationUtils::applyHeaderMutations
// does: removals first, then sets in order; a disallowed header is skipped and
// counted (E47), a hard error stops at once, leaving earlier changes in place
// (E48). It returns how many mutations were rejected.
func applyHeaderMutation(h *headerMap, m *extprocv3.HeaderMutation, p mutationPolicy) (int, error) {
	rejected := 0
	if len(m.GetRemoveHeaders()) > p.maxCount || len(m.GetSetHeaders()) > p.maxCount {
		return 1, &mutationError{fmt.Sprintf("header mutation remove header count %d or set header count %d exceed the HCM header count limit %d",
			len(m.GetRemoveHeaders()), len(m.GetSetHeaders()), p.maxCount)}
	}
	for _, name := range m.GetRemoveHeaders() {
		if !validHeaderName(name) {
			return rejected + 1, &mutationError{"Invalid character in remove_headers mutation."}
		}
		key := strings.ToLower(name)
		switch p.rules.check(opRemove, key, "") {
		case checkOK:
			h.remove(key)
		case checkIgnore:
			rejected++
		case checkFail:
			return rejected + 1, &mutationError{"Invalid attempt to remove " + key}
		}
	}
	for _, opt := range m.GetSetHeaders() {
		hv := opt.GetHeader()
		if hv == nil {
			continue
		}
		if p.removeContentLength && strings.EqualFold(hv.GetKey(), "content-length") {
			continue // E51: the direction streams, so its length is Envoy's business
		}
		// E50: Envoy reads raw_value only; a value-only header becomes "".
		if hv.GetValue() != "" && len(hv.GetRawValue()) > 0 {
			return rejected + 1, &mutationError{"Only one of value or raw_value in the HeaderValue message should be set."}
		}
		value := string(hv.GetRawValue())
		if !validHeaderName(hv.GetKey()) || !validHeaderValue(value) {
			return rejected + 1, &mutationError{"Invalid character in set_headers mutation."}
		}
		key := strings.ToLower(hv.GetKey())
		// E49: append defaults to false (overwrite); ext_proc reads this
		// deprecated field only, never append_action or keep_empty_value.
		//lint:ignore SA1019 Envoy's ext_proc reads only the deprecated append field.
		appendValue := opt.GetAppend().GetValue()
		op := opSet
		if _, exists := h.get(key); appendValue && exists {
			op = opAppend
		}
		result := p.rules.check(op, key, value)
		if p.replacing && key == ":method" {
			result = checkOK // E37
		}
		switch result {
		case checkOK:
			if appendValue {
				h.add(key, value)
			} else {
				h.set(key, value)
			}
		case checkIgnore:
			rejected++
		case checkFail:
			return rejected + 1, &mutationError{"Invalid attempt to modify " + key}
		}
	}
	if h.byteSize() > p.maxBytes || len(*h) > p.maxCount {
		return rejected + 1, &mutationError{fmt.Sprintf("Header mutation causes end result header count %d or header size %d bytes, exceeding the count limit %d or the size limit %d kilobytes",
			len(*h), h.byteSize(), p.maxCount, p.maxBytes/1024)}
	}
	return rejected, nil
}

// validateContentLength is ProcessorState::validateContentLength: a BUFFERED
// body reply that mutates the body must leave content-length equal to the new
// length, clear_body counting as 0, or remove it (E52).
func validateContentLength(h headerMap, bm *extprocv3.BodyMutation) error {
	v, ok := h.get("content-length")
	if !ok {
		return nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return nil
	}
	if n != uint64(len(bm.GetBody())) {
		return &mutationError{"mismatch between content length and the length of the mutated body"}
	}
	return nil
}

// applyBodyMutation is MutationUtils::applyBodyMutations: body replaces the
// data, clear_body=true drops it, anything else leaves it (E29, E38).
func applyBodyMutation(bm *extprocv3.BodyMutation, data []byte) []byte {
	switch mut := bm.GetMutation().(type) {
	case *extprocv3.BodyMutation_Body:
		return append([]byte(nil), mut.Body...)
	case *extprocv3.BodyMutation_ClearBody:
		if mut.ClearBody {
			return nil
		}
	}
	return data
}

type checkOp int

const (
	opSet checkOp = iota
	opAppend
	opRemove
)

type checkResult int

const (
	checkOK checkResult = iota
	checkIgnore
	checkFail
)

// check is the mutation-rules Checker (E47): a disallowed or invalid change
// is ignored, or an error with disallow_is_error.
func (r MutationRules) check(op checkOp, name, value string) checkResult {
	if r.allowed(op, name) && (op == opRemove || validRuleValue(name, value)) {
		return checkOK
	}
	if r.DisallowIsError {
		return checkFail
	}
	return checkIgnore
}

func (r MutationRules) allowed(op checkOp, name string) bool {
	if op == opRemove && (strings.HasPrefix(name, ":") || name == "host") {
		return false // never: host and pseudo-headers cannot be removed
	}
	if r.DisallowExpression != nil && r.DisallowExpression.MatchString(name) {
		return false
	}
	if r.AllowExpression != nil && r.AllowExpression.MatchString(name) {
		return true
	}
	if r.DisallowAll {
		return false
	}
	switch name {
	case "host", ":authority", ":method", ":scheme":
		if !r.AllowAllRouting {
			return false
		}
	}
	if strings.HasPrefix(name, ":") && (op == opAppend || r.DisallowSystem) {
		return false
	}
	if !r.AllowEnvoy && strings.HasPrefix(name, "x-envoy") {
		return false
	}
	return true
}

// validRuleValue is Checker::isValidValue.
func validRuleValue(name, value string) bool {
	if !strings.HasPrefix(name, ":") && !validHeaderValue(value) {
		return false
	}
	switch name {
	case "host", ":authority":
		return validAuthority(value)
	case ":scheme":
		return strings.EqualFold(value, "http") || strings.EqualFold(value, "https")
	case ":status":
		n, err := strconv.ParseUint(value, 10, 32)
		return err == nil && n >= 200
	}
	return true
}

// validHeaderName accepts an HTTP/1 token, or ':' and a lower-case token for
// pseudo-headers, as HeaderUtility::headerNameIsValid does.
func validHeaderName(name string) bool {
	pseudo := strings.HasPrefix(name, ":")
	if pseudo {
		name = name[1:]
	}
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if !isTokenChar(c) || (pseudo && 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validHeaderValue rejects what no codec can carry: NUL, CR and LF.
func validHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\x00\r\n")
}

func validAuthority(v string) bool {
	if v == "" {
		return false
	}
	for i := range len(v) {
		c := v[i]
		if !(isTokenChar(c) || strings.IndexByte(":@[]()*,;=", c) >= 0) {
			return false
		}
	}
	return true
}
