package inmem_test

import (
	"fmt"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

func TestSubscribeBuffer(t *testing.T) {
	t.Run("CutOffPastItsBuffer", func(t *testing.T) {
		b := inmem.NewBroker(256)
		small := b.SubscribeBuffer("visitor/1", 4)
		big := b.Subscribe("visitor/1") // the broker's 256
		for i := range 5 {
			b.Publish("visitor/1", i)
		}
		// The small one keeps what fitted, then is closed; the other has it all.
		receive(t, small, 4)
		mustBeClosed(t, small)
		if !small.Dropped() {
			t.Error("small subscription not marked dropped")
		}
		receive(t, big, 5)
		if big.Dropped() {
			t.Error("default subscription dropped after 5 events")
		}
	})

	t.Run("ZeroIsTheDefault", func(t *testing.T) {
		b := inmem.NewBroker(8)
		sub := b.SubscribeBuffer("t", 0)
		for i := range 8 {
			b.Publish("t", i)
		}
		receive(t, sub, 8)
		if sub.Dropped() {
			t.Error("dropped within the default buffer")
		}
	})
}

// TestTopicsAfterACrowd: once the subscribers of many topics have gone, the
// broker holds none of their topics and still delivers to new ones.
func TestTopicsAfterACrowd(t *testing.T) {
	b := inmem.NewBroker(4)
	var subs []domain.Subscription
	for i := range 20000 {
		subs = append(subs, b.SubscribeBuffer(fmt.Sprintf("visitor/%d", i), 1))
	}
	if st := b.Stats(); st.Topics != 20000 || st.Subscribers != 20000 {
		t.Fatalf("stats %+v, want 20000 topics and subscribers", st)
	}
	for _, s := range subs[:19990] {
		s.Close()
	}
	if st := b.Stats(); st.Topics != 10 || st.Subscribers != 10 {
		t.Fatalf("stats %+v after closing, want 10 topics and subscribers", st)
	}
	// The ones left (in maps that were copied into smaller ones) still work.
	for i := 19990; i < 20000; i++ {
		b.Publish(fmt.Sprintf("visitor/%d", i), i)
		if got := receive(t, subs[i], 1)[0]; got != i {
			t.Fatalf("topic %d got %v", i, got)
		}
	}
}
