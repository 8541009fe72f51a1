package domain

import (
	"context"
	"time"
)

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
	c := s.creds.(*credentials)
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cache)
}

// PresenceWatchers is how many presence streams' backlogs the tracker
// feeds, counted once per site.
func (s *Service) PresenceWatchers() int {
	t := s.presence.(*presenceTracker)
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, w := range t.watchers {
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

// Update exports update, the Updates of the domain, to the tests.
func (s *Service) Update(ctx context.Context, fn func(WriteTx) error) error { return s.update(ctx, fn) }

// Record exports record to the tests.
func (s *Service) Record(tx WriteTx, ev Event) error { return s.record(tx, ev) }

// Quiet exports quiet to the tests.
func Quiet(tx WriteTx, why string, write func() error) error { return quiet(tx, why, write) }

// CapsBlock exports capsBlock to the tests.
func CapsBlock(site *Site, r TriggerRule, v *Visitor, visitStart, now time.Time) (string, time.Time) {
	return capsBlock(site, r, v, visitStart, now)
}

// EvaluateQuietly exports evaluate without explanations (the launch
// path's) to the tests.
func EvaluateQuietly(r TriggerRule, f Facts, now time.Time) Evaluation {
	return evaluate(r, f, now, false)
}

// StartFollowAgent subscribes to the agent's topic as WatchAgent does after
// a snapshot read at log position floor, and returns the stream's loop
// over it and queue (the site's queue topic, as the test feeds it).
func (s *Service) StartFollowAgent(ctx context.Context, agentID string, siteIDs []string, queue Subscription, floor uint64, send func(AgentUpdate) error) (run func() error) {
	feed := s.followAgentTopic(agentID, siteIDs, true)
	return func() error {
		defer feed.close()
		ticker := newTicker(s.clock, s.keepAlive)
		defer ticker.stop()
		batch := newQueueBatcher(s.clock, s.queueEvery)
		defer batch.Close()
		return s.followAgent(ctx, feed, []Subscription{queue, batch}, ticker, batch, &requestOrder{floor: floor}, send)
	}
}

// PublishToAgent publishes ev on the agent's topic.
func (s *Service) PublishToAgent(agentID string, ev any) { s.broker.Publish(agentTopic(agentID), ev) }
