package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func withLauncher(e *engine, t *testing.T, id string, pc domain.ProactiveChatSettings, label string) {
	t.Helper()
	_, err := e.svc.CreateSite(ctx(t), domain.SiteSpec{ID: id, Name: "Site " + id, ProactiveChat: pc,
		VisitorLauncher: domain.VisitorLauncherSettings{Enabled: true, Label: label}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRequestChat(t *testing.T) {
	t.Run("NeverInvited_NoForm", func(t *testing.T) {
		e := newEngine(t)
		withLauncher(e, t, "shop", withInvite(), "")
		e.agent(t, "agent-a", "Ada", 3, "shop")
		console, _ := e.console(t, "agent-a")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, st := e.page(t, vid, home)
		if st.Launcher == nil || st.Launcher.Label != domain.DefaultLauncherLabel {
			t.Fatalf("launcher = %+v, want the default label", st.Launcher)
		}
		st, err := e.svc.RequestChat(ctx(t), vid)
		if err != nil {
			t.Fatal(err)
		}
		// Routing runs once the request commits, concurrently with the
		// state read back: queued, or already alerting the agent.
		if !waiting(st.Engagement) || st.Queue == nil || st.Launcher != nil {
			t.Fatalf("state = %+v, want queued with a queue status, no launcher", st)
		}
		alert := e.alerted(t, console, st.Queue.RequestID)
		if alert.Request.Kind != domain.RequestVisitor {
			t.Fatalf("kind = %v, want RequestVisitor", alert.Request.Kind)
		}
		awaitDue(t, e, p, engagement(domain.EngagementAlerting))
		// Queued: refused.
		_, err = e.svc.RequestChat(ctx(t), vid)
		wantCode(t, err, domain.CodeFailedPrecondition)
		chat := e.accept(t, "agent-a", st.Queue.RequestID)
		// Chatting: refused, and no launcher.
		_, err = e.svc.RequestChat(ctx(t), vid)
		wantCode(t, err, domain.CodeFailedPrecondition)
		if st := e.state(t, vid); st.Launcher != nil {
			t.Fatalf("launcher shown while chatting")
		}
		// After the chat, the launcher is back.
		e.leave(t, chat.ID, vid)
		if st := e.state(t, vid); st.Launcher == nil {
			t.Fatalf("no launcher after the chat: %+v", st)
		}
	})

	t.Run("AfterNo_WithForm", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		withLauncher(e, t, "shop", pc, "Talk to us")
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		// Invited: the launcher is hidden and refused.
		if st := e.state(t, vid); st.Launcher != nil {
			t.Fatalf("launcher shown with an invitation")
		}
		_, err := e.svc.RequestChat(ctx(t), vid)
		wantCode(t, err, domain.CodeFailedPrecondition)

		st := e.respond(t, vid, inv.ID, false)
		if st.Engagement != domain.EngagementDeclined || st.Launcher == nil || st.Launcher.Label != "Talk to us" {
			t.Fatalf("after No: %+v", st)
		}
		st, err = e.svc.RequestChat(ctx(t), vid)
		if err != nil {
			t.Fatal(err)
		}
		if st.Engagement != domain.EngagementFillingForm || len(st.Form) != 4 {
			t.Fatalf("state = %+v, want the form", st)
		}
		// Filling the form: refused.
		_, err = e.svc.RequestChat(ctx(t), vid)
		wantCode(t, err, domain.CodeFailedPrecondition)
		st, err = e.svc.SubmitForm(ctx(t), vid, validForm())
		if err != nil {
			t.Fatal(err)
		}
		if !waiting(st.Engagement) || st.Queue == nil {
			t.Fatalf("state = %+v, want queued", st)
		}
		if req := e.request(t, st.Queue.RequestID); req.Kind != domain.RequestVisitor || req.FormValues["name"] != "Ann" {
			t.Fatalf("request = %+v, want RequestVisitor with the form", req)
		}
	})

	t.Run("Refused", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "plain", withInvite()) // launcher off
		off := withInvite()
		off.Enabled = false
		withLauncher(e, t, "off", off, "") // proactive chat off
		for _, site := range []string{"plain", "off"} {
			vid := e.visitor(t, site)
			_, st := e.page(t, vid, home)
			if st.Launcher != nil {
				t.Errorf("%s: launcher shown", site)
			}
			_, err := e.svc.RequestChat(ctx(t), vid)
			wantCode(t, err, domain.CodeFailedPrecondition)
		}
		_, err := e.svc.RequestChat(ctx(t), "")
		if got := strings.Join(violationFields(t, err), ","); got != "visitor_id" {
			t.Fatalf("violations = %s", got)
		}
		_, err = e.svc.RequestChat(ctx(t), "visitor_none")
		wantCode(t, err, domain.CodeNotFound)
	})

	t.Run("Settings", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		// Turning the launcher on shows it to visitors already on the site.
		_, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "shop", VisitorLauncher: domain.VisitorLauncherSettings{Enabled: true}}, []string{"visitor_launcher.enabled"})
		if err != nil {
			t.Fatal(err)
		}
		p.next(t, stateWhere(func(st *domain.VisitorState) bool { return st.Launcher != nil }))
		_, err = e.svc.UpdateSite(ctx(t), &domain.Site{ID: "shop", VisitorLauncher: domain.VisitorLauncherSettings{Label: strings.Repeat("x", 41)}}, []string{"visitor_launcher.label"})
		if got := strings.Join(violationFields(t, err), ","); got != "visitor_launcher.label" {
			t.Fatalf("violations = %s", got)
		}
		_, err = e.svc.CreateSite(ctx(t), domain.SiteSpec{Name: "x", VisitorLauncher: domain.VisitorLauncherSettings{Label: " "}})
		if got := strings.Join(violationFields(t, err), ","); got != "visitor_launcher.label" {
			t.Fatalf("violations = %s", got)
		}
	})
}

// TestRequestChatClosed: outside business hours the launcher is not shown
// and asking for a chat is refused (leaving a message is offered instead).
func TestRequestChatClosed(t *testing.T) {
	e := newEngine(t)
	withLauncher(e, t, "shop", withInvite(), "")
	e.hours(t, "shop", domain.BusinessHours{TimeZone: "Europe/Berlin"}, domain.OfflineMessageSettings{}) // never open
	vid := e.visitor(t, "shop")
	_, st := e.page(t, vid, home)
	if st.Launcher != nil || st.Site.Open || !st.Site.OfferMessage {
		t.Fatalf("state = launcher %+v, site %+v; want no launcher, closed, offering a message", st.Launcher, st.Site)
	}
	_, err := e.svc.RequestChat(ctx(t), vid)
	wantCode(t, err, domain.CodeFailedPrecondition)
}

// waiting reports whether a visitor's request waits: queued, or alerting
// an agent already.
func waiting(e domain.Engagement) bool {
	return e == domain.EngagementQueued || e == domain.EngagementAlerting
}
