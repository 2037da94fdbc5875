package extproc_test

import (
	"strings"
	"testing"

	"github.com/iasolaris/tokengate/extproc"
	"github.com/iasolaris/tokengate/quota"
)

// A file is not free: a caller whose balance cannot cover what the file
// part may cost is refused before anything reaches the upstream, even
// though the text beside it is a few tokens. Both modes hold at least the
// estimate, so both refuse.
func TestFilePartsAreChargedUpFront(t *testing.T) {
	pdf := "data:application/pdf;base64," + strings.Repeat("JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoK", 200_000/36)
	tests := []struct {
		name      string
		part      string
		allowance quota.Tokens
	}{
		// 200 KB of base64: a bound of 200k tokens, an estimate of 50k.
		{"file_data", `{"type":"file","file":{"filename":"relatorio.pdf","file_data":"` + pdf + `"}}`, 20_000},
		{"unknown type", `{"type":"input_file","file_data":"` + pdf + `"}`, 20_000},
		// An uploaded file is held at FileTokens, 8192 by default.
		{"file_id", `{"type":"file","file":{"file_id":"file-6F2ksmvXxt4VdoqmHRw6kL"}}`, 5_000},
	}
	for _, tt := range tests {
		for mode, name := range map[extproc.Enforcement]string{extproc.Soft: "soft", extproc.Hard: "hard"} {
			t.Run(tt.name+" "+name, func(t *testing.T) {
				h := newHarness(t, harnessOptions{allowance: tt.allowance, extproc: extproc.Options{Enforcement: mode}})
				body := `{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"Resuma."},` + tt.part + `]}]}`
				up := newCutUpstream()
				res, rec := h.serve(t.Context(), chatRequest(ana, body), up)
				if res.Status != 429 || up.callCount() != 0 {
					t.Fatalf("status %d, upstream calls %d: %s", res.Status, up.callCount(), rec.Body())
				}
				// The same text without the part fits easily.
				res, rec = h.serve(t.Context(), chatRequest(ana, `{"model":"gpt-4o","messages":[{"role":"user","content":"Resuma."}]}`), up)
				if res.Status != 200 {
					t.Fatalf("without the part: status %d: %s", res.Status, rec.Body())
				}
				h.record()
			})
		}
	}
}
