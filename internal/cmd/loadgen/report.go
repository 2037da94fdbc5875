package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// report is a run's outcome, written by write in a stable line format: one
// line per topic, a topic word followed by key=value pairs, so that runs can
// be compared with diff and parsed with a split.
type report struct {
	cfg          config
	bodyBytes    int
	promptTokens int64
	elapsed      time.Duration

	totals // the requests, counted as they ended

	before, allOpen, after sample
	peak                   sample // per field maximum over every sample
	samples                []sample
	serverPhases           []phaseMean
	counters               []counterDelta

	balances *balanceCheck
}

type phaseMean struct {
	phase string
	ms    float64
}

type counterDelta struct {
	name  string
	delta float64
}

func newReport(cfg config, bodyBytes int, prompt int64, t totals, elapsed time.Duration) *report {
	return &report{cfg: cfg, bodyBytes: bodyBytes, promptTokens: prompt, elapsed: elapsed, totals: t}
}

// memory takes the samples: peak per field over all of them, and the one
// taken with the most streams open (the latest such), which with a long
// enough stream is all of them.
func (r *report) memory(before sample, during []sample, after sample) {
	r.before, r.after, r.samples = before, after, during
	r.allOpen = sample{open: -1, rss: -1, heapInuse: -1, stackInuse: -1, goroutines: -1, vmRSS: -1, vmHWM: -1}
	for _, s := range during {
		if s.err == nil && s.open >= r.allOpen.open {
			r.allOpen = s
		}
	}
	r.peak = sample{rss: -1, heapInuse: -1, stackInuse: -1, goroutines: -1, vmRSS: -1, vmHWM: -1}
	for _, s := range append(append([]sample{before}, during...), after) {
		r.peak.rss = max(r.peak.rss, s.rss)
		r.peak.heapInuse = max(r.peak.heapInuse, s.heapInuse)
		r.peak.stackInuse = max(r.peak.stackInuse, s.stackInuse)
		r.peak.goroutines = max(r.peak.goroutines, s.goroutines)
		r.peak.vmRSS = max(r.peak.vmRSS, s.vmRSS)
		r.peak.vmHWM = max(r.peak.vmHWM, s.vmHWM)
	}
	if before.series == nil || after.series == nil {
		return
	}
	for _, key := range slices.Sorted(maps.Keys(after.series)) {
		if strings.HasPrefix(key, "tokengate_decisions_total{") || strings.HasPrefix(key, "tokengate_settle") {
			if d := delta(before.series, after.series, key); d != 0 {
				r.counters = append(r.counters, counterDelta{key, d})
			}
		}
	}
	for _, ph := range []string{"start", "request_headers", "request_body", "response_headers", "response_body", "settle"} {
		n := delta(before.series, after.series, `tokengate_phase_duration_seconds_count{phase="`+ph+`"}`)
		sum := delta(before.series, after.series, `tokengate_phase_duration_seconds_sum{phase="`+ph+`"}`)
		if n > 0 {
			r.serverPhases = append(r.serverPhases, phaseMean{ph, sum / n * 1000})
		}
	}
}

// ok is the exit status: every planned request completed and, when
// checked, every balance settled exactly.
func (r *report) ok() bool {
	if r.failed > 0 || r.completed != r.cfg.planned() {
		return false
	}
	return r.balances == nil || (r.balances.skipped == "" && len(r.balances.mismatches) == 0)
}

