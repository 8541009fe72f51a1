package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// h2cPreface is what an HTTP/2 client with prior knowledge (gRPC, or an L7
// proxy talking to its backends) sends first on a plain TCP connection.
const h2cPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2cServer serves the plain-TCP listener: it reads the start of each new
// connection, hands HTTP/2 connections straight to an HTTP/2 server and
// the rest (HTTP/1.1) to the http.Server through the listener it returns.
//
// net/http can serve both on its own (Protocols.SetUnencryptedHTTP2), but
// its connection then keeps the 4 KiB read and 4 KiB write buffers of an
// HTTP/1 connection for the whole life of the HTTP/2 one, on top of the
// HTTP/2 server's own: 8 KiB per connection that nothing uses, which is a
// quarter of what a visitor's stream costs when it has its own connection.
// Over TLS net/http hands the connection over before allocating them.
type h2cServer struct {
	ln      net.Listener
	h2      *http2.Server
	opts    http2.ServeConnOpts
	timeout time.Duration // to read the preface
	resets  *resetLimit   // every connection's budget of stream resets
	// hooks exists for http2.ConfigureServer to register the graceful
	// shutdown of h2's connections on: hooks.Shutdown starts it.
	hooks *http.Server

	http1     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	acceptErr error                 // why accepting stopped, if not close
	conns     map[net.Conn]struct{} // HTTP/2 connections being served
	wg        sync.WaitGroup        // their ServeConn calls
}

// newH2CServer serves ln: HTTP/2 connections with handler and h1's
// settings (its HTTP2 config, error log, idle timeout), HTTP/1 ones by
// whoever calls Serve on the returned listener.
func newH2CServer(ln net.Listener, h1 *http.Server, handler http.Handler) (*h2cServer, error) {
	s := &h2cServer{
		ln: ln,
		h2: &http2.Server{
			IdleTimeout: h1.IdleTimeout, // the rest from h1.HTTP2
			// x/net's default scheduler keeps every open stream in a ring
			// and walks all of it whenever it looks for a frame to write,
			// finding none at the end of every burst: an agent's
			// connection holds a stream per chat, a proxy's hundreds of
			// visitors' streams, nearly all idle. This one keeps only the
			// streams with frames queued (and nothing for idle streams),
			// and our streams have no priorities for it to ignore.
			// BenchmarkStreamBesideIdleStreams: a write beside 1,000 idle
			// streams costs a third less (43.9 → 29.7 µs), and no more
			// than beside none.
			NewWriteScheduler: http2.NewRandomWriteScheduler,
		},
		timeout: h1.ReadHeaderTimeout,
		resets:  newResetLimit(nil),
		hooks:   &http.Server{},
		http1:   make(chan net.Conn),
		done:    make(chan struct{}),
		conns:   map[net.Conn]struct{}{},
	}
	if err := http2.ConfigureServer(s.hooks, s.h2); err != nil {
		return nil, err
	}
	s.opts = http2.ServeConnOpts{BaseConfig: h1, Handler: handler, SawClientPreface: true}
	return s, nil
}

// serve accepts connections until the listener is closed.
func (s *h2cServer) serve() {
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// As http.Server does: out of files, say. Wait and retry.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
					continue
				case <-s.done:
					return
				}
			}
			s.mu.Lock()
			select {
			case <-s.done: // closed: Accept reports net.ErrClosed
			default:
				s.acceptErr = err
			}
			s.mu.Unlock()
			s.close()
			return
		}
		backoff = 0
		go s.route(c)
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// route reads up to the length of the HTTP/2 preface, and no further, to
// tell the protocols apart.
func (s *h2cServer) route(c net.Conn) {
	var buf [len(h2cPreface)]byte
	n := 0
	if s.timeout > 0 {
		c.SetReadDeadline(time.Now().Add(s.timeout))
	}
	for n < len(buf) && string(buf[:n]) == h2cPreface[:n] {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			break
		}
	}
	if n == len(buf) && string(buf[:]) == h2cPreface {
		c.SetReadDeadline(time.Time{})
		s.serveHTTP2(c)
		return
	}
	// HTTP/1 (or something net/http will refuse): it reads what was
	// already read first.
	c = &replayConn{Conn: c, head: append([]byte(nil), buf[:n]...)}
	select {
	case s.http1 <- c:
	case <-s.done:
		c.Close()
	}
}

func (s *h2cServer) serveHTTP2(c net.Conn) {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		c.Close()
		return
	default:
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}()
	s.h2.ServeConn(newWriteBehindConn(newResetGuardConn(newReadAheadConn(c), s.resets, false)), &s.opts)
}

// close stops accepting; connections being served go on.
func (s *h2cServer) close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		s.mu.Unlock()
		err = s.ln.Close()
	})
	return err
}

// shutdown stops accepting, asks every HTTP/2 connection to finish (GOAWAY:
// calls in flight complete, no new ones start) and waits until they have,
// or until ctx ends: then it closes them.
func (s *h2cServer) shutdown(ctx context.Context) error {
	s.close()
	finished := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(finished)
	}()
	// hooks.Shutdown runs the GOAWAY hook (hooks serves nothing, so it
	// returns at once). Again now and then: a connection accepted just
	// before close may have reached the HTTP/2 server only after the hook.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s.hooks.Shutdown(ctx)
		select {
		case <-finished:
			return nil
		case <-tick.C:
		case <-ctx.Done():
			s.closeConns()
			<-finished
			return ctx.Err()
		}
	}
}

// closeConns closes every HTTP/2 connection at once.
func (s *h2cServer) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// http1Listener is what the http.Server serves: the HTTP/1 connections.
func (s *h2cServer) http1Listener() net.Listener { return http1Listener{s} }

type http1Listener struct{ s *h2cServer }

func (l http1Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.s.http1:
		return c, nil
	case <-l.s.done:
		l.s.mu.Lock()
		defer l.s.mu.Unlock()
		if l.s.acceptErr != nil {
			return nil, l.s.acceptErr
		}
		return nil, net.ErrClosed
	}
}

func (l http1Listener) Close() error   { return l.s.close() }
func (l http1Listener) Addr() net.Addr { return l.s.ln.Addr() }

// replayConn returns head before what is still to be read from Conn.
type replayConn struct {
	net.Conn
	head []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
