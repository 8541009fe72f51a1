package app

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"

	"github.com/proactivechat/proactivechat/server/domain"
)

// The reset budget of one HTTP/2 connection: a burst of resetBurst stream
// resets, refilled at resetRate a second.
//
// A client resets a stream (RST_STREAM) when it gives up on it: a tab
// navigates away, a call's deadline passes, a proxy's visitor leaves. A
// connection holds at most MaxConcurrentStreams streams at once (x/net's
// 250, which we keep), so 1,000 covers a client or proxy resetting every
// stream it has, four times over, before the rate matters; 100 a second
// covers a proxy whose 250 visitors' streams each last 2.5 s. Rapid reset
// (CVE-2023-44487) sends HEADERS and RST_STREAM pairs as fast as the
// network goes: each pair costs the server a stream, a request and a
// handler goroutine, and the client nothing, since the reset stream never
// counts against its concurrency limit. x/net closes a connection only
// when more than 4×250 of its streams wait for a handler to start, which
// a flood paced so that the handlers keep up never makes happen. Over the
// budget the connection is closed with GOAWAY ENHANCE_YOUR_CALM: the
// server never sees the client's reset that overspends it. Costs:
// bench/README.md, "HTTP/2 rapid reset".
const (
	resetBurst = 1000
	resetRate  = 100 // per second
)

// resetLimit is the reset budget every HTTP/2 connection of a server gets,
// the debts of the clients whose connections overspent it, and the count
// of those connections.
//
// A debt outlives the connection: a client cut off comes back with the
// budget it left, empty, refilling at the rate, instead of a new burst,
// until it is refunded in full (burst/rate, 10 s). Without this a client
// that reconnects at once after each GOAWAY keeps the server as busy as
// one connection did before the limit. Clients are told apart by IP
// address (IPv6 by /64, what one host usually has), so the clients behind
// one NAT share a debt one of them ran up: for those 10 s their new
// connections may reset streams at the rate only.
type resetLimit struct {
	burst    int
	interval time.Duration // time for one reset to be refunded: 1/rate
	now      func() time.Time
	epoch    time.Time // connections keep their clocks relative to this
	closes   atomic.Uint64

	// exempt, when set, names the peers whose connections are never cut
	// off for overspending: a cluster's nodes, which carry many clients'
	// streams to the leader on a few connections (each client has its
	// budget on the node it reached). It is asked when a connection
	// overspends, so that a node the directory learns of later is
	// exempt too. Set before the server serves.
	exempt func(netip.Addr) bool

	mu      sync.Mutex
	debts   map[netip.Addr]int64 // a debtor's tat (see resetGuardConn.tat) when last cut off
	debtors atomic.Int32         // len(debts), read without the lock
}

// maxResetDebtors bounds the debts kept: a debt takes ~50 bytes, and a
// flood from more addresses than this at once is one for a connection
// limit to stop. When the table is full, debts are dropped, the refunded
// ones, then others at random.
const maxResetDebtors = 10_000

// newResetLimit is the server's budget with now as its clock (time.Now
// when nil).
func newResetLimit(now func() time.Time) *resetLimit {
	if now == nil {
		now = time.Now
	}
	return &resetLimit{burst: resetBurst, interval: time.Second / resetRate, now: now, epoch: now(), debts: map[netip.Addr]int64{}}
}

// resetLimitOn is newResetLimit on clock's time (the real time when nil).
func resetLimitOn(clock domain.Clock) *resetLimit {
	if clock == nil {
		return newResetLimit(nil)
	}
	return newResetLimit(clock.Now)
}

// clientOf is who a connection's peer is for the debts: its IP address,
// or for IPv6 the address's /64; false when it has no IP address.
func clientOf(addr net.Addr) (netip.Addr, bool) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := tcp.AddrPort().Addr().Unmap()
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	return ip, ip.IsValid()
}

// exempts reports whether a connection from addr may overspend.
func (l *resetLimit) exempts(addr net.Addr) bool {
	if l.exempt == nil {
		return false
	}
	tcp, ok := addr.(*net.TCPAddr)
	return ok && l.exempt(tcp.AddrPort().Addr().Unmap())
}

