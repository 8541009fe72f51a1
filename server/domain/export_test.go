package domain

import "time"

// QueuePositionRefresh exports queuePositionRefresh to the tests.
const QueuePositionRefresh = queuePositionRefresh

// QueuePositionPasses is how many passes over a site's queue positions have
// started.
func (s *Service) QueuePositionPasses() int {
	s.positions.mu.Lock()
	defer s.positions.mu.Unlock()
	return s.positions.passes
}

// WaitQueuePositionPasses waits until the passes started so far are over,
// so that a test listening from now on hears none of their hints. No pass
// may start meanwhile.
func (s *Service) WaitQueuePositionPasses() { s.positions.wg.Wait() }

// QueuePositionSites is how many sites the queue position refresher keeps.
func (s *Service) QueuePositionSites() int {
	s.positions.mu.Lock()
	defer s.positions.mu.Unlock()
	return len(s.positions.sites)
}

// CachedPrincipals is how many authenticated tokens the Service remembers.
func (s *Service) CachedPrincipals() int {
	s.creds.mu.Lock()
	defer s.creds.mu.Unlock()
	return len(s.creds.cache)
}

// PresenceWatchers is how many presence streams' backlogs the tracker
// feeds, counted once per site.
func (s *Service) PresenceWatchers() int {
	s.presence.mu.Lock()
	defer s.presence.mu.Unlock()
	n := 0
	for _, w := range s.presence.watchers {
		n += len(w)
	}
	return n
}

// PendingAfter runs the mass disconnect watcher's pruning over departures
// of streams closed at the given times, and returns the times it keeps.
func PendingAfter(closed []time.Time, t time.Time) []time.Time {
	pending := make([]pendingDeparture, len(closed))
	for i, at := range closed {
		pending[i] = pendingDeparture{v: &visit{}, closedAt: at}
	}
	kept := departedBefore(pending, t)
	for _, p := range pending[len(kept):] {
		if p.v != nil {
			panic("a dropped departure is still referenced")
		}
	}
	out := make([]time.Time, len(kept))
	for i, p := range kept {
		out[i] = p.closedAt
	}
	return out
}

// WaitRouting waits until the routing passes started so far are over. No
// pass may start meanwhile.
func (s *Service) WaitRouting() { s.router.wait() }

// SetChatScanLimit sets how many chats one ListChats call reads at most,
// until the test ends.
func SetChatScanLimit(t interface{ Cleanup(func()) }, n int) {
	old := chatScanLimit
	chatScanLimit = n
	t.Cleanup(func() { chatScanLimit = old })
}

// WaitPercentile exports waitPercentile to the tests.
var WaitPercentile = waitPercentile

// CapsBlock exports capsBlock to the tests.
func CapsBlock(site *Site, r TriggerRule, v *Visitor, visitStart, now time.Time) (string, time.Time) {
	return capsBlock(site, r, v, visitStart, now)
}

// EvaluateQuietly exports evaluate without explanations (the launch
// path's) to the tests.
func EvaluateQuietly(r TriggerRule, f Facts, now time.Time) Evaluation {
	return evaluate(r, f, now, false)
}
