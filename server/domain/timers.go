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

// storeRetryDelay is how long a deadline waits to run again when its write
// failed because the store could not write (CodeUnavailable: its disk is
// full). Dropped, the deadline would be lost until a restart rebuilt it: an
// alert would never pass on, an idle chat never end. The wait keeps a full
// disk from turning deadlines into a busy loop.
const storeRetryDelay = 10 * time.Second

// at schedules f for time t (at once if t has passed), replacing key's timer.
func (ts *timers) at(key string, t time.Time, f func()) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.arm(key, t, f)
}

// retry arms key to run f again after storeRetryDelay when err says the
// store could not write, unless key was armed again meanwhile (that newer
// deadline knows better). It reports whether err was such a failure, so
// that the caller logs only the others: the store logs a full disk once,
// not once per deadline.
func (ts *timers) retry(key string, err error, f func()) bool {
	if ErrorCode(err) != CodeUnavailable {
		return false
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.pending[key] == nil {
		ts.arm(key, ts.clock.Now().Add(storeRetryDelay), f)
	}
	return true
}

// arm is at with ts.mu held.
func (ts *timers) arm(key string, t time.Time, f func()) {
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
