package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

func TestDisabledByDefault(t *testing.T) {
	e := newEngine(t)
	plain := e.site(t, "plain", domain.ProactiveChatSettings{})
	if plain.ProactiveChat.Enabled {
		t.Fatalf("a new site has proactive chat enabled: %+v", plain.ProactiveChat)
	}
	inviteOff := withInvite()
	inviteOff.Enabled = false
	e.site(t, "invite-off", inviteOff)
	noInviteOff := withoutInvite()
	noInviteOff.Enabled = false
	e.site(t, "noinvite-off", noInviteOff)
	sites := []string{"plain", "invite-off", "noinvite-off"}
	e.agent(t, "agent-a", "Ada", 3, sites...)
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	console, _ := e.console(t, "agent-a")
	visitors := map[string]string{}
	for _, site := range sites {
		visitors[site] = e.visitor(t, site)
		e.page(t, visitors[site], home)
	}

	e.clock.Advance(2 * time.Hour) // far past every launching criterion
	for _, site := range sites {
		vid := visitors[site]
		if st := e.state(t, vid); st.Engagement != domain.EngagementBrowsing || st.Invitation != nil {
			t.Errorf("%s: visitor state %+v, want browsing without invitation", site, st)
		}
		if inv := e.pendingInvitations(t, vid); len(inv) != 0 {
			t.Errorf("%s: invitations %+v", site, inv)
		}
		if q := e.queue(t, site); len(q) != 0 {
			t.Errorf("%s: queue %+v, want empty", site, q)
		}
		if ds := e.decisions(t, site); len(ds) != 0 {
			t.Errorf("%s: routing decisions %+v, want none", site, ds)
		}
		_, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
		wantCode(t, err, domain.CodeFailedPrecondition)
		_, err = e.svc.StartChat(ctx(t), "agent-a", vid)
		wantCode(t, err, domain.CodeFailedPrecondition)
	}
	e.quiet(t, console, "agent-a")
}

func TestUpdateSiteAppliesToVisitorsOnSite(t *testing.T) {
	setup := func(t *testing.T, pc domain.ProactiveChatSettings) (*engine, string, *stream[domain.VisitorUpdate], *stream[domain.AgentUpdate]) {
		e := newEngine(t)
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		return e, vid, p, console
	}
	update := func(t *testing.T, e *engine, pc domain.ProactiveChatSettings, paths ...string) {
		if _, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "shop", ProactiveChat: pc}, paths); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("EnableWithInviteLaunchesAtOnce", func(t *testing.T) {
		e, vid, p, _ := setup(t, domain.ProactiveChatSettings{})
		e.clock.Advance(time.Minute)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited on a disabled site: %+v", st.Invitation)
		}
		update(t, e, withInvite(), "proactive_chat") // the visitor has been here 60s > 30s
		e.clock.Advance(0)
		if inv := p.next(t, invited).State.Invitation; !inv.CreateTime.Equal(t0.Add(time.Minute)) {
			t.Fatalf("invited at %v, want as the site was enabled", inv.CreateTime)
		}
	})

	t.Run("EnableWithoutInviteCountsTimeAlreadySpent", func(t *testing.T) {
		e, _, _, console := setup(t, domain.ProactiveChatSettings{})
		e.clock.Advance(10 * time.Second)
		update(t, e, withoutInvite(), "proactive_chat")
		e.clock.Advance(19 * time.Second)
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("launched early: %+v", q)
		}
		e.clock.Advance(time.Second)
		if a := e.alerted(t, console, ""); !a.Request.EnqueueTime.Equal(t0.Add(30 * time.Second)) {
			t.Fatalf("alerted for a request queued at %v, want 30s after the visit began", a.Request.EnqueueTime)
		}
	})

	t.Run("DisableCancelsPendingLaunch", func(t *testing.T) {
		e, vid, _, console := setup(t, withInvite())
		e.clock.Advance(10 * time.Second)
		update(t, e, domain.ProactiveChatSettings{}, "proactive_chat.enabled")
		e.clock.Advance(time.Hour)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited after the site was disabled: %+v", st.Invitation)
		}
		e.quiet(t, console, "agent-a")
	})

	t.Run("LaunchAfterChanged", func(t *testing.T) {
		e, vid, p, _ := setup(t, withInvite())
		e.clock.Advance(10 * time.Second)
		update(t, e, domain.ProactiveChatSettings{LaunchAfterSeconds: 60}, "proactive_chat.launch_after_seconds")
		e.clock.Advance(50*time.Second - time.Nanosecond)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited by the old launching criteria: %+v", st.Invitation)
		}
		e.clock.Advance(time.Nanosecond)
		if inv := p.next(t, invited).State.Invitation; !inv.CreateTime.Equal(t0.Add(time.Minute)) {
			t.Fatalf("invited at %v, want 60s after the visit began", inv.CreateTime)
		}
	})
}

