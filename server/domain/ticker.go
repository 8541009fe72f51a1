package domain

import (
	"errors"
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
	t := &ticker{c: make(chan time.Time, 1), clock: clock, period: period}
	t.arm()
	return t
}

func (t *ticker) arm() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return
	}
	t.timer = t.clock.AfterFunc(t.period, func() {
		select {
		case t.c <- t.clock.Now():
		default:
		}
		t.arm()
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
