package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	pb "github.com/proactivechat/proactivechat/gen/proactivechat/v1"
	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// resetFlood is what a rapid-reset client sends on one connection: the
// preface, SETTINGS, pairs of HEADERS opening a stream (GET /) and
// RST_STREAM cancelling it, and then a PING, which the server answers
// only if it is still reading.
func resetFlood(pairs int) []byte {
	var buf, block bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.WriteSettings()
	enc := hpack.NewEncoder(&block)
	for i := range pairs {
		id := uint32(2*i + 1)
		block.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "127.0.0.1"}, {":path", "/"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true})
		fr.WriteRSTStream(id, http2.ErrCodeCancel)
	}
	fr.WritePing(false, [8]byte{'s', 't', 'i', 'l', 'l'})
	return buf.Bytes()
}

// floodOutcome sends resetFlood(pairs) on a new connection to addr and
// reads what the server sends back until its PING answer, or until it
// closes the connection: its GOAWAY, if any, and whether it answered.
func floodOutcome(t *testing.T, addr string, pairs int) (goAway *http2.GoAwayFrame, pong bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return floodOutcomeOn(t, c, pairs)
}

// floodOutcomeOn is floodOutcome on c, which it closes.
func floodOutcomeOn(t *testing.T, c net.Conn, pairs int) (goAway *http2.GoAwayFrame, pong bool) {
	t.Helper()
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout)) // a safety net: the server closes or answers first
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(resetFlood(pairs))
		wrote <- err
	}()
	fr := http2.NewFramer(nil, c)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isConnReset(err) {
				<-wrote // its error too is the server closing the connection
				return goAway, false
			}
			t.Fatalf("reading the server's frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.GoAwayFrame:
			g := *f
			goAway = &g
		case *http2.PingFrame:
			if f.IsAck() {
				if err := <-wrote; err != nil {
					t.Fatalf("write: %v", err)
				}
				return goAway, true
			}
		}
	}
}

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "read"
}

// TestHTTP2RapidResetIsCutOff: a client that opens and at once cancels
// streams on one connection (rapid reset, CVE-2023-44487) gets GOAWAY
// ENHANCE_YOUR_CALM and is disconnected once it has cancelled the burst
// the limit allows, and the server acts on none of its later frames; back
// on a new connection, it has no budget left and is closed at once. The test server's clock
// stands still, so no reset is refunded meanwhile.
// x/net alone lets one connection go on: it closes a connection only when
// more than 4×250 of its streams wait for a handler to start, and one
// connection's handlers of cancelled streams keep up.
func TestHTTP2RapidResetIsCutOff(t *testing.T) {
	srv, _ := newServer(t)
	// Fewer than the 1,250 that x/net's own guard needs, so that only ours
	// can cut the connection off.
	goAway, pong := floodOutcome(t, srv.addr, app.ResetBurst+100)
	if pong {
		t.Fatalf("the server still answered after %d cancelled streams (GOAWAY: %v)", app.ResetBurst+100, goAway)
	}
	if goAway == nil || goAway.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY = %v, want one with ENHANCE_YOUR_CALM", goAway)
	}
	// The last stream the server took is the one whose reset was one too
	// many.
	if want := uint32(2*(app.ResetBurst+1) - 1); goAway.LastStreamID != want {
		t.Errorf("GOAWAY's last stream = %d, want %d", goAway.LastStreamID, want)
	}
	// Back at once on a new connection, it has no budget left: its first
	// reset cuts it off, this time without GOAWAY.
	if goAway, pong := floodOutcome(t, srv.addr, 1); pong || goAway != nil {
		t.Errorf("a new connection's first reset after the flood: answered %v, GOAWAY %v; want the connection closed", pong, goAway)
	}
	if got := metricValue(t, srv, "proactivechat_http2_reset_flood_closes_total"); got != 2 {
		t.Errorf("proactivechat_http2_reset_flood_closes_total = %v, want 2", got)
	}
}