// debt is the tat a new connection of client starts with: 0, or what the
// client still owes.
func (l *resetLimit) debt(client netip.Addr) int64 {
	if l.debtors.Load() == 0 { // nearly always: no lock
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.debts[client]
	if ok && tat <= int64(l.now().Sub(l.epoch)) {
		delete(l.debts, client) // refunded
		l.debtors.Store(int32(len(l.debts)))
		return 0
	}
	return tat
}

// owe records that client, cut off, owes until tat.
func (l *resetLimit) owe(client netip.Addr, tat int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.debts) >= maxResetDebtors {
		// Down to 7/8 full, so that the next sweep is maxResetDebtors/8
		// debts away: a sweep costs one pass over the table.
		now := int64(l.now().Sub(l.epoch))
		for c, t := range l.debts {
			if t <= now {
				delete(l.debts, c)
			}
		}
		for c := range l.debts {
			if len(l.debts) <= maxResetDebtors*7/8 {
				break
			}
			delete(l.debts, c)
		}
	}
	l.debts[client] = max(l.debts[client], tat)
	l.debtors.Store(int32(len(l.debts)))
}

// errResetFlood is what the guard's Read returns once a connection has
// overspent its budget. x/net's HTTP/2 server treats a ConnectionError
// from reading a frame as it does one of its own: it sends GOAWAY with
// that code, stops reading and closes the connection a second later. This
// way the guard never writes a frame of its own into the connection,
// whose writes x/net's writer owns. (From Go 1.27 x/net's server wraps
// net/http's, whose ConnectionError is a type of its own: if it stops
// recognising this one, it closes the connection without GOAWAY, and
// TestHTTP2RapidResetIsCutOff says so.)
var errResetFlood error = http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)

// errResetFloodAgain is what Read returns instead when the client was
// already in debt when it opened the connection: a flood that reconnects
// at once after each GOAWAY. The HTTP/2 server closes the connection at
// once on any other read error, without GOAWAY, without keeping it for a
// second and without logging it (x/net logs each ConnectionError: a line
// per reconnection, 1.4 MB in 10 s of such a flood).
var errResetFloodAgain = errors.New("http2: stream resets over budget again")

// resetGuardConn spends a connection's reset budget on the streams reset
// in either direction, by following the HTTP/2 frame headers in the bytes
// that pass through Read and Write:
//   - every RST_STREAM the client sends (rapid reset);
//   - every RST_STREAM the server sends with an error code, which a
//     client can make it send at will with a frame the server must treat
//     as a stream error, such as a WINDOW_UPDATE of 0 (MadeYouReset,
//     CVE-2025-8671). NO_ERROR, sent after a complete response to stop
//     the request body, is not counted: the server has done its work.
//
// Once the budget is overspent, Read fails with errResetFlood, which
// makes the server send GOAWAY and close (errResetFloodAgain: close). A Write that overspends it
// wakes a Read waiting for the client with a past read deadline.
//
// It holds about 120 bytes and no buffer; a Read or Write costs a few
// comparisons for each frame it holds or ends, and only a reset asks the
// clock. Reads must not be concurrent, nor Writes (the HTTP/2 server has
// one reader and one writer at a time).
type resetGuardConn struct {
	net.Conn
	limit *resetLimit

	in, out frameScanner // the client's frames (Read), the server's (Write)
	// tat is when the connection's resets would all have been refunded
	// (a GCRA "theoretical arrival time"), in nanoseconds from
	// limit.epoch: a reset is allowed while tat stays within burst
	// intervals of now. Read and Write both spend it.
	tat     atomic.Int64
	flooded atomic.Bool

	client   netip.Addr // for the debts
	isClient bool       // client is an address
	indebted bool       // the client was in debt when the connection opened
}

// newResetGuardConn guards c with limit. prefaceUnread is true when the
// HTTP/2 server will read the client's connection preface from c itself
// (over TLS); the plain-TCP router has already read it.
func newResetGuardConn(c net.Conn, limit *resetLimit, prefaceUnread bool) *resetGuardConn {
	g := &resetGuardConn{Conn: c, limit: limit}
	if g.client, g.isClient = clientOf(c.RemoteAddr()); g.isClient {
		debt := limit.debt(g.client)
		g.tat.Store(debt)
		g.indebted = debt != 0
	}
	if prefaceUnread {
		g.in.skip = len(h2cPreface)
	}
	return g
}

func (g *resetGuardConn) Read(p []byte) (int, error) {
	if g.flooded.Load() {
		return 0, g.floodErr()
	}
	n, err := g.Conn.Read(p)
	if resets := g.in.scan(p[:n], false); resets > 0 && !g.spend(resets) && !g.limit.exempts(g.RemoteAddr()) {
		// The bytes are not handed over: the server has acted on
		// exactly the budget (it reads a frame's header on its own).
		g.trip()
	}
	if g.flooded.Load() { // by this Read, or by a Write meanwhile
		return 0, g.floodErr()
	}
	return n, err
}

