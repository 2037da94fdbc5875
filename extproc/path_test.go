package extproc

import "testing"

func TestMeteredPath(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/v1/chat/completions", true},
		{"POST", "/chat/completions", true},
		{"POST", "/v1/chat/completions?api-version=2024-10-21", true},
		{"POST", "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", true},
		{"POST", "/engines/gpt-4o/chat/completions", true},
		{"POST", "/v1/chat/complet%69ons", true},
		{"POST", "/v1//chat//completions/", true},
		{"POST", "/v1/chat%2Fcompletions", true},
		{"POST", "/v1/chat/completions%zz", true},
		{"GET", "/v1/chat/completions", false},
		{"POST", "/v1/completions", false},
		{"POST", "/v1/embeddings", false},
		{"POST", "/v1/chat/completions/extra", false},
		{"POST", "/v1/xchat/completions", false},
		{"GET", "/v1/models", false},
		{"POST", "/", false},
		{"POST", "", false},
	}
	for _, tt := range tests {
		if got := meteredPath([]byte(tt.method), []byte(tt.path)); got != tt.want {
			t.Errorf("%s %s: metered %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
}
