package admin_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/iasolaris/tokengate/admin"
	"github.com/iasolaris/tokengate/quota"
	"github.com/iasolaris/tokengate/quota/memledger"
)

func TestBalance(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ledger := memledger.New(memledger.Options{Now: func() time.Time { return now }})
	acct := quota.Account{ID: "ana@example.com", Allowance: 1000}
	if _, err := ledger.Reserve(t.Context(), acct, "r1", quota.Hold{Prompt: 100, Completion: 50}); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Settle(t.Context(), acct, "r1", quota.Usage{Prompt: 90, Completion: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.TopUp(t.Context(), acct.ID, 500); err != nil {
		t.Fatal(err)
	}
	h := admin.New(ledger, admin.Options{})

	tests := []struct {
		name, path string
		status     int
		want       map[string]any
	}{
		{
			name: "known account, looked up case-insensitively", path: "/api/v1/accounts/Ana@Example.com/balance", status: 200,
			want: map[string]any{
				"account": "ana@example.com", "period": "2026-11", "period_end": "2026-12-01T00:00:00Z",
				"allowance": 1000.0, "used": 120.0, "reserved": 0.0, "prepaid": 500.0, "remaining": 1380.0,
			},
		},
		{name: "unknown account", path: "/api/v1/accounts/bia@example.com/balance", status: 404,
			want: map[string]any{"error": map[string]any{"code": "unknown_account", "message": "no such account"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			if w.Code != tt.status || w.Header().Get("content-type") != "application/json" {
				t.Fatalf("status %d content-type %q", w.Code, w.Header().Get("content-type"))
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if g, _ := json.Marshal(got[k]); string(g) != mustJSON(t, v) {
					t.Errorf("%s = %s, want %s", k, g, mustJSON(t, v))
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("fields %v, want exactly %v", got, tt.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHealthAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "tokengate_probe_total", Help: "probe"})
	reg.MustRegister(c)
	c.Inc()
	h := admin.New(memledger.New(memledger.Options{}), admin.Options{Gatherer: reg})
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready", "/metrics": "tokengate_probe_total 1"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d %q, want %q", path, w.Code, w.Body.String(), want)
		}
	}
}
