package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestRestart stops the server in the middle of each stage of the flow and
// starts it again on the same store: what was under way goes on, with its
// deadlines where they were.
func TestRestart(t *testing.T) {
	// invitedScene is a visitor invited at 30s by a site with agent-a
	// available (and, with withAgentB, agent-b available from 1s).
	invitedScene := func(t *testing.T, pc domain.ProactiveChatSettings, withAgentB bool) (*engine, string, *domain.Invitation) {
		e := newEngine(t)
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.clock.Advance(time.Second)
		if withAgentB {
			e.setStatus(t, "agent-b", domain.StatusAvailable)
		}
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		return e, vid, p.next(t, invited).State.Invitation
	}

	t.Run("Invited_ExpiresOnTime", func(t *testing.T) {
		e, vid, inv := invitedScene(t, withInvite(), false) // expires at 91s
		e.clock.Advance(20 * time.Second)
		e.restart(t)
		e.console(t, "agent-a")
		p, st := e.page(t, vid, home)
		if st.Engagement != domain.EngagementInvited || st.Invitation == nil || st.Invitation.ID != inv.ID {
			t.Fatalf("after the restart: %v %+v, want invitation %s", st.Engagement, st.Invitation, inv.ID)
		}
		e.clock.Advance(39 * time.Second)
		if st := e.state(t, vid); st.Invitation == nil {
			t.Fatalf("invitation expired early: %+v", st)
		}
		e.clock.Advance(time.Second)
		p.next(t, stateWhere(func(st *domain.VisitorState) bool {
			return st.Invitation == nil && st.Engagement == domain.EngagementDeclined
		}))
		if rec := e.invitation(t, inv.ID); rec.State != domain.InvitationExpired || !rec.RespondTime.Equal(inv.ExpireTime) {
			t.Fatalf("invitation = %+v, want expired at %v", rec, inv.ExpireTime)
		}
	})

	t.Run("Invited_CanStillAnswer", func(t *testing.T) {
		pc := withInvite()
		pc.FormFields = contactForm()
		e, vid, inv := invitedScene(t, pc, false)
		e.clock.Advance(10 * time.Second)
		e.restart(t)
		p, _ := e.page(t, vid, home)
		if st := e.respond(t, vid, inv.ID, true); st.Engagement != domain.EngagementFillingForm {
			t.Fatalf("after Yes: %+v, want the form", st)
		}
		p.next(t, stateWhere(func(st *domain.VisitorState) bool { return len(st.Form) == 4 }))
	})

	t.Run("FillingForm_SubmitAfterReconnect", func(t *testing.T) {
		pc := withInvite()
		pc.FormFields = contactForm()
		e, vid, inv := invitedScene(t, pc, false)
		e.respond(t, vid, inv.ID, true)
		e.clock.Advance(10 * time.Second)
		e.restart(t)
		console, _ := e.console(t, "agent-a")
		_, st := e.page(t, vid, home)
		if st.Engagement != domain.EngagementFillingForm || len(st.Form) != 4 {
			t.Fatalf("after reconnecting: %v, form %+v; want the form again", st.Engagement, st.Form)
		}
		st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
		if err != nil {
			t.Fatal(err)
		}
		if a := e.alerted(t, console, st.Queue.RequestID); a.Request.FormValues["name"] != "Ann" {
			t.Fatalf("alert = %+v, want the form values", a)
		}
	})

	t.Run("Queued_KeptForReturningVisitorAndOffered", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.QueueHoldSeconds = 120
		pc.AlertTimeoutSeconds = 600
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 1, "shop") // offline: the queue waits
		v1, v2 := e.visitor(t, "shop"), e.visitor(t, "shop")
		var reqs []string
		for _, vid := range []string{v1, v2} {
			e.page(t, vid, home)
			inv, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Second)
			reqs = append(reqs, e.respond(t, vid, inv.ID, true).Queue.RequestID)
		}
		e.clock.Advance(8 * time.Second)
		e.restart(t) // at 10s

		console, snap := e.console(t, "agent-a")
		if len(snap.Queue) != 2 || snap.Queue[0].ID != reqs[0] || snap.Queue[1].ID != reqs[1] {
			t.Fatalf("queue after the restart = %+v, want %v", snap.Queue, reqs)
		}
		p2, st := e.page(t, v2, home) // the second visitor is back at once
		if st.Queue == nil || st.Queue.RequestID != reqs[1] || st.Queue.Position != 2 {
			t.Fatalf("returning visitor sees %+v, want its place, 2nd", st.Queue)
		}
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.alerted(t, console, reqs[0]) // re-offered, first in first out

		// The first visitor never comes back: its place is held for the
		// queue hold from the restart, then given up.
		e.clock.Advance(119 * time.Second)
		if q := e.queue(t, "shop"); len(q) != 2 {
			t.Fatalf("queue before the hold ended = %+v", q)
		}
		e.clock.Advance(time.Second)
		console.next(t, isWithdrawn(reqs[0]))
		e.alerted(t, console, reqs[1])
		p2.next(t, atPosition(1))
	})

	t.Run("Queued_HoldRunsFromWhenTheVisitorLeft", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.QueueHoldSeconds = 120
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 1, "shop") // offline: the queue waits
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		inv, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
		if err != nil {
			t.Fatal(err)
		}
		e.respond(t, vid, inv.ID, true)
		e.clock.Advance(10 * time.Second)
		p.stop() // the place is held until 130s
		e.clock.Advance(10 * time.Second)
		e.restart(t)
		e.clock.Advance(109 * time.Second)
		if q := e.queue(t, "shop"); len(q) != 1 {
			t.Fatalf("queue at 129s = %+v, want the held request", q)
		}
		e.clock.Advance(time.Second)
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("queue at 130s = %+v, want the request abandoned when its hold ended", q)
		}
	})

	t.Run("Alerting_DeadlineStillFailsOver", func(t *testing.T) {
		e, vid, inv := invitedScene(t, withInvite(), true)
		console, _ := e.console(t, "agent-a") // before the alert it waits for
		req := e.respond(t, vid, inv.ID, true).Queue.RequestID
		e.alerted(t, console, req) // alerting agent-a until 61s
		e.clock.Advance(10 * time.Second)
		e.restart(t)

		consoleA, snap := e.console(t, "agent-a")
		if len(snap.Alerts) != 1 || snap.Alerts[0].Request.ID != req {
			t.Fatalf("agent-a's alerts after the restart = %+v, want %s", snap.Alerts, req)
		}
		consoleB, _ := e.console(t, "agent-b")
		if _, st := e.page(t, vid, home); st.Engagement != domain.EngagementAlerting || st.Queue.Position != 1 {
			t.Fatalf("visitor after the restart: %v %+v", st.Engagement, st.Queue)
		}
		e.clock.Advance(19 * time.Second)
		if r := e.request(t, req); r.AlertedAgentID != "agent-a" || r.State != domain.RequestAlerting {
			t.Fatalf("request before its deadline = %+v", r)
		}
		e.clock.Advance(time.Second)
		if w := consoleA.next(t, isWithdrawn(req)).AlertWithdrawn; w.Reason != "expired" {
			t.Fatalf("withdrawn with %q, want expired", w.Reason)
		}
		e.alerted(t, consoleB, req)
	})

	t.Run("Alerting_DeadlinePassedWhileDown", func(t *testing.T) {
		e, vid, inv := invitedScene(t, withInvite(), true)
		console, _ := e.console(t, "agent-a")
		req := e.respond(t, vid, inv.ID, true).Queue.RequestID
		e.alerted(t, console, req)
		e.restartAfter(t, time.Minute) // the deadline passed while the server was down
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		e.page(t, vid, home)
		e.clock.Advance(0) // deadlines already passed fire at once
		consoleA.next(t, isWithdrawn(req))
		e.alerted(t, consoleB, req)
	})

	t.Run("PresenceRequestHeldForMassDisconnectGrace", func(t *testing.T) {
		// A visitor alerted without invite is held while they count as on
		// the site: after a restart, the mass disconnect grace.
		s := newNoInviteScene(t)
		s.e.restart(t)
		s.e.clock.Advance(domain.DefaultMassDisconnectGrace - time.Millisecond)
		if r := s.e.request(t, s.alert.Request.ID); !r.Open() {
			t.Fatalf("request = %v before the mass disconnect grace, want still open", r.State)
		}
		s.e.clock.Advance(time.Millisecond)
		if r := s.e.request(t, s.alert.Request.ID); r.State != domain.RequestAbandoned {
			t.Fatalf("request = %v after the mass disconnect grace, want abandoned", r.State)
		}
	})

	t.Run("ActiveChat_VisitorNeverBackLeaves", func(t *testing.T) {
		e := newEngine(t)
		pc := withoutInvite()
		pc.LaunchAfterSeconds = 3600
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
		if err != nil {
			t.Fatal(err)
		}
		e.send(t, chat.ID, vid, "Hi")
		e.restart(t)
		agentView := e.chatStream(t, chat.ID, 2)
		// A restart is a mass disconnect: past the presence grace, the
		// visitor may still be on its way back.
		e.clock.Advance(grace)
		e.settle(t)
		if got, err := e.svc.GetChat(ctx(t), chat.ID); err != nil || got.State != domain.ChatStateActive || !got.VisitorLeftTime.IsZero() {
			t.Fatalf("chat after the presence grace = %+v, %v; want the visitor still in it", got, err)
		}
		// The visitor does not come back within the mass disconnect
		// grace: it has left, as if its stream had closed at the restart.
		e.clock.Advance(domain.DefaultMassDisconnectGrace - grace)
		if ev := agentView.next(t, chatEvent(func(ev *domain.ChatEvent) bool { return ev.ParticipantLeft != nil })).Event; ev.ParticipantLeft.ID != vid {
			t.Fatalf("left = %+v, want the visitor", ev.ParticipantLeft)
		}
	})

	t.Run("ActiveChat_AgentLeftVisitorNeverBack", func(t *testing.T) {
		e := newEngine(t)
		pc := withoutInvite()
		pc.LaunchAfterSeconds = 3600
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
		if err != nil {
			t.Fatal(err)
		}
		e.send(t, chat.ID, vid, "Hi")
		e.leave(t, chat.ID, "agent-a") // the chat stays active for the visitor
		e.restart(t)
		view := e.chatStream(t, chat.ID, 3)
		e.clock.Advance(domain.DefaultMassDisconnectGrace)
		if ev := view.next(t, chatEvent(isEnded)).Event; ev.Ended.Reason != domain.EndBothLeft {
			t.Fatalf("ended = %+v, want both left", ev.Ended)
		}
	})

	t.Run("ActiveChat_ContinuesAndInactivityRebuilt", func(t *testing.T) {
		e := newEngine(t)
		pc := withoutInvite()
		pc.LaunchAfterSeconds = 3600
		pc.InactivityTimeoutSeconds = 300
		pc.InactivityWarningSeconds = 60
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(10 * time.Second)
		e.send(t, chat.ID, "agent-a", "Hello!")
		e.clock.Advance(10 * time.Second)
		e.send(t, chat.ID, vid, "Hi") // seq 3, last activity at 20s
		e.clock.Advance(80 * time.Second)
		e.restart(t) // at 100s

		e.console(t, "agent-a")
		agentView := e.chatStream(t, chat.ID, 3)
		p, st := e.pageResuming(t, domain.VisitorWatch{VisitorID: vid, PageURL: home, ResumeChatID: chat.ID, ResumeAfterSeq: 3})
		if st.Engagement != domain.EngagementChatting || st.Chat.ID != chat.ID {
			t.Fatalf("after the restart the visitor is %v, want chatting", st.Engagement)
		}
		isWarning := func(ev *domain.ChatEvent) bool { return ev.InactivityWarning != nil }
		e.clock.Advance(159 * time.Second)
		if events, _, _ := e.svc.ListChatEvents(ctx(t), chat.ID, 3, 0); len(events) != 0 {
			t.Fatalf("events before 260s: %+v", events)
		}
		e.clock.Advance(time.Second) // 20s + 300s - 60s
		if ev := p.next(t, visitorEvent(isWarning)).Event; ev.Seq != 4 || !ev.InactivityWarning.EndTime.Equal(t0.Add(320*time.Second)) {
			t.Fatalf("warning = %+v, want seq 4 ending at 320s", ev)
		}
		agentView.next(t, chatEvent(isWarning))

		e.send(t, chat.ID, "agent-a", "Are you still there?") // the chat goes on
		p.next(t, visitorEvent(isMessage("Are you still there?")))
		e.clock.Advance(300 * time.Second)
		if ev := agentView.next(t, chatEvent(isEnded)).Event; ev.Ended.Reason != domain.EndInactive || !ev.Time.Equal(t0.Add(560*time.Second)) {
			t.Fatalf("ended = %+v at %v, want inactive at 560s", ev.Ended, ev.Time)
		}
	})
}
