package main

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^subBits buckets, so a bucket is at most 1/128 as wide as the values in
// it, and a bucket's midpoint is within 0.4% of any of them.
const (
	subBits  = 7
	subCount = 1 << subBits
)

// histogram counts durations in log-linear buckets (exact below 256 ns, then
// 128 per power of two), so a soak of any length keeps a few kilobytes per
// latency phase instead of every value. Minimum, maximum and count are exact.
type histogram struct {
	counts   []uint64 // by bucket index; grown to the largest index seen
	n        uint64
	min, max time.Duration
}

// bucket is the index of v's bucket: v itself below 2*subCount, else the
// top subBits+1 bits of v, offset by how far they were shifted.
func bucket(v uint64) int {
	shift := max(bits.Len64(v)-(subBits+1), 0)
	return subCount*shift + int(v>>shift)
}

// bucketRange is the smallest and largest value bucket i holds.
func bucketRange(i int) (lo, hi uint64) {
	if i < 2*subCount {
		return uint64(i), uint64(i)
	}
	shift := i/subCount - 1
	lo = uint64(i-subCount*shift) << shift
	return lo, lo + 1<<shift - 1
}

// add counts one duration. The run's clock is monotonic, so a negative
// value cannot happen; were one to, it would count as 0.
func (h *histogram) add(d time.Duration) {
	d = max(d, 0)
	i := bucket(uint64(d))
	if i >= len(h.counts) {
		h.counts = append(h.counts, make([]uint64, i+1-len(h.counts))...)
	}
	h.counts[i]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
}

// quantile is the nearest-rank q-quantile: the midpoint of the bucket that
// holds the ⌈q·n⌉-th smallest value, kept within [min, max] so that the
// extremes are exact.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	if rank >= h.n {
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			mid := time.Duration(lo + (hi-lo)/2)
			return min(max(mid, h.min), h.max)
		}
	}
	return h.max
}

// percentiles is p50/p90/p99/max in milliseconds, the report's latency format.
func (h *histogram) percentiles() string {
	if h.n == 0 {
		return "n=0"
	}
	ms := func(q float64) float64 { return float64(h.quantile(q)) / float64(time.Millisecond) }
	return fmt.Sprintf("p50=%.3f p90=%.3f p99=%.3f max=%.3f n=%d", ms(.50), ms(.90), ms(.99), ms(1), h.n)
}
