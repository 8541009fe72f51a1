package hist

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestIndexBounds(t *testing.T) {
	prev := -1
	for _, v := range []int64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, math.MaxInt64} {
		i := index(v)
		lo, hi := bounds(i)
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d = [%d, %d]", v, i, lo, hi)
		}
		if i < prev {
			t.Fatalf("index not increasing at %d", v)
		}
		prev = i
		if v >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/half+1e-12 {
			t.Fatalf("bucket [%d, %d] wider than 1/%d", lo, hi, half)
		}
	}
	// Buckets tile the number line.
	for i := 1; i < nBuckets; i++ {
		_, prevHi := bounds(i - 1)
		lo, _ := bounds(i)
		if lo != prevHi+1 {
			t.Fatalf("gap between bucket %d and %d: %d, %d", i-1, i, prevHi, lo)
		}
	}
}

func TestQuantilesMatchExact(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := New()
	var vals []int64
	for range 100000 {
		v := int64(r.ExpFloat64()*2e6) + 50000 // ns: 50 µs + exp(2 ms)
		vals = append(vals, v)
		h.Record(v)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if rel := math.Abs(float64(got-exact)) / float64(exact); rel > 0.005 {
			t.Errorf("q%.3f = %d, exact %d (off by %.2f%%)", q, got, exact, rel*100)
		}
	}
	if h.Min() != vals[0] || h.Max() != vals[len(vals)-1] || h.Count() != uint64(len(vals)) {
		t.Errorf("min/max/count = %d/%d/%d, want %d/%d/%d", h.Min(), h.Max(), h.Count(), vals[0], vals[len(vals)-1], len(vals))
	}
}

func TestMergeAndSnapshot(t *testing.T) {
	a, b, all := New(), New(), New()
	for i := range int64(5000) {
		a.Record(i * 1000)
		all.Record(i * 1000)
		b.Record(i*777 + 3)
		all.Record(i*777 + 3)
	}
	a.Merge(b)
	raw, err := json.Marshal(a.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	back, err := FromSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 0.25, 0.5, 0.99, 1} {
		if back.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged+decoded %d, direct %d", q, back.Quantile(q), all.Quantile(q))
		}
	}
	if back.Count() != all.Count() || back.Mean() != all.Mean() {
		t.Errorf("count/mean %d/%v, want %d/%v", back.Count(), back.Mean(), all.Count(), all.Mean())
	}
	if _, err := FromSnapshot(Snapshot{Count: 2, Buckets: [][2]int64{{3, 1}}}); err == nil {
		t.Error("a snapshot whose count disagrees with its buckets was accepted")
	}
}

func TestEmpty(t *testing.T) {
	h := New()
	if h.Quantile(0.5) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 || len(h.Buckets()) != 0 {
		t.Error("empty histogram reports values")
	}
	h.Merge(New())
	h.Record(-5)
	if h.Min() != 0 || h.Count() != 1 {
		t.Errorf("negative value: min %d count %d", h.Min(), h.Count())
	}
}
