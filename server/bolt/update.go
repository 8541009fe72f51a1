package bolt

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// request is one Update waiting for the writer.
type request struct {
	ctx context.Context
	fn  func(domain.WriteTx) error
	// err is what the fn returned in its last run, set by the writer.
	err error
	// final marks an answer no later attempt may change: the fn failed
	// after writing (the reason for a rollback) or its ctx ended. Other
	// failures are run again after a rollback, because they may rest on
	// what an earlier fn of the batch wrote and no longer writes.
	final bool
	// done receives the final answer. It has room for it, so the writer
	// never waits for a caller.
	done chan error
	// replicated marks an Apply of the log's changes (replicate.go): it is
	// committed apart from local Updates and never handed to the
	// Replicator.
	replicated bool
}

// Update runs fn in a write transaction and returns once it is durable.
// Concurrent Updates share a transaction and its fsync, so fn runs again
// whenever another fn of its batch fails after writing. fn runs on the
// writer goroutine and must not call Update or Close.
//
// ctx counts until fn runs for the last time: a request whose ctx is done
// before then is answered with ctx.Err() and leaves nothing behind. After
// that Update waits for the commit whatever ctx says, so that nil always
// means written, and ctx.Err() always means not written.
//
// A panic in fn is re-raised in the caller's goroutine, not the writer's, so
// the process survives wherever a caller's panic would be recovered.
func (s *Store) Update(ctx context.Context, fn func(domain.WriteTx) error) error {
	return s.update(ctx, false, fn)
}

func (s *Store) update(ctx context.Context, replicated bool, fn func(domain.WriteTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &request{ctx: ctx, fn: fn, done: make(chan error, 1), replicated: replicated}
	if err := s.enqueue(ctx, req); err != nil {
		return err
	}
	err := <-req.done
	if p, ok := err.(*panicError); ok {
		panic(p)
	}
	return err
}

func (s *Store) enqueue(ctx context.Context, req *request) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return errClosed()
	}
	select {
	case s.queue <- req:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write is the writer goroutine. It commits as soon as there is anything
// to commit and takes along everything queued meanwhile: there is no fixed
// wait, so a lone writer pays one commit and concurrent writers share them.
// It returns once the queue is closed and drained.
func (s *Store) write() {
	defer close(s.writerDone)
	batch := make([]*request, 0, s.maxBatch)
	for req := range s.queue {
		batch = append(batch[:0], req)
		batch = s.drain(batch)
		// Applies of the log and local Updates never share a commit: one
		// is replicated already, the other must be.
		for rest := batch; len(rest) > 0; {
			n := 1
			for n < len(rest) && rest[n].replicated == rest[0].replicated {
				n++
			}
			s.commit(rest[:n])
			rest = rest[n:]
		}
		clear(batch) // let the answered requests go
	}
}

// drain adds the requests already queued, without waiting for more.
func (s *Store) drain(batch []*request) []*request {
	for len(batch) < s.maxBatch {
		select {
		case req, ok := <-s.queue:
			if !ok {
				return batch
			}
			batch = append(batch, req)
		default:
			return batch
		}
	}
	return batch
}

// commit runs batch in one transaction, runs the OnCommit hooks once it is
// durable, and only then answers, so that a caller's next write finds its
// events already published.
func (s *Store) commit(batch []*request) {
	start := time.Now()
	hooks, err := s.apply(batch)
	s.commitSeconds.Observe(time.Since(start).Seconds())
	s.batchSize.Observe(float64(len(batch)))
	var noSpace bool
	if err == nil {
		s.committed()
		for _, f := range hooks {
			f()
		}
	} else {
		noSpace = s.commitFailed(err, len(batch))
	}
	for _, req := range batch {
		answer := req.err
		if _, panicked := answer.(*panicError); err != nil && !panicked {
			// Even a failed fn's error may rest on what the batch's earlier
			// fns wrote, which is now lost.
			answer = err
			if noSpace {
				answer = errStorageFull()
			}
		}
		req.done <- answer
	}
}

// apply runs the fns of batch in order in one write transaction and commits
// it, returning their OnCommit hooks in order. Each failed fn's error is left
// in its request. bbolt cannot undo part of a transaction, so when a fn fails
// after writing, apply rolls everything back and runs the batch again
// without it; a fn that fails before writing is just skipped.
func (s *Store) apply(batch []*request) ([]func(), error) {
	for {
		hooks, again, err := s.attempt(batch)
		if !again {
			return hooks, err
		}
	}
}

// attempt makes one try at apply. It reports again when it rolled back.
func (s *Store) attempt(batch []*request) (hooks []func(), again bool, err error) {
	tx, err := s.db.Begin(true)
	if err != nil {
		return nil, false, fmt.Errorf("begin write transaction: %w", err)
	}
	if err := s.root.prepare(tx); err != nil {
		// Only a saving: the batch runs again without it (the next
		// repack is not due for a while).
		s.log.Warn("store: root bucket repack failed", "err", err)
		_ = tx.Rollback()
		return nil, true, nil
	}
	// A fresh recorder per attempt, so that what a rolled-back attempt
	// wrote is not replicated.
	var rec *recorder
	if s.replicator != nil && !batch[0].replicated {
		rec = &recorder{}
	}
	for _, req := range batch {
		if req.final {
			continue
		}
		req.err = nil
		if err := req.ctx.Err(); err != nil {
			req.err = err
			req.final = true
			continue
		}
		// A fresh wrapper per fn and attempt, so that hooks registered in an
		// attempt that is rolled back are dropped with it.
		w := &writeTx{readTx: readTx{tx: tx, agents: s.agents}, keys: s.keys, rec: rec}
		if err := call(req.fn, w); err != nil {
			req.err = err
			if w.wrote {
				req.final = true
				_ = tx.Rollback()
				s.keys.rolledBack()
				return nil, true, nil
			}
			continue
		}
		hooks = append(hooks, w.hooks...)
	}
	if err := s.replicate(tx, rec); err != nil {
		_ = tx.Rollback()
		s.keys.rolledBack()
		return nil, false, err
	}
	if batch[0].replicated {
		// The log's changes may touch chats the writer's index holds; it
		// builds them again on first use.
		s.keys.reset()
	}
	if err := tx.Commit(); err != nil {
		s.keys.rolledBack()
		return nil, false, fmt.Errorf("commit write transaction: %w", err)
	}
	s.keys.committed()
	return hooks, false, nil
}

// call runs fn, turning a panic into an error so that one caller's bug does
// not kill the writer that every caller depends on.
func call(fn func(domain.WriteTx) error, w *writeTx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			w.wrote = true // it may have stopped halfway through a write
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return fn(w)
}

// panicError carries a panic from the writer back to the Update that caused
// it, with the stack where it happened.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	return fmt.Sprintf("panic in Update fn: %v\n\n%s", p.value, p.stack)
}

// Unwrap returns the panic value when it is an error, so errors.Is and
// errors.As see through a recovered panic.
func (p *panicError) Unwrap() error {
	err, _ := p.value.(error)
	return err
}
