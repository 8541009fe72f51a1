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
	held     []QueueEvent
	index    map[string]int // request id → its place in held
	timer    Timer          // armed while changes are held
}

// queueDue is the event of a queueBatcher whose held changes are due.
type queueDue struct{}

func newQueueBatcher(clock Clock, interval time.Duration) *queueBatcher {
	return &queueBatcher{clock: clock, interval: interval, due: make(chan any, 1)}
}

// add sends ev now if the last send is an interval old, or holds it
// (replacing an older change of the same request) until the interval ends.
func (b *queueBatcher) add(ev QueueEvent, send func(QueueEvent) error) error {
	now := b.clock.Now()
	if b.timer == nil && now.Sub(b.lastSent) >= b.interval {
		b.lastSent = now
		return send(ev)
	}
	if i, ok := b.index[ev.Request.ID]; ok {
		if ev.Position >= b.held[i].Position {
			b.held[i] = ev
		}
	} else {
		if b.index == nil {
			b.index = map[string]int{}
		}
		b.index[ev.Request.ID] = len(b.held)
		b.held = append(b.held, ev)
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
func (b *queueBatcher) flush(send func(QueueEvent) error) error {
	b.timer = nil
	b.lastSent = b.clock.Now()
	held := b.held
	b.held, b.index = nil, nil
	for _, ev := range held {
		if err := send(ev); err != nil {
			return err
		}
	}
	return nil
}

// requestOrder keeps an agent stream from sending a chat request's state
// older than one it has sent. The stream's alerts come from the agent's
// topic and its queue's changes from the site's topic, through a goroutine
// and the batcher: a change the queue topic carried before an alert (the
// request queued) can reach the stream after the alert. A console must
// take a request it is told is queued after its alert as the alert gone
// elsewhere, and the agent never saw the alert again: so each stream keeps
// every request's changes in log order (Position; 0 is unordered).
type requestOrder struct {
	// floor is the log position the stream's snapshot was read at: the
	// changes up to it are in the snapshot.
	floor uint64
	// alerted holds the position of each alert sent, until a change of
	// its request from the queue topic at or after it has been sent:
	// from then on the queue topic's own order keeps the rest in order.
	alerted map[string]uint64
}

// alert reports whether an alert is to be sent, and notes it.
func (o *requestOrder) alert(ev AlertEvent) bool {
	if ev.Position == 0 {
		return true
	}
	if ev.Position <= o.floor {
		return false // in the snapshot, or taken back since
	}
	if o.alerted == nil {
		o.alerted = map[string]uint64{}
	}
	o.alerted[ev.Request.ID] = ev.Position
	return true
}

// stale reports whether a queue change is older than what the stream sent
// of its request; one that is not is taken as sent.
func (o *requestOrder) stale(ev QueueEvent) bool {
	if ev.Position == 0 {
		return false
	}
	if ev.Position <= o.floor {
		return true
	}
	if at, ok := o.alerted[ev.Request.ID]; ok {
		if ev.Position < at {
			return true
		}
		delete(o.alerted, ev.Request.ID)
	}
	return false
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
	Whisper        *Whisper
}

// WatchAgent is the agent console's stream: a snapshot of the agent, the
// queue of its sites and its alerts, then every change, until ctx ends or
// send fails. While it is open the agent is connected; when the agent's
// last stream has been closed for the agent grace period, the agent goes
// offline and its alerts move on to other agents. Its chats stay: a console
// reload or a short network loss must not end them, and a chat nobody
// writes in ends by the inactivity timeout. When the agent's sites change
// the stream starts again with a snapshot of its new sites. Once
// UpdateAgent has returned, nothing of a site taken away is sent but what
// the stream was already sending, and the withdrawals of the alerts it had
// sent: what its topics still held of the old sites is dropped.
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
		// The agent's topic is read by the stream's loop itself, so that
		// it can look there before it sends anything of a site (agentFeed);
		// the queues' events come through one goroutine each.
		feed := s.followAgentTopic(agentID, agent.SiteIDs, true)
		var queues []Subscription
		for _, site := range agent.SiteIDs {
			queues = append(queues, s.broker.SubscribeBuffer(queueTopic(site), queueBuffer))
		}
		snapAgent, floor, err := s.sendAgentSnapshot(ctx, agentID, send)
		if err == nil && !slices.Equal(snapAgent.SiteIDs, agent.SiteIDs) {
			// The agent's sites changed before the subscriptions were in
			// place, so their change may have been missed: start again.
			err = errResubscribe
		}
		if err == nil {
			queue := newQueueBatcher(s.clock, s.queueEvery)
			err = s.followAgent(ctx, feed, append(queues, queue), ticker, queue, &requestOrder{floor: floor}, send)
			queue.Close()
		}
		feed.close()
		for _, sub := range queues {
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

// sendAgentSnapshot sends the agent, its sites' queues and its alerts, and
// returns the agent and the log position they were read at.
func (s *Service) sendAgentSnapshot(ctx context.Context, agentID string, send func(AgentUpdate) error) (*Agent, uint64, error) {
	snap := &AgentSnapshot{Queue: []*ChatRequest{}}
	var at uint64
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if snap.Agent, err = tx.Agent(agentID); err != nil {
			return err
		}
		at = tx.LastEventPosition()
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
		return nil, 0, err
	}
	for _, r := range snap.Queue {
		if r.State == RequestAlerting && r.AlertedAgentID == agentID {
			snap.Alerts = append(snap.Alerts, s.alertFor(*r, r.AlertReason))
		}
	}
	return snap.Agent, at, send(AgentUpdate{Snapshot: snap})
}

func (s *Service) alertFor(req ChatRequest, reason string) Alert {
	p, _ := s.presence.get(req.VisitorID)
	return Alert{Request: req, Reason: reason, Visitor: p}
}

// followAgent passes on the events of the agent's topic (feed) and of its
// sites' queues (merged from queues, of which queue is the batcher) until
// ctx or the Service ends, send fails, or the stream must start again
// (errResubscribe): a subscription was cut off, or the agent's sites
// changed. Nothing of a site is sent before the agent's topic has been
// looked at (agentFeed): a change of the agent's sites there wins, and the
// stream then sends nothing more of the old sites but the withdrawals of
// the alerts it had sent, and the change itself.
func (s *Service) followAgent(ctx context.Context, feed *agentFeed, queues []Subscription, ticker *ticker, queue *queueBatcher, order *requestOrder, send func(AgentUpdate) error) error {
	merged, stop := mergeSubscriptions(queues)
	defer stop()
	sendQueue := func(ev QueueEvent) error {
		if order.stale(ev) {
			return nil
		}
		return send(AgentUpdate{QueueChanged: ev.Request})
	}
	sendAhead := func() error {
		for ev, ok := feed.next(); ok; ev, ok = feed.next() {
			if err := s.agentEvent(feed, order, ev, send); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		// The agent's events read ahead come first, in their order.
		if err := sendAhead(); err != nil {
			return err
		}
		if feed.changed {
			// The agent's sites changed: start again, following the
			// queues of the new ones, or the console would get alerts
			// of a site whose queue it never sees.
			if feed.change != nil {
				if err := send(AgentUpdate{AgentChanged: &feed.change.Agent}); err != nil {
					return err
				}
			}
			return errResubscribe
		}
		var err error
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.Done():
			return errShuttingDown
		case now := <-ticker.c:
			err = send(AgentUpdate{KeepAlive: now})
		case ev, ok := <-feed.sub.Events():
			feed.take(ev, ok) // handled at the top of the loop
		case ev := <-merged:
			if e, isErr := ev.(error); isErr {
				return e
			}
			if feed.changedAhead() {
				continue // of a site the agent may no longer serve: dropped
			}
			// An alert read ahead goes before the queue's change, which
			// may be older (requestOrder).
			if err := sendAhead(); err != nil {
				return err
			}
			switch ev := ev.(type) {
			case QueueEvent:
				if !order.stale(ev) {
					err = queue.add(ev, sendQueue)
				}
			case queueDue:
				err = queue.flush(sendQueue)
			}
		}
		if err != nil {
			return err
		}
	}
}

// agentEvent sends one event of the agent's topic that did not change the
// agent's sites, unless a change of them is ahead: then only a withdrawn
// alert goes (it takes back what the console was shown), and the rest is
// dropped for the snapshot to come.
func (s *Service) agentEvent(feed *agentFeed, order *requestOrder, ev any, send func(AgentUpdate) error) error {
	if w, ok := ev.(AlertWithdrawn); ok {
		return send(AgentUpdate{AlertWithdrawn: &w})
	}
	if w, ok := ev.(WhisperEvent); ok {
		// Of the agent's own chat, whatever its sites: always sent.
		return send(AgentUpdate{Whisper: &w.Whisper})
	}
	if feed.changedAhead() {
		return nil
	}
	switch ev := ev.(type) {
	case AlertEvent:
		if !order.alert(ev) {
			return nil
		}
		a := s.alertFor(ev.Request, ev.Reason)
		return send(AgentUpdate{Alert: &a})
	case AgentChanged:
		return send(AgentUpdate{AgentChanged: &ev.Agent})
	}
	return nil
}

// mergeSubscriptions passes the events of subs to one channel, each through
// a goroutine of its own; a subscription cut off for falling behind passes
// errResubscribe. stop ends the goroutines.
func mergeSubscriptions(subs []Subscription) (merged <-chan any, stop func()) {
	ch := make(chan any)
	done := make(chan struct{})
	for _, sub := range subs {
		go func() {
			for ev := range sub.Events() {
				select {
				case ch <- ev:
				case <-done:
					return
				}
			}
			select {
			case ch <- errResubscribe:
			case <-done:
			}
		}()
	}
	return ch, func() { close(done) }
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
