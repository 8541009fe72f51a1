package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// TakeOver makes w, the Writer of the store f follows, lead under the
// lease l holds: it applies the log to its end, then publishes a barrier
// entry (no changes) after it and applies that too, and only then lets w
// publish. Every earlier leader's next publish expects a position before
// the barrier and is fenced, so from the moment TakeOver returns nobody
// else can have a write acknowledged; and the store holds everything any
// earlier leader had acknowledged. The caller then starts the domain (a
// restart: timers rebuilt from the stored deadlines) and reports ready.
//
// f's Run must not be running. TakeOver fails without leading if the
// lease is not held, or if another leader publishes first (ErrFenced); the
// caller may try again while it holds the lease.
func TakeOver(ctx context.Context, l *Lease, f *Follower, w *Writer) error {
	term := l.Term()
	if term == 0 {
		return fmt.Errorf("take over: %w", ErrLeaseLost)
	}
	if _, ok := w.Leading(); ok {
		return errors.New("take over: already leading")
	}
	at, err := f.CatchUp(ctx)
	if err != nil {
		return fmt.Errorf("take over: %w", err)
	}
	// Still the holder? A lease taken from this node while it caught up
	// (its heartbeats missed) would make its barrier depose the node
	// that took it: safe, but a needless second failover.
	if err := renewUntilAnswered(ctx, l); err != nil {
		return fmt.Errorf("take over: %w", err)
	}
	// The barrier is published before w leads, so that no Update
	// publishes before the store holds it.
	pos, err := w.publish(ctx, term, at, nil)
	if err != nil {
		return fmt.Errorf("take over: publish barrier: %w", err)
	}
	if err := f.apply(&Entry{Position: pos, Prev: at}); err != nil {
		return fmt.Errorf("take over: %w", err)
	}
	w.lead(term)
	return nil
}

// renewUntilAnswered renews l, again while the servers do not answer (the
// lease bucket's JetStream group electing a leader after its leader's
// server died with the old leader: seconds), until a renewal succeeds or
// the lease is lost (taken, or not renewed within its TTL). Giving up on
// the first timeout ended the takeover, and the node had to win the
// lease again and catch up again, seconds more without a leader.
func renewUntilAnswered(ctx context.Context, l *Lease) error {
	for {
		err := l.Renew(ctx)
		if err == nil || errors.Is(err, ErrLeaseLost) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(renewRetry):
		}
	}
}

// renewRetry is the pause between renewals a takeover tries again.
const renewRetry = 100 * time.Millisecond
