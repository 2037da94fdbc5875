package main

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
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

	started, completed, failed int
	reasons                    map[string]int // why streams failed
	statuses                   map[int]int    // Result.Status; 0 = no headers
	envoy                      envoyCounts
	upstreamCalled             int
	includeUsage               int              // upstream requests asking for usage
	usageToClient              int              // usage-only chunks that reached the client
	reported                   map[string]int64 // usage the upstream reported, by account, completed streams only

	requestPhase, ttfb, chunk []time.Duration

	before, allOpen, after sample
	peak                   sample // per field maximum over every sample
	samples                []sample
	serverPhases           []phaseMean
	counters               []counterDelta

	balances *balanceCheck
}

// envoyCounts sums what the emulated Envoy did across streams.
type envoyCounts struct {
	messageTimeouts, spurious, rejectedMutations, watermarks, failedOpen int
	resets, localReplies, immediateResponses                             int
}

type phaseMean struct {
	phase string
	ms    float64
}

type counterDelta struct {
	name  string
	delta float64
}

// newReport tallies the streams.
func newReport(cfg config, bodyBytes int, prompt int64, results []streamResult, elapsed time.Duration) *report {
	r := &report{cfg: cfg, bodyBytes: bodyBytes, promptTokens: prompt, elapsed: elapsed, started: len(results),
		reasons: map[string]int{}, statuses: map[int]int{}, reported: map[string]int64{}}
	for _, s := range results {
		res := s.res
		r.statuses[res.Status]++
		r.envoy.messageTimeouts += res.MessageTimeouts
		r.envoy.spurious += res.Spurious
		r.envoy.rejectedMutations += res.RejectedMutations
		r.envoy.watermarks += res.Watermarks
		r.envoy.failedOpen += res.FailedOpen
		r.envoy.resets += count(res.Reset)
		r.envoy.localReplies += count(res.LocalReply != nil)
		r.envoy.immediateResponses += count(res.ImmediateResponse)
		if s.up.called {
			r.upstreamCalled++
			r.includeUsage += count(s.up.includeUsage)
			r.requestPhase = append(r.requestPhase, s.up.calledAt-s.start)
		}
		if s.down.bytes > 0 {
			r.ttfb = append(r.ttfb, s.down.firstByteAt-s.start)
		}
		r.chunk = append(r.chunk, passThrough(s)...)
		for _, ev := range s.down.events {
			r.usageToClient += count(ev.kind == eventUsage)
		}
		if why := failure(s, cfg.Tokens); why != "" {
			r.failed++
			r.reasons[why]++
			continue
		}
		r.completed++
		r.reported[s.account] += s.up.reported
	}
	return r
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}

// failure says why a stream did not complete as a client expects: 200, every
// choice event, [DONE]. Empty means it completed.
func failure(s streamResult, tokens int) string {
	res := s.res
	switch {
	case res.DownstreamGone:
		return "cancelled" // -duration passed, or the tool was interrupted
	case res.ImmediateResponse:
		return fmt.Sprintf("immediate_response_%d", res.Status)
	case res.LocalReply != nil:
		return fmt.Sprintf("local_reply_%d_%s", res.LocalReply.Status, word(res.LocalReply.Details))
	case res.Reset || s.down.reset:
		return "reset_" + word(res.ResetDetails)
	case res.Status != http.StatusOK:
		return fmt.Sprintf("status_%d", res.Status)
	case !s.up.called:
		return "upstream_not_called"
	}
	choices, done := 0, false
	for _, ev := range s.down.events {
		choices += count(ev.kind == eventChoice)
		done = done || ev.kind == eventDone
	}
	switch {
	case choices != tokens+2: // role, tokens, finish
		return "missing_events"
	case !done:
		return "no_done"
	}
	return ""
}

// word makes a detail string one token of the report line.
func word(s string) string {
	if s == "" {
		return "none"
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == '=' {
			return '_'
		}
		return r
	}, s)
}

// passThrough is, per event the client received, the time from the upstream
// yielding it to the client receiving it. Choice events are matched in order;
// tokengate removes the usage chunk it asked for, so it and [DONE] are
// matched by kind.
func passThrough(s streamResult) []time.Duration {
	b := s.up.body
	if b == nil {
		return nil
	}
	var out []time.Duration
	k := 0
	for _, ev := range s.down.events {
		switch ev.kind {
		case eventChoice:
			if k < len(b.choiceAt) {
				out = append(out, ev.at-b.choiceAt[k])
			}
			k++
		case eventUsage:
			if b.usageAt > 0 {
				out = append(out, ev.at-b.usageAt)
			}
		case eventDone:
			if b.done {
				out = append(out, ev.at-b.doneAt)
			}
		}
	}
	return out
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

// ok is the exit status: every stream completed and, when checked, every
// balance settled exactly.
func (r *report) ok() bool {
	if r.failed > 0 || r.completed != r.cfg.Streams {
		return false
	}
	return r.balances == nil || (r.balances.skipped == "" && len(r.balances.mismatches) == 0)
}

// write prints the report.
func (r *report) write(w io.Writer) {
	c := r.cfg
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("loadgen run=%s target=%s admin=%s", c.RunID, c.Target, c.Admin)
	p("config streams=%d accounts=%d tokens=%d chunk_interval=%s ramp=%s duration=%s message_timeout=%s conns=%d body_bytes=%d prompt_tokens=%d",
		c.Streams, c.Accounts, c.Tokens, c.ChunkInterval, c.Ramp, c.Duration, c.MessageTimeout, c.Conns, r.bodyBytes, r.promptTokens)
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
	n := float64(max(r.started, 1))
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
			p("sample at_s=%.1f open=%d rss_mib=%s heap_inuse_mib=%s goroutines=%s vm_rss_mib=%s",
				s.at.Seconds(), s.open, mib(s.rss), mib(s.heapInuse), num(s.goroutines), mib(s.vmRSS))
		}
	}
	p("latency_ms phase=request %s", percentiles(r.requestPhase))
	p("latency_ms phase=ttfb %s", percentiles(r.ttfb))
	p("latency_ms phase=chunk %s", percentiles(r.chunk))
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

// percentiles is p50/p90/p99/max by nearest rank, in milliseconds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n=0"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return float64(s[max(i, 0)]) / float64(time.Millisecond)
	}
	return fmt.Sprintf("p50=%.3f p90=%.3f p99=%.3f max=%.3f n=%d", at(.50), at(.90), at(.99), at(1), len(s))
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
