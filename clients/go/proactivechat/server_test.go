package proactivechat_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/app"
)

// testTimeout bounds every test, so a broken feature fails instead of
// hanging.
const testTimeout = 10 * time.Second

// server is the real server, in process, on a loopback port.
type server struct {
	app    *app.App
	cfg    app.Config
	addr   string // 127.0.0.1:port
	url    string // http://127.0.0.1:port
	key    string // the admin API key
	dir    string
	tmpDir bool // dir is ours to remove
}

// openServer starts a server on a fresh database in dir (a new temporary
// directory when ""), its configuration changed by each of configure.
func openServer(dir string, configure ...func(*app.Config)) (*server, error) {
	s := &server{dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "proactivechat-client-")
		if err != nil {
			return nil, err
		}
		s.dir, s.tmpDir = d, true
	}
	s.cfg = app.Config{
		Addr:   "127.0.0.1:0",
		DBPath: filepath.Join(s.dir, "proactivechat.db"),
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, f := range configure {
		f(&s.cfg)
	}
	if err := s.start(); err != nil {
		s.close()
		return nil, err
	}
	s.key = s.app.InitialAPIKey
	s.addr = s.app.Addr().String()
	s.url = "http://" + s.addr
	return s, nil
}

func (s *server) start() error {
	a, err := app.Open(s.cfg)
	if err != nil {
		return fmt.Errorf("open server: %w", err)
	}
	if err := a.Listen(); err != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
		return fmt.Errorf("listen: %w", err)
	}
	a.Start()
	s.app = a
	return nil
}

// stop shuts the server down; start or restart serve again.
func (s *server) stop() error {
	if s.app == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.app.Shutdown(ctx)
	s.app = nil
	return err
}

// restart starts the stopped server again on the same database and the
// same address, so clients reach it without being told.
func (s *server) restart() error {
	s.cfg.Addr = s.addr
	return s.start()
}

// close stops the server and removes its temporary directory.
func (s *server) close() {
	s.stop()
	if s.tmpDir {
		os.RemoveAll(s.dir)
	}
}

// startServer starts a server for the test, stopped when it ends.
func startServer(t *testing.T, configure ...func(*app.Config)) *server {
	t.Helper()
	s, err := openServer(t.TempDir(), configure...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

// testContext is the test's context with the safety-net deadline.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// shared is one server for the tests and examples that only add to its
// state, so that each does not pay for its own start.
var shared struct {
	once sync.Once
	srv  *server
	err  error
}

// sharedServer returns the shared server, starting it on first use.
func sharedServer() (*server, error) {
	shared.once.Do(func() { shared.srv, shared.err = openServer("") })
	return shared.srv, shared.err
}

// mustSharedServer is sharedServer for tests.
func mustSharedServer(t *testing.T) *server {
	t.Helper()
	s, err := sharedServer()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		shared.srv.close()
	}
	os.Exit(code)
}
