package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
)

// Follower applies a Log to a store, entry by entry in order. The store
// records each entry's position in the transaction that applies it
// (bolt.Store.Apply), so after a restart the Follower resumes at the
// first entry its file lacks: nothing is applied twice, nothing skipped.
type Follower struct {
	log   *Log
	store *bolt.Store

	// Heard, when set before Run, is told the leader that wrote each
	// entry Run reads: a leader whose writes reach the log is alive, even
	// when its heartbeats are late (Heartbeats.Heard).
	Heard func(leader string)

	// Window, when set before Run, is how long Run waits for more
	// entries to apply with the first (applyEvery when 0). Tests make it
	// long, to show what reads would miss without WaitFor's hurry.
	Window time.Duration
	// hurry cuts Run's wait short once it has the entry at want, the
	// latest a reader waits for (WaitFor).
	hurry chan struct{}
	want  atomic.Uint64

	mu      sync.Mutex
	pos     uint64
	changed chan struct{} // closed and replaced when pos moves
}

// NewFollower returns a Follower of log for store, at the position the
// store holds.
func NewFollower(log *Log, store *bolt.Store) (*Follower, error) {
	pos, err := store.Position()
	if err != nil {
		return nil, fmt.Errorf("new follower: %w", err)
	}
	return &Follower{log: log, store: store, pos: pos, changed: make(chan struct{}), hurry: make(chan struct{}, 1)}, nil
}

// Position returns the position of the last entry applied.
func (f *Follower) Position() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pos
}

