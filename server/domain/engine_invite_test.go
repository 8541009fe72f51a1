package domain_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestWithInvite walks Mode 1 of the specification, one subtest per step.
func TestWithInvite(t *testing.T) {
	t.Run("Step1_InvitationAfterLaunchCriteria", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")

		first, _ := e.page(t, vid, home)
		e.clock.Advance(20 * time.Second)
		first.stop() // a page load: the old page's stream closes …
		e.clock.Advance(5 * time.Second)
		next, _ := e.page(t, vid, pricing) // … and the new page's opens
		tab, _ := e.page(t, vid, cart)     // and a second tab
		e.clock.Advance(4 * time.Second)
		if st := e.state(t, vid); st.Invitation != nil || st.Engagement != domain.EngagementBrowsing {
			t.Fatalf("29s on the site: engagement %v, invitation %+v; want browsing, none", st.Engagement, st.Invitation)
		}

		e.clock.Advance(time.Second) // 30s, counted across the page load
		inv := next.next(t, invited).State.Invitation
		if inv.Text != "Need a hand? Chat with us." || inv.State != domain.InvitationPending || !inv.CreateTime.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("invitation = %+v, want the site's text, pending, at 30s", inv)
		}
		if got := tab.next(t, invited).State.Invitation; got.ID != inv.ID {
			t.Fatalf("second tab shows invitation %s, first %s", got.ID, inv.ID)
		}

		// One invitation at a time: another tab shows the same one, and
		// nothing makes a second.
		if _, st := e.page(t, vid, shoes); st.Invitation == nil || st.Invitation.ID != inv.ID {
			t.Fatalf("third tab shows %+v, want invitation %s", st.Invitation, inv.ID)
		}
		e.clock.Advance(20 * time.Second)
		if got := e.pendingInvitations(t, vid); len(got) != 1 || got[0].ID != inv.ID {
			t.Fatalf("pending invitations = %d, want only %s", len(got), inv.ID)
		}
		_, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})

	t.Run("Step2_NoInvitationWhileNoAgentAvailable", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.site(t, "other", withInvite())
		e.agent(t, "agent-a", "Ada", 1, "shop") // offline
		e.agent(t, "agent-o", "Oz", 3, "other")
		e.setStatus(t, "agent-o", domain.StatusAvailable) // serves another site only
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)

		e.clock.Advance(45 * time.Second)
		if st := e.state(t, vid); st.Invitation != nil || len(e.pendingInvitations(t, vid)) != 0 {
			t.Fatalf("invited with no agent of the site available: %+v", st.Invitation)
		}
		e.setStatus(t, "agent-a", domain.StatusAvailable) // eligible again
		inv := awaitDue(t, e, p, invited).State.Invitation
		if !inv.CreateTime.Equal(t0.Add(45 * time.Second)) {
			t.Fatalf("invited at %v, want as the agent became available", inv.CreateTime)
		}
	})

	t.Run("Step2_NoInvitationWhileAgentsFull", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 1, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		busy := e.visitor(t, "shop")
		e.page(t, busy, home)
		chat, err := e.svc.StartChat(ctx(t), "agent-a", busy)
		if err != nil {
			t.Fatal(err)
		}
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)

		e.clock.Advance(40 * time.Second)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited while the only agent is at capacity: %+v", st.Invitation)
		}
		e.leave(t, chat.ID, "agent-a") // the agent's chat is over: capacity frees up
		inv := awaitDue(t, e, p, invited).State.Invitation
		if !inv.CreateTime.Equal(t0.Add(40 * time.Second)) {
			t.Fatalf("invited at %v, want as the agent freed up", inv.CreateTime)
		}
	})

	t.Run("Step3_AcceptShowsForm", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation

		e.clock.Advance(3 * time.Second)
		if st := e.respond(t, vid, inv.ID, true); st.Engagement != domain.EngagementFillingForm || len(st.Form) != 4 {
			t.Fatalf("after Yes: engagement %v, form %+v; want the form", st.Engagement, st.Form)
		}
		form := p.next(t, stateWhere(func(st *domain.VisitorState) bool { return st.Form != nil })).State.Form
		var keys []string
		for _, f := range form {
			keys = append(keys, f.Key)
		}
		if !slices.Equal(keys, []string{"name", "email", "phone", "question"}) || !form[0].Required || form[2].Required || form[1].Type != domain.FieldEmail {
			t.Fatalf("form = %+v, want the site's fields with their types and required marks", form)
		}
		if rec := e.invitation(t, inv.ID); rec.State != domain.InvitationAccepted || !rec.RespondTime.Equal(t0.Add(33*time.Second)) {
			t.Fatalf("invitation record = %+v, want accepted at 33s", rec)
		}
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("queued before the form was sent: %+v", q)
		}
	})

	t.Run("Step3_RefuseHidesAndSuppresses", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation

		st := e.respond(t, vid, inv.ID, false)
		if st.Invitation != nil || st.Engagement != domain.EngagementDeclined {
			t.Fatalf("after No: engagement %v, invitation %+v; want declined, hidden", st.Engagement, st.Invitation)
		}
		p.next(t, stateWhere(func(st *domain.VisitorState) bool {
			return st.Invitation == nil && st.Engagement == domain.EngagementDeclined
		}))
		if rec := e.invitation(t, inv.ID); rec.State != domain.InvitationDeclined || !rec.RespondTime.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("invitation record = %+v, want declined at 30s", rec)
		}
		_, err := e.svc.RespondToInvitation(ctx(t), vid, inv.ID, true)
		wantCode(t, err, domain.CodeFailedPrecondition)

		// Not again in this visit, nor in a later one (no cooldown set).
		e.clock.Advance(time.Hour)
		p.stop()
		e.clock.Advance(grace)
		if online, _ := e.svc.ListOnlineVisitors(ctx(t), "shop"); len(online) != 0 {
			t.Fatalf("visitor still online after leaving: %+v", online)
		}
		e.clock.Advance(time.Hour)
		e.page(t, vid, home)
		e.clock.Advance(time.Hour)
		if st := e.state(t, vid); st.Invitation != nil || len(e.pendingInvitations(t, vid)) != 0 {
			t.Fatalf("invited again after refusing: %+v", st.Invitation)
		}
	})

	t.Run("Step3_ReinviteAfterCooldown", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.ReinviteCooldownSeconds = 600
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		e.respond(t, vid, p.next(t, invited).State.Invitation.ID, false) // refused at 30s

		// Past the cooldown but in the same visit: not again. (The page
		// view re-arms the launch timer now, rather than leaving it to the
		// refusal's re-arming, which runs in the background.)
		e.clock.Advance(10 * time.Second)
		if _, err := e.svc.RecordPageView(ctx(t), vid, pricing, "Pricing"); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(660 * time.Second)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited twice in one visit: %+v", st.Invitation)
		}
		// A later visit, after the cooldown: the launching criteria apply.
		p.stop()
		e.clock.Advance(grace + 5*time.Second) // back at 720s
		p, _ = e.page(t, vid, home)
		e.clock.Advance(29 * time.Second)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited before the launching criteria of the new visit: %+v", st.Invitation)
		}
		e.clock.Advance(time.Second)
		inv := p.next(t, invited).State.Invitation
		if want := t0.Add(750 * time.Second); !inv.CreateTime.Equal(want) {
			t.Fatalf("invited again at %v, want %v", inv.CreateTime, want)
		}

		// Refused again at 750s, back at 800s: the cooldown, not the
		// launching criteria, decides (750s + 600s).
		e.respond(t, vid, inv.ID, false)
		p.stop()
		e.clock.Advance(50 * time.Second)
		p, _ = e.page(t, vid, home)
		e.clock.Advance(549 * time.Second)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited during the cooldown: %+v", st.Invitation)
		}
		e.clock.Advance(time.Second)
		if inv := p.next(t, invited).State.Invitation; !inv.CreateTime.Equal(t0.Add(1350 * time.Second)) {
			t.Fatalf("invited at %v, want at the end of the cooldown", inv.CreateTime)
		}
	})

	t.Run("Step3_UnansweredInvitationExpires", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.InviteTimeoutSeconds = 20
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		if want := t0.Add(50 * time.Second); !inv.ExpireTime.Equal(want) {
			t.Fatalf("expires at %v, want %v", inv.ExpireTime, want)
		}

		e.clock.Advance(19 * time.Second)
		if st := e.state(t, vid); st.Invitation == nil || st.Invitation.ID != inv.ID {
			t.Fatalf("invitation gone before its timeout: %+v", st)
		}
		e.clock.Advance(time.Second)
		p.next(t, stateWhere(func(st *domain.VisitorState) bool { return st.Invitation == nil }))
		if rec := e.invitation(t, inv.ID); rec.State != domain.InvitationExpired {
			t.Fatalf("invitation state = %v, want expired", rec.State)
		}
		_, err := e.svc.RespondToInvitation(ctx(t), vid, inv.ID, true)
		wantCode(t, err, domain.CodeFailedPrecondition)
		e.clock.Advance(10 * time.Minute)
		if st := e.state(t, vid); st.Invitation != nil {
			t.Fatalf("invited again after letting an invitation expire: %+v", st.Invitation)
		}
	})

	t.Run("Step3_InvitationWithdrawnOnDeparture", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		p.stop() // gone without answering
		e.clock.Advance(grace)
		if rec := e.invitation(t, inv.ID); rec.State != domain.InvitationWithdrawn {
			t.Fatalf("invitation state = %v, want withdrawn", rec.State)
		}
		// Leaving is not refusing: a later visit may be invited again.
		e.clock.Advance(time.Hour)
		p, _ = e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		if got := p.next(t, invited).State.Invitation; got.ID == inv.ID {
			t.Fatalf("later visit shows the withdrawn invitation %s", got.ID)
		}
	})

	t.Run("Step4_SubmitFormChecksEveryField", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.setStatus(t, "agent-a", domain.StatusAway) // the request will wait in the queue
		e.respond(t, vid, inv.ID, true)

		for _, tc := range []struct {
			name   string
			values map[string]string
			want   []string
		}{
			{"BlankAndMistyped", map[string]string{"name": "   ", "email": "not-an-email", "phone": "call me"},
				[]string{"values.email", "values.name", "values.phone"}},
			{"RequiredMissing", map[string]string{}, []string{"values.email", "values.name"}},
			{"TooLong", map[string]string{"name": strings.Repeat("x", 41), "email": "ann@example.com", "question": strings.Repeat("q", 101)},
				[]string{"values.name", "values.question"}},
			{"EmailWithoutDomain", map[string]string{"name": "Ann", "email": "ann@localhost"}, []string{"values.email"}},
			{"PhoneTooShort", map[string]string{"name": "Ann", "email": "ann@example.com", "phone": "12-3"}, []string{"values.phone"}},
			{"UnknownField", map[string]string{"name": "Ann", "email": "ann@example.com", "colour": "red"}, []string{"values.colour"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.SubmitForm(ctx(t), vid, tc.values)
				if got := violationFields(t, err); !slices.Equal(got, tc.want) {
					t.Fatalf("violations %v, want %v (%v)", got, tc.want, err)
				}
				if q := e.queue(t, "shop"); len(q) != 0 {
					t.Fatalf("an invalid form was queued: %+v", q)
				}
				if st := e.state(t, vid); st.Engagement != domain.EngagementFillingForm {
					t.Fatalf("engagement = %v, want still filling the form", st.Engagement)
				}
			})
		}

		st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
		if err != nil {
			t.Fatal(err)
		}
		if st.Engagement != domain.EngagementQueued || st.Queue == nil || st.Queue.Position != 1 {
			t.Fatalf("after a valid form: %+v, want queued at position 1", st)
		}
		q := e.queue(t, "shop")
		if len(q) != 1 || q[0].FormValues["name"] != "Ann" || q[0].FormValues["email"] != "ann@example.com" {
			t.Fatalf("queue = %+v, want the request with the trimmed form values", q)
		}
	})

	t.Run("Step4_FormOnlyAfterAccepting", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)

		_, err := e.svc.SubmitForm(ctx(t), vid, validForm())
		wantCode(t, err, domain.CodeFailedPrecondition) // browsing
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		_, err = e.svc.SubmitForm(ctx(t), vid, validForm())
		wantCode(t, err, domain.CodeFailedPrecondition) // invited, not yet accepted
		e.respond(t, vid, inv.ID, false)
		_, err = e.svc.SubmitForm(ctx(t), vid, validForm())
		wantCode(t, err, domain.CodeFailedPrecondition) // refused
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("queued without accepting: %+v", q)
		}
	})

	t.Run("Step5_QueuedWithPositionAndWait", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 1, "shop") // offline: the queue builds up
		console, _ := e.console(t, "agent-a")
		var vids []string
		var pages []*stream[domain.VisitorUpdate]
		for range 3 {
			vid := e.visitor(t, "shop")
			p, _ := e.page(t, vid, home)
			inv, err := e.svc.InviteVisitor(ctx(t), "agent-a", vid)
			if err != nil {
				t.Fatal(err)
			}
			e.respond(t, vid, inv.ID, true)
			vids, pages = append(vids, vid), append(pages, p)
		}
		var reqs []string
		for i, vid := range vids {
			e.clock.Advance(time.Second)
			st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
			if err != nil {
				t.Fatal(err)
			}
			if st.Engagement != domain.EngagementQueued || st.Queue.Position != i+1 || !st.Queue.EnqueueTime.Equal(e.clock.Now()) {
				t.Fatalf("visitor %d: %+v, want queued at position %d", i, st.Queue, i+1)
			}
			reqs = append(reqs, st.Queue.RequestID)
		}
		pages[2].next(t, atPosition(3))
		q := e.queue(t, "shop")
		if len(q) != 3 || q[0].ID != reqs[0] || q[1].ID != reqs[1] || q[2].ID != reqs[2] {
			t.Fatalf("queue = %+v, want %v in order", q, reqs)
		}

		// The queue moves: the first leaves, those behind move up. The
		// positions shown were refreshed for the last join less than a
		// second ago: they follow at the end of that second.
		if _, err := e.svc.LeaveQueue(ctx(t), vids[0]); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		pages[1].next(t, atPosition(1))
		pages[2].next(t, atPosition(2))

		// An agent takes the first in line after 21s of waiting: the next
		// in line is first now, with that wait as its estimate.
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.alerted(t, console, reqs[1])
		pages[1].next(t, engagement(domain.EngagementAlerting))
		e.clock.Advance(19 * time.Second)
		e.accept(t, "agent-a", reqs[1])
		st := pages[2].next(t, atPosition(1)).State
		if st.Queue.EstimatedWait != 21*time.Second || st.Engagement != domain.EngagementQueued {
			t.Fatalf("next in line: %+v %v, want queued with a 21s estimate", st.Queue, st.Engagement)
		}
	})

	t.Run("Step5_WithoutFormStraightToQueue", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.setStatus(t, "agent-a", domain.StatusAway) // nobody to alert: the request waits

		st := e.respond(t, vid, inv.ID, true)
		if st.Engagement != domain.EngagementQueued || st.Form != nil || st.Queue == nil || st.Queue.Position != 1 {
			t.Fatalf("after Yes on a site without a form: %+v, want queued at position 1", st)
		}
		p.next(t, atPosition(1))
		q := e.queue(t, "shop")
		if len(q) != 1 || q[0].VisitorID != vid || q[0].Kind != domain.RequestInvited || q[0].State != domain.RequestQueued {
			t.Fatalf("queue = %+v", q)
		}
	})

	t.Run("Step6_FirstAvailableAgentAlerted", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.site(t, "other", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.agent(t, "agent-c", "Cleo", 3, "shop") // away
		e.agent(t, "agent-d", "Dev", 3, "other")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.setStatus(t, "agent-d", domain.StatusAvailable)
		e.setStatus(t, "agent-c", domain.StatusAway)
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		consoleC, _ := e.console(t, "agent-c")
		consoleD, _ := e.console(t, "agent-d")
		e.clock.Advance(5 * time.Second)
		e.setStatus(t, "agent-b", domain.StatusAvailable) // idle for less time than agent-a

		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		e.respond(t, vid, p.next(t, invited).State.Invitation.ID, true)
		st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
		if err != nil {
			t.Fatal(err)
		}
		req := st.Queue.RequestID

		alert := e.alerted(t, consoleA, req)
		if !strings.Contains(alert.Reason, "longest idle (35s)") || alert.Request.VisitorID != vid ||
			alert.Request.FormValues["email"] != "ann@example.com" || alert.Visitor.CurrentPage.URL != home {
			t.Fatalf("alert = %+v, want the longest idle agent, with the visitor and the form", alert)
		}
		p.next(t, engagement(domain.EngagementAlerting))
		if ds := e.decisions(t, "shop"); len(ds) != 1 || ds[0].AgentID != "agent-a" || ds[0].Reason != alert.Reason || ds[0].ChatRequestID != req {
			t.Fatalf("routing decisions = %+v, want one, for agent-a", ds)
		}
		// Exactly one agent: the others are not alerted and cannot take it.
		_, err = e.svc.AcceptChatRequest(ctx(t), "agent-b", req)
		wantCode(t, err, domain.CodeFailedPrecondition)
		e.quiet(t, consoleB, "agent-b")
		e.quiet(t, consoleC, "agent-c")
		e.quiet(t, consoleD, "agent-d")
	})

	t.Run("Step7_AcceptIsAtomic", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(time.Second)
		e.setStatus(t, "agent-b", domain.StatusAvailable)
		e.clock.Advance(29 * time.Second)
		req := e.respond(t, vid, p.next(t, invited).State.Invitation.ID, true).Queue.RequestID

		// Both agents pass, so the request waits in the queue where either
		// may claim it.
		e.alerted(t, consoleA, req)
		if err := e.svc.DeclineChatRequest(ctx(t), "agent-a", req); err != nil {
			t.Fatal(err)
		}
		e.alerted(t, consoleB, req)
		if err := e.svc.DeclineChatRequest(ctx(t), "agent-b", req); err != nil {
			t.Fatal(err)
		}
		if q := e.queue(t, "shop"); len(q) != 1 || q[0].State != domain.RequestQueued || len(q[0].PassedAgentIDs) != 2 {
			t.Fatalf("queue = %+v, want the request queued, passed by both", q)
		}

		type result struct {
			agent string
			chat  *domain.Chat
			err   error
		}
		results := make([]result, 8)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range results {
			agent := []string{"agent-a", "agent-b"}[i%2]
			wg.Go(func() {
				<-start
				chat, err := e.svc.AcceptChatRequest(context.Background(), agent, req)
				results[i] = result{agent, chat, err}
			})
		}
		close(start)
		wg.Wait()
		var won []result
		for _, r := range results {
			switch {
			case r.err == nil:
				won = append(won, r)
			case domain.ErrorCode(r.err) != domain.CodeFailedPrecondition:
				t.Errorf("losing claim by %s: %v, want FailedPrecondition", r.agent, r.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("%d claims won, want exactly 1", len(won))
		}
		winner, chat := won[0].agent, won[0].chat
		name := map[string]string{"agent-a": "Ada", "agent-b": "Ben"}[winner]
		if chat.State != domain.ChatStateActive || chat.Agent.DisplayName != name || chat.ChatRequestID != req {
			t.Fatalf("chat = %+v", chat)
		}
		if st := p.next(t, engagement(domain.EngagementChatting)).State; st.Chat.ID != chat.ID {
			t.Fatalf("visitor is in chat %s, want %s", st.Chat.ID, chat.ID)
		}
		if ev := p.next(t, visitorEvent(isStarted)).Event; ev.Started.Agent.DisplayName != name {
			t.Fatalf("visitor sees the chat started with %q, want %q", ev.Started.Agent.DisplayName, name)
		}
		for _, id := range []string{"agent-a", "agent-b"} {
			a, _ := e.svc.GetAgent(ctx(t), id)
			if want := id == winner; slices.Contains(a.ActiveChatIDs, chat.ID) != want || len(a.ActiveChatIDs) > 1 {
				t.Fatalf("%s has chats %v", id, a.ActiveChatIDs)
			}
		}
		if r := e.request(t, req); r.State != domain.RequestAccepted || r.ChatID != chat.ID {
			t.Fatalf("request = %+v, want accepted for the chat", r)
		}
	})

	t.Run("Step8_AgentMessageReachesVisitor", func(t *testing.T) {
		e := newEngine(t)
		_, p, chat := chatViaInvite(t, e)
		e.send(t, chat.ID, "agent-a", "Hello, I'm Ada. How can I help?")
		ev := p.next(t, visitorEvent(isMessage("Hello, I'm Ada. How can I help?"))).Event
		if ev.Seq != 2 || ev.Message.Sender.Role != domain.RoleAgent || ev.Message.Sender.DisplayName != "Ada" {
			t.Fatalf("message = %+v, want seq 2 from agent Ada", ev)
		}
	})

	t.Run("Step9_ConversationContinues", func(t *testing.T) {
		e := newEngine(t)
		vid, p, chat := chatViaInvite(t, e)
		agentView := e.chatStream(t, chat.ID, 1)
		turns := []struct{ from, text string }{
			{"agent-a", "Hello, how can I help?"},
			{vid, "Do you ship to Norway?"},
			{"agent-a", "Yes, in 3 days."},
			{vid, "Great, thanks!"},
		}
		for i, turn := range turns {
			e.send(t, chat.ID, turn.from, turn.text)
			for _, s := range []func(*testing.T) *domain.ChatEvent{
				func(t *testing.T) *domain.ChatEvent { return p.next(t, visitorEvent(isMessage(turn.text))).Event },
				func(t *testing.T) *domain.ChatEvent { return agentView.next(t, chatEvent(isMessage(turn.text))).Event },
			} {
				if ev := s(t); ev.Seq != uint32(i+2) || ev.Message.Sender.ID != turn.from {
					t.Fatalf("turn %d = %+v", i, ev)
				}
			}
		}
		if c, _ := e.svc.GetChat(ctx(t), chat.ID); c.State != domain.ChatStateActive || c.VisitorMessageCount != 2 {
			t.Fatalf("chat = %+v, want active with 2 visitor messages", c)
		}
	})

	t.Run("Step10_BothLeaveEndsChat", func(t *testing.T) {
		e := newEngine(t)
		vid, p, chat := chatViaInvite(t, e)
		agentView := e.chatStream(t, chat.ID, 0)
		e.send(t, chat.ID, "agent-a", "Anything else?")
		e.send(t, chat.ID, vid, "No, that's all.")

		e.leave(t, chat.ID, "agent-a")
		p.next(t, visitorEvent(func(ev *domain.ChatEvent) bool {
			return ev.ParticipantLeft != nil && ev.ParticipantLeft.Role == domain.RoleAgent
		}))
		if c, _ := e.svc.GetChat(ctx(t), chat.ID); c.State != domain.ChatStateActive {
			t.Fatalf("chat ended when only the agent left: %+v", c)
		}
		if a, _ := e.svc.GetAgent(ctx(t), "agent-a"); len(a.ActiveChatIDs) != 0 {
			t.Fatalf("agent still holds %v after leaving", a.ActiveChatIDs)
		}
		e.leave(t, chat.ID, vid)
		if ev := p.next(t, visitorEvent(isEnded)).Event; ev.Ended.Reason != domain.EndBothLeft {
			t.Fatalf("visitor sees end reason %v, want both left", ev.Ended.Reason)
		}
		p.next(t, engagement(domain.EngagementBrowsing))
		if ev := agentView.next(t, chatEvent(isEnded)).Event; ev.Ended.Reason != domain.EndBothLeft {
			t.Fatalf("agent sees end reason %v", ev.Ended.Reason)
		}
		if c, _ := e.svc.GetChat(ctx(t), chat.ID); c.State != domain.ChatStateEnded || c.EndReason != domain.EndBothLeft {
			t.Fatalf("chat = %+v, want ended, both left", c)
		}
	})

	t.Run("QueueHold_PlaceKeptOnReturn", func(t *testing.T) {
		h := newHoldScene(t)
		h.p1.stop() // the visitor closes the window while alerting
		h.e.clock.Advance(grace + 100*time.Second)
		if q := h.e.queue(t, "shop"); len(q) != 2 || q[0].ID != h.r1 || q[0].AlertedAgentID != "agent-a" || q[1].ID != h.r2 {
			t.Fatalf("queue during the hold = %+v, want both requests, the first still alerting", q)
		}
		if st := h.e.state(t, h.v2); st.Queue.Position != 2 {
			t.Fatalf("second in line at %d during the hold, want 2", st.Queue.Position)
		}
		_, st := h.e.page(t, h.v1, home) // back: the place is still there
		if st.Queue == nil || st.Queue.RequestID != h.r1 || st.Queue.Position != 1 || st.Engagement != domain.EngagementAlerting {
			t.Fatalf("back in the queue: %v %+v, want position 1, alerting", st.Engagement, st.Queue)
		}
		if r := h.e.request(t, h.r1); !r.HoldUntil.IsZero() {
			t.Fatalf("hold still set at %v after the visitor came back", r.HoldUntil)
		}
		h.e.clock.Advance(5 * time.Minute)
		if q := h.e.queue(t, "shop"); len(q) != 2 {
			t.Fatalf("the request was dropped although the visitor came back: %+v", q)
		}
	})

	t.Run("QueueHold_AbandonedAfterHold", func(t *testing.T) {
		h := newHoldScene(t)
		h.p1.stop()
		h.e.clock.Advance(119 * time.Second)
		if q := h.e.queue(t, "shop"); len(q) != 2 {
			t.Fatalf("request dropped before the hold ended: %+v", q)
		}
		h.e.clock.Advance(time.Second)
		if w := h.console.next(t, isWithdrawn(h.r1)).AlertWithdrawn; w.Reason == "" {
			t.Fatalf("withdrawal without a reason: %+v", w)
		}
		h.p2.next(t, atPosition(1))
		h.e.alerted(t, h.console, h.r2) // the agent's capacity went to the next in line
		if r := h.e.request(t, h.r1); r.State != domain.RequestAbandoned {
			t.Fatalf("request state = %v, want abandoned", r.State)
		}
		if q := h.e.queue(t, "shop"); len(q) != 1 || q[0].ID != h.r2 {
			t.Fatalf("queue = %+v, want only the second request", q)
		}
		if st := h.e.state(t, h.v1); st.Engagement != domain.EngagementBrowsing || st.Queue != nil {
			t.Fatalf("visitor after abandonment: %+v", st)
		}
	})

	t.Run("LeaveQueue_AbandonsAtOnce", func(t *testing.T) {
		h := newHoldScene(t)
		st, err := h.e.svc.LeaveQueue(ctx(t), h.v1)
		if err != nil {
			t.Fatal(err)
		}
		if st.Engagement != domain.EngagementBrowsing || st.Queue != nil {
			t.Fatalf("after LeaveQueue: %+v", st)
		}
		h.console.next(t, isWithdrawn(h.r1))
		h.p2.next(t, atPosition(1))
		h.e.alerted(t, h.console, h.r2)
		if q := h.e.queue(t, "shop"); len(q) != 1 || q[0].ID != h.r2 {
			t.Fatalf("queue = %+v, want only the second request", q)
		}
		_, err = h.e.svc.LeaveQueue(ctx(t), h.v1)
		wantCode(t, err, domain.CodeFailedPrecondition)
	})
}

