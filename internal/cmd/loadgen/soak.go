package main

import (
	"fmt"
	"slices"
	"strings"
)

// soakShares are the points of a soak, in percent of the requests it
// finished, at which the flatness read-out looks at the server. At 10% the
// warm-up is over (connection buffers, pools and the ledger's maps have
// grown to the working set), so what grows from there to the end is what
// the requests left behind.
var soakShares = []int{10, 50, 90}

// sampleAt is the first sample that saw pct% of total requests finished.
func sampleAt(samples []sample, total int64, pct int) (sample, bool) {
	for _, s := range samples {
		if s.err == nil && total > 0 && s.finished*100 >= total*int64(pct) {
			return s, true
		}
	}
	return sample{}, false
}

// writeSoak prints the soak's rate and, for the server's RSS, heap in use
// and goroutines and for loadgen's own heap, the value at each share, at
// the end of the load (every request finished) and after settlement, with
// the growth from the 10% point to the end.
func (r *report) writeSoak(p func(format string, a ...any)) {
	c := r.cfg
	total := int64(r.started)
	rate := 0.0
	if r.elapsed > 0 {
		rate = float64(total) / r.elapsed.Seconds()
	}
	p("soak requests=%d accounts=%d streams=%d finished=%d elapsed_s=%.3f requests_per_s=%.1f",
		c.Requests, c.Accounts, c.Streams, total, r.elapsed.Seconds(), rate)

	// Points: each share, then the end of the load. A point no sample
	// reached reads -1, printed as na.
	var at []sample
	var seen []bool
	for _, pct := range append(slices.Clone(soakShares), 100) {
		s, ok := sampleAt(r.samples, total, pct)
		at, seen = append(at, s), append(seen, ok)
	}
	first, end := 0, len(at)-1
	// Which sample stands for a share depends on -sample-interval: say how
	// many requests had really finished when each was taken.
	var b strings.Builder
	b.WriteString("soak_finished")
	for i, pct := range soakShares {
		fmt.Fprintf(&b, " at_%dpct=%s", pct, finishedAt(at[i], seen[i]))
	}
	fmt.Fprintf(&b, " at_end=%s", finishedAt(at[end], seen[end]))
	p("%s", b.String())
	for _, g := range []struct {
		topic string
		value func(sample) float64
		bytes bool // printed in MiB, with the growth per request in bytes
	}{
		{"soak_rss_mib", func(s sample) float64 { return s.rss }, true},
		{"soak_heap_inuse_mib", func(s sample) float64 { return s.heapInuse }, true},
		{"soak_goroutines", func(s sample) float64 { return s.goroutines }, false},
		{"soak_loadgen_heap_mib", func(s sample) float64 { return s.ownHeap }, true},
	} {
		show := num
		if g.bytes {
			show = mib
		}
		point := func(i int) float64 {
			if !seen[i] {
				return -1
			}
			return g.value(at[i])
		}
		b.Reset()
		b.WriteString(g.topic)
		for i, pct := range soakShares {
			fmt.Fprintf(&b, " at_%dpct=%s", pct, show(point(i)))
		}
		fmt.Fprintf(&b, " at_end=%s after=%s", show(point(end)), show(g.value(r.after)))
		growth, perRequest := "na", "na"
		if from, to := point(first), point(end); from >= 0 && to >= 0 {
			d := to - from
			growth = fmt.Sprintf("%.0f", d)
			if g.bytes {
				growth = fmt.Sprintf("%.1f", d/(1<<20))
				if n := at[end].finished - at[first].finished; n > 0 {
					perRequest = fmt.Sprintf("%.0f", d/float64(n))
				}
			}
		}
		if g.bytes {
			fmt.Fprintf(&b, " growth_10pct_to_end_mib=%s growth_per_request_bytes=%s", growth, perRequest)
		} else {
			fmt.Fprintf(&b, " growth_10pct_to_end=%s", growth)
		}
		p("%s", b.String())
	}
}

func finishedAt(s sample, seen bool) string {
	if !seen {
		return "na"
	}
	return fmt.Sprintf("%d", s.finished)
}
