package app

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// chunkConn reads src in pieces of random sizes, as a socket may deliver it.
type chunkConn struct {
	net.Conn // nil: only Read is used
	src      []byte
	rnd      *rand.Rand
}

func (c *chunkConn) SetReadDeadline(time.Time) error { return nil }
func (c *chunkConn) RemoteAddr() net.Addr            { return nil }

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.src) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.src), 1+c.rnd.IntN(40))
	copy(p, c.src[:n])
	c.src = c.src[n:]
	return n, nil
}

// resetFrames writes what a client sends after the preface: SETTINGS,
// then, for each of pairs, a HEADERS frame opening a stream and an
// RST_STREAM cancelling it, with other frames between them.
func resetFrames(t *testing.T, firstID uint32, pairs int) []byte {
	t.Helper()
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings()
	for i := range pairs {
		id := firstID + 2*uint32(i)
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x82, 0x86, 0x84}, EndHeaders: true})
		fr.WriteData(id, true, make([]byte, i%50)) // payloads of every length, empty ones too
		fr.WriteRSTStream(id, http2.ErrCodeCancel)
		fr.WritePing(false, [8]byte{})
	}
	return buf.Bytes()
}

// readAll reads g until an error as the HTTP/2 server does, a frame
// header and then its payload, and returns what it read and the error.
func readAll(g net.Conn) (int, error) {
	fr := http2.NewFramer(nil, g)
	frames := 0
	for {
		if _, err := fr.ReadFrame(); err != nil {
			return frames, err
		}
		frames++
	}
}

// TestResetGuardCountsResetFrames: the guard finds every RST_STREAM in the
// byte stream however the reads split it, lets the budget through and
// stops reading at the first reset over it, before the server sees it.
func TestResetGuardCountsResetFrames(t *testing.T) {
	now := time.Unix(1e9, 0)
	limit := newResetLimit(func() time.Time { return now })
	limit.burst = 10
	for seed := range uint64(50) {
		src := resetFrames(t, 1, 20)
		c := &chunkConn{src: append([]byte(h2cPreface), src...), rnd: rand.New(rand.NewPCG(seed, 1))}
		g := newResetGuardConn(c, limit, true)
		io.ReadFull(g, make([]byte, len(h2cPreface))) // what ServeConn reads first over TLS
		frames, err := readAll(g)
		// SETTINGS, then 10 groups of 4 frames, then the 11th's HEADERS and DATA.
		if want := 1 + 10*4 + 2; frames != want || !errors.Is(err, errResetFlood) {
			t.Fatalf("seed %d: read %d frames, then %v; want %d, then %v", seed, frames, err, want, errResetFlood)
		}
		if _, err := g.Read(make([]byte, 9)); !errors.Is(err, errResetFlood) {
			t.Fatalf("seed %d: a Read after the flood returned %v", seed, err)
		}
	}
	if got := limit.closes.Load(); got != 50 {
		t.Errorf("closes = %d, want 50", got)
	}
}

// TestResetGuardRefills: resets are refunded at the rate, so a client
// that cancels now and then never runs out, and one that spent its burst
// gets rate×elapsed more.
func TestResetGuardRefills(t *testing.T) {
	now := time.Unix(1e9, 0)
	limit := newResetLimit(func() time.Time { return now })
	pr, pw := net.Pipe()
	defer pr.Close()
	g := newResetGuardConn(pr, limit, false)
	rst := func() error {
		t.Helper()
		var buf bytes.Buffer
		http2.NewFramer(&buf, nil).WriteRSTStream(1, http2.ErrCodeCancel)
		go pw.Write(buf.Bytes())
		_, err := io.ReadFull(g, make([]byte, buf.Len()))
		return err
	}
	// Ten times the burst, at the rate: never cut off.
	for i := range 10 * resetBurst {
		if err := rst(); err != nil {
			t.Fatalf("reset %d at %d/s: %v", i, resetRate, err)
		}
		now = now.Add(time.Second / resetRate)
	}
	// Then the whole burst at once, and after a second resetRate more.
	for i := range resetBurst {
		if err := rst(); err != nil {
			t.Fatalf("reset %d of the burst: %v", i, err)
		}
	}
	now = now.Add(time.Second)
	for i := range resetRate {
		if err := rst(); err != nil {
			t.Fatalf("reset %d a second after the burst: %v", i, err)
		}
	}
	if err := rst(); !errors.Is(err, errResetFlood) {
		t.Fatalf("one more reset: %v, want %v", err, errResetFlood)
	}
}

