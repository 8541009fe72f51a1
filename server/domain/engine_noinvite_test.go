package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestWithoutInvite walks Mode 2 of the specification, one subtest per step.
func TestWithoutInvite(t *testing.T) {
	t.Run("Step1_AgentAlertedWithPageAndTime", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		e.clock.Advance(10 * time.Second)
		if _, err := e.svc.RecordPageView(ctx(t), vid, pricing, "Pricing"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(19 * time.Second)
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("launched before the launching criteria: %+v", q)
		}

		e.clock.Advance(time.Second)
		alert := e.alerted(t, console, "")
		r := alert.Request
		if r.VisitorID != vid || r.Kind != domain.RequestPresence || r.PageURL != pricing || !r.VisitStartTime.Equal(t0) || alert.Reason == "" {
			t.Fatalf("alert = %+v, want the visitor's presence request with a reason", alert)
		}
		if v := alert.Visitor; v.CurrentPage.URL != pricing || v.TimeOnSite != 30*time.Second {
			t.Fatalf("alert shows page %q after %v, want %q after 30s", v.CurrentPage.URL, v.TimeOnSite, pricing)
		}
		st := e.state(t, vid)
		if st.Engagement != domain.EngagementBrowsing || st.Invitation != nil || st.Form != nil || st.Queue != nil {
			t.Fatalf("visitor's state = %+v, want plain browsing", st)
		}
		if inv := e.pendingInvitations(t, vid); len(inv) != 0 {
			t.Fatalf("invitations made without invite: %+v", inv)
		}
	})

	t.Run("Step2_AgentAcceptsAlert", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		// Until the chat starts the widget has shown nothing but browsing.
		st := s.page.next(t, func(u domain.VisitorUpdate) bool {
			if u.State == nil {
				return false
			}
			if st := u.State; st.Engagement != domain.EngagementChatting &&
				(st.Engagement != domain.EngagementBrowsing || st.Invitation != nil || st.Form != nil || st.Queue != nil) {
				t.Fatalf("widget showed %+v before the chat, want browsing only", st)
			}
			return u.State.Engagement == domain.EngagementChatting
		}).State
		if st.Chat.ID != chat.ID || st.Chat.Agent.DisplayName != "Ada" {
			t.Fatalf("chat = %+v", st.Chat)
		}
		s.page.next(t, visitorEvent(isStarted))
		if w := s.console.next(t, isWithdrawn(s.alert.Request.ID)).AlertWithdrawn; w.Reason != "accepted" {
			t.Fatalf("alert withdrawn with %q, want accepted", w.Reason)
		}
		if q := s.e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("queue = %+v, want empty", q)
		}
	})

	t.Run("Step2_StartChatClaimsRequest", func(t *testing.T) {
		s := newNoInviteScene(t)
		s.e.agent(t, "agent-b", "Ben", 3, "shop")
		s.e.setStatus(t, "agent-b", domain.StatusAvailable)
		_, err := s.e.svc.StartChat(ctx(t), "agent-b", s.vid)
		wantCode(t, err, domain.CodeFailedPrecondition) // offered to agent-a

		chat, err := s.e.svc.StartChat(ctx(t), "agent-a", s.vid)
		if err != nil {
			t.Fatal(err)
		}
		if chat.ChatRequestID != s.alert.Request.ID {
			t.Fatalf("chat answers request %q, want %q", chat.ChatRequestID, s.alert.Request.ID)
		}
		s.console.next(t, isWithdrawn(s.alert.Request.ID))
		if r := s.e.request(t, s.alert.Request.ID); r.State != domain.RequestAccepted || r.ChatID != chat.ID {
			t.Fatalf("request = %+v, want accepted", r)
		}
		s.page.next(t, visitorEvent(isStarted))
	})

	t.Run("Step3_AgentMessageReachesVisitor", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		text := "Hi! Any questions about our prices?"
		s.e.send(t, chat.ID, "agent-a", text)
		ev := s.page.next(t, visitorEvent(isMessage(text))).Event
		if ev.Seq != 2 || ev.Message.Sender.DisplayName != "Ada" {
			t.Fatalf("message = %+v", ev)
		}
	})

	t.Run("Step4_VisitorReplies", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		agentView := s.e.chatStream(t, chat.ID, 0)
		s.e.send(t, chat.ID, "agent-a", "Hi! Can I help?")
		s.page.next(t, visitorEvent(isMessage("Hi! Can I help?")))
		s.e.send(t, chat.ID, s.vid, "No thanks, just looking.")
		if ev := agentView.next(t, chatEvent(isMessage("No thanks, just looking."))).Event; ev.Message.Sender.Role != domain.RoleVisitor {
			t.Fatalf("reply = %+v", ev)
		}
		// Having written, the visitor leaving is not a decline.
		s.e.leave(t, chat.ID, s.vid)
		agentView.next(t, chatEvent(func(ev *domain.ChatEvent) bool { return ev.ParticipantLeft != nil }))
		if c, _ := s.e.svc.GetChat(ctx(t), chat.ID); c.State != domain.ChatStateActive {
			t.Fatalf("chat = %+v, want active until the agent leaves", c)
		}
		s.e.leave(t, chat.ID, "agent-a")
		if ev := agentView.next(t, chatEvent(isEnded)).Event; ev.Ended.Reason != domain.EndBothLeft {
			t.Fatalf("end reason = %v, want both left", ev.Ended.Reason)
		}
	})

	t.Run("Step4_VisitorClosesChatWithoutWriting", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		agentView := s.e.chatStream(t, chat.ID, 0)
		s.e.send(t, chat.ID, "agent-a", "Hi! Can I help?")
		s.e.leave(t, chat.ID, s.vid)
		if ev := agentView.next(t, chatEvent(isEnded)).Event; ev.Ended.Reason != domain.EndVisitorDeclined {
			t.Fatalf("end reason = %v, want visitor declined", ev.Ended.Reason)
		}
		if a, _ := s.e.svc.GetAgent(ctx(t), "agent-a"); len(a.ActiveChatIDs) != 0 {
			t.Fatalf("agent still holds %v", a.ActiveChatIDs)
		}
		s.page.next(t, engagement(domain.EngagementBrowsing))
	})

	t.Run("Step4_VisitorClosesWindow", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		agentView := s.e.chatStream(t, chat.ID, 0)
		s.e.send(t, chat.ID, "agent-a", "Hi! Can I help?")
		s.page.stop()
		s.e.clock.Advance(grace)
		if ev := agentView.next(t, chatEvent(isEnded)).Event; ev.Ended.Reason != domain.EndVisitorDeclined {
			t.Fatalf("end reason = %v, want visitor declined", ev.Ended.Reason)
		}
	})

	t.Run("VisitorLeavesBeforeAgentAnswers", func(t *testing.T) {
		s := newNoInviteScene(t)
		s.page.stop()
		s.e.clock.Advance(grace - time.Second)
		if q := s.e.queue(t, "shop"); len(q) != 1 {
			t.Fatalf("request dropped during a page load's grace: %+v", q)
		}
		s.e.clock.Advance(time.Second)
		s.console.next(t, isWithdrawn(s.alert.Request.ID))
		if r := s.e.request(t, s.alert.Request.ID); r.State != domain.RequestAbandoned {
			t.Fatalf("request = %v, want abandoned", r.State)
		}
	})
}

// noInviteScene is a visitor of a Mode 2 site "shop" whose presence has just
// alerted agent-a ("Ada").
type noInviteScene struct {
	e       *engine
	vid     string
	page    *stream[domain.VisitorUpdate]
	console *stream[domain.AgentUpdate]
	alert   *domain.Alert
}

func newNoInviteScene(t *testing.T) *noInviteScene {
	t.Helper()
	s := &noInviteScene{e: newEngine(t)}
	s.e.site(t, "shop", withoutInvite())
	s.e.agent(t, "agent-a", "Ada", 3, "shop")
	s.e.setStatus(t, "agent-a", domain.StatusAvailable)
	s.console, _ = s.e.console(t, "agent-a")
	s.vid = s.e.visitor(t, "shop")
	s.page, _ = s.e.page(t, s.vid, pricing)
	s.e.clock.Advance(30 * time.Second)
	s.alert = s.e.alerted(t, s.console, "")
	return s
}
