// Package hist is a log-bucketed latency histogram in the manner of
// HdrHistogram: every power of two is split into 128 linear sub-buckets, so
// any recorded value is known to within 0.8 % (0.4 % at the midpoint that
// quantiles report), from 1 ns to hours, in a fixed 60 KB.
//
// A Histogram is not safe for concurrent use: give each goroutine its own,
// or guard it, and Merge them.
package hist

import (
	"fmt"
	"math"
	"math/bits"
	"time"
)

const (
	subBits  = 8            // values below 2^subBits are counted exactly
	subCount = 1 << subBits // 256
	half     = subCount / 2 // sub-buckets per power of two above that
	nBuckets = subCount + (64-subBits)*half
)

// Histogram counts int64 values (nanoseconds, for latencies).
type Histogram struct {
	counts [nBuckets]uint64
	n      uint64
	min    int64
	max    int64
	sum    float64
}

// New returns an empty histogram.
func New() *Histogram { return &Histogram{min: math.MaxInt64} }

func index(v int64) int {
	if v < subCount {
		return int(v)
	}
	u := uint64(v)
	shift := bits.Len64(u) - subBits // ≥ 1
	return subCount + (shift-1)*half + int(u>>shift) - half
}

// bounds is the range [lo, hi] of values counted in bucket i.
func bounds(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := (i-subCount)/half + 1
	sub := (i-subCount)%half + half
	lo = int64(sub) << shift
	return lo, lo + (int64(1) << shift) - 1
}

// Record counts v; negative values count as 0.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	if h.n == 0 {
		h.min, h.max = v, v
	}
	h.counts[index(v)]++
	h.n++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// RecordDuration counts d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count is how many values were recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Min and Max are the exact extremes (0 when empty).
func (h *Histogram) Min() int64 {
	if h.n == 0 {
		return 0
	}
	return h.min
}

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() int64 { return h.max }

// Mean is the exact mean (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Quantile is the value below or at which a fraction q (0–1) of the values
// lie: the midpoint of its bucket, clamped to the exact min and max.
func (h *Histogram) Quantile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	if q <= 0 {
		return h.min
	}
	if q >= 1 {
		return h.max
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bounds(i)
			v := lo + (hi-lo)/2
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.n == 0 {
		return
	}
	if h.n == 0 {
		h.min, h.max = o.min, o.max
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// Bucket is one non-empty bucket: Count values in [Lo, Hi].
type Bucket struct {
	Lo    int64  `json:"lo"`
	Hi    int64  `json:"hi"`
	Count uint64 `json:"count"`
}

// Buckets lists the non-empty buckets in increasing order.
func (h *Histogram) Buckets() []Bucket {
	var out []Bucket
	for i, c := range h.counts {
		if c > 0 {
			lo, hi := bounds(i)
			out = append(out, Bucket{Lo: lo, Hi: hi, Count: c})
		}
	}
	return out
}

// Snapshot is a histogram in a form that encodes to JSON and back without
// loss (sparse: only non-empty buckets).
type Snapshot struct {
	Count   uint64     `json:"count"`
	Min     int64      `json:"min"`
	Max     int64      `json:"max"`
	Sum     float64    `json:"sum"`
	Buckets [][2]int64 `json:"buckets"` // [bucket index, count]
}

// Snapshot returns h in its portable form.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Count: h.n, Min: h.Min(), Max: h.max, Sum: h.sum}
	for i, c := range h.counts {
		if c > 0 {
			s.Buckets = append(s.Buckets, [2]int64{int64(i), int64(c)})
		}
	}
	return s
}

// FromSnapshot rebuilds a histogram.
func FromSnapshot(s Snapshot) (*Histogram, error) {
	h := New()
	var n uint64
	for _, b := range s.Buckets {
		if b[0] < 0 || b[0] >= nBuckets || b[1] < 0 {
			return nil, fmt.Errorf("hist: bad bucket %v", b)
		}
		h.counts[b[0]] += uint64(b[1])
		n += uint64(b[1])
	}
	if n != s.Count {
		return nil, fmt.Errorf("hist: buckets hold %d values, count says %d", n, s.Count)
	}
	h.n, h.sum = s.Count, s.Sum
	if n > 0 {
		h.min, h.max = s.Min, s.Max
	}
	return h, nil
}

// Summary is the usual quantiles of a latency histogram, in milliseconds.
type Summary struct {
	Count  uint64  `json:"count"`
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Summarize reports h, whose values are nanoseconds, in milliseconds.
func (h *Histogram) Summarize() Summary {
	ms := func(v int64) float64 { return float64(v) / 1e6 }
	return Summary{
		Count: h.n, MinMs: ms(h.Min()), MeanMs: h.Mean() / 1e6,
		P50Ms: ms(h.Quantile(0.5)), P90Ms: ms(h.Quantile(0.9)), P99Ms: ms(h.Quantile(0.99)),
		P999Ms: ms(h.Quantile(0.999)), MaxMs: ms(h.max),
	}
}
