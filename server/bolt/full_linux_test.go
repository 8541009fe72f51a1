package bolt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
)

// mountTmpfs mounts a tmpfs of size at a fresh directory, or skips the
// test when that is not allowed (CI runs as root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount a tmpfs at %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// TestStorageFull: on a full disk an Update fails with CodeUnavailable,
// every update of the failed batch does, the store says it is full (once,
// to its hook), reads go on, and once space is freed the store notices by
// itself, with no write to prove it, and writes resume.
func TestStorageFull(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := filepath.Join(dir, "proactivechat.db")
	var logs syncBuffer
	s, err := bolt.Open(path, bolt.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	bolt.SetSpaceCheckInterval(s, time.Millisecond)
	var mu sync.Mutex
	var changes []bool
	s.OnStorageFull(func(full bool) {
		mu.Lock()
		changes = append(changes, full)
		mu.Unlock()
	})
	hooked := func() []bool {
		mu.Lock()
		defer mu.Unlock()
		return append([]bool(nil), changes...)
	}
	name := strings.Repeat("n", 3000) // a site close to a page
	put := func(id string) error {
		return s.Update(context.Background(), func(tx domain.WriteTx) error {
			return tx.PutSite(&domain.Site{ID: id, Name: name})
		})
	}
	for i := range 10 {
		if err := put(fmt.Sprintf("before_%d", i)); err != nil {
			t.Fatal(err)
		}
	}

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 4<<10))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}

	// A batch of updates that cannot fit: each is answered storage full.
	fns := make([]func(domain.WriteTx) error, 20)
	for i := range fns {
		fns[i] = func(tx domain.WriteTx) error {
			return tx.PutSite(&domain.Site{ID: fmt.Sprintf("during_%d", i), Name: name})
		}
	}
	for i, err := range queueInOrder(t, s, fns) {
		if domain.ErrorCode(err) != domain.CodeUnavailable || !strings.HasPrefix(err.Error(), "storage full") {
			t.Fatalf("update %d of the batch on a full disk: %v (code %q), want unavailable storage full", i, err, domain.ErrorCode(err))
		}
	}
	// Larger than the pages the file has free: an update that fits in
	// them succeeds, rightly, however full the disk.
	bigName := strings.Repeat("n", 64<<10)
	for range 3 {
		err := s.Update(context.Background(), func(tx domain.WriteTx) error {
			return tx.PutSite(&domain.Site{ID: "during", Name: bigName})
		})
		if domain.ErrorCode(err) != domain.CodeUnavailable {
			t.Fatalf("Update on a full disk: %v (code %q), want unavailable", err, domain.ErrorCode(err))
		}
	}
	if !s.StorageFull() {
		t.Fatal("StorageFull() = false after writes failed for want of space")
	}
	if got := hooked(); len(got) != 1 || !got[0] {
		t.Fatalf("hook called with %v, want once with true", got)
	}
	if got := s.WriteFailures(); got.StorageFull != uint64(len(fns)+3) || got.Other != 0 {
		t.Fatalf("WriteFailures() = %+v, want %d for storage full", got, len(fns)+3)
	}
	err = s.View(context.Background(), func(tx domain.ReadTx) error {
		sites, err := tx.Sites()
		if err == nil && len(sites) != 10 {
			t.Errorf("%d sites on the full disk, want the 10 stored before", len(sites))
		}
		return err
	})
	if err != nil {
		t.Fatalf("View on a full disk: %v", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.StorageFull() {
		if time.Now().After(deadline) {
			t.Fatal("StorageFull() still true 10s after space was freed")
		}
		time.Sleep(time.Millisecond)
	}
	if got := hooked(); len(got) != 2 || got[1] {
		t.Fatalf("hook called with %v, want true then false", got)
	}
	for i := range len(fns) {
		if err := put(fmt.Sprintf("during_%d", i)); err != nil {
			t.Fatalf("Update once space is freed: %v", err)
		}
	}
	err = s.View(context.Background(), func(tx domain.ReadTx) error {
		sites, err := tx.Sites()
		if err == nil && len(sites) != 10+len(fns) {
			t.Errorf("%d sites once space is freed, want %d", len(sites), 10+len(fns))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := hooked(); len(got) != 2 {
		t.Fatalf("hook called with %v, want true then false", got)
	}
	// One line for each change of state, not one per failed write.
	for _, msg := range []string{"storage full:", "storage has room again"} {
		if n := strings.Count(logs.String(), msg); n != 1 {
			t.Errorf("the log says %q %d times, want once:\n%s", msg, n, logs.String())
		}
	}
}

// syncBuffer is a log that a test reads while the store writes it.
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
