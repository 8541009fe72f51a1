// Package fakeclock provides a domain.Clock whose time moves only when a test
// says so.
package fakeclock

import (
	"container/heap"
	"sync"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

var (
	_ domain.Clock = (*Clock)(nil)
	_ domain.Timer = (*timer)(nil)
)

// Clock is a fake domain.Clock: time stands still until Advance or Set, which
// run the timers that fall due one at a time and in time order. Advancing
// from several goroutines at once is safe, but their callbacks may then
// overlap.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers timerHeap
	seq    uint64 // orders timers due at the same instant by creation
}

// New returns a Clock that reads start until it is advanced.
func New(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the fake current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run once the clock has advanced by d. A d of zero
// or less is due at once but, to stay deterministic, still waits for the next
// Advance or Set, which may be Advance(0).
func (c *Clock) AfterFunc(d time.Duration, f func()) domain.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{clock: c, when: c.now.Add(max(d, 0)), seq: c.seq, f: f}
	c.seq++
	heap.Push(&c.timers, t)
	return t
}

// Advance moves the clock forward by d, running every timer due by then, and
// returns once their callbacks have returned.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("fakeclock: Advance with a negative duration")
	}
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	c.advanceTo(end)
}

// Set moves the clock forward to t, running every timer due by then, and
// returns once their callbacks have returned. It panics if t is before Now,
// since code under test may rely on time not going backwards.
func (c *Clock) Set(t time.Time) {
	if t.Before(c.Now()) {
		panic("fakeclock: Set moves time backwards")
	}
	c.advanceTo(t)
}

// PendingTimers returns the number of timers that are neither stopped nor
// run yet.
func (c *Clock) PendingTimers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// advanceTo runs due timers one by one, stepping the clock to each timer's
// due time first so that its callback reads that time from Now and schedules
// relative to it; timers so scheduled run in this same call if they fall due
// by end. The mutex is released around each callback so that callbacks may
// use the clock, including calling Advance themselves.
func (c *Clock) advanceTo(end time.Time) {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].when.After(end) {
			// A nested Advance from a callback may already have gone further.
			if end.After(c.now) {
				c.now = end
			}
			c.mu.Unlock()
			return
		}
		t := heap.Pop(&c.timers).(*timer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()

		// domain.Clock promises f its own goroutine; waiting for it keeps
		// callbacks from overlapping and makes their effects visible to the
		// caller of Advance.
		done := make(chan struct{})
		go func() {
			defer close(done)
			t.f()
		}()
		<-done
	}
}

// timer is one AfterFunc call, pending while it sits in its clock's heap.
type timer struct {
	clock *Clock
	when  time.Time
	seq   uint64
	f     func()
	index int // position in the heap, -1 once stopped or run
}

// Stop prevents the call if it has not started; it reports whether it did.
func (t *timer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&c.timers, t.index)
	return true
}

// timerHeap orders timers by due time, then by creation.
type timerHeap []*timer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.index = -1
	return t
}
