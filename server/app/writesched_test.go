package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
)

// TestIdleStreamsCostTheWriteSchedulerNothing: the HTTP/2 server's write
// scheduler keeps nothing for a stream until it has frames to write, so
// the idle streams a connection holds (an agent's chats, a proxy's
// visitors) neither take its memory nor lengthen its search for the next
// frame. x/net's default scheduler allocates a queue for every stream
// opened and walks them all.
func TestIdleStreamsCostTheWriteSchedulerNothing(t *testing.T) {
	s := newTestH2CServer(t, http.NotFoundHandler())
	if s.h2.NewWriteScheduler == nil {
		t.Fatal("the HTTP/2 server has x/net's default write scheduler")
	}
	ws := s.h2.NewWriteScheduler()
	id := uint32(1)
	allocs := testing.AllocsPerRun(1000, func() {
		ws.OpenStream(id, http2.OpenStreamOptions{})
		id += 2
	})
	if allocs != 0 {
		t.Errorf("opening a stream allocates %.1f times in the write scheduler, want 0", allocs)
	}
	// And a stream with a frame queued is still found among them.
	ws.Push(http2.FrameWriteRequest{}) // a control frame: stream 0
	if _, ok := ws.Pop(); !ok {
		t.Fatal("Pop found no frame")
	}
	if _, ok := ws.Pop(); ok {
		t.Fatal("Pop found a frame in a scheduler with none queued")
	}
}

// newTestH2CServer serves handler on a loopback port; configure, if not
// nil, changes the HTTP/2 server before it serves.
func newTestH2CServer(tb testing.TB, handler http.Handler, configure ...func(*http2.Server)) *h2cServer {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s, err := newH2CServer(ln, &http.Server{}, handler)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range configure {
		c(s.h2)
	}
	go s.serve()
	tb.Cleanup(func() { s.close() })
	return s
}

// BenchmarkStreamBesideIdleStreams is the cost of one small write on a
// stream of a connection that holds idle streams besides it, with x/net's
// default write scheduler and with the one the server uses: each op the
// client asks for a 64-byte chunk and reads it.
func BenchmarkStreamBesideIdleStreams(b *testing.B) {
	for _, sched := range []struct {
		name string
		new  func() http2.WriteScheduler
	}{{"default", nil}, {"server", http2.NewRandomWriteScheduler}} {
		for _, idle := range []int{0, 100, 1000} {
			b.Run(fmt.Sprintf("scheduler=%s/idle=%d", sched.name, idle), func(b *testing.B) {
				benchStreamBesideIdle(b, sched.new, idle)
			})
		}
	}
}

func benchStreamBesideIdle(b *testing.B, newSched func() http2.WriteScheduler, idle int) {
	chunk := make([]byte, 64)
	s := newTestH2CServer(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		if r.URL.Path == "/idle" {
			<-r.Context().Done()
			return
		}
		var one [1]byte
		for {
			if _, err := io.ReadFull(r.Body, one[:]); err != nil {
				return
			}
			w.Write(chunk)
			w.(http.Flusher).Flush()
		}
	}), func(h2 *http2.Server) {
		h2.NewWriteScheduler = newSched
		h2.MaxConcurrentStreams = uint32(idle + 10)
	})
	addr := s.ln.Addr().String()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, _ string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Transport: tr}
	for range idle {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/idle", nil)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/active", pr)
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, len(chunk))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := pw.Write([]byte{1}); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, got); err != nil {
			b.Fatal(err)
		}
	}
}