// loopConn reads data over and over, as much of it as the caller asks
// for, without system calls: what is left of a Read is the wrapper's cost.
type loopConn struct {
	net.Conn // nil: only Read is used
	data     []byte
	off      int
}

func (c *loopConn) RemoteAddr() net.Addr { return nil }

func (c *loopConn) Read(p []byte) (int, error) {
	n := copy(p, c.data[c.off:])
	c.off = (c.off + n) % len(c.data)
	return n, nil
}

// BenchmarkResetGuardRead is the guard's cost on the read path: each op
// the HTTP/2 server's framer reads a unary call's request, a HEADERS frame
// and a DATA frame with a 64-byte message, from memory.
func BenchmarkResetGuardRead(b *testing.B) {
	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 60), EndHeaders: true})
	fr.WriteData(1, true, make([]byte, 5+64))
	for _, guarded := range []bool{false, true} {
		b.Run(map[bool]string{false: "bare", true: "guarded"}[guarded], func(b *testing.B) {
			var c net.Conn = &loopConn{data: buf.Bytes()}
			if guarded {
				c = newResetGuardConn(c, newResetLimit(nil), false)
			}
			fr := http2.NewFramer(nil, c)
			b.ReportAllocs()
			for b.Loop() {
				for range 2 {
					if _, err := fr.ReadFrame(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// sinkConn is a pipe's reading end whose writes go nowhere.
type sinkConn struct{ net.Conn }

func (sinkConn) Write(p []byte) (int, error) { return len(p), nil }

// TestResetGuardCountsServerResets: the RST_STREAM frames the server
// writes with an error code spend the budget too (a client can make the
// server reset streams, MadeYouReset), those with NO_ERROR do not, and a
// Write that overspends wakes the Read waiting for the client.
func TestResetGuardCountsServerResets(t *testing.T) {
	now := time.Unix(1e9, 0)
	limit := newResetLimit(func() time.Time { return now })
	limit.burst = 10
	pr, pw := net.Pipe()
	defer pw.Close()
	g := newResetGuardConn(sinkConn{pr}, limit, false)
	read := make(chan error, 1)
	go func() {
		_, err := g.Read(make([]byte, 9))
		read <- err
	}()

	var buf bytes.Buffer
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings()
	for i := range 20 {
		id := 2*uint32(i) + 1
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x88}, EndHeaders: true})
		fr.WriteRSTStream(id, http2.ErrCodeNo) // after a complete response: not counted
	}
	for i := range 10 {
		fr.WriteRSTStream(2*uint32(i)+1, http2.ErrCodeProtocol)
	}
	within := buf.Len()
	fr.WriteRSTStream(99, http2.ErrCodeCancel)
	rnd := rand.New(rand.NewPCG(1, 2))
	for b := buf.Bytes(); len(b) > 0; {
		n := min(len(b), 1+rnd.IntN(20))
		g.Write(b[:n])
		b = b[n:]
		if len(b) > len(buf.Bytes())-within && g.flooded.Load() {
			t.Fatalf("cut off after %d of the %d bytes within the budget", len(buf.Bytes())-len(b), within)
		}
	}
	if !g.flooded.Load() {
		t.Fatal("11 resets with an error code did not overspend a burst of 10")
	}
	if err := <-read; !errors.Is(err, errResetFlood) {
		t.Fatalf("the waiting Read returned %v, want %v", err, errResetFlood)
	}
	if got := limit.closes.Load(); got != 1 {
		t.Errorf("closes = %d, want 1", got)
	}
}

// addrConn is a pipe's reading end with a TCP peer address.
type addrConn struct {
	net.Conn
	peer *net.TCPAddr
}

func (c addrConn) RemoteAddr() net.Addr { return c.peer }

// TestResetGuardDebtOutlivesTheConnection: a client cut off starts its
// next connections with the empty budget it left, not a new burst, until
// the rate has refunded it; other clients are not concerned, and an IPv6
// client is its /64.
func TestResetGuardDebtOutlivesTheConnection(t *testing.T) {
	now := time.Unix(1e9, 0)
	limit := newResetLimit(func() time.Time { return now })
	limit.burst = 10
	var rst bytes.Buffer
	http2.NewFramer(&rst, nil).WriteRSTStream(1, http2.ErrCodeCancel)
	// resets resets streams on a new connection from addr until it is cut
	// off, at most n times, and returns how many it could: the first
	// connection of a client cut off with GOAWAY (errResetFlood), the
	// following ones of a client in debt closed at once.
	resets := func(addr string, n int) int {
		t.Helper()
		pr, pw := net.Pipe()
		defer pr.Close()
		defer pw.Close()
		g := newResetGuardConn(addrConn{pr, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}, limit, false)
		for i := range n {
			go pw.Write(rst.Bytes())
			if _, err := io.ReadFull(g, make([]byte, rst.Len())); err != nil {
				if want := map[bool]error{false: errResetFlood, true: errResetFloodAgain}[g.indebted]; err != want {
					t.Fatalf("%s, in debt %v: cut off with %v, want %v", addr, g.indebted, err, want)
				}
				return i
			}
		}
		return n
	}
	if got := resets("192.0.2.1:1000", 20); got != 10 {
		t.Fatalf("a new client reset %d streams, want the burst of 10", got)
	}
	if got := resets("192.0.2.1:1001", 20); got != 0 { // closed at once
		t.Fatalf("back at once, the client reset %d streams, want 0", got)
	}
	if got := resets("192.0.2.2:1000", 20); got != 10 {
		t.Fatalf("another client reset %d streams, want 10", got)
	}
	now = now.Add(5 * time.Second / resetRate)
	if got := resets("192.0.2.1:1002", 20); got != 3 {
		t.Fatalf("5 intervals later the client reset %d streams, want 3 (the attempts that cut it off cost one each)", got)
	}
	now = now.Add(time.Duration(limit.burst+1) * time.Second / resetRate)
	if got := resets("192.0.2.1:1003", 20); got != 10 {
		t.Fatalf("once refunded the client reset %d streams, want 10", got)
	}
	if got := limit.debtors.Load(); got != 2 {
		t.Errorf("%d debtors, want 2, one for each client cut off", got)
	}

	if got := resets("[2001:db8::1]:1000", 20); got != 10 {
		t.Fatalf("an IPv6 client reset %d streams, want 10", got)
	}
	if got := resets("[2001:db8::2]:1000", 20); got != 0 {
		t.Fatalf("another address of its /64 reset %d streams, want 0", got)
	}
	if got := resets("[2001:db8:0:1::1]:1000", 20); got != 10 {
		t.Fatalf("another /64 reset %d streams, want 10", got)
	}
}

// TestResetDebtsAreBounded: the table of debts does not grow past
// maxResetDebtors, and makes room by dropping the refunded ones first.
func TestResetDebtsAreBounded(t *testing.T) {
	now := time.Unix(1e9, 0)
	limit := newResetLimit(func() time.Time { return now })
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxResetDebtors {
		limit.owe(addr(i), int64(time.Second)+int64(i%2)*int64(time.Hour)) // the even ones refunded within a second
	}
	now = now.Add(2 * time.Second)
	limit.owe(addr(maxResetDebtors), int64(time.Hour))
	if got := len(limit.debts); got != maxResetDebtors/2+1 {
		t.Errorf("%d debts after making room, want %d: the refunded ones dropped", got, maxResetDebtors/2+1)
	}
	for i := range 2 * maxResetDebtors {
		limit.owe(addr(maxResetDebtors+1+i), int64(time.Hour))
	}
	if got := len(limit.debts); got > maxResetDebtors {
		t.Errorf("%d debts, want at most %d", got, maxResetDebtors)
	}
	if got := limit.debt(addr(maxResetDebtors + 2*maxResetDebtors)); got != int64(time.Hour) {
		t.Errorf("the last debt recorded = %d, want %d", got, int64(time.Hour))
	}
}
