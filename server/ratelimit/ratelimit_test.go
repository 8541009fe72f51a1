package ratelimit

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeNow is a clock that moves only when told.
type fakeNow struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeNow) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeNow) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t = f.t.Add(d)
}

func newClock() *fakeNow { return &fakeNow{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func TestBurstThenRate(t *testing.T) {
	clk := newClock()
	l := New(Per(30, time.Minute, 10), clk.now, 0) // a token every 2 s
	for i := range 10 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("call %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait != 2*time.Second {
		t.Fatalf("11th call = %v, retry after %v; want refused, 2s", ok, wait)
	}
	clk.advance(1500 * time.Millisecond)
	if ok, wait := l.Allow("a"); ok || wait != 500*time.Millisecond {
		t.Fatalf("after 1.5 s = %v, %v; want refused, 500ms", ok, wait)
	}
	clk.advance(500 * time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("refused once a token was earned")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("allowed twice on one earned token")
	}
	// A long pause refills to the burst, not beyond.
	clk.advance(time.Hour)
	for i := range 10 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("call %d after a pause refused", i+1)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("the bucket grew beyond its burst")
	}
}

func TestKeysAreIndependent(t *testing.T) {
	clk := newClock()
	l := New(Per(1, time.Minute, 1), clk.now, 0)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("a refused")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a allowed twice")
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b refused because of a")
	}
}

func TestUnlimited(t *testing.T) {
	for _, lim := range []Limit{{}, {Count: 5}, {Period: time.Second}} {
		l := New(lim, nil, 0)
		for range 1000 {
			if ok, _ := l.Allow("a"); !ok {
				t.Fatalf("%v refused", lim)
			}
		}
		if l.Len() != 0 {
			t.Errorf("%v keeps %d buckets", lim, l.Len())
		}
	}
}

func TestIdleKeysAreEvicted(t *testing.T) {
	clk := newClock()
	l := New(Per(60, time.Minute, 10), clk.now, 0) // refills in 10 s
	for i := range 1000 {
		l.Allow(fmt.Sprint("idle", i))
	}
	if l.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", l.Len())
	}
	clk.advance(5 * time.Second)
	for range 10 {
		l.Allow("busy") // empty now
	}
	clk.advance(6 * time.Second) // the idle keys refilled; busy earned 6 tokens
	if ok, _ := l.Allow("busy"); !ok {
		t.Fatal("busy refused")
	}
	if l.Len() != 1 {
		t.Fatalf("after the idle keys refilled Len = %d, want 1 (busy)", l.Len())
	}
	// busy kept its state through the sweep: 5 tokens left, not a fresh 10.
	for i := range 5 {
		if ok, _ := l.Allow("busy"); !ok {
			t.Fatalf("busy refused at %d", i)
		}
	}
	if ok, _ := l.Allow("busy"); ok {
		t.Fatal("busy's bucket was reset by the sweep")
	}
}

func TestMaxKeys(t *testing.T) {
	clk := newClock()
	l := New(Per(1, time.Hour, 1), clk.now, 100)
	for i := range 10_000 {
		l.Allow(fmt.Sprint("k", i))
		if n := l.Len(); n > 100 {
			t.Fatalf("%d buckets, cap 100", n)
		}
	}
}

func TestRetryAfterIsAtLeastOneNanosecond(t *testing.T) {
	clk := newClock()
	l := New(Per(1000, time.Nanosecond, 1), clk.now, 0)
	l.Allow("a")
	if ok, wait := l.Allow("a"); ok || wait <= 0 {
		t.Fatalf("= %v, %v; want refused with a positive wait", ok, wait)
	}
}

func TestConcurrent(t *testing.T) {
	clk := newClock()
	l := New(Per(100, time.Minute, 50), clk.now, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.Allow("shared"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				l.Allow(fmt.Sprint("own", g))
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Fatalf("allowed %d of 800 concurrent calls, want the burst of 50", allowed)
	}
}

func TestLimitString(t *testing.T) {
	if got := Per(30, time.Minute, 10).String(); got != "30/min, burst 10" {
		t.Errorf("String = %q", got)
	}
	if got := Per(5, 10*time.Second, 0).String(); got != "5/10s, burst 1" {
		t.Errorf("String = %q", got)
	}
	if got := (Limit{}).String(); got != "unlimited" {
		t.Errorf("String = %q", got)
	}
}
