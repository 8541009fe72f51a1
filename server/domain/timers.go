package domain

import (
	"sync"
	"time"
)

// timers holds the engine's pending deadlines by key ("invite/…",
// "alert/…"): at most one per key, so rescheduling replaces. Every deadline
// is also stored with the record it belongs to, so timers are rebuilt from
// the store after a restart and a late or duplicate firing is harmless: the
// callback checks the record before acting.
type timers struct {
	clock   Clock
	mu      sync.Mutex
	pending map[string]Timer
	peak    int // for shrunk
	stopped bool
}

func newTimers(clock Clock) *timers {
	return &timers{clock: clock, pending: map[string]Timer{}}
}

// at schedules f for time t (at once if t has passed), replacing key's timer.
func (ts *timers) at(key string, t time.Time, f func()) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.stopped {
		return
	}
	if old := ts.pending[key]; old != nil {
		old.Stop()
	}
	var timer Timer
	timer = ts.clock.AfterFunc(max(t.Sub(ts.clock.Now()), 0), func() {
		ts.mu.Lock()
		if ts.pending[key] == timer {
			delete(ts.pending, key)
			ts.pending = shrunk(ts.pending, &ts.peak)
		}
		ts.mu.Unlock()
		f()
	})
	ts.pending[key] = timer
	ts.peak = max(ts.peak, len(ts.pending))
}

func (ts *timers) cancel(key string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if t := ts.pending[key]; t != nil {
		t.Stop()
		delete(ts.pending, key)
		ts.pending = shrunk(ts.pending, &ts.peak)
	}
}

func (ts *timers) stop() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.stopped = true
	for k, t := range ts.pending {
		t.Stop()
		delete(ts.pending, k)
	}
}