// TestHTTP2RapidResetIsCutOffOverTLS: the same over HTTPS, where HTTP/2
// is negotiated by ALPN after the TLS handshake.
func TestHTTP2RapidResetIsCutOffOverTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	a := runApp(t, app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(dir, "tls.db"), TLSCertFile: certFile, TLSKeyFile: keyFile,
		Clock: fakeclock.New(t0)}) // standing still: no reset is refunded
	dial := func() net.Conn {
		t.Helper()
		c, err := tls.Dial("tcp", a.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{http2.NextProtoTLS}})
		if err != nil {
			t.Fatal(err)
		}
		if p := c.ConnectionState().NegotiatedProtocol; p != http2.NextProtoTLS {
			t.Fatalf("ALPN negotiated %q, want h2", p)
		}
		return c
	}
	if goAway, pong := floodOutcomeOn(t, dial(), app.ResetBurst); !pong || goAway != nil {
		t.Fatalf("after %d cancelled streams: answered %v, GOAWAY %v; want an answer and no GOAWAY", app.ResetBurst, pong, goAway)
	}
	goAway, pong := floodOutcomeOn(t, dial(), app.ResetBurst+100)
	if pong {
		t.Fatalf("the server still answered after %d cancelled streams (GOAWAY: %v)", app.ResetBurst+100, goAway)
	}
	if goAway == nil || goAway.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY = %v, want one with ENHANCE_YOUR_CALM", goAway)
	}
	if want := uint32(2*(app.ResetBurst+1) - 1); goAway.LastStreamID != want {
		t.Errorf("GOAWAY's last stream = %d, want %d", goAway.LastStreamID, want)
	}
}

