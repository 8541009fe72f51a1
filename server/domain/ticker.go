package domain

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// errResubscribe tells a stream loop that its subscription was cut off for
// falling behind and must be renewed.
var errResubscribe = errors.New("subscription dropped")

// ticker delivers the clock's time every period on c, dropping ticks nobody
// takes; built on Clock.AfterFunc so tests drive it with a fake clock.
type ticker struct {
	c      chan time.Time
	clock  Clock
	period time.Duration
	mu     sync.Mutex
	timer  Timer
	done   bool
}

func newTicker(clock Clock, period time.Duration) *ticker {
	return newTickerAfter(clock, period, period)
}

// newTickerAfter ticks first after first, then every period.
func newTickerAfter(clock Clock, period, first time.Duration) *ticker {
	t := &ticker{c: make(chan time.Time, 1), clock: clock, period: period}
	t.arm(first)
	return t
}

// jittered is a first tick somewhere in the second half of period, so that
// streams opened together (a reconnect storm, a load test) do not all send
// their keep-alives at the same moment ever after.
func jittered(period time.Duration) time.Duration {
	if period < 2 {
		return period
	}
	return period - rand.N(period/2)
}

func (t *ticker) arm(after time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.timer = t.clock.AfterFunc(after, func() {
		select {
		case t.c <- t.clock.Now():
		default:
		}
		t.arm(t.period)
	})
}

func (t *ticker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done = true
	if t.timer != nil {
		t.timer.Stop()
	}
}
