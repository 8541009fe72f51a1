package bolt

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// A full disk is a state of the store, not a bug: every write fails until
// an operator frees space, while reads go on from the file as it is. bbolt
// rolls a failed commit back and stays usable, so the writer needs no
// repair; what the store adds is a distinct error for callers (retry
// later, not "internal error"), one log line per change of state instead
// of one per failed write, and the state itself for health and metrics.

// roomToResume is the free space (for unprivileged users) at which a full
// store counts as writable again without a write having proved it. A
// commit writes only the pages it changed, a few KiB for a message, so a
// MiB is room for many; an operator who frees space frees much more.
const roomToResume = 1 << 20

// spaceCheckInterval is how often a full store looks at the free space of
// its file system, so that it turns writable again even when no write
// comes to prove it (a load balancer that follows health sends none).
const spaceCheckInterval = 5 * time.Second

// storageFullMessage is what callers are told. It names no path: the
// message reaches clients.
const storageFullMessage = "storage full: the server cannot store anything until disk space is freed; try again later"

// errStorageFull is a fresh error each time, because callers may change it.
// It is CodeUnavailable, not CodeResourceExhausted: that code is for the
// caller's own quotas and rates, which waiting and calling less would fix,
// while a full disk is the server's condition, cleared by its operator,
// after which the same request succeeds. Unavailable tells clients exactly
// that: retry later, with backoff (an idempotency key makes a retried
// message safe).
func errStorageFull() error {
	return domain.Errorf(domain.CodeUnavailable, storageFullMessage)
}

// isNoSpace reports whether err says the file system is full or the
// user's quota is used up. bbolt formats some errors from growing the file
// with %s rather than %w, so the errno's text is matched too.
func isNoSpace(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error())
}

// WriteFailures counts the Updates that failed because their commit did,
// by reason.
type WriteFailures struct {
	// StorageFull counts Updates refused because the disk or the quota was
	// full.
	StorageFull uint64
	// Other counts Updates whose commit failed for any other reason (an
	// I/O error): they are reported as internal errors.
	Other uint64
}

// fullState is whether the store's disk is full, with what is needed to
// notice that it no longer is.
type fullState struct {
	mu   sync.Mutex
	full bool
	// allocated is the file's allocated bytes when the last commit failed
	// for want of space: a later commit that succeeds with more than that
	// got new space from the file system, which proves there is some. A
	// commit that only reused the file's free pages proves nothing.
	allocated int64
	hook      func(full bool)
	// checking is true while a goroutine watches the free space, every
	// checkEvery (spaceCheckInterval but in tests).
	checking   bool
	checkEvery time.Duration
	failures   WriteFailures
}

// StorageFull reports whether the last commit failed for want of disk
// space (or quota) and no write or free-space check has shown room since.
// Reads are served all along; writes fail with CodeUnavailable.
func (s *Store) StorageFull() bool {
	s.space.mu.Lock()
	defer s.space.mu.Unlock()
	return s.space.full
}

// WriteFailures returns the counts of Updates that failed to commit.
func (s *Store) WriteFailures() WriteFailures {
	s.space.mu.Lock()
	defer s.space.mu.Unlock()
	return s.space.failures
}

// OnStorageFull sets f to be called with every change of StorageFull, in
// order, and at once when the store is full already. f must not block or
// call the Store.
func (s *Store) OnStorageFull(f func(full bool)) {
	s.space.mu.Lock()
	defer s.space.mu.Unlock()
	s.space.hook = f
	if s.space.full && f != nil {
		f(true)
	}
}

// commitFailed notes the failed commit of n updates and reports whether it
// failed for want of space: this is the one place where "no space left on
// device" is told apart, and the updates are then answered with
// errStorageFull.
func (s *Store) commitFailed(err error, n int) (noSpace bool) {
	s.space.mu.Lock()
	defer s.space.mu.Unlock()
	if !isNoSpace(err) {
		s.space.failures.Other += uint64(n)
		return false
	}
	s.space.failures.StorageFull += uint64(n)
	s.space.allocated, _ = allocatedBytes(s.path)
	if !s.space.full {
		s.space.full = true
		s.log.Error("storage full: writes fail with UNAVAILABLE until disk space is freed; reads go on",
			"path", s.path, "err", err)
		if s.space.hook != nil {
			s.space.hook(true)
		}
		if !s.space.checking {
			s.space.checking = true
			go s.watchSpace()
		}
	}
	return true
}

// committed notes a commit that succeeded. While the store counts as full,
// it shows room again if it got new space from the file system, or if the
// file system now has room; a commit that only reused the file's free
// pages proves nothing, and ending the state on it would make the state
// (and its log lines) flap with every write that fits. Where the file's
// allocated space is unknown, any commit that succeeds counts.
func (s *Store) committed() {
	s.space.mu.Lock()
	defer s.space.mu.Unlock()
	if !s.space.full {
		return
	}
	if n, known := allocatedBytes(s.path); !known || n > s.space.allocated {
		s.writable("a write got new space")
	} else if free, known := freeBytes(s.path); known && free >= roomToResume {
		s.writable("the file system has room")
	}
}

// writable ends the full state. s.space.mu is held.
func (s *Store) writable(why string) {
	s.space.full = false
	s.log.Info("storage has room again: writes resume", "path", s.path, "because", why)
	if s.space.hook != nil {
		s.space.hook(false)
	}
}

// watchSpace runs while the store is full, until the file system has room
// or the store closes.
func (s *Store) watchSpace() {
	s.space.mu.Lock()
	every := s.space.checkEvery
	s.space.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.writerDone:
			s.space.mu.Lock()
			s.space.checking = false
			s.space.mu.Unlock()
			return
		case <-t.C:
		}
		free, known := freeBytes(s.path)
		s.space.mu.Lock()
		if s.space.full && known && free >= roomToResume {
			s.writable("the file system has room")
		}
		if !s.space.full {
			s.space.checking = false
			s.space.mu.Unlock()
			return
		}
		s.space.mu.Unlock()
	}
}