// Changed returns a channel that is closed once the position moves past
// where it is now.
func (f *Follower) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// WaitFor returns once the entry at pos is applied, or with ctx.Err().
// Run applies its group as soon as it holds that entry rather than at
// the end of its window: a reader waiting (a follower serving a read after
// the client's own write) is not made to wait for the batching meant for
// the disk, and the readers waiting at once share one apply.
func (f *Follower) WaitFor(ctx context.Context, pos uint64) error {
	for {
		f.mu.Lock()
		at, changed := f.pos, f.changed
		f.mu.Unlock()
		if at >= pos {
			return nil
		}
		for want := f.want.Load(); want < pos && !f.want.CompareAndSwap(want, pos); want = f.want.Load() {
		}
		select {
		case f.hurry <- struct{}{}:
		default: // a hurry is pending already
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Grouped applies: Run applies the entries that arrived within
// applyEvery of the first one not applied yet (at most maxGroup) in one
// transaction, so one fsync. A follower applying every entry alone
// fsyncs as often as the leader commits; on machines that share a disk
// (the tests, the bench) those fsyncs slow the leader's own, and
// elsewhere they cost the follower's disk for nothing. The follower's
// file lags the log by about applyEvery more, which no read sees: a
// read served from the follower's file first waits for the log's end
// (WaitFor, which cuts the window short), and a new leader first catches
// up with the log's end (CatchUp). A follower's live streams (the event
// log's) see each entry up to applyEvery late.
const (
	applyEvery = 50 * time.Millisecond
	maxGroup   = 64
)

// Run applies entries as the log gets them until ctx ends (it returns
// ctx.Err()) or an entry cannot be applied (it returns why: a gap, with
// CodeFailedPrecondition, means the log no longer holds what the store
// lacks, and the node needs a snapshot). It must not run while the
// store's Writer leads, nor twice at once.
func (f *Follower) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	entries := make(chan *Entry, maxGroup)
	read := make(chan error, 1)
	go func() {
		read <- f.log.Read(ctx, f.Position(), func(e *Entry) error {
			if f.Heard != nil {
				f.Heard(e.Leader)
			}
			select {
			case entries <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	group := make([]*Entry, 0, maxGroup)
	for {
		select {
		case e := <-entries:
			group = append(group[:0], e)
		case err := <-read:
			return err
		}
		window := time.NewTimer(cmp.Or(f.Window, applyEvery))
		hurried := false
	collect:
		for len(group) < maxGroup {
			if hurried && group[len(group)-1].Position >= f.want.Load() {
				break // a reader waits for what the group holds
			}
			select {
			case e := <-entries:
				group = append(group, e)
			case <-window.C:
				break collect
			case <-f.hurry:
				// Not for an entry applied already (a reader that was
				// served by the last apply).
				hurried = f.want.Load() > f.Position()
			case <-ctx.Done():
				break collect
			}
		}
		window.Stop()
		if err := f.applyGroup(group); err != nil {
			cancel()
			<-read
			return err
		}
		clear(group)
	}
}

// applyGroup applies consecutive entries in one transaction: their
// write sets in order, as one, after the first's prev.
func (f *Follower) applyGroup(group []*Entry) error {
	if len(group) == 1 {
		return f.apply(group[0])
	}
	ws := &bolt.WriteSet{}
	for i, e := range group {
		if i > 0 && e.Prev != group[i-1].Position {
			return fmt.Errorf("apply log entries: entry %d follows %d, not %d", e.Position, e.Prev, group[i-1].Position)
		}
		if e.WriteSet != nil {
			ws.Ops = append(ws.Ops, e.WriteSet.Ops...)
		}
	}
	last := group[len(group)-1]
	return f.apply(&Entry{Position: last.Position, Prev: group[0].Prev, WriteSet: ws})
}

// catchUpByGet is the most entries CatchUp reads one by one; further
// behind, a consumer streams them.
const catchUpByGet = 256

// catchUpGroup is how many entries CatchUp applies in one transaction. A
// new leader catches up before it serves: applied one by one, each with
// its fsync, the few hundred entries a busy follower lags behind took
// seconds of the takeover on a shared disk (bench/README.md).
const catchUpGroup = 256

// errCaughtUp stops CatchUp's read.
var errCaughtUp = errors.New("caught up")

// CatchUp applies the entries the log holds now, up to its last, and
// returns the position reached.
func (f *Follower) CatchUp(ctx context.Context) (uint64, error) {
	last, err := f.log.Last(ctx)
	if err != nil {
		return 0, err
	}
	// The file may hold more than this Follower applied (its own
	// Writer's entries): those are skipped, as one Apply at a time
	// skipped them, so that a group starts after the file's position.
	pos, err := f.store.Position()
	if err != nil {
		return 0, err
	}
	f.advance(pos)
	pos = f.Position()
	if pos >= last {
		return pos, nil
	}
	group := make([]*Entry, 0, min(catchUpGroup, last-pos))
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		err := f.applyGroup(group)
		clear(group)
		group = group[:0]
		return err
	}
	add := func(e *Entry) error {
		if e.Position <= pos {
			return nil
		}
		group = append(group, e)
		if len(group) == catchUpGroup || e.Position >= last {
			return flush()
		}
		return nil
	}
	// A new leader is usually a few entries behind: it reads them one by
	// one rather than through a consumer, which the meta group must place
	// (seconds of election when its leader died with the old leader).
	if last-pos <= catchUpByGet {
		for p := pos + 1; p <= last; p++ {
			e, err := f.log.get(ctx, p)
			if err != nil {
				return 0, err
			}
			if err := add(e); err != nil {
				return 0, err
			}
		}
		return f.Position(), nil
	}
	err = f.log.Read(ctx, pos, func(e *Entry) error {
		if err := add(e); err != nil {
			return err
		}
		if e.Position >= last {
			return errCaughtUp
		}
		return nil
	})
	if !errors.Is(err, errCaughtUp) {
		return 0, err
	}
	return f.Position(), nil
}

func (f *Follower) apply(e *Entry) error {
	// The store's writer needs no deadline: Apply waits for the commit.
	if err := f.store.Apply(context.Background(), e.Prev, e.Position, e.WriteSet); err != nil {
		return fmt.Errorf("apply log entry %d: %w", e.Position, err)
	}
	f.advance(e.Position)
	return nil
}

func (f *Follower) advance(pos uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if pos <= f.pos {
		return
	}
	f.pos = pos
	close(f.changed)
	f.changed = make(chan struct{})
}
