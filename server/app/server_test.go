package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/app"
	"github.com/proactivechat/proactivechat/server/fakeclock"
)

// t0 is when every test's fake clock starts.
var t0 = time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)

// Timings of the servers under test: the domain's defaults, spelled out
// because the tests reason about them.
const (
	presenceGrace     = 15 * time.Second
	keepAliveInterval = 20 * time.Second
)

// shutdownTimeout is the deadline of every Shutdown.
const shutdownTimeout = 5 * time.Second

// testTimeout bounds every test, so a broken feature fails instead of
// hanging: streams are read under a context with this deadline.
const testTimeout = 10 * time.Second

// testServer is an app.App serving on a loopback port.
type testServer struct {
	*app.App
	url  string // http://127.0.0.1:port (https:// with tls)
	addr string // 127.0.0.1:port
	logs *syncBuffer
	// tls, when the server serves TLS, is the clients' configuration: it
	// trusts the server's certificate. Each client takes a Clone: an
	// HTTP/2 transport adds "h2" to the configuration it is given.
	tls *tls.Config

	stopOnce sync.Once
	stopErr  error
}

// startServer starts the real server on 127.0.0.1:0 with the bbolt file at
// dbPath and the given clock. It is shut down when the test ends unless the
// test did it first.
func startServer(t *testing.T, dbPath string, clock *fakeclock.Clock) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	a, err := app.Open(app.Config{
		Addr:              "127.0.0.1:0",
		DBPath:            dbPath,
		Logger:            slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:             clock,
		PresenceGrace:     presenceGrace,
		KeepAliveInterval: keepAliveInterval,
	})
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	if err := a.Listen(); err != nil {
		t.Fatalf("listen: %v", err)
	}
	a.Start()
	s := &testServer{App: a, addr: a.Addr().String(), url: "http://" + a.Addr().String(), logs: logs}
	t.Cleanup(func() {
		if err := s.shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return s
}

// newServer starts a server on a fresh database with a fresh fake clock.
func newServer(t *testing.T) (*testServer, *fakeclock.Clock) {
	t.Helper()
	clock := fakeclock.New(t0)
	return startServer(t, filepath.Join(t.TempDir(), "proactivechat.db"), clock), clock
}

// shutdown stops the server once; later calls return the first result.
func (s *testServer) shutdown() error {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		s.stopErr = s.Shutdown(ctx)
	})
	return s.stopErr
}

// testContext is the test's context with the safety-net deadline.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testLogger logs everything, debug included, to logs.
func testLogger(logs *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// syncBuffer collects the server's log for tests that fail.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
