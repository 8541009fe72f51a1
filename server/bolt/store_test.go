package bolt_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// MustOpen opens a store in a fresh temporary directory and closes it when
// the test ends.
func MustOpen(tb testing.TB, opts ...bolt.Option) *bolt.Store {
	tb.Helper()
	s, err := bolt.Open(filepath.Join(tb.TempDir(), "data", "proactivechat.db"), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// MustUpdate runs fn in an Update and fails the test on error.
func MustUpdate(tb testing.TB, s *bolt.Store, fn func(domain.WriteTx) error) {
	tb.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

// MustView runs fn in a View and fails the test on error.
func MustView(tb testing.TB, s *bolt.Store, fn func(domain.ReadTx) error) {
	tb.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		tb.Fatal(err)
	}
}

// waitQueued yields until n Updates wait in the queue. It does not sleep:
// the goroutines it waits for are runnable.
func waitQueued(s *bolt.Store, n int) {
	for bolt.QueueLen(s) < n {
		runtime.Gosched()
	}
}

// blockWriter makes the writer wait inside an Update until the returned
// release is called, so that later Updates queue up into one batch.
func blockWriter(t *testing.T, s *bolt.Store) (release func(), done <-chan error) {
	t.Helper()
	entered, unblock := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.Update(context.Background(), func(domain.WriteTx) error {
			close(entered)
			<-unblock
			return nil
		})
	}()
	<-entered
	var once sync.Once
	return func() { once.Do(func() { close(unblock) }) }, errc
}

func TestOpen(t *testing.T) {
	t.Run("CreatesDirectory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "store.db")
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if got := s.Path(); got != path {
			t.Fatalf("Path() = %q, want %q", got, path)
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrInUse", func(t *testing.T) {
		s := MustOpen(t)
		start := time.Now()
		s2, err := bolt.Open(s.Path(), bolt.WithLockTimeout(100*time.Millisecond))
		if err == nil {
			s2.Close()
			t.Fatal("second Open of the same file succeeded")
		}
		if !strings.Contains(err.Error(), "in use") {
			t.Fatalf("error %q does not say the file is in use", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("second Open took %s", d)
		}
	})

	t.Run("ReopenKeepsEverything", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "store.db")
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture()
		MustUpdate(t, s, f.put)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}

		s, err = bolt.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		MustView(t, s, func(tx domain.ReadTx) error { f.check(t, tx); return nil })
	})
}

func TestClose(t *testing.T) {
	t.Run("UpdateAfterClose", func(t *testing.T) {
		s := MustOpen(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		err := s.Update(context.Background(), func(domain.WriteTx) error { return nil })
		if got, want := domain.ErrorCode(err), domain.CodeUnavailable; got != want {
			t.Fatalf("Update after Close: code %q (%v), want %q", got, err, want)
		}
		if got, want := err.Error(), "store is closed"; got != want {
			t.Fatalf("Update after Close: %q, want %q", got, want)
		}
		err = s.View(context.Background(), func(domain.ReadTx) error { return nil })
		if got, want := domain.ErrorCode(err), domain.CodeUnavailable; got != want {
			t.Fatalf("View after Close: code %q (%v), want %q", got, err, want)
		}
	})

	t.Run("Idempotent", func(t *testing.T) {
		s := MustOpen(t)
		for range 3 {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("FinishesQueuedUpdates", func(t *testing.T) {
		s := MustOpen(t)
		release, blocked := blockWriter(t, s)
		const n = 10
		errs := make(chan error, n)
		for i := range n {
			go func() {
				errs <- s.Update(context.Background(), func(tx domain.WriteTx) error {
					return tx.PutSite(&domain.Site{ID: siteID(i)})
				})
			}()
		}
		waitQueued(s, n)
		closed := make(chan error)
		go func() { closed <- s.Close() }()
		release()
		if err := <-blocked; err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := <-errs; err != nil {
				t.Fatalf("queued Update: %v", err)
			}
		}
		if err := <-closed; err != nil {
			t.Fatal(err)
		}

		s, err := bolt.Open(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		MustView(t, s, func(tx domain.ReadTx) error {
			sites, err := tx.Sites()
			if got := len(sites); got != n {
				t.Errorf("%d sites after Close, want %d", got, n)
			}
			return err
		})
	})
}

func TestBackup(t *testing.T) {
	s := MustOpen(t)
	f := newFixture()
	MustUpdate(t, s, f.put)

	path := filepath.Join(t.TempDir(), "backup.db")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Backup(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != n {
		t.Fatalf("backup file: %v, %d bytes written", err, n)
	}

	b, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	MustView(t, b, func(tx domain.ReadTx) error { f.check(t, tx); return nil })
}

func TestView(t *testing.T) {
	t.Run("ErrCanceled", func(t *testing.T) {
		s := MustOpen(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		err := s.View(ctx, func(domain.ReadTx) error { called = true; return nil })
		if !errors.Is(err, context.Canceled) || called {
			t.Fatalf("View with canceled ctx: %v, fn called %v", err, called)
		}
	})

	t.Run("ReturnsFnError", func(t *testing.T) {
		s := MustOpen(t)
		want := errors.New("boom")
		if err := s.View(context.Background(), func(domain.ReadTx) error { return want }); err != want {
			t.Fatalf("got %v, want %v", err, want)
		}
	})

	t.Run("ReturnsCopies", func(t *testing.T) {
		s := MustOpen(t)
		f := newFixture()
		MustUpdate(t, s, f.put)
		var first *domain.Site
		MustView(t, s, func(tx domain.ReadTx) (err error) { first, err = tx.Site(f.site.ID); return err })
		first.Name = "changed"
		first.AllowedOrigins[0] = "changed"
		MustView(t, s, func(tx domain.ReadTx) error {
			got, err := tx.Site(f.site.ID)
			if err == nil && !reflect.DeepEqual(got, f.site) {
				t.Errorf("changing a returned site changed the stored one: %+v", got)
			}
			return err
		})
	})
}
