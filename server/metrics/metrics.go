// Package metrics writes the Prometheus text exposition format, with no
// dependency: counters and gauges are read from their owners at scrape
// time, and Histogram is a fixed-bucket histogram safe for concurrent use.
package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync/atomic"
)

// Histogram counts observations into fixed buckets.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // one per bound, plus +Inf
	sum    atomic.Uint64   // float64 bits
	count  atomic.Uint64
}

// NewHistogram returns a histogram with the given upper bounds, ascending.
func NewHistogram(bounds ...float64) *Histogram {
	return &Histogram{bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// LatencyBuckets are upper bounds in seconds from 50 µs to 10 s.
var LatencyBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}

// Observe records one value.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.bounds, v)
	h.counts[i].Add(1)
	h.count.Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Sum is the sum of the observations.
func (h *Histogram) Sum() float64 { return math.Float64frombits(h.sum.Load()) }

// Writer writes metric families in the text format.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter writes to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (w *Writer) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

// Sample is one value of a metric family, with its labels as name, value pairs.
type Sample struct {
	Labels []string
	Value  float64
}

// Family writes one gauge or counter family.
func (w *Writer) Family(name, kind, help string, samples ...Sample) {
	w.printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
	for _, s := range samples {
		w.printf("%s%s %v\n", name, labels(s.Labels...), s.Value)
	}
}

// Histogram writes h as a histogram family.
func (w *Writer) Histogram(name, help string, h *Histogram) {
	w.printf("# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		w.printf("%s_bucket{le=\"%v\"} %d\n", name, b, cum)
	}
	cum += h.counts[len(h.bounds)].Load()
	w.printf("%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	w.printf("%s_sum %v\n%s_count %d\n", name, math.Float64frombits(h.sum.Load()), name, cum)
}

func labels(kv ...string) string {
	if len(kv) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", kv[i], kv[i+1])
	}
	b.WriteByte('}')
	return b.String()
}
