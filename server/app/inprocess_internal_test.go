package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// waitInProcessServing waits until n handlers run in process.
func waitInProcessServing(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for InProcessServing() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d handlers run in process, want %d", InProcessServing(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func inProcessRequest(t *testing.T, ctx context.Context, body string) *http.Request {
	t.Helper()
	ctx = context.WithValue(ctx, relayKey{}, relayInfo{host: "chat.example:8080", remote: "203.0.113.7:4321"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://in-process/p?q=1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://shop.example")
	return req
}

// TestInProcess_StreamsEachWriteAndEnds: the response's head is returned
// once the handler flushes it, before the handler returns; each write
// reaches the reader as it is made; the body ends (io.EOF) when the
// handler returns. The handler sees the client's own request: its
// address, its Host, its headers and body; a body it did not read is
// still there for it. Its http.ResponseController flushes and takes a
// read deadline; what the transport cannot do is ErrNotSupported.
func TestInProcess_StreamsEachWriteAndEnds(t *testing.T) {
	next := make(chan struct{})
	var seen *http.Request
	var body []byte
	var rcErrs [3]error
	tr := inProcess{log: slog.New(slog.DiscardHandler), handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		body, _ = io.ReadAll(r.Body)
		rc := http.NewResponseController(w)
		rcErrs[0] = rc.SetReadDeadline(time.Now().Add(time.Second))
		rcErrs[1] = rc.SetWriteDeadline(time.Now().Add(time.Second))
		w.Header().Set("Content-Type", "application/connect+proto")
		w.WriteHeader(http.StatusOK)
		rcErrs[2] = rc.Flush()
		<-next
		w.Write([]byte("first"))
		<-next
		w.Write([]byte("second"))
		w.Header().Set("Late", "not sent") // no trailers
	})}
	res, err := tr.RoundTrip(inProcessRequest(t, t.Context(), "request"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/connect+proto" {
		t.Fatalf("head %d %v", res.StatusCode, res.Header)
	}
	if seen.RemoteAddr != "203.0.113.7:4321" || seen.Host != "chat.example:8080" || seen.Header.Get("Origin") != "https://shop.example" ||
		seen.URL.String() != "/p?q=1" || seen.RequestURI != "/p?q=1" || string(body) != "request" || seen.ContentLength != 7 {
		t.Fatalf("the handler saw %s %s from %s, Host %s, headers %v, body %q (%d)",
			seen.Method, seen.URL, seen.RemoteAddr, seen.Host, seen.Header, body, seen.ContentLength)
	}
	buf := make([]byte, 16)
	for _, want := range []string{"first", "second"} {
		next <- struct{}{}
		n, err := res.Body.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, want)
		}
	}
	if n, err := res.Body.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after the handler returned: %q, %v; want io.EOF", buf[:n], err)
	}
	// The handler has returned.
	if rcErrs[0] != nil || !errors.Is(rcErrs[1], http.ErrNotSupported) || rcErrs[2] != nil {
		t.Fatalf("ResponseController: SetReadDeadline %v, SetWriteDeadline %v, Flush %v", rcErrs[0], rcErrs[1], rcErrs[2])
	}
	if res.Header.Get("Late") != "" || len(res.Trailer) != 0 {
		t.Fatalf("headers set after the head were sent: %v %v", res.Header, res.Trailer)
	}
	waitInProcessServing(t, 0)
}

// TestInProcess_TheHandlerEndsWithItsCaller: the handler's request
// context ends when the caller's does, and when the caller closes the
// body; its blocked write fails, the caller's blocked read too, and the
// handler's goroutine is gone.
func TestInProcess_TheHandlerEndsWithItsCaller(t *testing.T) {
	for _, how := range []string{"context", "close"} {
		t.Run(how, func(t *testing.T) {
			ended := make(chan error, 1)
			tr := inProcess{log: slog.New(slog.DiscardHandler), handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				_, err := w.Write([]byte("nobody reads this")) // blocks until the end
				<-r.Context().Done()
				ended <- err
			})}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			res, err := tr.RoundTrip(inProcessRequest(t, ctx, ""))
			if err != nil {
				t.Fatal(err)
			}
			if InProcessServing() != 1 {
				t.Fatalf("%d handlers run in process, want 1", InProcessServing())
			}
			if how == "context" {
				cancel()
			} else {
				res.Body.Close()
			}
			if err := <-ended; err == nil {
				t.Fatal("the handler's write did not fail")
			}
			if _, err := io.ReadAll(res.Body); how == "context" && !errors.Is(err, context.Canceled) {
				t.Fatalf("read after the caller's context ended: %v, want context.Canceled", err)
			}
			waitInProcessServing(t, 0)
		})
	}
}

// TestInProcess_ACallerThatGivesUpBeforeTheHead gets its context's error,
// and the handler, whose context ended, is gone.
func TestInProcess_ACallerThatGivesUpBeforeTheHead(t *testing.T) {
	tr := inProcess{log: slog.New(slog.DiscardHandler), handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
		w.Write([]byte("too late"))
	})}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if _, err := tr.RoundTrip(inProcessRequest(t, ctx, "")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RoundTrip: %v, want the context's deadline", err)
	}
	waitInProcessServing(t, 0)
}

// TestInProcess_APanicBreaksTheResponse: a handler that panics before its
// head fails the round trip; after it, the body breaks as a connection
// that died, not a clean end. The process goes on.
func TestInProcess_APanicBreaksTheResponse(t *testing.T) {
	var logs bytes.Buffer
	before := inProcess{log: slog.New(slog.NewTextHandler(&logs, nil)), handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("before the head")
	})}
	if _, err := before.RoundTrip(inProcessRequest(t, t.Context(), "")); !errors.Is(err, errInProcessAborted) {
		t.Fatalf("RoundTrip: %v, want errInProcessAborted", err)
	}
	if !strings.Contains(logs.String(), "before the head") {
		t.Fatalf("the panic was not logged: %s", logs.String())
	}
	after := inProcess{log: slog.New(slog.DiscardHandler), handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("part"))
		panic(http.ErrAbortHandler)
	})}
	res, err := after.RoundTrip(inProcessRequest(t, t.Context(), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if b, err := io.ReadAll(res.Body); string(b) != "part" || !errors.Is(err, errInProcessAborted) {
		t.Fatalf("read %q, %v; want \"part\" then errInProcessAborted", b, err)
	}
	waitInProcessServing(t, 0)
}
