package extproc_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/iasolaris/tokengate/extproc"
)

// Tokens are counted by configured model; any other model string a client
// sends is folded into "other", so the label cannot grow with traffic.
func TestTokensAreCountedByFoldedModel(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHarness(t, harnessOptions{extproc: extproc.Options{Registerer: reg, Models: []string{"gpt-4o-mini"}}})
	var want strings.Builder
	want.WriteString("# HELP tokengate_tokens_total Tokens settled, by model (the configured models, else \"other\") and kind (prompt or completion).\n# TYPE tokengate_tokens_total counter\n")
	sums := map[string][2]int{}
	for _, model := range []string{"gpt-4o-mini", "openai/gpt-4o-mini", "made-up-model-123"} {
		up := newCutUpstream()
		body := `{"model":"` + model + `","messages":[{"role":"user","content":"Olá!"}]}`
		if res, _ := h.serve(t.Context(), chatRequest(ana, body), up); res.Status != 200 {
			t.Fatalf("%s: status %d", model, res.Status)
		}
		r := h.record()
		label := "other"
		if strings.HasSuffix(model, "gpt-4o-mini") {
			label = "gpt-4o-mini"
		}
		s := sums[label]
		sums[label] = [2]int{s[0] + int(r.Usage.Completion), s[1] + int(r.Usage.Prompt)}
	}
	for _, label := range []string{"gpt-4o-mini", "other"} {
		for i, kind := range []string{"completion", "prompt"} {
			want.WriteString("tokengate_tokens_total{kind=\"" + kind + "\",model=\"" + label + "\"} " + strconv.Itoa(sums[label][i]) + "\n")
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want.String()), "tokengate_tokens_total"); err != nil {
		t.Fatal(err)
	}
}