func TestWatchAgent(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	e.site(t, "other", withoutInvite())
	e.agent(t, "agent-a", "Ada", 1, "shop") // offline: requests wait
	e.agent(t, "agent-o", "Oz", 1, "other")
	v1, v2, vo := e.visitor(t, "shop"), e.visitor(t, "shop"), e.visitor(t, "other")
	e.page(t, v1, home)
	po, _ := e.page(t, vo, home)
	e.clock.Advance(time.Second)
	p2, _ := e.page(t, v2, home)
	e.clock.Advance(30 * time.Second)
	q := e.queue(t, "shop")
	if len(q) != 2 {
		t.Fatalf("queue = %+v, want 2 requests", q)
	}
	r1, r2 := q[0].ID, q[1].ID

	console, snap := e.console(t, "agent-a")
	if snap.Agent.ID != "agent-a" || len(snap.Queue) != 2 || snap.Queue[0].ID != r1 || snap.Queue[1].ID != r2 || len(snap.Alerts) != 0 {
		t.Fatalf("snapshot = %+v, want the agent, its site's queue in order and no alerts", snap)
	}

	// It follows changes: a new request, an alert, a departure.
	v3 := e.visitor(t, "shop")
	e.page(t, v3, home)
	e.clock.Advance(30 * time.Second)
	r3 := console.next(t, func(u domain.AgentUpdate) bool {
		return u.QueueChanged != nil && u.QueueChanged.VisitorID == v3 && u.QueueChanged.State == domain.RequestQueued
	}).QueueChanged.ID
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	console.next(t, func(u domain.AgentUpdate) bool {
		return u.AgentChanged != nil && u.AgentChanged.Status == domain.StatusAvailable
	})
	e.alerted(t, console, r1)
	_, again := e.console(t, "agent-a")
	if len(again.Alerts) != 1 || again.Alerts[0].Request.ID != r1 || len(again.Queue) != 3 || again.Queue[2].ID != r3 {
		t.Fatalf("second console's snapshot = %+v, want the alert for %s and 3 requests", again, r1)
	}
	po.stop() // a visitor of another site leaves: not this agent's business
	p2.stop()
	e.clock.Advance(grace)
	console.next(t, func(u domain.AgentUpdate) bool {
		if u.QueueChanged != nil && u.QueueChanged.SiteID != "shop" {
			t.Fatalf("console shows a request of site %s", u.QueueChanged.SiteID)
		}
		return u.QueueChanged != nil && u.QueueChanged.ID == r2 && u.QueueChanged.State == domain.RequestAbandoned
	})
}

