package extproc

import (
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Decision outcomes, a closed set so the label's cardinality never follows traffic.
const (
	outcomeAdmitted      = "admitted"
	outcomeQuota         = "refused_quota"
	outcomeRate          = "refused_rate"
	outcomeBadRequest    = "bad_request"
	outcomeNoIdentity    = "unauthenticated"
	outcomeInactive      = "forbidden"
	outcomeFailOpen      = "admitted_ledger_down"
	outcomeFailClosed    = "refused_ledger_down"
	outcomePassthrough   = "passthrough"
	outcomeCancelled     = "client_cancelled"
	outcomeRefusedRoute  = "refused_route"
	outcomeTooLarge      = "too_large"
	outcomeMisconfigured = "refused_misconfigured"
	outcomeDuplicateID   = "refused_duplicate_id"
)

// phase is the ext_proc message an exchange is answering, or its settlement.
type phase int

const (
	phaseStart phase = iota // before the first message, and trailers
	phaseRequestHeaders
	phaseRequestBody
	phaseResponseHeaders
	phaseResponseBody
	phaseSettle
	phaseCount
)

var phaseNames = [phaseCount]string{"other", "request_headers", "request_body", "response_headers", "response_body", "settle"}

// String names the phase in logs, errors and the latency histogram.
func (p phase) String() string { return phaseNames[p] }

type metrics struct {
	decisions map[string]prometheus.Counter
	phase     [phaseCount]prometheus.Observer // indexed, not looked up: it runs per streamed chunk
	// tokens is indexed by model label; each holds the prompt and
	// completion counters.
	tokens    map[string]*[2]prometheus.Counter
	estimated prometheus.Counter // settlements without reported usage
	estError  prometheus.Observer
	settleErr prometheus.Counter
}

// newMetrics registers on reg (nil → a private registry, for tests and
// embedders that do not export metrics). Every series is created up front at
// zero so dashboards and alerts see it before the first event, and the hot
// path looks children up in a map instead of formatting label values.
func newMetrics(reg prometheus.Registerer, models []string) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokengate_decisions_total",
		Help: "Admission decisions for metered requests, by outcome.",
	}, []string{"outcome"})
	phaseHist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "tokengate_phase_duration_seconds",
		Help:    "Time tokengate spends answering one ext_proc message, by phase.",
		Buckets: []float64{.00001, .00005, .0001, .0005, .001, .005, .01, .05, .1, .2},
	}, []string{"phase"})
	tokens := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tokengate_tokens_total",
		Help: "Tokens settled, by model (the configured models, else \"other\") and kind (prompt or completion).",
	}, []string{"model", "kind"})
	estimated := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tokengate_settlements_estimated_total",
		Help: "Requests settled from tokengate's own count because the response carried no usage.",
	})
	estError := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "tokengate_estimate_error_ratio",
		Help:    "Prompt estimate divided by the prompt tokens the upstream reported.",
		Buckets: []float64{.5, .75, .9, 1, 1.1, 1.25, 1.5, 2, 4},
	})
	settleErr := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tokengate_settle_errors_total",
		Help: "Settlements or releases the ledger did not accept.",
	})
	var errs []error
	for _, c := range []prometheus.Collector{decisions, phaseHist, tokens, estimated, estError, settleErr} {
		errs = append(errs, reg.Register(c))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	m := &metrics{
		decisions: map[string]prometheus.Counter{},
		tokens:    map[string]*[2]prometheus.Counter{},
		estimated: estimated, estError: estError, settleErr: settleErr,
	}
	for _, o := range []string{outcomeAdmitted, outcomeQuota, outcomeRate, outcomeBadRequest, outcomeNoIdentity,
		outcomeInactive, outcomeFailOpen, outcomeFailClosed, outcomePassthrough, outcomeCancelled,
		outcomeRefusedRoute, outcomeTooLarge, outcomeMisconfigured, outcomeDuplicateID} {
		m.decisions[o] = decisions.WithLabelValues(o)
	}
	for p := phaseStart; p < phaseCount; p++ {
		m.phase[p] = phaseHist.WithLabelValues(p.String())
	}
	for _, model := range append([]string{otherModel}, models...) {
		m.tokens[model] = &[2]prometheus.Counter{tokens.WithLabelValues(model, "prompt"), tokens.WithLabelValues(model, "completion")}
	}
	return m, nil
}

// otherModel labels every model not configured: clients choose the model
// string, so it may not become a label value unchecked.
const otherModel = "other"

// modelTokens returns the token counters for model, folded to a configured
// model name (matched without LiteLLM's provider prefix) or otherModel.
func (m *metrics) modelTokens(model string) *[2]prometheus.Counter {
	if c, ok := m.tokens[model[strings.LastIndexByte(model, '/')+1:]]; ok {
		return c
	}
	return m.tokens[otherModel]
}
