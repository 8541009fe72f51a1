package app

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// readAheadPair returns the server's end of a loopback TCP connection,
// wrapped, and the peer's end.
func readAheadPair(t *testing.T) (*readAheadConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rc, ok := newReadAheadConn(c).(*readAheadConn)
	if !ok {
		t.Fatalf("newReadAheadConn(%T) did not wrap it", c)
	}
	t.Cleanup(func() { rc.Close(); peer.Close() })
	return rc, peer.(*net.TCPConn)
}

// frames returns n HTTP/2-like frames: a 9-byte header giving the
// payload's length, then the payload.
func frames(n int) (all []byte, payloads []int) {
	for i := range n {
		size := 10 + 37*i
		all = append(all, byte(size>>16), byte(size>>8), byte(size), 0, 0, 0, 0, 0, byte(i))
		all = append(all, bytes.Repeat([]byte{'a' + byte(i)}, size)...)
		payloads = append(payloads, size)
	}
	return all, payloads
}

// readFrames reads back what frames wrote, as the HTTP/2 framer does.
func readFrames(t *testing.T, c net.Conn, payloads []int) []byte {
	t.Helper()
	var got []byte
	for _, size := range payloads {
		head := make([]byte, 9)
		if _, err := io.ReadFull(c, head); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(c, payload); err != nil {
			t.Fatal(err)
		}
		got = append(append(got, head...), payload...)
	}
	return got
}

func mustPeerWrite(t *testing.T, peer net.Conn, p []byte) {
	t.Helper()
	if _, err := peer.Write(p); err != nil {
		t.Fatal(err)
	}
}

// TestReadAheadOneReadPerBurst: frames the peer wrote at once are read
// with one system call, however many Reads take them.
func TestReadAheadOneReadPerBurst(t *testing.T) {
	c, peer := readAheadPair(t)
	all, payloads := frames(5)
	mustPeerWrite(t, peer, all)
	if got := readFrames(t, c, payloads); !bytes.Equal(got, all) {
		t.Fatalf("read back %q, want %q", got, all)
	}
	if c.reads != 1 {
		t.Errorf("10 Reads of a burst made %d read system calls (besides %d that found nothing), want 1", c.reads, c.waits.Load())
	}
}

// TestReadAheadHoldsNothingWhenDrained: the buffer goes back to the pool
// as soon as what it holds is read, so an idle connection keeps none.
func TestReadAheadHoldsNothingWhenDrained(t *testing.T) {
	c, peer := readAheadPair(t)
	for range 2 {
		all, payloads := frames(3)
		mustPeerWrite(t, peer, all)
		if got := readFrames(t, c, payloads[:1]); !bytes.Equal(got, all[:len(got)]) {
			t.Fatalf("read back %q, want %q", got, all[:len(got)])
		}
		if c.buf == nil {
			t.Fatal("no buffer while the burst's last frames are unread")
		}
		if got := readFrames(t, c, payloads[1:]); !bytes.Equal(got, all[9+payloads[0]:]) {
			t.Fatalf("read back %q, want %q", got, all[9+payloads[0]:])
		}
		if c.buf != nil {
			t.Fatal("a buffer is still held with nothing left to read in it")
		}
	}
}

// TestReadAheadLargeReadsAreDirect: a Read of at least a buffer with
// nothing held reads into the caller's slice; one with bytes held gets
// those first.
func TestReadAheadLargeReadsAreDirect(t *testing.T) {
	c, peer := readAheadPair(t)
	want := make([]byte, 3*readAheadSize)
	for i := range want {
		want[i] = byte(i % 251)
	}
	go peer.Write(want)
	var got []byte
	p := make([]byte, 4*readAheadSize)
	for len(got) < len(want) {
		n, err := c.Read(p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p[:n]...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("large Reads returned other bytes than written")
	}
	if c.reads != 0 || c.buf != nil {
		t.Fatalf("large Reads went through the buffer: %d buffered reads, buffer held %v", c.reads, c.buf != nil)
	}

	mustPeerWrite(t, peer, []byte("held|next"))
	small := make([]byte, 5)
	if _, err := io.ReadFull(c, small); err != nil || string(small) != "held|" {
		t.Fatalf("small Read = %q, %v", small, err)
	}
	n, err := c.Read(p)
	if err != nil || string(p[:n]) != "next" {
		t.Fatalf("large Read with bytes held = %q, %v, want them", p[:n], err)
	}
}

// waitParked waits until c's Read has found nothing to read, so it is
// waiting (or about to) for the socket.
func waitParked(c *readAheadConn) {
	for c.waits.Load() == 0 {
		runtime.Gosched()
	}
}

// TestReadAheadDeadlineAndClose: a waiting Read returns at its deadline,
// with an error that says so, and when the connection is closed.
func TestReadAheadDeadlineAndClose(t *testing.T) {
	c, _ := readAheadPair(t)
	done := make(chan error)
	go func() {
		_, err := c.Read(make([]byte, 9))
		done <- err
	}()
	waitParked(c)
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	err := <-done
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}

	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.waits.Store(0)
	go func() {
		_, err := c.Read(make([]byte, 9))
		done <- err
	}()
	waitParked(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read on a closed connection: %v, want net.ErrClosed", err)
	}
	if c.buf != nil {
		t.Error("a Read that read nothing holds a buffer")
	}
}

// TestReadAheadEOFAndErrors: the peer's close is io.EOF once what it
// wrote is read; its reset is the read's error, as from a *net.TCPConn.
func TestReadAheadEOFAndErrors(t *testing.T) {
	c, peer := readAheadPair(t)
	mustPeerWrite(t, peer, []byte("last words"))
	peer.Close()
	got, err := io.ReadAll(io.LimitReader(c, 1<<20)) // small Reads, as ReadAll's first are
	if err != nil || string(got) != "last words" {
		t.Fatalf("read %q, %v before EOF, want %q", got, err, "last words")
	}
	if n, err := c.Read(make([]byte, 9)); n != 0 || err != io.EOF {
		t.Fatalf("Read after EOF = %d, %v, want io.EOF", n, err)
	}
	if c.buf != nil {
		t.Error("a buffer is held after EOF")
	}

	c, peer = readAheadPair(t)
	peer.SetLinger(0) // Close resets the connection
	peer.Close()
	_, err = c.Read(make([]byte, 9))
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read of a reset connection: %v, want a read *net.OpError for ECONNRESET", err)
	}
}

// TestReadAheadLeavesOtherConns: a connection without a descriptor to
// read is returned as it is.
func TestReadAheadLeavesOtherConns(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := newReadAheadConn(a); c != a {
		t.Fatalf("newReadAheadConn(net.Pipe()) = %T, want it unchanged", c)
	}
}
