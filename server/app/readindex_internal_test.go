package app

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// A read that arrives while the log's end is being asked waits for the
// next request, which begins after it arrived: the position it gets is
// at least the log's end when it arrived. The reads that arrive together
// share that one request.
func TestReadIndex_AReadArrivingDuringARequestWaitsForTheNext(t *testing.T) {
	var ri readIndex
	var end atomic.Uint64 // the log's end
	asked := make(chan struct{}, 4)
	release := make(chan struct{})
	var requests atomic.Int32
	last := func(context.Context) (uint64, error) {
		requests.Add(1)
		at := end.Load() // read when the request begins
		asked <- struct{}{}
		<-release
		return at, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// wait fails the test rather than hang when what it waits for never
	// comes (a read answered from a request older than its arrival).
	wait := func(what string, ch <-chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("no %s", what)
		}
	}
	get := func(ch <-chan uint64) uint64 {
		t.Helper()
		select {
		case p := <-ch:
			return p
		case <-ctx.Done():
			t.Fatal("a read got no position")
			return 0
		}
	}

	end.Store(5)
	first := make(chan uint64, 1)
	go func() { p, _ := ri.get(ctx, last); first <- p }()
	wait("first request", asked) // under way, and read 5

	end.Store(9) // a write acknowledged before the next reads arrive
	later := make(chan uint64, 3)
	for range 3 {
		go func() { p, _ := ri.get(ctx, last); later <- p }()
	}
	// The three join the waiting list before the first request ends.
	for {
		ri.mu.Lock()
		n := len(ri.waiting)
		ri.mu.Unlock()
		if n == 3 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d reads waiting, want 3", n)
		}
		time.Sleep(time.Millisecond)
	}
	release <- struct{}{}
	if p := get(first); p != 5 {
		t.Fatalf("first read got %d, want 5", p)
	}
	wait("second request, begun after the three reads arrived", asked)
	release <- struct{}{}
	for range 3 {
		if p := get(later); p != 9 {
			t.Fatalf("a read that arrived during the first request got %d, want 9: a position older than its arrival", p)
		}
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests for 4 reads, want 2 (the three waiting share one)", n)
	}
}