func TestAgentGrace(t *testing.T) {
	setup := func(t *testing.T) (*engine, *stream[domain.AgentUpdate], *stream[domain.AgentUpdate], string) {
		e := newEngine(t, withAgentGrace(20*time.Second))
		pc := withoutInvite()
		pc.AlertTimeoutSeconds = 600
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		e.clock.Advance(time.Second)
		e.setStatus(t, "agent-b", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		req := e.alerted(t, consoleA, "").Request.ID
		return e, consoleA, consoleB, req
	}

	t.Run("ConsoleGoneGoesOfflineAndAlertsMove", func(t *testing.T) {
		e, consoleA, consoleB, req := setup(t)
		consoleA.stop()
		e.clock.Advance(19 * time.Second)
		if a, _ := e.svc.GetAgent(ctx(t), "agent-a"); a.Status != domain.StatusAvailable {
			t.Fatalf("agent %v before the grace ended", a.Status)
		}
		if r := e.request(t, req); r.AlertedAgentID != "agent-a" {
			t.Fatalf("alert moved during the grace: %+v", r)
		}
		e.clock.Advance(time.Second)
		if a, _ := e.svc.GetAgent(ctx(t), "agent-a"); a.Status != domain.StatusOffline {
			t.Fatalf("agent %v after the grace, want offline", a.Status)
		}
		e.alerted(t, consoleB, req)
		if r := e.request(t, req); len(r.PassedAgentIDs) != 0 {
			t.Fatalf("a disconnected agent counts as having passed: %v", r.PassedAgentIDs)
		}
	})

	t.Run("ReloadWithinGraceKeepsStatus", func(t *testing.T) {
		e, consoleA, consoleB, req := setup(t)
		consoleA.stop()
		e.clock.Advance(10 * time.Second)
		_, snap := e.console(t, "agent-a") // the console reloads
		if len(snap.Alerts) != 1 || snap.Alerts[0].Request.ID != req {
			t.Fatalf("reloaded console's alerts = %+v, want %s", snap.Alerts, req)
		}
		e.clock.Advance(time.Minute)
		if a, _ := e.svc.GetAgent(ctx(t), "agent-a"); a.Status != domain.StatusAvailable {
			t.Fatalf("agent %v after a reload, want available", a.Status)
		}
		if r := e.request(t, req); r.AlertedAgentID != "agent-a" {
			t.Fatalf("alert moved after a reload: %+v", r)
		}
		e.quiet(t, consoleB, "agent-b")
	})
}

func TestPageConditions(t *testing.T) {
	e := newEngine(t)
	pc := withInvite()
	pc.IncludePages = []string{"https://shop.example/products/*"}
	pc.ExcludePages = []string{"https://shop.example/products/secret*"}
	e.site(t, "shop", pc)
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	noInvitation := func(vid, where string) {
		t.Helper()
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited %s: %+v", where, st.Invitation)
		}
	}

	// Not included, then a page load onto an included page.
	v1 := e.visitor(t, "shop")
	p1, _ := e.page(t, v1, home)
	e.clock.Advance(40 * time.Second)
	noInvitation(v1, "on a page not included")
	p1.stop()
	p1, _ = e.page(t, v1, shoes)
	e.clock.Advance(0)
	if inv := p1.next(t, invited).State.Invitation; !inv.CreateTime.Equal(t0.Add(40 * time.Second)) {
		t.Fatalf("invited at %v, want on arriving at an included page", inv.CreateTime)
	}

	// Excluded, then a page view of an included page.
	v2 := e.visitor(t, "shop")
	p2, _ := e.page(t, v2, secret)
	e.clock.Advance(40 * time.Second)
	noInvitation(v2, "on an excluded page")
	if _, err := e.svc.RecordPageView(ctx(t), v2, hats, "Hats"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(0)
	p2.next(t, invited)

	// Included, away when the criteria are met, then back.
	v3 := e.visitor(t, "shop")
	p3, _ := e.page(t, v3, hats)
	e.clock.Advance(20 * time.Second)
	e.svc.RecordPageView(ctx(t), v3, about, "About")
	e.clock.Advance(20 * time.Second)
	noInvitation(v3, "on a page not included")
	e.svc.RecordPageView(ctx(t), v3, hats, "Hats")
	e.clock.Advance(0)
	p3.next(t, invited)
}

func TestManualInvite(t *testing.T) {
	e := newEngine(t)
	pc := withInvite()
	pc.FormFields = contactForm()
	pc.LaunchAfterSeconds = 3600
	e.site(t, "shop", pc)
	e.site(t, "other", withInvite())
	e.site(t, "off", domain.ProactiveChatSettings{})
	mode2 := withoutInvite()
	mode2.LaunchAfterSeconds = 3600
	e.site(t, "mode2", mode2)
	e.agent(t, "agent-a", "Ada", 3, "shop", "off", "mode2")
	e.agent(t, "agent-x", "Xi", 3, "other")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	e.setStatus(t, "agent-x", domain.StatusAvailable)
	console, _ := e.console(t, "agent-a")
	vid := e.visitor(t, "shop")
	p, _ := e.page(t, vid, home)
	e.clock.Advance(5 * time.Second)

	t.Run("Errors", func(t *testing.T) {
		_, err := e.svc.InviteVisitor(ctx(t), "agent-x", vid)
		wantCode(t, err, domain.CodePermissionDenied)
		_, err = e.svc.InviteVisitor(ctx(t), "agent-a", e.visitor(t, "shop")) // never on the site
		wantCode(t, err, domain.CodeFailedPrecondition)
		_, err = e.svc.InviteVisitor(ctx(t), "agent-a", "visitor_nope")
		wantCode(t, err, domain.CodeNotFound)
		off := e.visitor(t, "off")
		e.page(t, off, home)
		_, err = e.svc.InviteVisitor(ctx(t), "agent-a", off)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})

	inv, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
	if err != nil {
		t.Fatal(err)
	}
	if inv.InvitedByAgentID != "agent-a" || inv.Text != pc.InviteText || inv.State != domain.InvitationPending || !inv.CreateTime.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("invitation = %+v", inv)
	}
	if got := p.next(t, invited).State.Invitation; got.ID != inv.ID {
		t.Fatalf("visitor shows invitation %s, want %s", got.ID, inv.ID)
	}
	_, err = e.svc.InviteVisitor(ctx(t), "agent-a", vid)
	wantCode(t, err, domain.CodeFailedPrecondition) // one at a time

	// The same flow as an automatic invitation: Yes, form, queue, alert.
	if st := e.respond(t, vid, inv.ID, true); st.Form == nil {
		t.Fatalf("after Yes: %+v, want the form", st)
	}
	st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
	if err != nil {
		t.Fatal(err)
	}
	e.alerted(t, console, st.Queue.RequestID)

	t.Run("OnSiteWithoutInvite", func(t *testing.T) {
		vid := e.visitor(t, "mode2")
		p, _ := e.page(t, vid, home)
		inv, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
		if err != nil {
			t.Fatal(err)
		}
		p.next(t, invited)
		st := e.respond(t, vid, inv.ID, true)
		if st.Queue == nil || st.Queue.Position != 1 {
			t.Fatalf("after Yes: %+v, want the visitor shown the queue", st)
		}
		if r := e.request(t, st.Queue.RequestID); r.Kind != domain.RequestInvited {
			t.Fatalf("request kind = %v, want invited", r.Kind)
		}
	})
}

