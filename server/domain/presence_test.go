package domain_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func watchPresence(t *testing.T, e *env, agentID string) *stream[domain.PresenceUpdate] {
	t.Helper()
	s := startStream(t, func(c context.Context, send func(domain.PresenceUpdate) error) error {
		return e.svc.WatchPresence(c, agentID, send)
	})
	return s
}

func isChange(kind domain.PresenceChange, visitorID string) func(domain.PresenceUpdate) bool {
	return func(u domain.PresenceUpdate) bool {
		return u.Event != nil && u.Event.Change == kind && u.Event.Presence.VisitorID == visitorID
	}
}

func TestPresence(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	v := e.newVisitor(t, site.ID)

	presence := watchPresence(t, e, agent.ID)
	if first := presence.next(t, func(domain.PresenceUpdate) bool { return true }); first.Snapshot == nil || len(first.Snapshot) != 0 {
		t.Fatalf("first update = %+v, want an empty snapshot", first)
	}

	page1 := e.visit(t, v.ID, "https://shop.example/")
	arrived := presence.next(t, isChange(domain.PresenceArrived, v.ID))
	if arrived.Event.Presence.CurrentPage.URL != "https://shop.example/" || !arrived.Event.Presence.VisitStartTime.Equal(t0) {
		t.Fatalf("arrived = %+v", arrived.Event.Presence)
	}

	// PageLoadIsNotADeparture
	{
		e.clock.Advance(40 * time.Second)
		page1.stop() // the browser leaves page 1 …
		presence.next(t, func(u domain.PresenceUpdate) bool {
			return u.Event != nil && u.Event.Presence.OpenStreams == 0
		})
		e.clock.Advance(grace - time.Second) // … and page 2 opens within the grace period
		e.visit(t, v.ID, "https://shop.example/pricing")
		changed := presence.next(t, func(u domain.PresenceUpdate) bool {
			if u.Event != nil && u.Event.Change == domain.PresenceDeparted {
				t.Fatal("a page load was reported as a departure")
			}
			return u.Event != nil && u.Event.Presence.CurrentPage.URL == "https://shop.example/pricing" && u.Event.Presence.OpenStreams == 1
		})
		if want := 40*time.Second + grace - time.Second; changed.Event.Presence.TimeOnSite != want {
			t.Fatalf("time on site = %v, want %v counted across page loads", changed.Event.Presence.TimeOnSite, want)
		}
		// Passing the old grace deadline must not depart the visitor either.
		e.clock.Advance(2 * grace)
		online, _ := e.svc.ListOnlineVisitors(ctx(t), site.ID)
		if len(online) != 1 || online[0].VisitorID != v.ID {
			t.Fatalf("online = %+v", online)
		}
	}

	// SeveralTabsAreOnePresence
	{
		tab2 := e.visit(t, v.ID, "https://shop.example/cart")
		presence.next(t, func(u domain.PresenceUpdate) bool { return u.Event != nil && u.Event.Presence.OpenStreams == 2 })
		tab2.stop()
		presence.next(t, func(u domain.PresenceUpdate) bool { return u.Event != nil && u.Event.Presence.OpenStreams == 1 })
		e.clock.Advance(2 * grace)
		online, _ := e.svc.ListOnlineVisitors(ctx(t), site.ID)
		if len(online) != 1 {
			t.Fatalf("closing one of two tabs made the visitor leave: %+v", online)
		}
	}

	// DepartsAfterGrace
	{
		other := e.newVisitor(t, site.ID)
		s := e.visit(t, other.ID, "https://shop.example/")
		presence.next(t, isChange(domain.PresenceArrived, other.ID))
		s.stop()
		e.clock.Advance(grace - time.Nanosecond)
		if online, _ := e.svc.ListOnlineVisitors(ctx(t), site.ID); len(online) != 2 {
			t.Fatalf("departed before the grace period ended: %+v", online)
		}
		e.clock.Advance(time.Nanosecond)
		presence.next(t, isChange(domain.PresenceDeparted, other.ID))
		if online, _ := e.svc.ListOnlineVisitors(ctx(t), site.ID); len(online) != 1 {
			t.Fatalf("still online after departure: %+v", online)
		}
	}

	// SnapshotForLateWatcher: the current page is the last one reported.
	{
		late := watchPresence(t, e, agent.ID)
		snap := late.next(t, func(domain.PresenceUpdate) bool { return true })
		if len(snap.Snapshot) != 1 || snap.Snapshot[0].VisitorID != v.ID || snap.Snapshot[0].CurrentPage.URL != "https://shop.example/cart" {
			t.Fatalf("snapshot = %+v", snap)
		}
	}

	// OtherSitesInvisible
	{
		otherSite, _ := e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "Other"})
		stranger := e.newVisitor(t, otherSite.ID)
		e.visit(t, stranger.ID, "https://other.example/")
		// A marker visitor on the agent's own site: once it shows, the
		// stranger's arrival would have shown before it.
		marker := e.newVisitor(t, site.ID)
		e.visit(t, marker.ID, "https://shop.example/")
		presence.next(t, func(u domain.PresenceUpdate) bool {
			if u.Event != nil && u.Event.Presence.VisitorID == stranger.ID {
				t.Fatal("agent saw a visitor of a site it does not serve")
			}
			return u.Event != nil && u.Event.Presence.VisitorID == marker.ID
		})
	}
}

