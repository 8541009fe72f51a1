package app

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingConn is a net.Conn whose writes are recorded, and which can be
// made to hold its writes until released.
type recordingConn struct {
	net.Conn // nil: only what is used here is implemented
	mu       sync.Mutex
	writes   []string
	entered  chan struct{} // receives when a write starts
	gate     chan struct{} // a write waits for a receive from it
	fail     error
	closed   bool
	deadline time.Time
	// expire makes a write deadline expire as soon as it is set: a write
	// waiting at the gate fails then, as one to a peer that reads nothing.
	expire  bool
	expired chan struct{}
}

func newRecordingConn() *recordingConn {
	return &recordingConn{entered: make(chan struct{}, 16), gate: make(chan struct{}), expired: make(chan struct{})}
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.entered <- struct{}{}
	select {
	case <-c.gate:
	case <-c.expired:
		return 0, os.ErrDeadlineExceeded
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func (c *recordingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	if c.expire && !t.IsZero() {
		close(c.expired)
		c.expire = false
	}
	return nil
}

func (c *recordingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *recordingConn) written() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.writes...)
}

// TestWriteBehindCoalesces: what is written while a write is in flight
// goes out in one write after it, in order.
func TestWriteBehindCoalesces(t *testing.T) {
	rc := newRecordingConn()
	w := newWriteBehindConn(rc)
	mustWrite(t, w, "headers|")
	<-rc.entered // the writer holds "headers|"
	mustWrite(t, w, "message|")
	mustWrite(t, w, "trailers|")
	rc.gate <- struct{}{}
	<-rc.entered
	rc.gate <- struct{}{}
	closeDone := make(chan error)
	go func() { closeDone <- w.Close() }()
	if err := <-closeDone; err != nil {
		t.Fatal(err)
	}
	if got, want := rc.written(), []string{"headers|", "message|trailers|"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("writes = %q, want %q", got, want)
	}
	if !rc.closed {
		t.Error("Close did not close the connection")
	}
}

// TestWriteBehindClosesAfterFlushing: Close writes what is buffered first.
func TestWriteBehindClosesAfterFlushing(t *testing.T) {
	rc := newRecordingConn()
	w := newWriteBehindConn(rc)
	mustWrite(t, w, "goaway")
	<-rc.entered
	closeDone := make(chan error)
	go func() { closeDone <- w.Close() }()
	waitFor(w, func() bool { return w.closed })
	rc.gate <- struct{}{}
	if err := <-closeDone; err != nil {
		t.Fatal(err)
	}
	if got := rc.written(); len(got) != 1 || got[0] != "goaway" {
		t.Fatalf("writes = %q, want the GOAWAY written before closing", got)
	}
	rc.mu.Lock()
	deadline := rc.deadline
	rc.mu.Unlock()
	if deadline.IsZero() {
		t.Error("Close waited for a write without a deadline: a peer that reads nothing would hold it")
	}
	if _, err := w.Write([]byte("late")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// TestWriteBehindFailsLaterWrites: once a write fails, every later Write
// returns its error, and what was buffered is dropped.
func TestWriteBehindFailsLaterWrites(t *testing.T) {
	rc := newRecordingConn()
	rc.fail = os.ErrDeadlineExceeded
	w := newWriteBehindConn(rc)
	mustWrite(t, w, "a")
	<-rc.entered
	mustWrite(t, w, "b") // buffered behind the failing write
	rc.gate <- struct{}{}
	w.mu.Lock()
	for w.writing {
		w.drained.Wait()
	}
	w.mu.Unlock()
	if _, err := w.Write([]byte("c")); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write after a failed write: %v, want its error", err)
	}
	if got := rc.written(); len(got) != 0 {
		t.Fatalf("writes = %q, want none", got)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWriteBehindBlocksWhenFull: a peer that reads nothing makes Write
// wait, as a full socket buffer would, instead of buffering without end.
func TestWriteBehindBlocksWhenFull(t *testing.T) {
	rc := newRecordingConn()
	w := newWriteBehindConn(rc)
	mustWrite(t, w, "first")
	<-rc.entered // in flight, held
	big := bytes.Repeat([]byte("x"), writeBehindLimit)
	mustWrite(t, w, string(big)) // fills the buffer
	blocked := make(chan error)
	go func() {
		_, err := w.Write([]byte("over"))
		blocked <- err
	}()
	// The Write cannot finish while the buffer is full: it waits for room.
	for {
		select {
		case err := <-blocked:
			t.Fatalf("Write over the limit returned (%v) while nothing was written", err)
		default:
		}
		w.mu.Lock()
		waiting := w.waiters == 1
		w.mu.Unlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	rc.gate <- struct{}{} // "first" done; the big batch starts
	<-rc.entered
	if err := <-blocked; err != nil { // room again once the big batch was taken
		t.Fatal(err)
	}
	rc.gate <- struct{}{}
	<-rc.entered
	rc.gate <- struct{}{}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rc.written(), "")
	if want := "first" + string(big) + "over"; got != want {
		t.Fatalf("wrote %d bytes out of order or lost, want %d", len(got), len(want))
	}
}

// TestWriteBehindCloseEndsStuckWrites: a peer that reads nothing holds
// the writer's write and a Write waiting for room; Close's deadline ends
// the write, the waiting Write fails, and Close returns. A caller's own
// write deadline does not clear Close's.
func TestWriteBehindCloseEndsStuckWrites(t *testing.T) {
	rc := newRecordingConn()
	rc.expire = true
	w := newWriteBehindConn(rc)
	mustWrite(t, w, "first")
	<-rc.entered // held: the peer reads nothing
	mustWrite(t, w, string(bytes.Repeat([]byte("x"), writeBehindLimit)))
	blocked := make(chan error)
	go func() {
		_, err := w.Write([]byte("over"))
		blocked <- err
	}()
	waitFor(w, func() bool { return w.waiters == 1 })
	if err := w.SetWriteDeadline(time.Now().Add(time.Hour)); err != nil { // as x/net's byte timeout would
		t.Fatal(err)
	}
	rc.mu.Lock()
	reached := !rc.deadline.IsZero()
	rc.mu.Unlock()
	if reached {
		t.Fatal("a caller's write deadline reached the connection")
	}
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	if err := <-blocked; err == nil {
		t.Error("the Write waiting for room succeeded on a connection that was closed")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if !rc.closed {
		t.Error("Close did not close the connection")
	}
}

// waitFor waits until cond, read under w's lock, holds.
func waitFor(w *writeBehindConn, cond func() bool) {
	for {
		w.mu.Lock()
		ok := cond()
		w.mu.Unlock()
		if ok {
			return
		}
		runtime.Gosched()
	}
}

func mustWrite(t *testing.T, w *writeBehindConn, s string) {
	t.Helper()
	if n, err := w.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("Write(%d bytes) = %d, %v", len(s), n, err)
	}
}
