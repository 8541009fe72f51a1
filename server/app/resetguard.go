package app

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
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
// counts against its concurrency limit. Over the budget the connection is
// closed with GOAWAY ENHANCE_YOUR_CALM, within the first 1,001 resets.
// Costs: bench/README.md, "HTTP/2 rapid reset".
const (
	resetBurst = 1000
	resetRate  = 100 // per second
)

// resetLimit is the reset budget every HTTP/2 connection of a server gets,
// and the count of connections that overspent it.
type resetLimit struct {
	burst    int
	interval time.Duration // time for one reset to be refunded: 1/rate
	now      func() time.Time
	epoch    time.Time // connections keep their clocks relative to this
	closes   atomic.Uint64
}

// newResetLimit is the server's budget with now as its clock (time.Now
// when nil).
func newResetLimit(now func() time.Time) *resetLimit {
	if now == nil {
		now = time.Now
	}
	return &resetLimit{burst: resetBurst, interval: time.Second / resetRate, now: now, epoch: now()}
}

// errResetFlood is what the guard's Read returns once a connection has
// overspent its budget. x/net's HTTP/2 server treats a ConnectionError
// from reading a frame as it does one of its own: it sends GOAWAY with
// that code, stops reading and closes the connection a second later. This
// way the guard never writes to the connection, which x/net's writer owns.
var errResetFlood error = http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)

// resetGuardConn counts the RST_STREAM frames a client sends on an HTTP/2
// connection by following the frame headers in the bytes Read returns,
// after the connection preface. It holds a few words of state and no
// buffer; a Read costs a comparison for a frame's payload and a loop over
// 9 bytes for its header, and only an RST_STREAM asks the clock. Reads
// must not be concurrent, as for readAheadConn.
type resetGuardConn struct {
	net.Conn
	limit *resetLimit

	skip   int    // bytes still to pass before the next frame header: payload or preface
	hn     int    // bytes of the current frame header seen so far (0..8)
	length uint32 // the current header's length field, as far as seen
	typ    byte   // the current header's type, once hn > 3
	// tat is when the connection's resets would all have been refunded
	// (a GCRA "theoretical arrival time"), from limit.epoch: a reset is
	// allowed while tat stays within burst intervals of now.
	tat     time.Duration
	flooded bool
}

// newResetGuardConn guards c with limit. prefaceUnread is true when the
// HTTP/2 server will read the client's connection preface from c itself
// (over TLS); the plain-TCP router has already read it.
func newResetGuardConn(c net.Conn, limit *resetLimit, prefaceUnread bool) *resetGuardConn {
	g := &resetGuardConn{Conn: c, limit: limit}
	if prefaceUnread {
		g.skip = len(h2cPreface)
	}
	return g
}

const frameHeaderLen = 9

func (g *resetGuardConn) Read(p []byte) (int, error) {
	if g.flooded {
		return 0, errResetFlood
	}
	n, err := g.Conn.Read(p)
	b := p[:n]
	for len(b) > 0 {
		if g.skip > 0 {
			if len(b) <= g.skip {
				g.skip -= len(b)
				break
			}
			b = b[g.skip:]
			g.skip = 0
		}
		for g.hn < frameHeaderLen && len(b) > 0 {
			switch g.hn {
			case 0, 1, 2:
				g.length = g.length<<8 | uint32(b[0])
			case 3:
				g.typ = b[0]
			}
			g.hn++
			b = b[1:]
		}
		if g.hn < frameHeaderLen {
			break
		}
		g.skip, g.hn, g.length = int(g.length), 0, 0
		if http2.FrameType(g.typ) == http2.FrameRSTStream && !g.allowReset() {
			// The frame is not handed over: the server has acted on
			// exactly the budget.
			g.flooded = true
			g.limit.closes.Add(1)
			return 0, errResetFlood
		}
	}
	return n, err
}

// allowReset spends one reset of the budget, if there is one left.
func (g *resetGuardConn) allowReset() bool {
	l := g.limit
	now := l.now().Sub(l.epoch)
	g.tat = max(g.tat, now) + l.interval
	return g.tat-now <= time.Duration(l.burst)*l.interval
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
