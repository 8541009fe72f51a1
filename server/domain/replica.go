package domain

import "context"

// A replica is a Service that serves reads of a store another Service
// writes (Config.Replica): on a cluster's follower, the leader's log
// fills the follower's file, and a replica answers from it. A replica is
// never started (Start): it runs no timers, no routing, no presence, and
// it must only be asked what reads the store alone (the event log, chats,
// sites and agents as stored; not who is online, nor the queue's order).
// FollowWrites is all that keeps it current: what the leader's commit
// handler does for the leader's streams, FollowWrites does for the
// replica's, from the events the file gains.

// FollowWrites keeps s, a replica, in step with the writes made to its
// store by another Service, until ctx ends or s closes: moved returns a
// channel that is closed once the store has changed since the call
// (cluster.Follower.Changed). Each event the store gains reaches s's
// event-log streams (WatchEvents), in position order; a revocation
// (revokes) ends the streams of the credential it names and drops it from
// s's cache. It returns ctx.Err(), nil when s closed, or a read's error.
// Visitors' tokens, which may go without an event, a replica does not
// cache (Authenticate).
func (s *Service) FollowWrites(ctx context.Context, moved func() <-chan struct{}) error {
	var last uint64
	err := s.store.View(ctx, func(tx ReadTx) error {
		last = tx.LastEventPosition()
		return nil
	})
	if err != nil {
		return err
	}
	for {
		// The channel first: a change made while the store is read
		// closes it, and is read next time round.
		ch := moved()
		for {
			var evs []*Event
			var end uint64
			err := s.store.View(ctx, func(tx ReadTx) error {
				var err error
				evs, err = tx.Events(last, catchUpPage)
				end = tx.LastEventPosition()
				return err
			})
			if err != nil {
				return err
			}
			for _, ev := range evs {
				s.followed(ev)
				last = ev.Position
			}
			if len(evs) < catchUpPage {
				// The last events may have been deleted (retention).
				last = max(last, end)
				break
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return nil
		}
	}
}

// followed is what a replica does of an event the store gained: the part
// of the commit handler (committed, handle) that concerns reads.
func (s *Service) followed(ev *Event) {
	s.broker.Publish(eventsTopic, ev)
	if match := ev.revokes(); match != nil {
		s.creds.revoke(match)
	}
}

// revokes matches the credentials the event takes away, or is nil. It
// reads only what the log stores of the event, so a replica, which reads
// the event from its file, ends the same streams as the leader.
func (ev *Event) revokes() func(Principal) bool {
	switch ev.Type {
	case EventAPIKeyRevoked:
		id := ev.APIKeyID
		return func(p Principal) bool { return p.Kind == AdminPrincipal && p.ID == id }
	case EventAgentSessionRevoked:
		id := ev.SessionID
		return func(p Principal) bool { return p.Kind == AgentPrincipal && p.SessionID == id }
	}
	return nil
}