// TestHTTP2OverTLSShutsDownGracefully: over TLS, HTTP/2 connections are
// x/net's, and a shutdown still tells them to go (GOAWAY NO_ERROR) and
// waits for them, as net/http's own HTTP/2 server did.
func TestHTTP2OverTLSShutsDownGracefully(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	a, err := app.Open(app.Config{Addr: "127.0.0.1:0", DBPath: filepath.Join(dir, "tls.db"), TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	a.Start()
	c, err := tls.Dial("tcp", a.Addr().String(), &tls.Config{RootCAs: pool, NextProtos: []string{http2.NextProtoTLS}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	var hello bytes.Buffer
	hello.WriteString(http2.ClientPreface)
	http2.NewFramer(&hello, nil).WriteSettings()
	if _, err := c.Write(hello.Bytes()); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(nil, c)
	if f, err := fr.ReadFrame(); err != nil {
		t.Fatalf("the server's SETTINGS: %v", err)
	} else if _, ok := f.(*http2.SettingsFrame); !ok {
		t.Fatalf("first frame %v, want SETTINGS", f)
	}

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		done <- a.Shutdown(ctx)
	}()
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without GOAWAY: %v", err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			if g.ErrCode != http2.ErrCodeNo {
				t.Fatalf("GOAWAY %v, want NO_ERROR", g.ErrCode)
			}
			break
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestHTTP2MadeYouResetIsCutOff: a client that makes the server reset
// its streams, here with a WINDOW_UPDATE of 0 on each new stream, which
// the server must answer with RST_STREAM PROTOCOL_ERROR (MadeYouReset,
// CVE-2025-8671), is cut off as one that resets them itself. The server
// counts its resets as it writes them, so it may read a little past the
// budget; once it has answered a PING sent after the flood it has written
// every reset, and it answers no later PING.
func TestHTTP2MadeYouResetIsCutOff(t *testing.T) {
	srv, _ := newServer(t)
	c, err := net.Dial("tcp", srv.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	pairs := app.ResetBurst + 100
	var buf, block bytes.Buffer
	buf.WriteString(http2.ClientPreface)
	fr := http2.NewFramer(&buf, nil)
	fr.AllowIllegalWrites = true // the WINDOW_UPDATE of 0
	fr.WriteSettings()
	enc := hpack.NewEncoder(&block)
	for i := range pairs {
		id := uint32(2*i + 1)
		block.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "127.0.0.1"}, {":path", "/"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true})
		fr.WriteWindowUpdate(id, 0)
	}
	fr.WritePing(false, [8]byte{1})
	go c.Write(buf.Bytes()) // fails once the server closes: what it answers tells
	sendPing := func() {
		var p bytes.Buffer
		http2.NewFramer(&p, nil).WritePing(false, [8]byte{2})
		c.Write(p.Bytes()) // may fail too
	}

	var goAway *http2.GoAwayFrame
	resets := 0
	in := http2.NewFramer(nil, c)
	for {
		f, err := in.ReadFrame()
		if err != nil {
			break // closed by the server
		}
		switch f := f.(type) {
		case *http2.RSTStreamFrame:
			if f.ErrCode != http2.ErrCodeNo {
				resets++
			}
		case *http2.GoAwayFrame:
			g := *f
			goAway = &g
		case *http2.PingFrame:
			switch {
			case !f.IsAck():
			case f.Data[0] == 1:
				sendPing()
			default:
				t.Fatalf("the server still answered after resetting %d streams (GOAWAY: %v)", resets, goAway)
			}
		}
	}
	if goAway == nil || goAway.ErrCode != http2.ErrCodeEnhanceYourCalm {
		t.Fatalf("GOAWAY = %v after %d resets, want one with ENHANCE_YOUR_CALM", goAway, resets)
	}
	if resets <= app.ResetBurst {
		t.Errorf("cut off after %d resets, within the burst of %d", resets, app.ResetBurst)
	}
	if got := metricValue(t, srv, "proactivechat_http2_reset_flood_closes_total"); got != 1 {
		t.Errorf("proactivechat_http2_reset_flood_closes_total = %v, want 1", got)
	}
}

// TestHTTP2CancellingWithinTheLimitIsServed: a client may cancel the whole
// burst at once (every stream it could have open, several times over) and
// its connection goes on.
func TestHTTP2CancellingWithinTheLimitIsServed(t *testing.T) {
	srv, _ := newServer(t)
	if goAway, pong := floodOutcome(t, srv.addr, app.ResetBurst); !pong || goAway != nil {
		t.Fatalf("after %d cancelled streams: answered %v, GOAWAY %v; want an answer and no GOAWAY", app.ResetBurst, pong, goAway)
	}
	if got := metricValue(t, srv, "proactivechat_http2_reset_flood_closes_total"); got != 0 {
		t.Errorf("proactivechat_http2_reset_flood_closes_total = %v, want 0", got)
	}
}

// TestHTTP2ClientsCancellingStreamsAreServed: real clients that cancel
// their streams now and then, here a widget whose visitor moves from page
// to page (each page view opens a stream and ends the previous one), keep
// their connection and are not counted as floods.
func TestHTTP2ClientsCancellingStreamsAreServed(t *testing.T) {
	forEachProtocol(t, func(t *testing.T, p protocol) {
		srv, _ := newServer(t)
		ctx := testContext(t)
		c := p.newClient(t, srv)
		site := createSite(t, ctx, c, "Shop", enabledWithoutInvite())
		visitor, s := visitorOnline(t, ctx, c, site.GetId(), "https://shop.example/")
		for i := range 30 {
			s.Close() // the client cancels the stream: RST_STREAM
			s = openVisitorStream(t, ctx, c, &pb.WatchVisitorRequest{VisitorId: visitor.GetId(), PageUrl: fmt.Sprintf("https://shop.example/%d", i)})
			recvNext(t, s)
		}
		if _, err := c.GetSite(ctx, &pb.GetSiteRequest{SiteId: site.GetId()}); err != nil {
			t.Fatalf("GetSite after 30 cancelled streams: %v", err)
		}
		if got := metricValue(t, srv, "proactivechat_http2_reset_flood_closes_total"); got != 0 {
			t.Errorf("proactivechat_http2_reset_flood_closes_total = %v, want 0", got)
		}
	})
}
