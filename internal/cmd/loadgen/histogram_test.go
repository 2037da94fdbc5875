package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBucketRangeHoldsItsValues checks the index arithmetic at every
// power-of-two boundary and its neighbours: a value lies in its bucket's
// range, buckets are contiguous, and none is wider than 1/128 of its values.
func TestBucketRangeHoldsItsValues(t *testing.T) {
	var values []uint64
	for e := range 63 {
		p := uint64(1) << e
		values = append(values, p-1, p, p+1, p+p/3)
	}
	values = append(values, math.MaxInt64)
	for _, v := range values {
		i := bucket(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if float64(hi-lo) > float64(lo)/subCount {
			t.Errorf("bucket %d = [%d, %d] is wider than 1/%d of its values", i, lo, hi, subCount)
		}
		if i > 0 {
			if _, prevHi := bucketRange(i - 1); prevHi+1 != lo {
				t.Errorf("bucket %d starts at %d, bucket %d ends at %d", i, lo, i-1, prevHi)
			}
		}
	}
}

// TestHistogramQuantilesNearExact compares the histogram's quantiles with
// exact nearest-rank ones over latency shapes a run produces: sub-millisecond
// pass-through times, a long-tailed ext_proc round trip, values around the
// exact/bucketed border, and few values.
func TestHistogramQuantilesNearExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name string
		n    int
		draw func() time.Duration
	}{
		{"chunk pass-through", 50000, func() time.Duration { return time.Duration(20e3 + rng.ExpFloat64()*80e3) }},
		{"request phase with a tail", 20000, func() time.Duration {
			return time.Duration(math.Exp(rng.NormFloat64()*0.8) * float64(3*time.Millisecond))
		}},
		{"nanoseconds", 1000, func() time.Duration { return time.Duration(rng.IntN(600)) }},
		{"few", 3, func() time.Duration { return time.Duration(rng.Int64N(int64(time.Second))) }},
		{"one", 1, func() time.Duration { return 42 * time.Millisecond }},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h histogram
			exact := make([]time.Duration, c.n)
			for i := range exact {
				exact[i] = c.draw()
				h.add(exact[i])
			}
			slices.Sort(exact)
			for _, q := range []float64{0, .01, .5, .9, .99, .999, 1} {
				want := exact[max(int(math.Ceil(q*float64(c.n)))-1, 0)]
				got := h.quantile(q)
				// Half a bucket: 1/256 of the value, or exact below 256 ns.
				if diff := math.Abs(float64(got - want)); diff > float64(want)/256 {
					t.Errorf("q=%g: got %v, want %v (off by %.3f%%)", q, got, want, 100*diff/float64(want))
				}
			}
			if h.quantile(1) != exact[c.n-1] || h.min != exact[0] || h.n != uint64(c.n) {
				t.Errorf("max %v min %v n %d, want %v %v %d", h.quantile(1), h.min, h.n, exact[c.n-1], exact[0], c.n)
			}
		})
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h histogram
	if got := h.percentiles(); got != "n=0" {
		t.Errorf("empty percentiles = %q, want n=0", got)
	}
}
