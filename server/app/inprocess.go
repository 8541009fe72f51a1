package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"time"
)

// inProcess is an http.RoundTripper that serves each request with a
// handler of this process, with no socket and no HTTP/2 framing: a node
// that became the leader serves the widget streams it relays with its
// own App's handler this way, instead of through a loopback connection
// to its own port, which cost it a second HTTP/2 stream (and the
// connection's buffers) per widget on top of the leader's handler, for as
// long as the widget stayed (bench/README.md, Cluster).
//
// The handler sees the request as a direct one from the relay's client:
// RemoteAddr and Host are the client's (relayInfo), so the whole chain
// (CORS by Host, the edge, authorization, rate limits by address, stream
// caps) answers as it does for the client's own request, with no
// X-Forwarded-For to trust.
//
// It is for requests whose body is small and complete at once (a server
// stream's one message; at most maxRequestBytes plus its envelope is
// read), and responses whose end is in the body: trailers are not carried,
// so the relay speaks the Connect protocol to it, whose server streams end
// with an end-stream message, not gRPC's trailers. The response body is a
// pipe: each Write reaches the reader as it reads, and holds nothing in
// between, so a stream costs its handler's goroutine and little more.
//
// The handler runs until it returns: the request's context ends when the
// caller's does or when the caller closes the response body (as an HTTP/2
// stream reset does), and its writes fail from then on; when it returns,
// the body ends (io.EOF), or fails if it panicked.
type inProcess struct {
	handler http.Handler
	log     *slog.Logger
}

// errInProcessAborted is what the body of a response whose handler
// panicked reads: the stream broke, as a connection that died does.
var errInProcessAborted = errors.New("in-process handler aborted the response")

// errInProcessBodyClosed is what the handler's writes get once the
// response body was closed.
var errInProcessBodyClosed = errors.New("in-process response body closed")

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readInProcessBody(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(req.Context())
	sreq := (&http.Request{
		Method:        req.Method,
		URL:           &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery},
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        req.Header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Host:          req.Host,
		RequestURI:    req.URL.RequestURI(),
	}).WithContext(ctx)
	if info, ok := req.Context().Value(relayKey{}).(relayInfo); ok {
		sreq.RemoteAddr = info.remote
		if info.host != "" {
			sreq.Host = info.host
		}
	}
	pr, pw := io.Pipe()
	// Once the caller's context ends, the body's reads fail with its
	// error, as over a connection, and the handler's writes too (its
	// context has ended with it).
	stop := context.AfterFunc(req.Context(), func() { pw.CloseWithError(req.Context().Err()) })
	w := &inProcessWriter{header: http.Header{}, pw: pw, ready: make(chan struct{}), req: req,
		body: &inProcessBody{pr: pr, cancel: cancel, stop: stop}}
	go t.serve(req.Context(), w, sreq, cancel)
	select {
	case <-w.ready:
		if w.res == nil {
			w.body.Close()
			return nil, errInProcessAborted
		}
		return w.res, nil
	case <-req.Context().Done():
		w.body.Close()
		return nil, req.Context().Err()
	}
}

// readInProcessBody reads req's body whole, closing it as a RoundTripper
// must: the handler then reads it from memory, and the caller may reuse
// its buffer once RoundTrip returned.
func readInProcessBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	// Beyond the limit the edge refuses the request; one byte more is
	// enough for it to see that.
	b, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBytes+envelopePrefix+1))
	if err != nil {
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	return b, nil
}

// serve runs the handler, then ends the response: at its end if the
// handler returned, with the caller's context's error if that ended first
// (the handler may have returned because it did), broken if it panicked
// (logged, as net/http does, but for http.ErrAbortHandler).
func (t inProcess) serve(caller context.Context, w *inProcessWriter, r *http.Request, cancel context.CancelFunc) {
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				t.log.Error("panic serving in process", "path", r.URL.Path, "panic", p, "stack", string(buf))
			}
			w.pw.CloseWithError(errInProcessAborted)
			w.ready1.Do(func() { close(w.ready) }) // no response: RoundTrip fails
			return
		}
		w.writeHeader(http.StatusOK)      // a handler that wrote nothing answered 200
		w.pw.CloseWithError(caller.Err()) // nil: io.EOF
	}()
	t.handler.ServeHTTP(w, r)
}

// inProcessWriter is the handler's http.ResponseWriter: the head is the
// response RoundTrip returns, the body goes through a pipe.
type inProcessWriter struct {
	header http.Header
	pw     *io.PipeWriter
	req    *http.Request // the caller's, for the response
	body   *inProcessBody

	ready1 sync.Once
	ready  chan struct{} // closed once res is set (or the handler panicked first)
	res    *http.Response
}

func (w *inProcessWriter) Header() http.Header { return w.header }

// WriteHeader sends the head. Informational (1xx) heads are not passed
// on; headers changed after the head are not either (no trailers).
func (w *inProcessWriter) WriteHeader(code int) {
	if code < 200 {
		return
	}
	w.writeHeader(code)
}

func (w *inProcessWriter) writeHeader(code int) {
	w.ready1.Do(func() {
		w.res = &http.Response{
			Status:        fmt.Sprintf("%d %s", code, http.StatusText(code)),
			StatusCode:    code,
			Proto:         "HTTP/2.0",
			ProtoMajor:    2,
			Header:        w.header.Clone(),
			Body:          w.body,
			ContentLength: -1,
			Request:       w.req,
		}
		close(w.ready)
	})
}

// Write passes p to the reader: it returns once the reader has read it
// all, or failed when the body is closed or the request's context ended.
func (w *inProcessWriter) Write(p []byte) (int, error) {
	w.writeHeader(http.StatusOK)
	return w.pw.Write(p)
}

// Flush sends the head if it is not sent yet; what was written has
// reached the reader already.
func (w *inProcessWriter) Flush() { w.writeHeader(http.StatusOK) }

// SetReadDeadline, for http.ResponseController (the edge sets one on a
// body that is slow to arrive): the body is in memory, a read never waits.
func (w *inProcessWriter) SetReadDeadline(time.Time) error { return nil }

// inProcessBody is the response body: closing it ends the handler's
// request context, as an HTTP/2 stream reset does, and fails its writes.
type inProcessBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
	stop   func() bool // stops closing pr when the caller's context ends
}

func (b *inProcessBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

func (b *inProcessBody) Close() error {
	b.stop()
	b.cancel()
	b.pr.CloseWithError(errInProcessBodyClosed)
	return nil
}
