package inmem_test

import (
	"fmt"
	"testing"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

func BenchmarkPublish(b *testing.B) {
	const buffer = 1024
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("Subscribers%d", n), func(b *testing.B) {
			br := inmem.NewBroker(buffer)
			subs := make([]domain.Subscription, n)
			for i := range subs {
				subs[i] = br.Subscribe("chat/1")
			}
			var ev any = domain.VisitorChanged{VisitorID: "v"}
			b.ReportAllocs()
			sent := 0
			for b.Loop() {
				br.Publish("chat/1", ev)
				// Drain outside the timer before buffers fill, so that what
				// is measured is fan-out to n live subscribers, not to the
				// ones left after some were cut off.
				if sent++; sent == buffer {
					b.StopTimer()
					for _, sub := range subs {
						for range sent {
							<-sub.Events()
						}
					}
					sent = 0
					b.StartTimer()
				}
			}
			for _, sub := range subs {
				if sub.Dropped() {
					b.Fatal("subscriber dropped")
				}
			}
		})
	}
}

// BenchmarkPublishParallel publishes from many goroutines to distinct topics,
// which the sharded locks should let scale.
func BenchmarkPublishParallel(b *testing.B) {
	br := inmem.NewBroker(inmem.DefaultBuffer)
	var ev any = domain.VisitorChanged{VisitorID: "v"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		// Topics nobody follows still exercise hashing and locking.
		topics := make([]string, 64)
		for i := range topics {
			topics[i] = fmt.Sprintf("chat/%d", i)
		}
		i := 0
		for pb.Next() {
			br.Publish(topics[i%len(topics)], ev)
			i++
		}
	})
}