func TestDepartureLeavesChat(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	v := e.newVisitor(t, site.ID)
	s := e.visit(t, v.ID, "https://shop.example/")
	chat, err := e.svc.StartChat(ctx(t), agent.ID, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	watch := startStream(t, func(c context.Context, send func(domain.ChatUpdate) error) error {
		return e.svc.WatchChat(c, chat.ID, 0, send)
	})
	if _, err := e.svc.SendMessage(ctx(t), chat.ID, v.ID, "one question", ""); err != nil {
		t.Fatal(err)
	}
	s.stop()
	e.clock.Advance(grace)
	left := watch.next(t, func(u domain.ChatUpdate) bool { return u.Event != nil && u.Event.ParticipantLeft != nil })
	if left.Event.ParticipantLeft.ID != v.ID {
		t.Fatalf("left = %+v, want the visitor", left.Event.ParticipantLeft)
	}
	if _, err := e.svc.LeaveChat(ctx(t), chat.ID, agent.ID); err != nil {
		t.Fatal(err)
	}
	ended := watch.next(t, func(u domain.ChatUpdate) bool { return u.Event != nil && u.Event.Ended != nil })
	if ended.Event.Ended.Reason != domain.EndBothLeft {
		t.Fatalf("end reason = %v", ended.Event.Ended.Reason)
	}
}

// TestStreamWithPageIsOneChange: a widget stream that opens on a page (a
// page load, a reconnect) shows agents one change, the page and the stream
// together: in a reconnect storm every visitor's stream opens so.
func TestStreamWithPageIsOneChange(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	v := e.newVisitor(t, site.ID)
	presence := watchPresence(t, e, agent.ID)
	presence.next(t, func(u domain.PresenceUpdate) bool { return u.Snapshot != nil })
	e.visit(t, v.ID, "https://shop.example/")
	presence.next(t, isChange(domain.PresenceArrived, v.ID))

	e.visit(t, v.ID, "https://shop.example/cart")
	marker := e.newVisitor(t, site.ID)
	e.visit(t, marker.ID, "https://shop.example/")
	var changes []domain.Presence
	presence.next(t, func(u domain.PresenceUpdate) bool {
		if u.Event != nil && u.Event.Presence.VisitorID == v.ID {
			changes = append(changes, u.Event.Presence)
		}
		return u.Event != nil && u.Event.Presence.VisitorID == marker.ID
	})
	if len(changes) != 1 || changes[0].OpenStreams != 2 || changes[0].CurrentPage.URL != "https://shop.example/cart" {
		t.Fatalf("the second tab showed as %+v, want one change: 2 streams on the cart", changes)
	}
}

// TestSlowConsoleIsNotCutOff: while an agent's console cannot take its
// presence stream, more changes come than a subscription holds. They are
// merged per visitor instead of cutting the stream off, which would send a
// snapshot of everyone again.
func TestSlowConsoleIsNotCutOff(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	a, b := e.newVisitor(t, site.ID), e.newVisitor(t, site.ID)
	e.visit(t, a.ID, "https://shop.example/")
	e.visit(t, b.ID, "https://shop.example/")

	gate := make(chan struct{})
	got := make(chan domain.PresenceUpdate, 100)
	c, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.svc.WatchPresence(c, agent.ID, func(u domain.PresenceUpdate) error {
		if u.Snapshot == nil {
			<-gate // the console is busy
		}
		got <- u
		return nil
	})
	if u := <-got; len(u.Snapshot) != 2 {
		t.Fatalf("first update = %+v, want a snapshot of 2", u)
	}
	const views = 3000 // of two visitors, while the console is stuck
	for i := range views {
		for _, v := range []string{a.ID, b.ID} {
			if _, err := e.svc.RecordPageView(ctx(t), v, fmt.Sprintf("https://shop.example/p%d", i), ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(gate)
	last := map[string]string{}
	n := 0
	for last[a.ID] != "https://shop.example/p2999" || last[b.ID] != "https://shop.example/p2999" {
		select {
		case u := <-got:
			if u.Snapshot != nil {
				t.Fatalf("the stream started again with a snapshot after %d changes", n)
			}
			if u.Event != nil {
				n++
				last[u.Event.Presence.VisitorID] = u.Event.Presence.CurrentPage.URL
			}
		case <-time.After(waitTimeout):
			t.Fatalf("after %d changes the console shows %v, want both on the last page", n, last)
		}
	}
	if n > views {
		t.Fatalf("%d changes sent for %d page views of two visitors, want them merged", n, 2*views)
	}
}

// A presence stream that ends leaves nothing behind in the tracker, which
// feeds open streams' backlogs directly.
func TestPresenceStreamReleased(t *testing.T) {
	e := newEnv(t, 0)
	site, agent := e.siteWithAgent(t, 3)
	v := e.newVisitor(t, site.ID)
	s := startStream(t, func(c context.Context, send func(domain.PresenceUpdate) error) error {
		return e.svc.WatchPresence(c, agent.ID, send)
	})
	s.next(t, func(u domain.PresenceUpdate) bool { return u.Snapshot != nil })
	if n := e.svc.PresenceWatchers(); n != 1 {
		t.Fatalf("watchers with a stream open = %d, want 1", n)
	}
	e.visit(t, v.ID, "https://shop.example/")
	s.next(t, func(u domain.PresenceUpdate) bool {
		return u.Event != nil && u.Event.Change == domain.PresenceArrived && u.Event.Presence.VisitorID == v.ID
	})
	s.stop()
	if n := e.svc.PresenceWatchers(); n != 0 {
		t.Fatalf("watchers after the stream ended = %d, want 0", n)
	}
}
