package app

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// readAheadConn reads an HTTP/2 connection in as few system calls as the
// peer's writes allow, without keeping a buffer while it is idle. The
// HTTP/2 server reads frames straight from the connection, 9 bytes of
// header and then the payload, each with a read system call of its own: a
// unary gRPC request (HEADERS, DATA) costs four reads and a fifth that
// finds nothing, ~5.1 per chat message in the load test. A bufio.Reader
// would make that one, but would keep 4 KiB on every connection, ~76 MiB
// for a server's ~19,000 idle ones.
//
// Here Read waits for the socket to be readable holding nothing (RawConn
// parks the goroutine, honouring read deadlines and Close), then reads all
// there is into a pooled buffer and serves the following Reads from it;
// the buffer goes back to the pool as soon as they have taken it all. A
// Read at least a buffer long with nothing held reads into the caller's
// slice. Only the reading goroutine touches the buffer, so Reads must not
// be concurrent (the HTTP/2 server has one reader); Write, Close and the
// deadlines are the connection's own, safe from any goroutine. A buffer
// still holding bytes when the connection ends is left to the GC.
type readAheadConn struct {
	net.Conn
	raw  syscall.RawConn
	fill func(fd uintptr) bool // c.readFD, bound once: binding it per Read would allocate

	buf   *[]byte // from readAheadBufs while it holds unread bytes, else nil
	r, w  int     // the unread bytes are (*buf)[r:w]
	errno syscall.Errno

	reads uint32        // read system calls that returned bytes, EOF or an error (for tests)
	waits atomic.Uint32 // reads that found nothing, so that Read waited (for tests)
}

// readAheadSize covers a burst of the frames this server mostly gets: a
// call's HEADERS and DATA, or a chat message (at most 4 KiB of text), take a
// few hundred bytes to a few KiB. A frame's payload at least this long is
// read straight into the HTTP/2 server's slice instead. Buffers are held
// only while being consumed, so there are about as many as connections
// with unread bytes at one moment; in a reconnect storm that is thousands,
// which is why this is not the 16 KiB of a maximum-size frame.
const readAheadSize = 4 << 10

var readAheadBufs = sync.Pool{New: func() any { b := make([]byte, readAheadSize); return &b }}

// newReadAheadConn wraps a TCP or Unix connection on Unix-like systems and
// returns any other c (a net.Pipe, a wrapper with a Read of its own)
// unchanged.
func newReadAheadConn(c net.Conn) net.Conn {
	if runtime.GOOS == "windows" {
		return c
	}
	var sc syscall.Conn
	switch c := c.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return c
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	rc := &readAheadConn{Conn: c, raw: raw}
	rc.fill = rc.readFD
	return rc
}

func (c *readAheadConn) Read(p []byte) (int, error) {
	if c.buf == nil {
		if len(p) >= readAheadSize || len(p) == 0 {
			return c.Conn.Read(p)
		}
		if err := c.raw.Read(c.fill); err != nil {
			return 0, err // a deadline or Close: RawConn's own net.Error
		}
		if c.errno != 0 {
			err := c.errno
			c.errno = 0
			return 0, &net.OpError{Op: "read", Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError("read", err)}
		}
		if c.buf == nil {
			return 0, io.EOF
		}
	}
	n := copy(p, (*c.buf)[c.r:c.w])
	c.r += n
	if c.r == c.w {
		readAheadBufs.Put(c.buf)
		c.buf = nil
	}
	return n, nil
}

// readFD is RawConn.Read's callback: it reads what fd has into a pooled
// buffer, or reports false to wait, holding no buffer, if there is nothing.
func (c *readAheadConn) readFD(fd uintptr) bool {
	b := readAheadBufs.Get().(*[]byte)
	n, err := rawRead(syscall.Read, fd, *b)
	for err == syscall.EINTR {
		n, err = rawRead(syscall.Read, fd, *b)
	}
	if err == syscall.EAGAIN {
		readAheadBufs.Put(b)
		c.waits.Add(1)
		return false
	}
	c.reads++
	switch {
	case err != nil:
		readAheadBufs.Put(b)
		c.errno = err.(syscall.Errno)
	case n == 0: // EOF: c.buf stays nil
		readAheadBufs.Put(b)
	default:
		c.buf, c.r, c.w = b, 0, n
	}
	return true
}

// rawRead calls read, syscall.Read, whose descriptor is an int on Unix and
// a Handle on Windows: this way the file compiles on both, though Windows
// connections are not wrapped.
func rawRead[FD ~int | ~uintptr](read func(FD, []byte) (int, error), fd uintptr, p []byte) (int, error) {
	return read(FD(fd), p)
}
