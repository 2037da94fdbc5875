// Package ceiling knows how many tokens a model can write in one reply: its
// output ceiling. Hard enforcement holds min(the request's cap, the ceiling)
// per choice, so a request asking for a million tokens holds what the model
// can actually produce, not the caller's whole balance.
package ceiling

import (
	"fmt"
	"strings"
)

// Table maps model names to output ceilings: an embedded table of known
// families, overridden per name by configuration. It is read-only once
// built and safe for concurrent use.
type Table struct {
	exact    map[string]int64 // configured names, matched whole
	fallback int64            // the ceiling of a model nobody knows; 0 = none
}

// Default is the output ceiling of models neither the embedded table nor
// the configuration knows. It must be generous: it is only ever written into
// a request that asked for more (or, with no cap of its own, when the
// configured default cap is larger), yet it keeps one runaway request from
// holding a whole balance.
const Default = 32_768

// New builds a table from the embedded families and overrides, which map a
// model name (as clients send it, with or without a provider prefix) to its
// ceiling. The name "*" sets the ceiling of unknown models (Default when
// absent; 0 turns it off).
func New(overrides map[string]int64) (*Table, error) {
	t := &Table{exact: make(map[string]int64, len(overrides)), fallback: Default}
	for name, n := range overrides {
		if n < 0 || (n == 0 && name != "*") {
			return nil, fmt.Errorf("ceiling: model %q: want a positive number of tokens, got %d", name, n)
		}
		if name == "*" {
			t.fallback = n
			continue
		}
		t.exact[strings.ToLower(name)] = n
	}
	return t, nil
}

// Lookup returns model's output ceiling, or false when no ceiling applies.
// A configured name wins, matched first as sent and then without a
// provider prefix; then the longest embedded family prefix, tried on the
// name without its provider prefix (openai/, azure/, vertex_ai/, …) and, for
// Bedrock-style ids (us.anthropic.claude-…), without the vendor.
func (t *Table) Lookup(model string) (int64, bool) {
	m := strings.ToLower(model)
	if n, ok := t.exact[m]; ok {
		return n, true
	}
	base := m[strings.LastIndexByte(m, '/')+1:]
	if n, ok := t.exact[base]; ok {
		return n, true
	}
	if n, ok := family(base); ok {
		return n, true
	}
	if i := strings.LastIndexByte(base, '.'); i >= 0 {
		if n, ok := family(base[i+1:]); ok {
			return n, true
		}
	}
	return t.fallback, t.fallback > 0
}

// family finds the longest embedded prefix of name.
func family(name string) (int64, bool) {
	best, n := -1, int64(0)
	for _, f := range families {
		if len(f.prefix) > best && strings.HasPrefix(name, f.prefix) {
			best, n = len(f.prefix), f.tokens
		}
	}
	return n, best >= 0
}
