package envoysim

import (
	"regexp"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	extprocv3 "github.com/envoyproxy/go-control-plane/envoy/service/ext_proc/v3"
	"github.com/google/go-cmp/cmp"
)

// TestApplyHeaderMutation checks the Checker and MutationUtils rules of
// envoy-ext-proc.md E47–E50 on a response header map.
func TestApplyHeaderMutation(t *testing.T) {
	base := func() headerMap {
		return headerMap{{":status", "200"}, {"content-type", "application/json"}, {"content-length", "42"},
			{"x-dup", "1"}, {"x-dup", "2"}, {"x-envoy-upstream-service-time", "3"}}
	}
	set := func(k, v string) []*corev3.HeaderValueOption {
		return []*corev3.HeaderValueOption{rawHeader(k, v, false)}
	}
	tests := []struct {
		name         string
		rules        MutationRules
		mut          *extprocv3.HeaderMutation
		removeCL     bool
		want         headerMap // nil: unchanged
		wantRejected int
		wantErr      string
	}{{
		name: "append=false replaces every value",
		mut:  &extprocv3.HeaderMutation{SetHeaders: set("x-dup", "new")},
		want: headerMap{{":status", "200"}, {"content-type", "application/json"}, {"content-length", "42"},
			{"x-envoy-upstream-service-time", "3"}, {"x-dup", "new"}},
	}, {
		name: "set :status stays among the pseudo-headers",
		mut:  &extprocv3.HeaderMutation{SetHeaders: set(":status", "429")},
		want: headerMap{{":status", "429"}, {"content-type", "application/json"}, {"content-length", "42"},
			{"x-dup", "1"}, {"x-dup", "2"}, {"x-envoy-upstream-service-time", "3"}},
	}, {
		name:         ":status below 200 is ignored",
		mut:          &extprocv3.HeaderMutation{SetHeaders: set(":status", "101")},
		wantRejected: 1,
	}, {
		name:         "appending to a pseudo-header is ignored",
		mut:          &extprocv3.HeaderMutation{SetHeaders: []*corev3.HeaderValueOption{rawHeader(":status", "201", true)}},
		wantRejected: 1,
	}, {
		name:         "x-envoy is ignored by default",
		mut:          &extprocv3.HeaderMutation{SetHeaders: set("x-envoy-upstream-service-time", "0"), RemoveHeaders: []string{"x-envoy-upstream-service-time"}},
		wantRejected: 2,
	}, {
		name:  "allow_envoy",
		rules: MutationRules{AllowEnvoy: true},
		mut:   &extprocv3.HeaderMutation{RemoveHeaders: []string{"X-Envoy-Upstream-Service-Time"}},
		want:  headerMap{{":status", "200"}, {"content-type", "application/json"}, {"content-length", "42"}, {"x-dup", "1"}, {"x-dup", "2"}},
	}, {
		name:         "pseudo-headers and host can never be removed",
		rules:        MutationRules{AllowAllRouting: true, AllowEnvoy: true},
		mut:          &extprocv3.HeaderMutation{RemoveHeaders: []string{":status", "host"}},
		wantRejected: 2,
	}, {
		name:         "disallow_is_error",
		rules:        MutationRules{DisallowIsError: true},
		mut:          &extprocv3.HeaderMutation{SetHeaders: set("x-envoy-foo", "1")},
		wantRejected: 1,
		wantErr:      "Invalid attempt to modify x-envoy-foo",
	}, {
		name:         "disallow_system",
		rules:        MutationRules{DisallowSystem: true},
		mut:          &extprocv3.HeaderMutation{SetHeaders: set(":status", "201")},
		wantRejected: 1,
	}, {
		name:         "disallow_all with allow_expression",
		rules:        MutationRules{DisallowAll: true, AllowExpression: regexp.MustCompile(`^x-tokengate-`)},
		mut:          &extprocv3.HeaderMutation{SetHeaders: append(set("x-tokengate-remaining", "10"), rawHeader("x-other", "1", false))},
		want:         append(base(), headerEntry{"x-tokengate-remaining", "10"}),
		wantRejected: 1,
	}, {
		name:         "disallow_expression wins over allow_expression",
		rules:        MutationRules{AllowExpression: regexp.MustCompile(`.*`), DisallowExpression: regexp.MustCompile(`^x-dup$`)},
		mut:          &extprocv3.HeaderMutation{RemoveHeaders: []string{"x-dup"}},
		wantRejected: 1,
	}, {
		name:     "content-length set is skipped when the direction strips it",
		mut:      &extprocv3.HeaderMutation{SetHeaders: set("content-length", "7")},
		removeCL: true,
	}, {
		name:    "invalid header name",
		mut:     &extprocv3.HeaderMutation{SetHeaders: set("bad name", "1")},
		wantErr: "Invalid character in set_headers mutation.",
		// rejected counted once
		wantRejected: 1,
	}, {
		name:         "too many set_headers",
		mut:          &extprocv3.HeaderMutation{SetHeaders: manyHeaders(101)},
		wantRejected: 1,
		wantErr:      "exceed the HCM header count limit 100",
	}, {
		name:         "result over the size limit",
		mut:          &extprocv3.HeaderMutation{SetHeaders: set("x-big", strings.Repeat("v", 61*1024))},
		wantRejected: 1,
		wantErr:      "exceeding the count limit 100 or the size limit 60 kilobytes",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := base()
			rejected, err := applyHeaderMutation(&h, tt.mut, mutationPolicy{
				rules: tt.rules, removeContentLength: tt.removeCL, maxCount: 100, maxBytes: 60 * 1024,
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if rejected != tt.wantRejected {
				t.Errorf("rejected = %d, want %d", rejected, tt.wantRejected)
			}
			if tt.wantErr != "" {
				return
			}
			want := tt.want
			if want == nil {
				want = base()
			}
			if d := cmp.Diff(want, h, cmp.AllowUnexported(headerEntry{})); d != "" {
				t.Errorf("headers (-want +got):\n%s", d)
			}
		})
	}
}

// TestContinueAndReplaceMayChangeMethod checks E37's exception to E47.
func TestContinueAndReplaceMayChangeMethod(t *testing.T) {
	for _, replacing := range []bool{false, true} {
		h := headerMap{{":method", "POST"}}
		_, err := applyHeaderMutation(&h, mutation(map[string]string{":method": "GET"}),
			mutationPolicy{replacing: replacing, maxCount: 100, maxBytes: 60 * 1024})
		got, _ := h.get(":method")
		if err != nil || (got == "GET") != replacing {
			t.Errorf("replacing=%v: :method = %q, err %v", replacing, got, err)
		}
	}
}

func manyHeaders(n int) []*corev3.HeaderValueOption {
	out := make([]*corev3.HeaderValueOption, n)
	for i := range out {
		out[i] = rawHeader("x-h", "v", true)
	}
	return out
}
