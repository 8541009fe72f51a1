package app

import (
	"net"
	"runtime"
	"sync"
	"time"
)

// writeBehindConn coalesces an HTTP/2 connection's writes into fewer
// system calls. The HTTP/2 server flushes whenever its queue of frames is
// empty, and a handler hands it one frame at a time, waiting for each: a
// unary gRPC reply (headers, message, trailers) becomes three flushes, and
// messages for several streams of one connection (an agent's chats) one
// flush each. Here Write only copies into a buffer; a goroutine started
// for the burst lets the goroutines already runnable go first, then writes
// everything buffered meanwhile in one call, and stops when nothing is
// left. Nothing waits on a timer: a lone write goes out as soon as the
// server has nothing else to run.
//
// A Write blocks while writeBehindLimit bytes wait, so a peer that does
// not read still slows the server's writers down as a full socket buffer
// would. The first failed write fails every later Write, as the socket's
// own error would have. Close writes what is buffered first, giving up
// after writeBehindCloseTimeout; callers' write deadlines are not passed
// on (see SetWriteDeadline).
type writeBehindConn struct {
	net.Conn

	mu      sync.Mutex
	drained sync.Cond // signalled whenever the writer takes or finishes a batch
	buf     []byte    // written by the server, not yet by the writer
	writing bool      // a writer goroutine is running
	closed  bool
	err     error // the writer's first error

	closeTimeout time.Duration
	waiters      int // Writes waiting for room, for tests
}

const (
	writeBehindLimit        = 256 << 10
	writeBehindCloseTimeout = 5 * time.Second
)

// writeBehindBufs recycles the buffers of bursts: an idle connection keeps
// none.
var writeBehindBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func newWriteBehindConn(c net.Conn) *writeBehindConn {
	w := &writeBehindConn{Conn: c, closeTimeout: writeBehindCloseTimeout}
	w.drained.L = &w.mu
	return w
}

func (w *writeBehindConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.err == nil && !w.closed && len(w.buf) >= writeBehindLimit {
		w.waiters++
		w.drained.Wait()
		w.waiters--
	}
	switch {
	case w.err != nil:
		return 0, w.err
	case w.closed:
		return 0, net.ErrClosed
	}
	if w.buf == nil {
		w.buf = (*writeBehindBufs.Get().(*[]byte))[:0]
	}
	w.buf = append(w.buf, p...)
	if !w.writing {
		w.writing = true
		go w.writeLoop()
	}
	return len(p), nil
}

// writeLoop writes batches until none is left.
func (w *writeBehindConn) writeLoop() {
	// Let what is runnable now (the handler about to queue its next frame,
	// the HTTP/2 server about to flush it) add to this batch first.
	runtime.Gosched()
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(w.buf) > 0 && w.err == nil {
		out := w.buf
		w.buf = nil
		w.drained.Broadcast() // room for Writes waiting for it
		w.mu.Unlock()
		_, err := w.Conn.Write(out)
		w.mu.Lock()
		if cap(out) <= 64<<10 {
			out = out[:0]
			writeBehindBufs.Put(&out)
		}
		if err != nil {
			w.err = err
		}
		w.drained.Broadcast()
	}
	if w.buf != nil && w.err != nil {
		w.buf = nil // never to be written
	}
	w.writing = false
	w.drained.Broadcast()
}

// Close writes what is buffered (within writeBehindCloseTimeout), then
// closes the connection.
func (w *writeBehindConn) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		if w.writing && w.Conn.SetWriteDeadline(time.Now().Add(w.closeTimeout)) != nil {
			w.Conn.Close() // no deadline: end the write now
		}
		for w.writing {
			w.drained.Wait()
		}
	}
	w.mu.Unlock()
	return w.Conn.Close()
}

// SetWriteDeadline does not reach the connection. A deadline set around a
// Write, as x/net's WriteByteTimeout does, would bound only the copy into
// the buffer, and clearing it afterwards would clear Close's. The writes
// themselves are bounded at Close; this server sets no WriteByteTimeout.
func (w *writeBehindConn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets the read deadline only (see SetWriteDeadline).
func (w *writeBehindConn) SetDeadline(t time.Time) error { return w.Conn.SetReadDeadline(t) }
