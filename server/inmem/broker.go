// Package inmem holds in-process implementations of domain ports.
package inmem

import (
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/proactivechat/proactivechat/server/domain"
)

// DefaultBuffer is the per-subscriber channel capacity used when NewBroker is
// given a buffer of zero or less.
const DefaultBuffer = 256

// shrinkBelow is the number of topics under which a shard's map is not
// worth copying into a smaller one.
const shrinkBelow = 256

// shardCount spreads topics over independent locks so that publishers and
// subscribers of different topics rarely contend.
const shardCount = 64

var (
	_ domain.Broker       = (*Broker)(nil)
	_ domain.Subscription = (*subscription)(nil)
)

// Broker is the in-process live fan-out: each subscriber owns a buffered
// channel and one that lets it fill up is cut off rather than allowed to
// block the publisher or the other subscribers.
type Broker struct {
	buffer int
	seed   maphash.Seed
	shards [shardCount]shard
}

// shard owns the topics that hash to it. Publish holds its mutex
// exclusively, not a read lock, so that publishes to one topic are
// serialized: every subscriber sees the same order, and cutting a subscriber
// off can happen right where its send failed.
type shard struct {
	mu     sync.Mutex
	topics map[string]*topic
	// peak is the most topics held since topics was last copied: a Go map
	// keeps the room it grew to, so after a crowd has gone the map is
	// copied into a smaller one (see remove).
	peak int
	// Pad to a cache line so neighbouring shards' locks do not share one.
	_ [64 - 24]byte
}

// topic lists its subscribers in a slice rather than a map because Publish
// walks it on every event and removal by stored index is just as cheap.
type topic struct {
	subs []*subscription
}

// subscription is one subscriber's feed. Its channel is only sent on and
// closed with its shard's mutex held, which is what makes Close and Publish
// safe to race.
type subscription struct {
	shard   *shard
	topic   string
	ch      chan any
	dropped atomic.Bool
	index   int // position in topic.subs, -1 once removed; guarded by shard.mu
}

// NewBroker returns a Broker whose subscribers each buffer up to buffer
// events, or DefaultBuffer when buffer <= 0.
func NewBroker(buffer int) *Broker {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	b := &Broker{buffer: buffer, seed: maphash.MakeSeed()}
	for i := range b.shards {
		b.shards[i].topics = make(map[string]*topic)
	}
	return b
}

func (b *Broker) shard(name string) *shard {
	return &b.shards[maphash.String(b.seed, name)%shardCount]
}

// Subscribe starts receiving events published to name from now on.
func (b *Broker) Subscribe(name string) domain.Subscription {
	return b.SubscribeBuffer(name, 0)
}

// SubscribeBuffer is Subscribe with room for buffer events, or the
// Broker's buffer when buffer <= 0.
func (b *Broker) SubscribeBuffer(name string, buffer int) domain.Subscription {
	if buffer <= 0 {
		buffer = b.buffer
	}
	s := b.shard(name)
	sub := &subscription{shard: s, topic: name, ch: make(chan any, buffer)}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		t = &topic{}
		s.topics[name] = t
		s.peak = max(s.peak, len(s.topics))
	}
	sub.index = len(t.subs)
	t.subs = append(t.subs, sub)
	return sub
}

// Publish sends ev to every current subscriber of name without blocking; a
// subscriber whose buffer is full is cut off and must recover from the Store.
func (b *Broker) Publish(name string, ev any) {
	s := b.shard(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[name]
	if t == nil {
		return
	}
	// Walk backwards so that cutting off subs[i], which moves the last
	// subscriber into slot i, only moves one that was already served.
	for i := len(t.subs) - 1; i >= 0; i-- {
		sub := t.subs[i]
		select {
		case sub.ch <- ev:
		default:
			sub.dropped.Store(true)
			s.remove(sub)
		}
	}
}

// remove takes sub out of its topic, deleting the topic once it is empty so
// that topics nobody follows cost nothing, and closes its channel. The caller
// holds s.mu.
func (s *shard) remove(sub *subscription) {
	t := s.topics[sub.topic]
	last := len(t.subs) - 1
	moved := t.subs[last]
	t.subs[sub.index] = moved
	moved.index = sub.index
	t.subs[last] = nil // let the removed subscription be collected
	t.subs = t.subs[:last]
	if len(t.subs) == 0 {
		delete(s.topics, sub.topic)
		if n := len(s.topics); s.peak >= shrinkBelow && n <= s.peak/4 {
			topics := make(map[string]*topic, n) // maps.Clone would keep the room
			maps.Copy(topics, s.topics)
			s.topics, s.peak = topics, n
		}
	}
	sub.index = -1
	close(sub.ch)
}

// BrokerStats counts what a Broker is holding.
type BrokerStats struct {
	Topics      int // topics with at least one subscriber
	Subscribers int // subscriptions neither closed nor cut off
}

// Stats counts the topics that have subscribers and the subscribers of all
// topics. Shards are counted one after another, so under concurrent use the
// result need not match any single instant.
func (b *Broker) Stats() BrokerStats {
	var st BrokerStats
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		st.Topics += len(s.topics)
		for _, t := range s.topics {
			st.Subscribers += len(t.subs)
		}
		s.mu.Unlock()
	}
	return st
}

// Events yields published events; it is closed after Close or when the
// subscriber is cut off, and events buffered before that stay readable.
func (sub *subscription) Events() <-chan any { return sub.ch }

// Dropped reports whether the subscriber was cut off for falling behind.
func (sub *subscription) Dropped() bool { return sub.dropped.Load() }

// Close stops the feed and closes its channel; closing again, or after being
// cut off, does nothing.
func (sub *subscription) Close() {
	s := sub.shard
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub.index < 0 {
		return
	}
	s.remove(sub)
}
