package domain

import (
	"context"
	"slices"
	"sync"
	"time"
)

// agentConns counts each agent's open WatchAgent streams: an agent is
// connected while one is open.
type agentConns struct {
	mu   sync.Mutex
	open map[string]int
}

func (c *agentConns) add(agentID string, delta int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.open[agentID] += delta
	n := c.open[agentID]
	if n == 0 {
		delete(c.open, agentID)
	}
	return n
}

// Alert offers a chat request to an agent.
type Alert struct {
	Request ChatRequest
	Reason  string
	// Visitor is the visitor's presence now; zero when not online.
	Visitor Presence
}

// AgentSnapshot is the first message of an agent's stream.
type AgentSnapshot struct {
	Agent  *Agent
	Queue  []*ChatRequest
	Alerts []Alert
}

// AgentUpdate is one message of an agent's stream: exactly one field is set.
type AgentUpdate struct {
	Snapshot       *AgentSnapshot
	Alert          *Alert
	AlertWithdrawn *AlertWithdrawn
	QueueChanged   *ChatRequest
	AgentChanged   *Agent
	KeepAlive      time.Time
}

// WatchAgent is the agent console's stream: a snapshot of the agent, the
// queue of its sites and its alerts, then every change, until ctx ends or
// send fails. While it is open the agent is connected; when the agent's
// last stream has been closed for the agent grace period, the agent goes
// offline and its alerts move on to other agents. Its chats stay: a console
// reload or a short network loss must not end them, and a chat nobody
// writes in ends by the inactivity timeout.
func (s *Service) WatchAgent(ctx context.Context, agentID string, send func(AgentUpdate) error) error {
	agent, err := s.GetAgent(ctx, agentID)
	if err != nil {
		return err
	}
	defer countStream(&s.counters.agentStreams)()
	if s.agents.add(agentID, 1) == 1 {
		s.timers.cancel("agent/" + agentID)
	}
	defer func() {
		if s.agents.add(agentID, -1) == 0 {
			s.timers.at("agent/"+agentID, s.clock.Now().Add(s.agentGrace), func() { s.agentGone(agentID) })
		}
	}()
	ticker := newTicker(s.clock, s.keepAlive)
	defer ticker.stop()
	for {
		subs := []Subscription{s.broker.Subscribe(agentTopic(agentID))}
		for _, site := range agent.SiteIDs {
			subs = append(subs, s.broker.Subscribe(queueTopic(site)))
		}
		snapAgent, err := s.sendAgentSnapshot(ctx, agentID, send)
		if err == nil && !slices.Equal(snapAgent.SiteIDs, agent.SiteIDs) {
			// The agent's sites changed before the subscriptions were in
			// place, so their change may have been missed: start again.
			err = errResubscribe
		}
		if err == nil {
			err = s.followAgent(ctx, subs, agent.SiteIDs, ticker, send)
		}
		for _, sub := range subs {
			sub.Close()
		}
		if err != errResubscribe {
			return err
		}
		// Re-read the agent: its sites may be why the stream starts again.
		if agent, err = s.GetAgent(ctx, agentID); err != nil {
			return err
		}
	}
}

func (s *Service) sendAgentSnapshot(ctx context.Context, agentID string, send func(AgentUpdate) error) (*Agent, error) {
	snap := &AgentSnapshot{Queue: []*ChatRequest{}}
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if snap.Agent, err = tx.Agent(agentID); err != nil {
			return err
		}
		for _, site := range snap.Agent.SiteIDs {
			reqs, err := tx.OpenChatRequests(site)
			if err != nil {
				return err
			}
			snap.Queue = append(snap.Queue, reqs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range snap.Queue {
		if r.State == RequestAlerting && r.AlertedAgentID == agentID {
			snap.Alerts = append(snap.Alerts, s.alertFor(*r, r.AlertReason))
		}
	}
	return snap.Agent, send(AgentUpdate{Snapshot: snap})
}

func (s *Service) alertFor(req ChatRequest, reason string) Alert {
	p, _ := s.presence.get(req.VisitorID)
	return Alert{Request: req, Reason: reason, Visitor: p}
}

func (s *Service) followAgent(ctx context.Context, subs []Subscription, siteIDs []string, ticker *ticker, send func(AgentUpdate) error) error {
	return s.followMerged(ctx, subs, ticker, func(ev any, keepAlive time.Time) error {
		var u AgentUpdate
		switch ev := ev.(type) {
		case AlertEvent:
			a := s.alertFor(ev.Request, ev.Reason)
			u.Alert = &a
		case AlertWithdrawn:
			u.AlertWithdrawn = &ev
		case QueueEvent:
			u.QueueChanged = &ev.Request
		case AgentChanged:
			u.AgentChanged = &ev.Agent
			if !slices.Equal(ev.Agent.SiteIDs, siteIDs) {
				// The agent's sites changed: start again, following the
				// queues of the new ones, or the console would get alerts
				// of a site whose queue it never sees.
				if err := send(u); err != nil {
					return err
				}
				return errResubscribe
			}
		default:
			if keepAlive.IsZero() {
				return nil
			}
			u.KeepAlive = keepAlive
		}
		return send(u)
	})
}

// agentGone is the agent grace timer: the agent's console has been gone
// for the grace period.
func (s *Service) agentGone(agentID string) {
	back := func() bool {
		s.agents.mu.Lock()
		defer s.agents.mu.Unlock()
		return s.agents.open[agentID] > 0
	}
	// Checked in the transaction: a console that reconnected as the timer
	// fired keeps the agent as it was.
	if _, err := s.setAgentStatus(s.ctx, agentID, StatusOffline, back); err != nil && s.ctx.Err() == nil {
		s.log.Error("taking a disconnected agent offline failed", "agent", agentID, "err", err)
	}
}
