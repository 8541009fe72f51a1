package rpc_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	step := make(chan struct{})
	h := rpc.BatchFlushes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		f.Flush() // the headers: at once
		<-step
		for _, m := range []string{"a", "b", "c"} {
			w.Write([]byte(m))
			f.Flush()
		}
		<-step
		w.Write([]byte("d"))
		f.Flush() // not yet written when the handler returns
	}), delay)
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		close(done)
	}()

	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(rec.got()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("flushes %q, want %d", rec.got(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(1)
	start := time.Now()
	step <- struct{}{}
	waitFor(2)
	if waited := time.Since(start); waited < delay {
		t.Errorf("the batch was written after %v, before the delay of %v", waited, delay)
	}
	if got := rec.got(); got[0] != "" || got[1] != "abc" {
		t.Fatalf("flushes %q, want the headers alone, then abc together", got)
	}
	step <- struct{}{}
	<-done
	time.Sleep(2 * delay)
	// The handler returned before "d" was due: the server writes it then,
	// and the writer no longer flushes on its own.
	if got := rec.got(); len(got) != 2 {
		t.Fatalf("flushes %q after the handler returned, want none more", got)
	}
	if body := rec.Body.String(); body != "abcd" {
		t.Fatalf("body %q, want abcd", body)
	}
}
