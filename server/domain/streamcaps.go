package domain

import (
	"sync"
	"sync/atomic"
)

// StreamKind is a kind of long-lived stream that each credential may hold
// only so many of at once (see StreamCap).
type StreamKind int

// The kinds of stream capped per credential. WatchVisitor is not one of
// them: a visitor's widget streams are capped per visitor by the presence
// tracker, which counts them anyway (MaxStreamsPerVisitor).
const (
	StreamWatchAgent StreamKind = iota + 1
	StreamWatchPresence
	StreamWatchChat
	StreamConverse
	StreamWatchEvents
	numStreamKinds = iota
)

// StreamKinds lists the kinds of stream capped per credential.
var StreamKinds = []StreamKind{StreamWatchAgent, StreamWatchPresence, StreamWatchChat, StreamConverse, StreamWatchEvents}

func (k StreamKind) String() string {
	switch k {
	case StreamWatchAgent:
		return "WatchAgent"
	case StreamWatchPresence:
		return "WatchPresence"
	case StreamWatchChat:
		return "WatchChat"
	case StreamConverse:
		return "Converse"
	case StreamWatchEvents:
		return "WatchEvents"
	}
	return "unknown"
}

// StreamCap is how many streams of one kind a credential may hold open at
// once: each agent session, each admin API key and each visitor counts on
// its own. A principal the access rules never let open the kind has 0.
// Every open stream parks goroutines and buffers (20 to 40 KiB, more with
// a backlog), and one agent session once held 5,000 WatchPresence streams:
// the caps bound what one credential can pin, well above what its clients
// need. The stream past the cap is refused with CodeResourceExhausted.
type StreamCap struct {
	PerAgentSession int
	PerAdminKey     int
	PerVisitor      int
}

// streamCaps is the one place the caps are set; the README lists them.
//
//   - WatchAgent and WatchPresence: a console holds one of each. A session
//     lives in one browser tab's sessionStorage, which a duplicated tab
//     shares, and a console that reconnects opens its new stream before the
//     server notices its old connection vanished (an HTTP/2 ping, up to
//     45 s): 16 leaves room for 8 tabs reconnecting once each.
//   - WatchChat and Converse by an agent: a console follows each of its
//     chats (up to MaxConcurrentChatsCap, 100) and the transcripts it opens,
//     and agents may follow their sites' other chats: 256 is every chat of
//     the largest capacity twice over, with room for transcripts. It does
//     not follow the agent's own capacity, so that lowering that capacity
//     never cuts off the streams of chats the agent already has.
//   - WatchChat by an admin key: an integrator mirroring chats into its
//     own system follows many at once; 1,024 (about 20 to 40 MiB of
//     streams), and another key for more.
//   - WatchChat and Converse by a visitor: a visitor is in one chat at a
//     time; 8 tabs, as for its widget streams.
//   - WatchEvents by an admin key: one stream carries the whole log, so an
//     integration needs one, or one per site or consumer; 16 leaves room
//     for those and for reconnects before the old stream is noticed gone.
var streamCaps = [numStreamKinds + 1]StreamCap{
	StreamWatchAgent:    {PerAgentSession: 16},
	StreamWatchPresence: {PerAgentSession: 16},
	StreamWatchChat:     {PerAgentSession: 256, PerAdminKey: 1024, PerVisitor: 8},
	StreamConverse:      {PerAgentSession: 256, PerVisitor: 8},
	StreamWatchEvents:   {PerAdminKey: 16},
}

// StreamCapOf returns the caps of a kind of stream.
func StreamCapOf(kind StreamKind) StreamCap {
	if kind < 1 || kind > numStreamKinds {
		return StreamCap{}
	}
	return streamCaps[kind]
}

// For returns the cap for a principal of kind p.
func (c StreamCap) For(p PrincipalKind) int {
	switch p {
	case AgentPrincipal:
		return c.PerAgentSession
	case AdminPrincipal:
		return c.PerAdminKey
	case VisitorPrincipal:
		return c.PerVisitor
	}
	return 0
}

// streamHolder is who holds streams of a kind: an agent session, an admin
// key or a visitor.
type streamHolder struct {
	stream StreamKind
	kind   PrincipalKind
	id     string
}

func holderOf(p Principal, kind StreamKind) streamHolder {
	id := p.ID // an admin key's or a visitor's id
	if p.Kind == AgentPrincipal {
		id = p.SessionID // each session of an agent counts on its own
	}
	return streamHolder{stream: kind, kind: p.Kind, id: id}
}

// streamCounts counts the capped streams open, by holder.
type streamCounts struct {
	mu   sync.Mutex
	open map[streamHolder]int
	peak int // for shrunk
	// refused counts the streams refused for a cap, by kind, for metrics.
	refused [numStreamKinds + 1]atomic.Uint64
}

func newStreamCounts() *streamCounts {
	return &streamCounts{open: map[streamHolder]int{}}
}

// OpenStream counts a stream of kind held by p, or refuses it with
// CodeResourceExhausted when p already holds its cap of them; a refused
// stream counts for nothing. Call release, once, when the stream ends.
func (s *Service) OpenStream(p Principal, kind StreamKind) (release func(), err error) {
	c := s.streams
	h := holderOf(p, kind)
	limit := StreamCapOf(kind).For(p.Kind)
	c.mu.Lock()
	n := c.open[h]
	if n >= limit {
		c.mu.Unlock()
		if kind >= 1 && kind <= numStreamKinds {
			c.refused[kind].Add(1)
		}
		return nil, Errorf(CodeResourceExhausted,
			"this %s already has %d open %s streams, the most it may hold at once; close one before opening another", credentialNoun(p.Kind), n, kind)
	}
	c.open[h] = n + 1
	c.peak = max(c.peak, len(c.open))
	c.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { c.closed(h) }) }, nil
}

func (c *streamCounts) closed(h streamHolder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[h]--; c.open[h] <= 0 {
		delete(c.open, h)
		c.open = shrunk(c.open, &c.peak)
	}
}

// StreamsRefused counts the streams refused for a cap since start, by kind.
func (s *Service) StreamsRefused() map[StreamKind]uint64 {
	out := make(map[StreamKind]uint64, numStreamKinds)
	for _, k := range StreamKinds {
		out[k] = s.streams.refused[k].Load()
	}
	return out
}

func credentialNoun(k PrincipalKind) string {
	switch k {
	case AgentPrincipal:
		return "agent session"
	case AdminPrincipal:
		return "admin API key"
	case VisitorPrincipal:
		return "visitor"
	}
	return "caller"
}