// chatViaInvite takes a visitor of a new site "shop" through Mode 1
// without a form to a chat accepted by agent-a ("Ada"). It returns the
// visitor, its widget stream (past the chat's start) and the chat.
func chatViaInvite(t *testing.T, e *engine) (string, *stream[domain.VisitorUpdate], *domain.Chat) {
	t.Helper()
	e.site(t, "shop", withInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	console, _ := e.console(t, "agent-a")
	vid := e.visitor(t, "shop")
	p, _ := e.page(t, vid, home)
	e.clock.Advance(30 * time.Second)
	req := e.respond(t, vid, p.next(t, invited).State.Invitation.ID, true).Queue.RequestID
	e.alerted(t, console, req)
	chat := e.accept(t, "agent-a", req)
	p.next(t, visitorEvent(isStarted))
	return vid, p, chat
}

// holdScene is two visitors in the queue of a site with a 120s queue hold:
// the first alerting the only agent (capacity 1), the second waiting behind.
type holdScene struct {
	e       *engine
	console *stream[domain.AgentUpdate]
	v1, v2  string
	p1, p2  *stream[domain.VisitorUpdate]
	r1, r2  string
}

func newHoldScene(t *testing.T) *holdScene {
	t.Helper()
	h := &holdScene{e: newEngine(t)}
	e := h.e
	pc := withInvite()
	pc.QueueHoldSeconds = 120
	pc.AlertTimeoutSeconds = 600
	e.site(t, "shop", pc)
	e.agent(t, "agent-a", "Ada", 1, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	h.console, _ = e.console(t, "agent-a")
	h.v1, h.v2 = e.visitor(t, "shop"), e.visitor(t, "shop")
	h.p1, _ = e.page(t, h.v1, home)
	h.p2, _ = e.page(t, h.v2, home)
	e.clock.Advance(30 * time.Second)
	inv1 := h.p1.next(t, invited).State.Invitation
	inv2 := h.p2.next(t, invited).State.Invitation
	h.r1 = e.respond(t, h.v1, inv1.ID, true).Queue.RequestID
	e.alerted(t, h.console, h.r1)
	e.clock.Advance(time.Second)
	h.r2 = e.respond(t, h.v2, inv2.ID, true).Queue.RequestID
	h.p2.next(t, atPosition(2))
	return h
}
