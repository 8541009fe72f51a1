package fakeclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/fakeclock"
)

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func TestClock(t *testing.T) {
	t.Run("Now", func(t *testing.T) {
		c := fakeclock.New(start)
		if got, want := c.Now(), start; !got.Equal(want) {
			t.Fatalf("Now() = %v, want %v", got, want)
		}
		c.Advance(5 * time.Second)
		if got, want := c.Now(), start.Add(5*time.Second); !got.Equal(want) {
			t.Fatalf("Now() = %v, want %v", got, want)
		}
	})

	t.Run("Order", func(t *testing.T) {
		c := fakeclock.New(start)
		// Advance runs one callback at a time and waits for it, so the
		// callbacks may share got without a lock; -race checks that claim.
		var got []string
		at := map[string]time.Time{}
		schedule := func(name string, d time.Duration) {
			c.AfterFunc(d, func() {
				got = append(got, name)
				at[name] = c.Now()
			})
		}
		schedule("3s", 3*time.Second)
		schedule("1s", time.Second)
		schedule("2s-first", 2*time.Second)
		schedule("2s-second", 2*time.Second)
		c.Advance(3 * time.Second)
		want := []string{"1s", "2s-first", "2s-second", "3s"}
		if len(got) != len(want) {
			t.Fatalf("ran %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("ran %v, want %v", got, want)
			}
		}
		// Each callback reads its own due time, not the end of the window.
		if got, want := at["1s"], start.Add(time.Second); !got.Equal(want) {
			t.Fatalf("Now() in 1s callback = %v, want %v", got, want)
		}
		if got := c.PendingTimers(); got != 0 {
			t.Fatalf("PendingTimers() = %d, want 0", got)
		}
	})

	t.Run("Stop", func(t *testing.T) {
		c := fakeclock.New(start)
		ran := false
		tm := c.AfterFunc(time.Second, func() { ran = true })
		if !tm.Stop() {
			t.Fatal("Stop() = false on a pending timer")
		}
		if tm.Stop() {
			t.Fatal("Stop() = true twice")
		}
		c.Advance(time.Minute)
		if ran {
			t.Fatal("stopped timer ran")
		}
		if got := c.PendingTimers(); got != 0 {
			t.Fatalf("PendingTimers() = %d, want 0", got)
		}
	})

	t.Run("StopAfterRun", func(t *testing.T) {
		c := fakeclock.New(start)
		ran := false
		tm := c.AfterFunc(time.Second, func() { ran = true })
		c.Advance(time.Second)
		if !ran {
			t.Fatal("timer did not run")
		}
		if tm.Stop() {
			t.Fatal("Stop() = true after the timer ran")
		}
	})

	t.Run("StopFromEarlierCallback", func(t *testing.T) {
		c := fakeclock.New(start)
		ran := false
		later := c.AfterFunc(2*time.Second, func() { ran = true })
		stopped := false
		c.AfterFunc(time.Second, func() { stopped = later.Stop() })
		c.Advance(3 * time.Second)
		if !stopped || ran {
			t.Fatalf("stopped %v, ran %v; want true, false", stopped, ran)
		}
	})

	t.Run("ChainedWithinWindow", func(t *testing.T) {
		c := fakeclock.New(start)
		var ticks []time.Time
		var tick func()
		tick = func() {
			ticks = append(ticks, c.Now())
			c.AfterFunc(time.Second, tick)
		}
		c.AfterFunc(time.Second, tick)
		c.Advance(3500 * time.Millisecond)
		if got, want := len(ticks), 3; got != want {
			t.Fatalf("ran %d times, want %d", got, want)
		}
		for i, got := range ticks {
			if want := start.Add(time.Duration(i+1) * time.Second); !got.Equal(want) {
				t.Fatalf("tick %d at %v, want %v", i, got, want)
			}
		}
		// The fourth tick, due at 4s, waits for the next Advance.
		if got := c.PendingTimers(); got != 1 {
			t.Fatalf("PendingTimers() = %d, want 1", got)
		}
		c.Advance(500 * time.Millisecond)
		if got, want := len(ticks), 4; got != want {
			t.Fatalf("ran %d times, want %d", got, want)
		}
	})

	t.Run("BeyondWindowStaysPending", func(t *testing.T) {
		c := fakeclock.New(start)
		ran := false
		c.AfterFunc(10*time.Second, func() { ran = true })
		c.Advance(5 * time.Second)
		if ran {
			t.Fatal("timer ran early")
		}
		if got := c.PendingTimers(); got != 1 {
			t.Fatalf("PendingTimers() = %d, want 1", got)
		}
		c.Advance(5 * time.Second)
		if !ran {
			t.Fatal("timer did not run when due")
		}
	})

	t.Run("ZeroDuration", func(t *testing.T) {
		c := fakeclock.New(start)
		ran := 0
		c.AfterFunc(0, func() { ran++ })
		c.AfterFunc(-time.Second, func() { ran++ })
		if ran != 0 {
			t.Fatal("ran before Advance")
		}
		c.Advance(0)
		if ran != 2 {
			t.Fatalf("ran %d, want 2", ran)
		}
		if got, want := c.Now(), start; !got.Equal(want) {
			t.Fatalf("Now() = %v, want %v", got, want)
		}
	})

	t.Run("Set", func(t *testing.T) {
		c := fakeclock.New(start)
		ran := false
		c.AfterFunc(time.Hour, func() { ran = true })
		c.Set(start.Add(time.Hour))
		if !ran {
			t.Fatal("timer did not run")
		}
		if got, want := c.Now(), start.Add(time.Hour); !got.Equal(want) {
			t.Fatalf("Now() = %v, want %v", got, want)
		}
	})

	t.Run("SetBackwardsPanics", func(t *testing.T) {
		c := fakeclock.New(start)
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		c.Set(start.Add(-time.Second))
	})

	t.Run("AdvanceNegativePanics", func(t *testing.T) {
		c := fakeclock.New(start)
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		c.Advance(-time.Second)
	})

	t.Run("AdvanceFromCallback", func(t *testing.T) {
		c := fakeclock.New(start)
		var got []string
		c.AfterFunc(time.Second, func() {
			got = append(got, "outer")
			c.Advance(time.Second) // must not deadlock
		})
		c.AfterFunc(2*time.Second, func() { got = append(got, "inner") })
		c.AfterFunc(3*time.Second, func() { got = append(got, "last") })
		c.Advance(time.Second)
		if want := []string{"outer", "inner"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("ran %v, want %v", got, want)
		}
		if got, want := c.Now(), start.Add(2*time.Second); !got.Equal(want) {
			t.Fatalf("Now() = %v, want %v", got, want)
		}
		if got := c.PendingTimers(); got != 1 {
			t.Fatalf("PendingTimers() = %d, want 1", got)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		c := fakeclock.New(start)
		var mu sync.Mutex
		ran := 0
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range 200 {
					tm := c.AfterFunc(time.Duration(i%5)*time.Millisecond, func() {
						mu.Lock()
						ran++
						mu.Unlock()
						c.Now()
					})
					if i%3 == 0 {
						tm.Stop()
					}
				}
			})
			wg.Go(func() {
				for range 200 {
					c.Advance(time.Millisecond)
					c.PendingTimers()
				}
			})
		}
		wg.Wait()
		c.Advance(time.Second)
		if got := c.PendingTimers(); got != 0 {
			t.Fatalf("PendingTimers() = %d, want 0", got)
		}
	})
}
