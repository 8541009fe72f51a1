package rpc

import (
	"net/http"
	"sync"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// PresenceFlushDelay is how long the messages of a WatchPresence stream may
// wait to share one write (see BatchFlushes): agents see who is on their
// sites that much later at most.
const PresenceFlushDelay = 20 * time.Millisecond

// BatchFlushes lets a stream's messages wait up to delay to be written
// together. connect flushes after every message it sends, and on HTTP/2
// every flush is a write system call (and a goroutine) of its own: a
// presence stream gets a message for every page view of every visitor on
// the agent's sites, hundreds a second, each worth only a few dozen bytes.
// Here the first flush (the response headers) goes out at once; each later
// one waits until delay after the first message still unwritten, so
// messages are late by delay at most and a busy stream writes at most
// once per delay. Messages still buffered when the handler returns are
// written by the server then, as usual. clock runs the delays (the system
// clock in production: a write must not wait for a test's fake time).
func BatchFlushes(h http.Handler, delay time.Duration, clock domain.Clock) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			h.ServeHTTP(w, r)
			return
		}
		bw := &batchingWriter{ResponseWriter: w, flusher: f, delay: delay, clock: clock}
		defer bw.stop()
		h.ServeHTTP(bw, r)
	})
}

// batchingWriter delays flushes. Its mutex serializes the handler's writes
// with the flushes its timer makes from another goroutine.
type batchingWriter struct {
	http.ResponseWriter
	flusher http.Flusher
	delay   time.Duration
	clock   domain.Clock

	mu      sync.Mutex
	started bool // the first flush, with the headers, is done
	pending bool // a flush is due when timer fires
	done    bool // the handler returned: the server writes what is left
	timer   domain.Timer
}

func (b *batchingWriter) WriteHeader(code int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ResponseWriter.WriteHeader(code)
}

func (b *batchingWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ResponseWriter.Write(p)
}

func (b *batchingWriter) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.done || b.pending:
	case !b.started:
		b.started = true
		b.flusher.Flush()
	default:
		b.pending = true
		b.timer = b.clock.AfterFunc(b.delay, b.flushNow)
	}
}

func (b *batchingWriter) flushNow() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done || !b.pending {
		return
	}
	b.pending = false
	b.flusher.Flush()
}

// stop runs when the handler returned: the writer must not be used after.
func (b *batchingWriter) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = true
	if b.timer != nil {
		b.timer.Stop()
	}
}

// Unwrap gives http.ResponseController the server's writer.
func (b *batchingWriter) Unwrap() http.ResponseWriter { return b.ResponseWriter }