func TestInactivity(t *testing.T) {
	e := newEngine(t)
	pc := withoutInvite()
	pc.LaunchAfterSeconds = 3600
	pc.InactivityTimeoutSeconds = 300
	pc.InactivityWarningSeconds = 60
	e.site(t, "shop", pc)
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	vid := e.visitor(t, "shop")
	p, _ := e.page(t, vid, home)
	chat, err := e.svc.StartChat(ctx(t), "agent-a", vid)
	if err != nil {
		t.Fatal(err)
	}
	agentView := e.chatStream(t, chat.ID, 0)
	isWarning := func(ev *domain.ChatEvent) bool { return ev.InactivityWarning != nil }
	warnings := func() int {
		events, _, err := e.svc.ListChatEvents(ctx(t), chat.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range events {
			if isWarning(&ev) {
				n++
			}
		}
		return n
	}

	e.clock.Advance(100 * time.Second)
	e.send(t, chat.ID, "agent-a", "Still there?") // last activity at 100s
	e.clock.Advance(239 * time.Second)
	if n := warnings(); n != 0 {
		t.Fatalf("%d warnings before 340s", n)
	}
	e.clock.Advance(time.Second)
	for _, ev := range []*domain.ChatEvent{p.next(t, visitorEvent(isWarning)).Event, agentView.next(t, chatEvent(isWarning)).Event} {
		if want := t0.Add(400 * time.Second); !ev.InactivityWarning.EndTime.Equal(want) || !ev.Time.Equal(t0.Add(340*time.Second)) {
			t.Fatalf("warning = %+v at %v, want at 340s ending at %v", ev.InactivityWarning, ev.Time, want)
		}
	}

	// A message after the warning postpones the end.
	e.clock.Advance(10 * time.Second)
	e.send(t, chat.ID, vid, "Yes, sorry!") // 350s
	e.clock.Advance(50 * time.Second)
	if c, _ := e.svc.GetChat(ctx(t), chat.ID); c.State != domain.ChatStateActive {
		t.Fatalf("chat ended although someone wrote: %+v", c)
	}
	e.clock.Advance(189 * time.Second)
	if n := warnings(); n != 1 {
		t.Fatalf("%d warnings at 589s, want 1", n)
	}
	e.clock.Advance(time.Second)
	agentView.next(t, chatEvent(isWarning))
	e.clock.Advance(60 * time.Second)
	if ev := p.next(t, visitorEvent(isEnded)).Event; ev.Ended.Reason != domain.EndInactive || !ev.Time.Equal(t0.Add(650*time.Second)) {
		t.Fatalf("ended = %+v at %v, want inactive at 650s", ev.Ended, ev.Time)
	}
	agentView.next(t, chatEvent(isEnded))
	if c, _ := e.svc.GetChat(ctx(t), chat.ID); c.State != domain.ChatStateEnded || c.EndReason != domain.EndInactive {
		t.Fatalf("chat = %+v, want ended as inactive", c)
	}
	if a, _ := e.svc.GetAgent(ctx(t), "agent-a"); len(a.ActiveChatIDs) != 0 {
		t.Fatalf("agent still holds %v", a.ActiveChatIDs)
	}
	p.next(t, engagement(domain.EngagementBrowsing))
}

// TestWatchAgentFollowsSiteChanges adds a site to an agent whose console is
// open: the console must follow that site's queue too.
func TestWatchAgentFollowsSiteChanges(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	e.site(t, "other", withoutInvite())
	e.agent(t, "agent-a", "Ada", 1, "shop") // offline: requests wait in the queue
	console, _ := e.console(t, "agent-a")
	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: "agent-a", SiteIDs: []string{"shop", "other"}}, []string{"site_ids"}); err != nil {
		t.Fatal(err)
	}
	// The console starts again from a snapshot of its new sites' queues …
	console.next(t, func(u domain.AgentUpdate) bool { return u.Snapshot != nil })
	vid := e.visitor(t, "other")
	e.page(t, vid, home)
	e.clock.Advance(30 * time.Second)
	// … and follows them.
	console.next(t, func(u domain.AgentUpdate) bool {
		return u.QueueChanged != nil && u.QueueChanged.VisitorID == vid
	})
}

// TestDisablingAbandonsQueue: turning proactive chat off leaves nobody
// waiting in a queue that no agent will be alerted for.
func TestDisablingAbandonsQueue(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop") // offline: the request waits
	vid := e.visitor(t, "shop")
	p, _ := e.page(t, vid, home)
	if _, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid); err != nil {
		t.Fatal(err)
	}
	inv := p.next(t, invited).State.Invitation
	e.respond(t, vid, inv.ID, true) // no form: straight to the queue
	p.next(t, engagement(domain.EngagementQueued))
	if _, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: "shop"}, []string{"proactive_chat.enabled"}); err != nil {
		t.Fatal(err)
	}
	p.next(t, engagement(domain.EngagementBrowsing))
	if q := e.queue(t, "shop"); len(q) != 0 {
		t.Fatalf("queue after disabling = %+v", q)
	}
}
