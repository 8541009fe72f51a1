package rpc_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/rpc"
)

// flushRecorder counts the flushes of the server's writer and what each
// carried.
type flushRecorder struct {
	*httptest.ResponseRecorder
	mu      sync.Mutex
	flushes []string
	written int
}

func (f *flushRecorder) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ResponseRecorder.Write(p)
}

func (f *flushRecorder) Flush() {
	f.mu.Lock()
	defer f.mu.Unlock()
	body := f.Body.String()
	f.flushes = append(f.flushes, body[f.written:])
	f.written = len(body)
}

func (f *flushRecorder) got() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.flushes...)
}

func TestBatchFlushes(t *testing.T) {
	const delay = 50 * time.Millisecond
	clock := fakeclock.New(time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC))
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	step := make(chan struct{})
	wrote := make(chan struct{})
	h := rpc.BatchFlushes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		f.Flush() // the headers: at once
		wrote <- struct{}{}
		<-step
		for _, m := range []string{"a", "b", "c"} {
			w.Write([]byte(m))
			f.Flush()
		}
		wrote <- struct{}{}
		<-step
		w.Write([]byte("d"))
		f.Flush() // not yet written when the handler returns
	}), delay, clock)
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		close(done)
	}()

	<-wrote
	if got := rec.got(); len(got) != 1 || got[0] != "" {
		t.Fatalf("flushes %q, want the headers at once", got)
	}
	step <- struct{}{}
	<-wrote
	clock.Advance(delay - time.Millisecond)
	if got := rec.got(); len(got) != 1 {
		t.Fatalf("flushes %q before the delay, want the headers only", got)
	}
	clock.Advance(time.Millisecond)
	if got := rec.got(); len(got) != 2 || got[1] != "abc" {
		t.Fatalf("flushes %q, want the headers alone, then abc together", got)
	}
	step <- struct{}{}
	<-done
	clock.Advance(2 * delay)
	// The handler returned before "d" was due: the server writes it then,
	// and the writer no longer flushes on its own.
	if got := rec.got(); len(got) != 2 {
		t.Fatalf("flushes %q after the handler returned, want none more", got)
	}
	if body := rec.Body.String(); body != "abcd" {
		t.Fatalf("body %q, want abcd", body)
	}
}
