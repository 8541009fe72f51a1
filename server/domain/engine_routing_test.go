package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestRouting checks which agent a chat request is offered to, and when.
// Requests come from Mode 2 presence, whose routing is Mode 1's too.
func TestRouting(t *testing.T) {
	t.Run("LongestIdleThenFewestChats", func(t *testing.T) {
		e := newEngine(t)
		pc := withoutInvite()
		pc.AlertTimeoutSeconds = 600
		e.site(t, "shop", pc)
		e.site(t, "other", withoutInvite())
		e.agent(t, "agent-a", "Ada", 1, "shop") // at capacity
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.agent(t, "agent-c", "Cleo", 3, "shop")
		e.agent(t, "agent-d", "Dev", 3, "shop") // away
		e.agent(t, "agent-g", "Gus", 3, "shop") // available first, but chatted until 3s
		e.agent(t, "agent-x", "Xi", 3, "other")
		consoles := map[string]*stream[domain.AgentUpdate]{}
		for _, id := range []string{"agent-a", "agent-b", "agent-c", "agent-d", "agent-g", "agent-x"} {
			consoles[id], _ = e.console(t, id)
		}
		for _, id := range []string{"agent-a", "agent-g", "agent-x"} {
			e.setStatus(t, id, domain.StatusAvailable)
		}
		e.setStatus(t, "agent-d", domain.StatusAway)
		busy := e.visitor(t, "shop")
		e.page(t, busy, home)
		if _, err := e.svc.StartChat(ctx(t), "agent-a", busy); err != nil {
			t.Fatal(err)
		}
		gv := e.visitor(t, "shop")
		e.page(t, gv, home)
		gChat, err := e.svc.StartChat(ctx(t), "agent-g", gv)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
		e.setStatus(t, "agent-b", domain.StatusAvailable) // idle since 1s
		e.clock.Advance(time.Second)
		e.setStatus(t, "agent-c", domain.StatusAvailable) // idle since 2s
		e.clock.Advance(time.Second)
		e.leave(t, gChat.ID, "agent-g") // idle since 3s

		var vids []string
		for range 4 { // launched at 33s, 34s, 35s, 36s
			vid := e.visitor(t, "shop")
			e.page(t, vid, home)
			vids = append(vids, vid)
			e.clock.Advance(time.Second)
		}
		e.clock.Advance(25 * time.Second)
		want := []struct{ agent, reason string }{
			{"agent-b", "longest idle (32s)"},
			{"agent-c", "longest idle (32s)"},
			{"agent-g", "longest idle (32s)"},
			{"agent-b", "fewest chats"}, // everyone has one: the longest idle of them
		}
		var reqs []string
		for i, w := range want {
			e.clock.Advance(time.Second) // one launch at a time, each routed before the next
			a := e.alerted(t, consoles[w.agent], "")
			if a.Request.VisitorID != vids[i] || !strings.Contains(a.Reason, w.reason) {
				t.Errorf("request %d: alert %+v, want for visitor %d with %q", i, a, i, w.reason)
			}
			reqs = append(reqs, a.Request.ID)
		}
		ds := e.decisions(t, "shop")
		if len(ds) != 4 {
			t.Fatalf("routing decisions = %+v, want 4", ds)
		}
		for i, d := range ds { // newest first
			if w := want[3-i]; d.AgentID != w.agent || d.ChatRequestID != reqs[3-i] || !strings.Contains(d.Reason, w.reason) {
				t.Errorf("decision %d = %+v, want %s for %q", i, d, w.agent, w.reason)
			}
		}
		if ds, _ := e.svc.ListRoutingDecisions(ctx(t), "shop", 2); len(ds) != 2 || ds[0].ChatRequestID != reqs[3] {
			t.Errorf("a page of 2 decisions = %+v, want the 2 newest", ds)
		}
		_, err = e.svc.ListRoutingDecisions(ctx(t), "shop", domain.MaxPageSize+1)
		wantCode(t, err, domain.CodeInvalid)
		for _, id := range []string{"agent-a", "agent-d", "agent-x"} {
			e.quiet(t, consoles[id], id)
		}
	})

	t.Run("AlertTimeoutFailsOver", func(t *testing.T) {
		e := newEngine(t)
		pc := withoutInvite()
		pc.AlertTimeoutSeconds = 20
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.agent(t, "agent-c", "Cleo", 3, "shop") // offline for now
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		consoleC, _ := e.console(t, "agent-c")
		e.clock.Advance(time.Second)
		e.setStatus(t, "agent-b", domain.StatusAvailable)
		e.page(t, e.visitor(t, "shop"), home)
		e.clock.Advance(30 * time.Second)
		req := e.alerted(t, consoleA, "").Request.ID

		e.clock.Advance(19 * time.Second)
		if r := e.request(t, req); r.State != domain.RequestAlerting || r.AlertedAgentID != "agent-a" {
			t.Fatalf("request before the deadline = %+v, want still alerting agent-a", r)
		}
		e.clock.Advance(time.Second)
		if w := consoleA.next(t, isWithdrawn(req)).AlertWithdrawn; w.Reason != "expired" {
			t.Fatalf("withdrawn with %q, want expired", w.Reason)
		}
		e.alerted(t, consoleB, req)
		// Offered to one agent at a time: agent-a no longer may take it.
		_, err := e.svc.AcceptChatRequest(ctx(t), "agent-a", req)
		wantCode(t, err, domain.CodeFailedPrecondition)
		if ds := e.decisions(t, "shop"); len(ds) != 2 || ds[0].AgentID != "agent-b" || ds[1].AgentID != "agent-a" {
			t.Fatalf("routing decisions = %+v, want agent-a then agent-b", ds)
		}

		// Everyone let it pass: it waits, until an agent who has not
		// passed becomes available.
		e.clock.Advance(20 * time.Second)
		consoleB.next(t, isWithdrawn(req))
		if r := e.request(t, req); r.State != domain.RequestQueued || len(r.PassedAgentIDs) != 2 {
			t.Fatalf("request after both deadlines = %+v, want queued, passed by both", r)
		}
		e.setStatus(t, "agent-c", domain.StatusAvailable)
		e.alerted(t, consoleC, req)
		if err := e.svc.DeclineChatRequest(ctx(t), "agent-c", req); err != nil {
			t.Fatal(err)
		}
		consoleC.next(t, isWithdrawn(req))
		// Any agent of the site can still take it from the queue.
		if chat := e.accept(t, "agent-a", req); chat.ChatRequestID != req {
			t.Fatalf("chat = %+v", chat)
		}
	})

	t.Run("DeclineMovesOn", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-b", "Ben", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		e.clock.Advance(time.Second)
		e.setStatus(t, "agent-b", domain.StatusAvailable)
		e.page(t, e.visitor(t, "shop"), home)
		e.clock.Advance(30 * time.Second)
		req := e.alerted(t, consoleA, "").Request.ID

		err := e.svc.DeclineChatRequest(ctx(t), "agent-b", req)
		wantCode(t, err, domain.CodeFailedPrecondition) // not offered to agent-b
		if err := e.svc.DeclineChatRequest(ctx(t), "agent-a", req); err != nil {
			t.Fatal(err)
		}
		if w := consoleA.next(t, isWithdrawn(req)).AlertWithdrawn; w.Reason != "declined" {
			t.Fatalf("withdrawn with %q, want declined", w.Reason)
		}
		e.alerted(t, consoleB, req)
	})

	t.Run("DeclineOtherSitesRequest", func(t *testing.T) {
		// An agent of another site gets the answer AcceptChatRequest and
		// the rest of the API give it, not one that tells it how the
		// request stands; an id that names no request is NotFound.
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.site(t, "outlet", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.agent(t, "agent-x", "Xan", 3, "outlet")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.setStatus(t, "agent-x", domain.StatusAvailable)
		consoleA, _ := e.console(t, "agent-a")
		e.page(t, e.visitor(t, "shop"), home)
		e.clock.Advance(30 * time.Second)
		req := e.alerted(t, consoleA, "").Request.ID

		err := e.svc.DeclineChatRequest(ctx(t), "agent-x", req)
		wantCode(t, err, domain.CodePermissionDenied)
		t.Logf("declined by another site's agent: %v", err)
		_, err = e.svc.AcceptChatRequest(ctx(t), "agent-x", req)
		wantCode(t, err, domain.CodePermissionDenied)
		wantCode(t, e.svc.DeclineChatRequest(ctx(t), "agent-x", "request_none"), domain.CodeNotFound)
		if r := e.request(t, req); r.State != domain.RequestAlerting || r.AlertedAgentID != "agent-a" {
			t.Fatalf("request = %+v, want still offered to agent-a", r)
		}
		if err := e.svc.DeclineChatRequest(ctx(t), "agent-a", req); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("WaitsForAgent", func(t *testing.T) {
		// setup queues one request on a site whose only agent (capacity 1)
		// cannot take it, and checks that it waits.
		setup := func(t *testing.T, busy bool) (*engine, *stream[domain.AgentUpdate], *domain.Chat, string, string) {
			e := newEngine(t)
			e.site(t, "shop", withoutInvite())
			e.agent(t, "agent-a", "Ada", 1, "shop")
			console, _ := e.console(t, "agent-a")
			var chat *domain.Chat
			var busyVisitor string
			if busy {
				e.setStatus(t, "agent-a", domain.StatusAvailable)
				busyVisitor = e.visitor(t, "shop")
				e.page(t, busyVisitor, home)
				var err error
				if chat, err = e.svc.StartChat(ctx(t), "agent-a", busyVisitor); err != nil {
					t.Fatal(err)
				}
			} else {
				e.setStatus(t, "agent-a", domain.StatusAway)
			}
			e.page(t, e.visitor(t, "shop"), home)
			e.clock.Advance(30 * time.Second)
			q := e.queue(t, "shop")
			if len(q) != 1 {
				t.Fatalf("queue = %+v, want one request", q)
			}
			e.clock.Advance(time.Minute)
			if r := e.request(t, q[0].ID); r.State != domain.RequestQueued || len(e.decisions(t, "shop")) != 0 {
				t.Fatalf("request = %+v, want waiting in the queue", r)
			}
			return e, console, chat, busyVisitor, q[0].ID
		}

		t.Run("StatusChange", func(t *testing.T) {
			e, console, _, _, req := setup(t, false)
			e.setStatus(t, "agent-a", domain.StatusAvailable)
			e.alerted(t, console, req)
		})
		t.Run("ChatEnding", func(t *testing.T) {
			e, console, chat, busyVisitor, req := setup(t, true)
			e.send(t, chat.ID, busyVisitor, "Thanks, bye")
			e.leave(t, chat.ID, busyVisitor) // the agent is still in the chat
			if r := e.request(t, req); r.State != domain.RequestQueued {
				t.Fatalf("offered while the agent is still in its chat: %+v", r)
			}
			e.leave(t, chat.ID, "agent-a")
			e.alerted(t, console, req)
		})
		t.Run("CapacityRaised", func(t *testing.T) {
			e, console, _, _, req := setup(t, true)
			if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: "agent-a", MaxConcurrentChats: 2}, []string{"max_concurrent_chats"}); err != nil {
				t.Fatal(err)
			}
			e.alerted(t, console, req)
		})
	})

	t.Run("FirstInFirstOut", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 1, "shop")
		e.setStatus(t, "agent-a", domain.StatusAway)
		console, _ := e.console(t, "agent-a")
		var vids []string
		for range 4 { // queued at 30s, 31s, 32s, 33s
			vid := e.visitor(t, "shop")
			e.page(t, vid, home)
			vids = append(vids, vid)
			e.clock.Advance(time.Second)
		}
		e.clock.Advance(30 * time.Second)
		q := e.queue(t, "shop")
		for i, r := range q {
			if r.VisitorID != vids[i] || !r.EnqueueTime.Equal(t0.Add(time.Duration(30+i)*time.Second)) {
				t.Fatalf("queue[%d] = %+v, want visitor %d queued at %ds", i, r, i, 30+i)
			}
		}
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		for i, r := range q {
			e.alerted(t, console, r.ID)
			chat := e.accept(t, "agent-a", r.ID)
			if chat.Visitor.ID != vids[i] {
				t.Fatalf("chat %d with %s, want %s", i, chat.Visitor.ID, vids[i])
			}
			e.leave(t, chat.ID, "agent-a") // capacity frees: the next in line
		}
	})
}

