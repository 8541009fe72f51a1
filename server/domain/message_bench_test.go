package domain_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// BenchmarkSendMessage is the message path without the network: SendMessage
// (one bbolt group commit, fsync included), then the broker's fan-out to the
// chat's two streams, the visitor's WatchVisitor and the agent's WatchChat,
// as in the load generator's closed loop. Each chat has one sender that
// sends its next message once the last is acknowledged; the sub-benchmark
// name is the number of chats. Besides ns/op and allocs/op (per message,
// the streams included) it reports how many updates shared a commit and
// the process's CPU time per message (user and system, fsync's included):
// ns/op is wall time, which at one update per commit is mostly the wait
// for the disk.
func BenchmarkSendMessage(b *testing.B) {
	for _, chats := range []int{1, 40, 500} {
		b.Run(fmt.Sprintf("chats=%d", chats), func(b *testing.B) {
			benchSendMessage(b, chats)
		})
	}
}

func benchSendMessage(b *testing.B, chats int) {
	store, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	svc := domain.NewService(domain.Config{Store: store, Broker: inmem.NewBroker(0)})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() {
		cancel()
		svc.Close()
		store.Close()
	}()
	site, err := svc.CreateSite(ctx, domain.SiteSpec{Name: "Shop", ProactiveChat: domain.ProactiveChatSettings{
		Enabled: true, Mode: domain.ModeWithoutInvite, LaunchAfterSeconds: 3600,
	}})
	if err != nil {
		b.Fatal(err)
	}
	agent, err := svc.CreateAgent(ctx, domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}, MaxConcurrentChats: 100})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.SetAgentStatus(ctx, agent.ID, domain.StatusAvailable); err != nil {
		b.Fatal(err)
	}
	var delivered, visitorGot atomic.Int64
	notify := make(chan struct{}, 1)
	deliver := func() {
		delivered.Add(1)
		select {
		case notify <- struct{}{}:
		default:
		}
	}
	// waitDelivered waits until want events reached the streams, or 10 s.
	waitDelivered := func(want int64) {
		timeout := time.After(10 * time.Second)
		for delivered.Load() < want {
			select {
			case <-notify:
			case <-timeout:
				return
			}
		}
	}
	type chat struct{ id, visitor string }
	all := make([]chat, chats)
	for i := range all {
		if i > 0 && i%100 == 0 { // an agent per 100 chats
			agent, err = svc.CreateAgent(ctx, domain.AgentSpec{DisplayName: "Dana", SiteIDs: []string{site.ID}, MaxConcurrentChats: 100})
			if err == nil {
				_, err = svc.SetAgentStatus(ctx, agent.ID, domain.StatusAvailable)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		v, _, _, err := svc.StartVisitorSession(ctx, site.ID, "")
		if err != nil {
			b.Fatal(err)
		}
		ready := make(chan struct{})
		var once sync.Once
		go svc.WatchVisitor(ctx, domain.VisitorWatch{VisitorID: v.ID, PageURL: "https://shop.example/help"}, func(u domain.VisitorUpdate) error {
			switch {
			case u.State != nil:
				once.Do(func() { close(ready) })
			case u.Event != nil:
				visitorGot.Add(1)
				deliver()
			}
			return nil
		})
		<-ready
		c, err := svc.StartChat(ctx, agent.ID, v.ID)
		if err != nil {
			b.Fatal(err)
		}
		go svc.WatchChat(ctx, c.ID, 0, func(u domain.ChatUpdate) error {
			if u.Event != nil {
				deliver()
			}
			return nil
		})
		all[i] = chat{c.ID, v.ID}
	}
	waitDelivered(int64(2 * chats)) // each chat's start reached both its streams
	commits0, batch0 := store.BatchSize().Count(), store.BatchSize().Sum()
	delivered.Store(0)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(max(1, (chats+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := int(next.Add(1) - 1)
		c := all[g%chats]
		k := 0
		for pb.Next() {
			k++
			key := fmt.Sprintf("%d-%d", g, k) // unique: two senders may share a chat
			if _, err := svc.SendMessage(ctx, c.id, c.visitor, "Hello, do you ship to Norway? xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", key); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	// Every message reaches both streams.
	want := int64(2 * b.N)
	waitDelivered(want)
	cpu := cpuTime(b) - cpu0
	if got := delivered.Load(); got != want {
		b.Fatalf("%d events delivered to the streams (%d to visitors), want %d", got, visitorGot.Load(), want)
	}
	if n := store.BatchSize().Count() - commits0; n > 0 {
		b.ReportMetric((store.BatchSize().Sum()-batch0)/float64(n), "updates/commit")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
}

// cpuTime is the CPU time the process used so far, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