func (g *resetGuardConn) floodErr() error {
	if g.indebted {
		return errResetFloodAgain
	}
	return errResetFlood
}

func (g *resetGuardConn) Write(p []byte) (int, error) {
	if resets := g.out.scan(p, true); resets > 0 && !g.spend(resets) && !g.limit.exempts(g.RemoteAddr()) {
		g.trip()
	}
	return g.Conn.Write(p)
}

// spend takes n resets from the budget and reports whether it had them.
func (g *resetGuardConn) spend(n int) bool {
	l := g.limit
	now := int64(l.now().Sub(l.epoch))
	for {
		old := g.tat.Load()
		tat := max(old, now) + int64(n)*int64(l.interval)
		if g.tat.CompareAndSwap(old, tat) {
			return tat-now <= int64(l.burst)*int64(l.interval)
		}
	}
}

// trip marks the connection as flooding, once, and wakes its reader.
func (g *resetGuardConn) trip() {
	if g.flooded.CompareAndSwap(false, true) {
		g.limit.closes.Add(1)
		if g.isClient {
			g.limit.owe(g.client, g.tat.Load())
		}
		g.Conn.SetReadDeadline(time.Unix(1, 0))
	}
}

const frameHeaderLen = 9

// frameScanner follows the frame headers of one direction of an HTTP/2
// connection, however its bytes are split.
type frameScanner struct {
	skip   int    // bytes still to pass before the next frame header: a payload or the preface
	length uint32 // the current header's length field, as far as seen
	code   uint32 // the current RST_STREAM's error code, as far as seen
	hn     uint8  // bytes of the current frame header seen so far (0..8)
	typ    uint8  // the current header's type, once hn > 3
	cn     uint8  // bytes of the current RST_STREAM's error code still to see
}

// scan follows b and returns the number of RST_STREAM frames in it: all of
// them, or with codes only those whose error code is not NO_ERROR (counted
// once the code has been seen).
func (s *frameScanner) scan(b []byte, codes bool) (resets int) {
	for len(b) > 0 {
		switch {
		case s.skip > 0:
			k := min(s.skip, len(b))
			s.skip -= k
			b = b[k:]
		case s.cn > 0:
			s.code = s.code<<8 | uint32(b[0])
			s.cn--
			b = b[1:]
			if s.cn == 0 && s.code != uint32(http2.ErrCodeNo) {
				resets++
			}
		default:
			if s.hn == 0 && len(b) >= frameHeaderLen { // the usual case: a whole header
				s.length = uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
				s.typ = b[3]
				s.hn = frameHeaderLen
				b = b[frameHeaderLen:]
			} else {
				switch s.hn {
				case 0, 1, 2:
					s.length = s.length<<8 | uint32(b[0])
				case 3:
					s.typ = b[0]
				}
				s.hn++
				b = b[1:]
				if s.hn < frameHeaderLen {
					continue
				}
			}
			if http2.FrameType(s.typ) == http2.FrameRSTStream {
				switch {
				case !codes:
					resets++
				case s.length == 4:
					s.cn, s.code, s.length = 4, 0, 0
				}
			}
			s.skip, s.hn, s.length = int(s.length), 0, 0
		}
	}
	return resets
}

// guardTLSHTTP2 has srv serve HTTP/2 over TLS (ALPN "h2") behind the reset
// guard too. net/http's own HTTP/2 server takes the *tls.Conn from the
// handshake and reads it itself, and below TLS a wrapper sees only
// ciphertext; so srv hands its "h2" connections to x/net's server, as the
// plain port does, through the guard. Its other HTTP/2 connections (the
// gateway's in memory) are x/net's too, unguarded.
func guardTLSHTTP2(srv *http.Server, resets *resetLimit) error {
	h2 := &http2.Server{NewWriteScheduler: http2.NewRandomWriteScheduler} // as on the plain port: see newH2CServer
	// ConfigureServer also registers the GOAWAY of srv.Shutdown.
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return err
	}
	srv.TLSNextProto[http2.NextProtoTLS] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		// net/http passes the connection's base context this way, as
		// ConfigureServer's own function takes it.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		g := tlsResetGuardConn{newResetGuardConn(c, resets, true), c}
		h2.ServeConn(g, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs})
	}
	return nil
}

// tlsResetGuardConn is a guarded TLS connection that still tells the
// HTTP/2 server its TLS state (which it checks, and gives requests).
type tlsResetGuardConn struct {
	*resetGuardConn
	tc *tls.Conn
}

func (c tlsResetGuardConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }
