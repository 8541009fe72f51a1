package domain

// Broker fans live events out to the streams that follow them. Events are
// published only after what they describe is durable; a subscriber that falls
// behind is cut off and recovers from the Store, so the Broker may drop
// events but never reorders those of one topic.
type Broker interface {
	// Subscribe starts receiving events published to topic from now on.
	Subscribe(topic string) Subscription
	// SubscribeBuffer is Subscribe with room for buffer events, or the
	// Broker's default when buffer <= 0.
	SubscribeBuffer(topic string, buffer int) Subscription
	// Publish sends ev to the topic's subscribers without blocking.
	Publish(topic string, ev any)
}

// Subscription is one subscriber's feed.
type Subscription interface {
	// Events yields published events. It is closed when the broker cut the
	// subscriber off for falling behind (Dropped then reports true) or after
	// Close.
	Events() <-chan any
	// Dropped reports whether events were lost because the subscriber was
	// too slow.
	Dropped() bool
	Close()
}

// hintBuffer is the buffer of subscriptions whose events only say "read
// the state again" (VisitorChanged): a subscriber that falls further behind
// is cut off, subscribes again and reads the state, which loses nothing.
// Every widget stream holds one, so it is small.
const hintBuffer = 4

// Topic names. Chat topics carry ChatEvent and Typing; visitor topics carry
// VisitorChanged; note topics (noteTopic, notes.go) carry ChatNote, for
// agents only. Presence lives in this process only and reaches agents'
// streams without the Broker (presenceTracker.publish).
func chatTopic(chatID string) string       { return "chat/" + chatID }
func visitorTopic(visitorID string) string { return "visitor/" + visitorID }

// VisitorChanged tells a visitor's streams that its state changed (its chat
// started or ended, say) or that its place in the queue moved.
type VisitorChanged struct {
	VisitorID string
}

func agentTopic(agentID string) string { return "agent/" + agentID }
func queueTopic(siteID string) string  { return "queue/" + siteID }

// AlertEvent, on an agent's topic, offers the agent a chat request.
type AlertEvent struct {
	Request ChatRequest
	Reason  string
	// Position is the log position of the request.alerted event: the
	// request's changes on its queue topic before it are older (requestOrder).
	Position uint64
}

// AlertWithdrawn, on an agent's topic, takes an alert back.
type AlertWithdrawn struct {
	RequestID string
	Reason    string
}

// AgentChanged, on an agent's topic, carries the agent's new record.
type AgentChanged struct {
	Agent Agent
}

// QueueEvent, on a site's queue topic, carries a chat request that was
// queued, alerted, or closed. Every subscriber gets the same Request, which
// nobody changes: a transport may encode it once for all of them.
type QueueEvent struct {
	Request *ChatRequest
	// Position is the log position of the event that changed the request
	// (the last one of its transaction to name it carries the same state).
	Position uint64
}

func (s *Service) publishAgent(a *Agent) {
	s.broker.Publish(agentTopic(a.ID), AgentChanged{Agent: *a})
}

// queueChanged tells agents watching the site's queue, and asks for the
// visitors waiting in it to be told of their new positions. Those are told
// by queuePositions, only the ones whose position changed and at a
// person's pace, rather than on the queue topic: a busy site's queue moves
// hundreds of times a second, and each waiting visitor that heard of every
// move read its state every time.
func (s *Service) queueChanged(req *ChatRequest, position uint64) {
	r := *req // the caller's goes on changing
	s.broker.Publish(queueTopic(req.SiteID), QueueEvent{Request: &r, Position: position})
	s.positions.queueMoved(req.SiteID)
}
