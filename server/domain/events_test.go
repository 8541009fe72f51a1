package domain_test

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// eventLog reads the whole event log.
func (e *engine) eventLog(t *testing.T) []*domain.Event {
	t.Helper()
	var evs []*domain.Event
	err := e.store.View(ctx(t), func(tx domain.ReadTx) error {
		var err error
		evs, err = tx.Events(0, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// logSince is the log after position, and the log's last position.
func (e *engine) logSince(t *testing.T, position uint64) ([]*domain.Event, uint64) {
	t.Helper()
	all := e.eventLog(t)
	var out []*domain.Event
	for _, ev := range all {
		if ev.Position > position {
			out = append(out, ev)
		}
	}
	if len(all) == 0 {
		return out, 0
	}
	return out, all[len(all)-1].Position
}

func types(evs []*domain.Event) []domain.EventType {
	var out []domain.EventType
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}

// wantDense fails unless the log's positions are 1, 2, 3, … with ids
// derived from them.
func wantDense(t *testing.T, evs []*domain.Event) {
	t.Helper()
	for i, ev := range evs {
		if ev.Position != uint64(i+1) || ev.ID != domain.EventID(ev.Position) {
			t.Fatalf("event %d: position %d, id %q; want position %d", i, ev.Position, ev.ID, i+1)
		}
	}
}

func TestEventLog(t *testing.T) {
	t.Run("Mode1_WithInviteAndForm", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.respond(t, vid, inv.ID, true)

		// Failed updates record nothing.
		_, before := e.logSince(t, 0)
		bad := validForm()
		bad["email"] = "not an address"
		if _, err := e.svc.SubmitForm(ctx(t), vid, bad); err == nil {
			t.Fatal("a form with a bad e-mail was accepted")
		}
		if got, _ := e.logSince(t, before); len(got) != 0 {
			t.Fatalf("a rejected form recorded %v", types(got))
		}

		if _, err := e.svc.SubmitForm(ctx(t), vid, validForm()); err != nil {
			t.Fatal(err)
		}
		alert := e.alerted(t, console, "")
		_, before = e.logSince(t, 0)
		// agent-b loses the claim: the request is offered to agent-a.
		e.setStatus(t, "agent-b", domain.StatusAvailable)
		_, statusAt := e.logSince(t, 0)
		if _, err := e.svc.AcceptChatRequest(ctx(t), "agent-b", alert.Request.ID); domain.ErrorCode(err) != domain.CodeFailedPrecondition {
			t.Fatalf("agent-b's claim: %v, want FailedPrecondition", err)
		}
		if got, _ := e.logSince(t, statusAt); len(got) != 0 {
			t.Fatalf("a lost claim recorded %v", types(got))
		}
		if got, _ := e.logSince(t, before); !slices.Equal(types(got), []domain.EventType{domain.EventAgentStatusChanged}) {
			t.Fatalf("around the lost claim the log has %v, want agent-b's status only", types(got))
		}

		chat := e.accept(t, "agent-a", alert.Request.ID)
		e.send(t, chat.ID, "agent-a", "Hello, how can I help?")
		e.send(t, chat.ID, vid, "Do you ship to Norway?")
		e.leave(t, chat.ID, "agent-a")
		e.leave(t, chat.ID, vid)

		evs := e.eventLog(t)
		wantDense(t, evs)
		want := []domain.EventType{
			domain.EventSiteCreated,
			domain.EventAgentCreated,       // agent-a
			domain.EventAgentCreated,       // agent-b
			domain.EventAgentStatusChanged, // agent-a available
			domain.EventVisitorArrived,
			domain.EventVisitorPageViewed,
			domain.EventLaunchFired,
			domain.EventInvitationSent,
			domain.EventInvitationAccepted,
			domain.EventFormStarted,
			domain.EventVisitorIdentified, // the form's name and e-mail
			domain.EventFormSubmitted,
			domain.EventRequestQueued,
			domain.EventRequestAlerted,
			domain.EventAgentStatusChanged, // agent-b available
			domain.EventRequestAccepted,
			domain.EventChatStarted,
			domain.EventChatMessage,
			domain.EventChatMessage,
			domain.EventChatParticipantLeft,
			domain.EventChatParticipantLeft,
			domain.EventChatEnded,
		}
		if got := types(evs); !slices.Equal(got, want) {
			t.Fatalf("log = %v\nwant  %v", got, want)
		}
		byType := map[domain.EventType]*domain.Event{}
		for _, ev := range evs {
			byType[ev.Type] = ev // the last of each type
			// Agents may serve several sites: their events name none.
			if ev.Type != domain.EventAgentStatusChanged && ev.Type != domain.EventAgentCreated && ev.SiteID != "shop" {
				t.Errorf("%s: site %q, want shop", ev.Type, ev.SiteID)
			}
		}
		if ev := byType[domain.EventVisitorPageViewed]; ev.VisitorID != vid || ev.URL != home {
			t.Errorf("page viewed = %+v, want %s on %s", ev, vid, home)
		}
		if ev := byType[domain.EventInvitationSent]; ev.InvitationID != inv.ID || ev.VisitorID != vid {
			t.Errorf("invitation sent = %+v, want %s", ev, inv.ID)
		}
		if ev := byType[domain.EventFormSubmitted]; ev.RequestID != alert.Request.ID || ev.FormValues["name"] != "Ann" {
			t.Errorf("form submitted = %+v, want request %s with the trimmed values", ev, alert.Request.ID)
		}
		if ev := byType[domain.EventRequestAlerted]; ev.AgentID != "agent-a" || ev.Reason != alert.Reason {
			t.Errorf("alerted = %+v, want agent-a for %q", ev, alert.Reason)
		}
		if ev := byType[domain.EventRequestAccepted]; ev.ChatID != chat.ID || ev.AgentID != "agent-a" {
			t.Errorf("accepted = %+v, want chat %s", ev, chat.ID)
		}
		if ev := byType[domain.EventChatMessage]; ev.Text != "Do you ship to Norway?" || ev.Participant.ID != vid || ev.Seq != 3 || ev.VisitorID != vid {
			t.Errorf("last message = %+v, want the visitor's, seq 3", ev)
		}
		if ev := byType[domain.EventChatEnded]; ev.EndReason != domain.EndBothLeft || ev.ChatID != chat.ID {
			t.Errorf("ended = %+v, want both left", ev)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Time.Before(evs[i-1].Time) {
				t.Errorf("event %d at %v is before event %d at %v", i, evs[i].Time, i-1, evs[i-1].Time)
			}
		}
	})

	t.Run("Mode2_WithoutInvite", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		s.e.send(t, chat.ID, "agent-a", "Hi there")
		s.e.send(t, chat.ID, s.vid, "Just looking")
		s.e.leave(t, chat.ID, s.vid)
		s.e.leave(t, chat.ID, "agent-a")
		evs := s.e.eventLog(t)
		wantDense(t, evs)
		want := []domain.EventType{
			domain.EventSiteCreated,
			domain.EventAgentCreated,
			domain.EventAgentStatusChanged,
			domain.EventVisitorArrived,
			domain.EventVisitorPageViewed,
			domain.EventLaunchFired,
			domain.EventRequestQueued,
			domain.EventRequestAlerted,
			domain.EventRequestAccepted,
			domain.EventChatStarted,
			domain.EventChatMessage,
			domain.EventChatMessage,
			domain.EventChatParticipantLeft,
			domain.EventChatParticipantLeft,
			domain.EventChatEnded,
		}
		if got := types(evs); !slices.Equal(got, want) {
			t.Fatalf("log = %v\nwant  %v", got, want)
		}
		if ev := evs[5]; ev.RequestID != s.alert.Request.ID || ev.VisitorID != s.vid {
			t.Errorf("launch fired = %+v, want request %s", ev, s.alert.Request.ID)
		}
		if ev := evs[6]; ev.Kind != domain.RequestPresence {
			t.Errorf("queued = %+v, want a presence request", ev)
		}
	})

	t.Run("DeclineExpireWithdraw", func(t *testing.T) {
		s := newNoInviteScene(t)
		s.e.agent(t, "agent-b", "Ben", 3, "shop")
		consoleB, _ := s.e.console(t, "agent-b")
		s.e.setStatus(t, "agent-b", domain.StatusAvailable)
		_, start := s.e.logSince(t, 0)
		if err := s.e.svc.DeclineChatRequest(ctx(t), "agent-a", s.alert.Request.ID); err != nil {
			t.Fatal(err)
		}
		s.e.alerted(t, consoleB, s.alert.Request.ID)
		s.e.setStatus(t, "agent-b", domain.StatusAway) // withdrawn; nobody else may take it
		got, _ := s.e.logSince(t, start)
		want := []domain.EventType{
			domain.EventRequestDeclined, domain.EventRequestAlerted,
			domain.EventAgentStatusChanged, domain.EventRequestAlertWithdrawn,
		}
		if !slices.Equal(types(got), want) {
			t.Fatalf("log = %v\nwant  %v", types(got), want)
		}
		if got[0].AgentID != "agent-a" || got[3].AgentID != "agent-b" || got[3].Reason != "agent is away" {
			t.Errorf("declined by %q, withdrawn from %q (%q)", got[0].AgentID, got[3].AgentID, got[3].Reason)
		}
	})

	t.Run("InvitationDeclinedAndVisitorLeft", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.respond(t, vid, inv.ID, false)
		p.stop()
		e.clock.Advance(grace)
		e.settle(t)
		evs := e.eventLog(t)
		want := []domain.EventType{
			domain.EventSiteCreated, domain.EventAgentCreated,
			domain.EventAgentStatusChanged, domain.EventVisitorArrived, domain.EventVisitorPageViewed,
			domain.EventLaunchFired, domain.EventInvitationSent, domain.EventInvitationDeclined,
			domain.EventVisitorLeft,
		}
		if !slices.Equal(types(evs), want) {
			t.Fatalf("log = %v\nwant  %v", types(evs), want)
		}
	})

	t.Run("Mode1_NoForm", func(t *testing.T) {
		// Without a form, Yes queues at once: no form.submitted.
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.respond(t, vid, inv.ID, true)
		e.alerted(t, console, "")
		want := []domain.EventType{
			domain.EventSiteCreated, domain.EventAgentCreated,
			domain.EventAgentStatusChanged, domain.EventVisitorArrived, domain.EventVisitorPageViewed,
			domain.EventLaunchFired, domain.EventInvitationSent, domain.EventInvitationAccepted,
			domain.EventRequestQueued, domain.EventRequestAlerted,
		}
		if got := types(e.eventLog(t)); !slices.Equal(got, want) {
			t.Fatalf("log = %v\nwant  %v", got, want)
		}
	})

	t.Run("PageViewsSummarised", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		e.clock.Advance(2 * time.Second)
		for _, url := range []string{pricing, pricing, cart, shoes} {
			if _, err := e.svc.RecordPageView(ctx(t), vid, url, "Shop"); err != nil {
				t.Fatal(err)
			}
		}
		e.clock.Advance(2 * time.Second) // one write for all three
		for range 3 {
			if _, err := e.svc.RecordPageView(ctx(t), vid, shoes, "Shop"); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(2 * time.Second)
		}
		var urls []string
		for _, ev := range e.eventLog(t) {
			if ev.Type == domain.EventVisitorPageViewed {
				urls = append(urls, ev.URL)
			}
		}
		if want := []string{home, shoes}; !slices.Equal(urls, want) {
			t.Fatalf("pages in the log = %v, want %v: one per page written, none for the same page again", urls, want)
		}
	})

	t.Run("RestartContinuesPositions", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.restart(t)
		e.setStatus(t, "agent-a", domain.StatusAway)
		wantDense(t, e.eventLog(t))
		if n := len(e.eventLog(t)); n != 4 {
			t.Fatalf("log has %d events, want 4 (site, agent and two statuses)", n)
		}
	})

	t.Run("RollbackLeavesNoGap", func(t *testing.T) {
		// Concurrent updates share a commit; one that fails after
		// recording makes the writer roll back and run the batch again.
		// Positions are taken in the transaction, so the rerun assigns
		// them afresh: no gap, no duplicate.
		e := newEngine(t)
		errBoom := errors.New("boom")
		done := make(chan error, 40)
		for i := range 40 {
			go func() {
				done <- e.store.Update(ctx(t), func(tx domain.WriteTx) error {
					if err := tx.AppendEvent(&domain.Event{Type: domain.EventAgentStatusChanged, AgentID: "a", Time: t0}); err != nil {
						return err
					}
					if i%3 == 0 {
						return errBoom
					}
					return nil
				})
			}()
		}
		failed := 0
		for range 40 {
			if err := <-done; errors.Is(err, errBoom) {
				failed++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		evs := e.eventLog(t)
		wantDense(t, evs)
		if len(evs) != 40-failed {
			t.Fatalf("log has %d events, want %d (40 updates, %d failed)", len(evs), 40-failed, failed)
		}
	})
}

// TestEraseVisitorDeletesEvents checks that the log keeps nothing of an
// erased visitor: pages, form values and messages are personal data.
func TestEraseVisitorDeletesEvents(t *testing.T) {
	s := newNoInviteScene(t)
	chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
	s.e.send(t, chat.ID, s.vid, "my secret")
	s.e.leave(t, chat.ID, s.vid)
	s.e.leave(t, chat.ID, "agent-a")
	other := s.e.visitor(t, "shop")
	s.e.page(t, other, home)
	s.e.clock.Advance(2 * time.Second)
	s.page.stop()
	s.e.clock.Advance(grace)
	s.e.settle(t)
	before := s.e.eventLog(t)
	if err := s.e.svc.EraseVisitor(ctx(t), s.vid); err != nil {
		t.Fatal(err)
	}
	after := s.e.eventLog(t)
	kept := map[domain.EventType]int{}
	for _, ev := range after {
		if ev.VisitorID == s.vid || ev.ChatID == chat.ID {
			t.Errorf("event %d %s of the erased visitor is still in the log", ev.Position, ev.Type)
		}
		kept[ev.Type]++
	}
	want := map[domain.EventType]int{domain.EventSiteCreated: 1, domain.EventAgentCreated: 1,
		domain.EventAgentStatusChanged: 1, domain.EventVisitorArrived: 1, domain.EventVisitorPageViewed: 1}
	if !maps.Equal(kept, want) {
		t.Errorf("kept %v, want %v (of %d events before)", kept, want, len(before))
	}
	// A position is never reused.
	s.e.setStatus(t, "agent-a", domain.StatusAway)
	if last := s.e.eventLog(t); last[len(last)-1].Position != before[len(before)-1].Position+1 {
		t.Errorf("next position %d, want %d", last[len(last)-1].Position, before[len(before)-1].Position+1)
	}
}

func TestEventID(t *testing.T) {
	for pos, want := range map[uint64]string{0: "evt_0000000000000000", 1: "evt_0000000000000001", 0xabc: "evt_0000000000000abc", ^uint64(0): "evt_ffffffffffffffff"} {
		if got := domain.EventID(pos); got != want {
			t.Errorf("EventID(%d) = %q, want %q", pos, got, want)
		}
	}
}

// TestOfflineMessageEvents: leaving a message and marking it handled are
// logged once each (a retry or a second mark records nothing), and the
// events go when the visitor is erased.
func TestOfflineMessageEvents(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop")
	vid := e.visitor(t, "shop")
	_, start := e.logSince(t, 0)
	m, err := e.svc.LeaveMessage(ctx(t), vid, goodMessage("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.LeaveMessage(ctx(t), vid, goodMessage("k1")); err != nil {
		t.Fatal(err)
	}
	agentA := domain.Principal{Kind: domain.AgentPrincipal, ID: "agent-a"}
	for range 2 {
		if _, err := e.svc.MarkOfflineMessageHandled(ctx(t), agentA, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := e.logSince(t, start)
	want := []domain.EventType{domain.EventOfflineMessageLeft, domain.EventOfflineMessageHandled}
	if !slices.Equal(types(got), want) {
		t.Fatalf("log = %v\nwant  %v", types(got), want)
	}
	for _, ev := range got {
		if ev.SiteID != "shop" || ev.VisitorID != vid || ev.OfflineMessageID != m.ID {
			t.Errorf("%s = %+v, want site shop, visitor %s, message %s", ev.Type, ev, vid, m.ID)
		}
	}
	if got[1].AgentID != "agent-a" {
		t.Errorf("handled by %q, want agent-a", got[1].AgentID)
	}
	if err := e.svc.EraseVisitor(ctx(t), vid); err != nil {
		t.Fatal(err)
	}
	for _, ev := range e.eventLog(t) {
		if ev.VisitorID == vid {
			t.Errorf("event %d %s of the erased visitor is still in the log", ev.Position, ev.Type)
		}
	}
}