// TestAgentRemovedFromSite: an agent taken off a site loses that site's
// alert at once, and the next agent of the site gets it; its alerts of
// other sites stay.
func TestAgentRemovedFromSite(t *testing.T) {
	e := newEngine(t)
	pc := withoutInvite()
	pc.AlertTimeoutSeconds = 600
	e.site(t, "shop", pc)
	e.site(t, "other", pc)
	e.agent(t, "agent-a", "Ada", 3, "shop", "other")
	e.agent(t, "agent-b", "Ben", 3, "shop")
	consoleA, _ := e.console(t, "agent-a")
	consoleB, _ := e.console(t, "agent-b")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	e.page(t, e.visitor(t, "other"), home)
	e.page(t, e.visitor(t, "shop"), home)
	e.clock.Advance(30 * time.Second)
	first := e.alerted(t, consoleA, "").Request
	second := e.alerted(t, consoleA, "").Request
	shopReq, otherReq := first, second
	if shopReq.SiteID != "shop" {
		shopReq, otherReq = second, first
	}
	// Ben comes in after both were offered to Ada.
	e.setStatus(t, "agent-b", domain.StatusAvailable)

	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: "agent-a", SiteIDs: []string{"other"}}, []string{"site_ids"}); err != nil {
		t.Fatal(err)
	}
	if w := consoleA.next(t, isWithdrawn(shopReq.ID)).AlertWithdrawn; w.Reason != "agent no longer serves the site" {
		t.Fatalf("withdrawn with %q", w.Reason)
	}
	e.alerted(t, consoleB, shopReq.ID)
	if r := e.request(t, otherReq.ID); r.State != domain.RequestAlerting || r.AlertedAgentID != "agent-a" {
		t.Fatalf("the other site's request = %+v, want still alerting agent-a", r)
	}
}
