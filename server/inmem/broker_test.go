package inmem_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// receive reads n events from sub, failing if its channel closes first.
func receive(t *testing.T, sub domain.Subscription, n int) []any {
	t.Helper()
	got := make([]any, 0, n)
	for range n {
		ev, ok := <-sub.Events()
		if !ok {
			t.Fatalf("channel closed after %d events, want %d", len(got), n)
		}
		got = append(got, ev)
	}
	return got
}

// mustBeClosed fails unless sub's channel is closed with nothing left in it.
func mustBeClosed(t *testing.T, sub domain.Subscription) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if ok {
			t.Fatalf("got event %v, want closed channel", ev)
		}
	default:
		t.Fatal("channel still open")
	}
}

func TestBroker(t *testing.T) {
	t.Run("DeliverInOrder", func(t *testing.T) {
		b := inmem.NewBroker(16)
		subs := []domain.Subscription{b.Subscribe("chat/1"), b.Subscribe("chat/1"), b.Subscribe("chat/1")}
		for i := range 10 {
			b.Publish("chat/1", i)
		}
		for n, sub := range subs {
			for i, ev := range receive(t, sub, 10) {
				if got, want := ev, any(i); got != want {
					t.Fatalf("subscriber %d event %d = %v, want %v", n, i, got, want)
				}
			}
			if sub.Dropped() {
				t.Fatalf("subscriber %d dropped", n)
			}
		}
	})

	t.Run("OtherTopicNotDelivered", func(t *testing.T) {
		b := inmem.NewBroker(16)
		sub := b.Subscribe("chat/1")
		b.Publish("chat/2", "other")
		b.Publish("chat/1", "mine")
		// Delivery is synchronous, so had "other" been delivered it would
		// come first.
		if got, want := receive(t, sub, 1)[0], any("mine"); got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("SlowSubscriberDropped", func(t *testing.T) {
		const buffer = 2
		b := inmem.NewBroker(buffer)
		slow := b.Subscribe("chat/1")
		fast := b.Subscribe("chat/1")
		for i := range 10 {
			b.Publish("chat/1", i)
			if got, want := receive(t, fast, 1)[0], any(i); got != want {
				t.Fatalf("fast event %d = %v, want %v", i, got, want)
			}
		}
		// The slow subscriber keeps what fitted in its buffer, then sees the
		// channel closed.
		for i, ev := range receive(t, slow, buffer) {
			if got, want := ev, any(i); got != want {
				t.Fatalf("slow event %d = %v, want %v", i, got, want)
			}
		}
		mustBeClosed(t, slow)
		if !slow.Dropped() {
			t.Fatal("slow subscriber not dropped")
		}
		if fast.Dropped() {
			t.Fatal("fast subscriber dropped")
		}
		if got, want := b.Stats(), (inmem.BrokerStats{Topics: 1, Subscribers: 1}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		slow.Close() // closing a dropped subscription is harmless
		if !slow.Dropped() {
			t.Fatal("Close cleared Dropped")
		}
	})

	t.Run("CloseRemovesAndCloses", func(t *testing.T) {
		b := inmem.NewBroker(16)
		sub := b.Subscribe("chat/1")
		other := b.Subscribe("chat/1")
		sub.Close()
		mustBeClosed(t, sub)
		if sub.Dropped() {
			t.Fatal("closed subscription reports dropped")
		}
		if got, want := b.Stats(), (inmem.BrokerStats{Topics: 1, Subscribers: 1}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		sub.Close() // idempotent
		b.Publish("chat/1", "after")
		if got, want := receive(t, other, 1)[0], any("after"); got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
	})

	t.Run("CloseKeepsBufferedEvents", func(t *testing.T) {
		b := inmem.NewBroker(16)
		sub := b.Subscribe("chat/1")
		b.Publish("chat/1", "before")
		sub.Close()
		if got, want := receive(t, sub, 1)[0], any("before"); got != want {
			t.Fatalf("got %v, want %v", got, want)
		}
		mustBeClosed(t, sub)
	})

	t.Run("PublishAfterClose", func(t *testing.T) {
		b := inmem.NewBroker(1)
		sub := b.Subscribe("chat/1")
		sub.Close()
		for range 3 {
			b.Publish("chat/1", "x") // must neither panic nor block
		}
		mustBeClosed(t, sub)
		if sub.Dropped() {
			t.Fatal("closed subscription reports dropped")
		}
	})

	t.Run("NoTopicsLeft", func(t *testing.T) {
		b := inmem.NewBroker(1)
		var subs []domain.Subscription
		for i := range 100 {
			for range 3 {
				subs = append(subs, b.Subscribe(fmt.Sprintf("chat/%d", i)))
			}
		}
		if got, want := b.Stats(), (inmem.BrokerStats{Topics: 100, Subscribers: 300}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		// Overflow the first topics so that being cut off empties them too.
		for i := range 10 {
			b.Publish(fmt.Sprintf("chat/%d", i), 1)
			b.Publish(fmt.Sprintf("chat/%d", i), 2)
		}
		if got, want := b.Stats(), (inmem.BrokerStats{Topics: 90, Subscribers: 270}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		for _, sub := range subs {
			sub.Close()
		}
		if got, want := b.Stats(), (inmem.BrokerStats{}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
	})

	t.Run("DefaultBuffer", func(t *testing.T) {
		b := inmem.NewBroker(0)
		sub := b.Subscribe("chat/1")
		for i := range inmem.DefaultBuffer {
			b.Publish("chat/1", i)
		}
		if sub.Dropped() {
			t.Fatal("dropped within the default buffer")
		}
		b.Publish("chat/1", "overflow")
		if !sub.Dropped() {
			t.Fatal("not dropped beyond the default buffer")
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		const (
			topics      = 4
			events      = 5000
			subscribers = 8 // per topic
		)
		b := inmem.NewBroker(8)
		done := make(chan struct{})
		var publishers, others sync.WaitGroup
		var laggards []domain.Subscription
		for tp := range topics {
			name := fmt.Sprintf("chat/%d", tp)
			// A subscriber that never reads and joins before the publisher
			// starts is sure to be cut off.
			laggards = append(laggards, b.Subscribe(name))
			// One publisher per topic publishes increasing numbers, so each
			// feed must be strictly increasing however late it joined and
			// wherever it was cut off.
			publishers.Go(func() {
				for i := range events {
					b.Publish(name, i)
				}
			})
			// Subscribers keep joining, reading a few events and leaving,
			// racing Subscribe and Close against Publish.
			for n := range subscribers {
				others.Go(func() {
					for {
						if !follow(t, b.Subscribe(name), 1+n*20, done) {
							return
						}
					}
				})
			}
		}
		// Close racing Close and Publish on one subscription.
		others.Go(func() {
			for range 1000 {
				sub := b.Subscribe("closer")
				var wg sync.WaitGroup
				wg.Go(sub.Close)
				wg.Go(sub.Close)
				wg.Go(func() { b.Publish("closer", 1) })
				wg.Wait()
			}
		})
		publishers.Wait()
		close(done)
		others.Wait()
		for _, sub := range laggards {
			if !sub.Dropped() {
				t.Error("laggard not dropped")
			}
			receive(t, sub, 8)
			mustBeClosed(t, sub)
		}
		if got, want := b.Stats(), (inmem.BrokerStats{}); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
	})
}

// follow reads up to limit events from sub, checking they increase, then
// closes it. It reports false once done is closed.
func follow(t *testing.T, sub domain.Subscription, limit int, done <-chan struct{}) bool {
	defer sub.Close()
	last := -1
	for range limit {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				return true
			}
			i := ev.(int)
			if i <= last {
				t.Errorf("got %d after %d", i, last)
				return false
			}
			last = i
		case <-done:
			return false
		}
	}
	return true
}
