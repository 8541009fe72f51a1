package domain

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/proactivechat/proactivechat/server/metrics"
)

// counters are what the engine counts as it goes, for the metrics endpoint.
type counters struct {
	alertsOffered  atomic.Uint64
	alertsAccepted atomic.Uint64
	alertsExpired  atomic.Uint64
	alertsDeclined atomic.Uint64
	chatsEnded     [EndInactive + 1]atomic.Uint64
	messages       atomic.Uint64
	// massDisconnects counts the seconds in which a mass disconnect began.
	massDisconnects atomic.Uint64
	// deletedVisitors and deletedChats count what the retention sweeps
	// deleted.
	deletedVisitors atomic.Uint64
	deletedChats    atomic.Uint64
	// Streams open now, by kind.
	visitorStreams  atomic.Int64
	agentStreams    atomic.Int64
	chatStreams     atomic.Int64
	presenceStreams atomic.Int64
	eventStreams    atomic.Int64
	// messageLatency is SendMessage's time from call to durable and
	// published, in seconds.
	messageLatency *metrics.Histogram
}

func newCounters() *counters {
	return &counters{messageLatency: metrics.NewHistogram(metrics.LatencyBuckets...)}
}

// SiteStats is one site's queue and presence now.
type SiteStats struct {
	SiteID         string
	VisitorsOnline int
	QueueDepth     int
	// OldestWait is how long the first request in the queue has waited.
	OldestWait time.Duration
}

// Stats is a snapshot of the engine for monitoring.
type Stats struct {
	Sites           []SiteStats
	AgentsByStatus  map[AgentStatus]int
	ChatsActive     int
	VisitorStreams  int64
	AgentStreams    int64
	ChatStreams     int64
	PresenceStreams int64
	EventStreams    int64
	AlertsOffered   uint64
	AlertsAccepted  uint64
	AlertsExpired   uint64
	AlertsDeclined  uint64
	ChatsEnded      map[ChatEndReason]uint64
	MessagesSent    uint64
	MessageLatency  *metrics.Histogram
	// MassDisconnects counts the mass disconnects of widget streams seen.
	MassDisconnects uint64
	// RetentionDeletedVisitors and RetentionDeletedChats count what the
	// retention sweeps deleted since start.
	RetentionDeletedVisitors uint64
	RetentionDeletedChats    uint64
}

// Stats reads the engine's counters and the store's current queue, agents
// and chats, in one short read transaction.
func (s *Service) Stats(ctx context.Context) (Stats, error) {
	c := s.counters
	st := Stats{
		AgentsByStatus:  map[AgentStatus]int{},
		VisitorStreams:  c.visitorStreams.Load(),
		AgentStreams:    c.agentStreams.Load(),
		ChatStreams:     c.chatStreams.Load(),
		PresenceStreams: c.presenceStreams.Load(),
		EventStreams:    c.eventStreams.Load(),
		AlertsOffered:   c.alertsOffered.Load(),
		AlertsAccepted:  c.alertsAccepted.Load(),
		AlertsExpired:   c.alertsExpired.Load(),
		AlertsDeclined:  c.alertsDeclined.Load(),
		ChatsEnded:      map[ChatEndReason]uint64{},
		MessagesSent:    c.messages.Load(),
		MessageLatency:  c.messageLatency,
		MassDisconnects: c.massDisconnects.Load(),

		RetentionDeletedVisitors: c.deletedVisitors.Load(),
		RetentionDeletedChats:    c.deletedChats.Load(),
	}
	for r := EndBothLeft; r <= EndInactive; r++ {
		st.ChatsEnded[r] = c.chatsEnded[r].Load()
	}
	now := s.clock.Now()
	err := s.store.View(ctx, func(tx ReadTx) error {
		sites, err := tx.Sites()
		if err != nil {
			return err
		}
		open, err := tx.OpenChatRequests("")
		if err != nil {
			return err
		}
		bySite := map[string]*SiteStats{}
		for _, site := range sites {
			st.Sites = append(st.Sites, SiteStats{SiteID: site.ID, VisitorsOnline: len(s.presence.onSite(site.ID))})
		}
		for i := range st.Sites {
			bySite[st.Sites[i].SiteID] = &st.Sites[i]
		}
		for _, r := range open {
			if ss := bySite[r.SiteID]; ss != nil {
				ss.QueueDepth++
				ss.OldestWait = max(ss.OldestWait, now.Sub(r.EnqueueTime))
			}
		}
		agents, err := tx.Agents()
		if err != nil {
			return err
		}
		active := map[string]bool{}
		for _, a := range agents {
			st.AgentsByStatus[a.Status]++
			for _, id := range a.ActiveChatIDs {
				active[id] = true
			}
		}
		st.ChatsActive = len(active)
		return nil
	})
	return st, err
}

// countStream counts a stream of a kind while it is open.
func countStream(n *atomic.Int64) func() {
	n.Add(1)
	return func() { n.Add(-1) }
}
