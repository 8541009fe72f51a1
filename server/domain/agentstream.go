package domain

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultAgentQueueInterval is how often at most an agent's console is sent
// the changes of its sites' queues. At hundreds of new chat requests a second,
// sending every agent every change (queued, alerting, accepted) is most of
// the server's work, while a person reads a queue at about this pace. The
// first change after a quiet interval goes out at once; the changes of the
// interval after it go together when it ends, only the latest of each
// request. Alerts and withdrawn alerts are never held back.
const DefaultAgentQueueInterval = 200 * time.Millisecond

// queueBuffer is the buffer of an agent stream's queue subscriptions: at
// hundreds of new requests a second each makes several changes, and a
// stream cut off for falling behind starts again with a snapshot of the
// whole queue, which at that rate is cut off again. Measured at 500 new
// requests a second with 60 agents: 256 events let 911 streams be cut off
// (before queue changes were batched and encoded once), 1,024 none now
// (16 KiB per agent stream and site).
const queueBuffer = 1024

// queueBatcher holds an agent stream's queue changes between sends. Its
// Events say when a held batch is due, so that the stream's loop, which
// owns everything else here, sends it.
type queueBatcher struct {
	clock    Clock
	interval time.Duration
	due      chan any // queueDue when the held batch is due; closed by Close

	mu     sync.Mutex // orders the timer's send with Close
	closed bool

	lastSent time.Time
	held     []*ChatRequest
	index    map[string]int // request id → its place in held
	timer    Timer          // armed while changes are held
}

// queueDue is the event of a queueBatcher whose held changes are due.
type queueDue struct{}

func newQueueBatcher(clock Clock, interval time.Duration) *queueBatcher {
	return &queueBatcher{clock: clock, interval: interval, due: make(chan any, 1)}
}

// add sends req now if the last send is an interval old, or holds it
// (replacing an older change of the same request) until the interval ends.
func (b *queueBatcher) add(req *ChatRequest, send func(AgentUpdate) error) error {
	now := b.clock.Now()
	if b.timer == nil && now.Sub(b.lastSent) >= b.interval {
		b.lastSent = now
		return send(AgentUpdate{QueueChanged: req})
	}
	if i, ok := b.index[req.ID]; ok {
		b.held[i] = req
	} else {
		if b.index == nil {
			b.index = map[string]int{}
		}
		b.index[req.ID] = len(b.held)
		b.held = append(b.held, req)
	}
	if b.timer == nil {
		b.timer = b.clock.AfterFunc(b.lastSent.Add(b.interval).Sub(now), func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.closed {
				return
			}
			select {
			case b.due <- queueDue{}:
			default:
			}
		})
	}
	return nil
}

// flush sends the held changes, in the order their requests first changed.
func (b *queueBatcher) flush(send func(AgentUpdate) error) error {
	b.timer = nil
	b.lastSent = b.clock.Now()
	held := b.held
	b.held, b.index = nil, nil
	for _, req := range held {
		if err := send(AgentUpdate{QueueChanged: req}); err != nil {
			return err
		}
	}
	return nil
}

// Events, Dropped and Close make a queueBatcher a Subscription of the
// stream's loop.
func (b *queueBatcher) Events() <-chan any { return b.due }
func (b *queueBatcher) Dropped() bool      { return false }

// Close stops the timer; the held changes are dropped (a stream that
// starts again begins with a snapshot of the queue).
func (b *queueBatcher) Close() {
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.due)
	}
}

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
	QueueChanged   *ChatRequest // the same for every stream: read only
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
			subs = append(subs, s.broker.SubscribeBuffer(queueTopic(site), queueBuffer))
		}
		snapAgent, err := s.sendAgentSnapshot(ctx, agentID, send)
		if err == nil && !slices.Equal(snapAgent.SiteIDs, agent.SiteIDs) {
			// The agent's sites changed before the subscriptions were in
			// place, so their change may have been missed: start again.
			err = errResubscribe
		}
		if err == nil {
			queue := newQueueBatcher(s.clock, s.queueEvery)
			err = s.followAgent(ctx, append(subs, queue), agent.SiteIDs, ticker, queue, send)
			queue.Close()
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

func (s *Service) followAgent(ctx context.Context, subs []Subscription, siteIDs []string, ticker *ticker, queue *queueBatcher, send func(AgentUpdate) error) error {
	return s.followMerged(ctx, subs, ticker, func(ev any, keepAlive time.Time) error {
		var u AgentUpdate
		switch ev := ev.(type) {
		case AlertEvent:
			a := s.alertFor(ev.Request, ev.Reason)
			u.Alert = &a
		case AlertWithdrawn:
			u.AlertWithdrawn = &ev
		case QueueEvent:
			return queue.add(ev.Request, send)
		case queueDue:
			return queue.flush(send)
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
	_, err := s.setAgentStatus(s.ctx, agentID, StatusOffline, back)
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("agent/"+agentID, err, func() { s.agentGone(agentID) }) {
		s.log.Error("taking a disconnected agent offline failed", "agent", agentID, "err", err)
	}
}
