package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// massScene is a site "shop" whose n visitors each have a widget stream
// open, the first of them chatting with agent-a.
type massScene struct {
	e        *engine
	visitors []string
	pages    []*stream[domain.VisitorUpdate]
	chat     *domain.Chat
}

func newMassScene(t *testing.T, n int) *massScene {
	t.Helper()
	s := &massScene{e: newEngine(t)}
	pc := withoutInvite()
	pc.LaunchAfterSeconds = 3600
	s.e.site(t, "shop", pc)
	s.e.agent(t, "agent-a", "Ada", 3, "shop")
	s.e.setStatus(t, "agent-a", domain.StatusAvailable)
	for range n {
		vid := s.e.visitor(t, "shop")
		page, _ := s.e.page(t, vid, home)
		s.visitors = append(s.visitors, vid)
		s.pages = append(s.pages, page)
	}
	chat, err := s.e.svc.StartChat(ctx(t), "agent-a", s.visitors[0])
	if err != nil {
		t.Fatal(err)
	}
	s.chat = chat
	return s
}

// close closes the widget streams of visitors from..to-1.
func (s *massScene) close(from, to int) {
	for _, p := range s.pages[from:to] {
		p.stop()
	}
}

func (s *massScene) online(t *testing.T) int {
	t.Helper()
	p, err := s.e.svc.ListOnlineVisitors(ctx(t), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return len(p)
}

func (s *massScene) massDisconnects(t *testing.T) uint64 {
	t.Helper()
	st, err := s.e.svc.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	return st.MassDisconnects
}

func (s *massScene) visitorInChat(t *testing.T) bool {
	t.Helper()
	chat, err := s.e.svc.GetChat(ctx(t), s.chat.ID)
	if err != nil {
		t.Fatal(err)
	}
	return chat.State == domain.ChatStateActive && chat.VisitorLeftTime.IsZero()
}

func TestMassDisconnect(t *testing.T) {
	t.Run("DeparturesPutOff", func(t *testing.T) {
		// 100 of 100 streams close within a second: the network dropped
		// them, not 100 visitors leaving. Even those that closed before
		// the hundredth get the longer grace.
		s := newMassScene(t, 100)
		s.close(0, 100)
		if n := s.massDisconnects(t); n != 1 {
			t.Fatalf("mass disconnects = %d, want 1", n)
		}
		s.e.clock.Advance(grace)
		if n := s.online(t); n != 100 {
			t.Fatalf("online after the presence grace = %d, want all 100 still on their way back", n)
		}
		// The chatting visitor is back after 40 s: still in the chat.
		s.e.clock.Advance(25 * time.Second)
		s.e.page(t, s.visitors[0], home)
		s.e.clock.Advance(domain.DefaultMassDisconnectGrace - grace - 25*time.Second - time.Millisecond)
		if n := s.online(t); n != 100 {
			t.Fatalf("online just before the mass disconnect grace = %d, want 100", n)
		}
		s.e.clock.Advance(time.Millisecond)
		if n := s.online(t); n != 1 {
			t.Fatalf("online after the mass disconnect grace = %d, want only the one back", n)
		}
		if !s.visitorInChat(t) {
			t.Fatal("the visitor back within the grace has left the chat")
		}
	})

	t.Run("ChatterNotBackLeaves", func(t *testing.T) {
		s := newMassScene(t, 100)
		s.close(0, 100)
		s.e.clock.Advance(domain.DefaultMassDisconnectGrace - time.Millisecond)
		if !s.visitorInChat(t) {
			t.Fatal("left the chat before the mass disconnect grace")
		}
		s.e.clock.Advance(time.Millisecond)
		if s.visitorInChat(t) {
			t.Fatal("still in the chat after the mass disconnect grace")
		}
	})

	t.Run("PageLoadsAreNot", func(t *testing.T) {
		// 99 closes a second, second after second, on a site of 100: the
		// threshold is 100 within one second.
		s := newMassScene(t, 100)
		s.close(0, 99)
		s.e.clock.Advance(time.Second)
		s.close(99, 100)
		if n := s.massDisconnects(t); n != 0 {
			t.Fatalf("mass disconnects = %d, want 0", n)
		}
		s.e.clock.Advance(grace - time.Second)
		if n := s.online(t); n != 1 {
			t.Fatalf("online after the first 99's presence grace = %d, want 1", n)
		}
		if s.visitorInChat(t) {
			t.Fatal("the chatting visitor is still in the chat after the presence grace")
		}
	})

	t.Run("SlowStormCountsItsStart", func(t *testing.T) {
		// A saturated server notices a storm's closes over seconds: 60 of
		// 600 in the first (not yet a mass disconnect), 120 two seconds
		// later (one). The first 60, the chatting visitor among them, get
		// the longer grace too, counted from their own close.
		s := newMassScene(t, 600)
		s.close(0, 60)
		s.e.clock.Advance(2 * time.Second)
		s.close(60, 180)
		if n := s.massDisconnects(t); n != 1 {
			t.Fatalf("mass disconnects = %d, want 1", n)
		}
		s.e.clock.Advance(grace)
		if n := s.online(t); n != 600 {
			t.Fatalf("online after the presence grace = %d, want all 600", n)
		}
		if !s.visitorInChat(t) {
			t.Fatal("the visitor who closed before the threshold left the chat")
		}
		s.e.clock.Advance(domain.DefaultMassDisconnectGrace - grace - 2*time.Second)
		if n := s.online(t); n != 600-60 {
			t.Fatalf("online at the first 60's mass disconnect grace = %d, want %d", n, 600-60)
		}
	})

	t.Run("GoneBeforeStaysGone", func(t *testing.T) {
		// A visitor whose presence grace ended before the storm began
		// does not come back with it (the watcher has dropped its
		// departure, and the tracker checks it is still the visit).
		s := newMassScene(t, 600)
		s.close(599, 600)
		s.e.clock.Advance(grace)
		s.close(0, 120)
		if n := s.massDisconnects(t); n != 1 {
			t.Fatalf("mass disconnects = %d, want 1", n)
		}
		if n := s.online(t); n != 599 {
			t.Fatalf("online = %d, want 599", n)
		}
	})

	t.Run("ShutdownIsNot", func(t *testing.T) {
		// A shutdown ends every stream at once: nothing to warn about.
		s := newMassScene(t, 100)
		s.e.svc.Close()
		s.close(0, 100)
		if n := s.massDisconnects(t); n != 0 {
			t.Fatalf("mass disconnects at shutdown = %d, want 0", n)
		}
	})

	t.Run("ShareOfOpenStreams", func(t *testing.T) {
		// 100 closes in a second are not a mass disconnect when 600
		// streams are open: page loads of a busy site.
		s := newMassScene(t, 600)
		s.close(0, 119)
		if n := s.massDisconnects(t); n != 0 {
			t.Fatalf("mass disconnects after 119 of 600 closed = %d, want 0", n)
		}
		s.close(119, 120)
		if n := s.massDisconnects(t); n != 1 {
			t.Fatalf("mass disconnects after 120 of 600 closed = %d, want 1", n)
		}
		// The storm goes on for the presence grace after its last busy
		// second: a stream closing then also gets the longer grace.
		s.e.clock.Advance(grace - time.Millisecond)
		s.close(120, 121)
		s.e.clock.Advance(grace)
		if n := s.online(t); n != 600 {
			t.Fatalf("online = %d, want all 600", n)
		}
		s.e.clock.Advance(grace)
		s.close(121, 122) // the storm is over: the presence grace
		s.e.clock.Advance(grace)
		if n := s.online(t); n != 599 {
			t.Fatalf("online = %d, want 599", n)
		}
	})
}

// A visitor's request without invite is held while they count as on the
// site: a mass disconnect that begins after its hold did puts it off too.
func TestMassDisconnectHoldsPresenceRequest(t *testing.T) {
	s := newNoInviteScene(t)
	others := make([]*stream[domain.VisitorUpdate], 0, 100)
	for range 100 {
		page, _ := s.e.page(t, s.e.visitor(t, "shop"), home)
		others = append(others, page)
	}
	s.page.stop() // first: its hold begins with the presence grace
	for _, p := range others {
		p.stop()
	}
	s.e.clock.Advance(grace)
	if r := s.e.request(t, s.alert.Request.ID); !r.Open() {
		t.Fatalf("request = %v after the presence grace, want still open", r.State)
	}
	s.e.clock.Advance(domain.DefaultMassDisconnectGrace - grace)
	s.console.next(t, isWithdrawn(s.alert.Request.ID))
	if r := s.e.request(t, s.alert.Request.ID); r.State != domain.RequestAbandoned {
		t.Fatalf("request = %v after the mass disconnect grace, want abandoned", r.State)
	}
}

// The departures the watcher keeps are those whose presence grace may not
// be over; the others are dropped and not held on to.
func TestMassDisconnectPendingPruned(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	got := domain.PendingAfter([]time.Time{at(1), at(2), at(3), at(4)}, at(2))
	if want := []time.Time{at(3), at(4)}; !slices.Equal(got, want) {
		t.Errorf("kept %v, want %v", got, want)
	}
	if got := domain.PendingAfter([]time.Time{at(1)}, at(5)); len(got) != 0 {
		t.Errorf("kept %v, want none", got)
	}
	if got := domain.PendingAfter([]time.Time{at(6)}, at(5)); len(got) != 1 {
		t.Errorf("kept %v, want the one after", got)
	}
}
