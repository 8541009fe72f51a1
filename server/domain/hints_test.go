package domain_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/proactivechat/proactivechat/server/bolt"
	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/fakeclock"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// TestWatchVisitorAfterAFloodOfHints: a widget stream keeps only a few
// "read the state again" hints (VisitorChanged) buffered. A flood of them
// while it is busy cuts it off the broker; it must subscribe again and go
// on, so that the next change still reaches the widget, once.
func TestWatchVisitorAfterAFloodOfHints(t *testing.T) {
	store, err := bolt.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	broker := inmem.NewBroker(0)
	svc := domain.NewService(domain.Config{Store: store, Broker: broker, Clock: fakeclock.New(t0), PresenceGrace: grace, KeepAliveInterval: keepAlive})
	t.Cleanup(func() {
		svc.Close()
		store.Close()
	})
	e := &env{svc: svc, store: store}
	site, agent := e.siteWithAgent(t, 3)
	v := e.newVisitor(t, site.ID)

	// The stream's sends wait for the test after the first state, so the
	// hints pile up meanwhile.
	release := make(chan struct{})
	updates := make(chan domain.VisitorUpdate, 100)
	c, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		first := true
		done <- svc.WatchVisitor(c, domain.VisitorWatch{VisitorID: v.ID, PageURL: "https://shop.example/"}, func(u domain.VisitorUpdate) error {
			updates <- u
			if !first {
				<-release
			}
			first = false
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if u := <-updates; u.State == nil {
		t.Fatalf("first update %+v, want the state", u)
	}
	chat, err := svc.StartChat(ctx(t), agent.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	if u := <-updates; u.State == nil || u.State.Engagement != domain.EngagementChatting {
		t.Fatalf("update after StartChat = %+v, want the chatting state", u) // the stream now waits in send
	}
	for range 100 {
		broker.Publish("visitor/"+v.ID, domain.VisitorChanged{VisitorID: v.ID})
	}
	close(release)
	if _, err := svc.LeaveChat(ctx(t), chat.ID, v.ID); err != nil {
		t.Fatal(err)
	}
	states := 0
	for {
		u := (&stream[domain.VisitorUpdate]{updates: updates}).next(t, func(domain.VisitorUpdate) bool { return true })
		if u.State == nil {
			continue // the chat's events
		}
		states++
		if u.State.Engagement == domain.EngagementBrowsing {
			break
		}
		if u.State.Engagement != domain.EngagementChatting {
			t.Fatalf("state %v, want chatting until it is browsing", u.State.Engagement)
		}
	}
	if states > 2 {
		t.Errorf("%d states sent for one change after the flood; hints are not taken together", states)
	}
}