// write prints the report.
func (r *report) write(w io.Writer) {
	c := r.cfg
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("loadgen run=%s target=%s admin=%s", c.RunID, c.Target, c.Admin)
	soak := ""
	if c.soak() {
		soak = fmt.Sprintf(" requests=%d", c.Requests)
	}
	p("config streams=%d accounts=%d tokens=%d chunk_interval=%s ramp=%s duration=%s message_timeout=%s conns=%d body_bytes=%d prompt_tokens=%d%s",
		c.Streams, c.Accounts, c.Tokens, c.ChunkInterval, c.Ramp, c.Duration, c.MessageTimeout, c.Conns, r.bodyBytes, r.promptTokens, soak)
	p("streams started=%d completed=%d failed=%d elapsed_s=%.3f", r.started, r.completed, r.failed, r.elapsed.Seconds())
	var st []string
	for _, code := range slices.Sorted(maps.Keys(r.statuses)) {
		st = append(st, fmt.Sprintf("%d=%d", code, r.statuses[code]))
	}
	p("status %s", strings.Join(st, " "))
	for _, why := range slices.Sorted(maps.Keys(r.reasons)) {
		p("failure reason=%s count=%d", why, r.reasons[why])
	}
	e := r.envoy
	p("envoy message_timeouts=%d spurious=%d rejected_mutations=%d watermarks=%d failed_open=%d resets=%d local_replies=%d immediate_responses=%d",
		e.messageTimeouts, e.spurious, e.rejectedMutations, e.watermarks, e.failedOpen, e.resets, e.localReplies, e.immediateResponses)
	p("upstream called=%d include_usage=%d usage_chunks_to_client=%d", r.upstreamCalled, r.includeUsage, r.usageToClient)
	// Memory above the baseline is what the streams held open at once:
	// every request in a one-shot run, -streams of them in a soak.
	n := float64(max(min(r.started, c.Streams), 1))
	perStream := "na"
	if r.peak.rss >= 0 && r.before.rss >= 0 {
		perStream = fmt.Sprintf("%.1f", (r.peak.rss-r.before.rss)/n/1024)
	}
	p("rss_mib before=%s peak=%s all_open=%s after=%s per_stream_kib=%s",
		mib(r.before.rss), mib(r.peak.rss), mib(r.allOpen.rss), mib(r.after.rss), perStream)
	if r.peak.rss >= 0 {
		p("budget rss_peak_mb=%.1f rss_budget_mb=%g within=%t", r.peak.rss/1e6, c.RSSBudgetMB, r.peak.rss/1e6 < c.RSSBudgetMB)
	}
	p("heap_inuse_mib before=%s peak=%s all_open=%s after=%s",
		mib(r.before.heapInuse), mib(r.peak.heapInuse), mib(r.allOpen.heapInuse), mib(r.after.heapInuse))
	p("stack_inuse_mib before=%s peak=%s all_open=%s after=%s",
		mib(r.before.stackInuse), mib(r.peak.stackInuse), mib(r.allOpen.stackInuse), mib(r.after.stackInuse))
	p("goroutines before=%s peak=%s all_open=%s after=%s",
		num(r.before.goroutines), num(r.peak.goroutines), num(r.allOpen.goroutines), num(r.after.goroutines))
	if c.PID > 0 {
		p("proc_mib pid=%d vm_rss_before=%s vm_rss_peak=%s vm_rss_all_open=%s vm_hwm=%s",
			c.PID, mib(r.before.vmRSS), mib(r.peak.vmRSS), mib(r.allOpen.vmRSS), mib(r.peak.vmHWM))
	}
	if r.allOpen.open >= 0 {
		p("samples count=%d all_open_streams=%d all_open_at_s=%.1f", len(r.samples), r.allOpen.open, r.allOpen.at.Seconds())
	} else {
		p("samples count=%d all_open_streams=na all_open_at_s=na", len(r.samples))
	}
	if c.Timeline {
		for _, s := range r.samples {
			finished := ""
			if c.soak() {
				finished = fmt.Sprintf(" finished=%d", s.finished)
			}
			p("sample at_s=%.1f open=%d rss_mib=%s heap_inuse_mib=%s goroutines=%s vm_rss_mib=%s%s",
				s.at.Seconds(), s.open, mib(s.rss), mib(s.heapInuse), num(s.goroutines), mib(s.vmRSS), finished)
		}
	}
	if c.soak() {
		r.writeSoak(p)
	}
	p("latency_ms phase=request %s", r.requestPhase.percentiles())
	p("latency_ms phase=ttfb %s", r.ttfb.percentiles())
	p("latency_ms phase=chunk %s", r.chunk.percentiles())
	var sp []string
	for _, ph := range r.serverPhases {
		sp = append(sp, fmt.Sprintf("%s=%.3f", ph.phase, ph.ms))
	}
	p("server_phase_mean_ms %s", strings.Join(sp, " "))
	for _, cd := range r.counters {
		p("server_counter %s delta=%g", strings.ReplaceAll(cd.name, " ", "_"), cd.delta)
	}
	if b := r.balances; b != nil {
		if b.skipped != "" {
			p("balance skipped=%q", b.skipped)
		} else {
			p("balance accounts=%d mismatches=%d", b.accounts, len(b.mismatches))
			for _, m := range b.mismatches {
				p("mismatch %s", m)
			}
		}
	}
	if r.ok() {
		p("result ok")
	} else {
		p("result fail")
	}
}

func mib(b float64) string {
	if b < 0 {
		return "na"
	}
	return fmt.Sprintf("%.1f", b/(1<<20))
}

func num(v float64) string {
	if v < 0 {
		return "na"
	}
	return fmt.Sprintf("%.0f", v)
}
