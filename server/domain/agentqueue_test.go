package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestAgentQueueBatching: a console gets the first queue change after a
// quiet interval at once; the changes of the interval after it wait for
// its end and come together, only the latest of each request, in the
// order their requests first changed. Alerts are never held back.
func TestAgentQueueBatching(t *testing.T) {
	e := newEngine(t, withAgentQueueInterval(200*time.Millisecond))
	e.site(t, "shop", withoutInvite())
	e.agent(t, "agent-a", "Agent A", 3, "shop") // offline: requests wait
	console, snap := e.console(t, "agent-a")
	if len(snap.Queue) != 0 {
		t.Fatalf("snapshot queue = %v, want empty", snap.Queue)
	}
	queued := func(u domain.AgentUpdate) bool { return u.QueueChanged != nil }

	v1 := e.visitor(t, "shop")
	e.page(t, v1, home)
	e.clock.Advance(30 * time.Second)
	if r := console.next(t, queued).QueueChanged; r.VisitorID != v1 || r.State != domain.RequestQueued {
		t.Fatalf("first change = %+v, want %s queued, at once", r, v1)
	}

	// Two more at one instant, an interval later: the first goes at once,
	// the second is held.
	v2, v3 := e.visitor(t, "shop"), e.visitor(t, "shop")
	e.page(t, v2, home)
	e.page(t, v3, home)
	e.clock.Advance(30 * time.Second)
	first := console.next(t, queued).QueueChanged
	if first.State != domain.RequestQueued || first.VisitorID != v2 && first.VisitorID != v3 {
		t.Fatalf("change = %+v, want %s or %s queued", first, v2, v3)
	}
	heldVisitor := v2
	if first.VisitorID == v2 {
		heldVisitor = v3
	}
	e.settle(t)
	e.quietQueue(t, console, "agent-a")

	// The agent becomes available: all three are offered. The alerts come
	// at once; the queue changes are held.
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	alerted := map[string]bool{}
	for len(alerted) < 3 {
		u := console.next(t, func(u domain.AgentUpdate) bool { return u.Alert != nil || u.QueueChanged != nil })
		if u.QueueChanged != nil {
			t.Fatalf("queue change %+v sent within the interval", u.QueueChanged)
		}
		alerted[u.Alert.Request.VisitorID] = true
	}
	e.settle(t)
	e.quietQueue(t, console, "agent-a")

	// The interval ends: each request once, in its latest state, the held
	// visitor's first (it changed first).
	e.clock.Advance(200 * time.Millisecond)
	var got []string
	for range 3 {
		r := console.next(t, queued).QueueChanged
		if r.State != domain.RequestAlerting {
			t.Errorf("%s's request: %v, want alerting (its latest state)", r.VisitorID, r.State)
		}
		got = append(got, r.VisitorID)
	}
	if got[0] != heldVisitor || got[1] == got[2] || got[1] == heldVisitor || got[2] == heldVisitor {
		t.Fatalf("batch = %v, want %s first, then the two others once each", got, heldVisitor)
	}
	e.quietQueue(t, console, "agent-a")
}

// quietQueue fails if the console shows a queue change before a marker
// (a change of the agent's record, sent at once).
func (e *engine) quietQueue(t *testing.T, console *stream[domain.AgentUpdate], agentID string) {
	t.Helper()
	a, err := e.svc.GetAgent(ctx(t), agentID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdateAgent(ctx(t), &domain.Agent{ID: agentID, DisplayName: a.DisplayName + "."}, []string{"display_name"}); err != nil {
		t.Fatal(err)
	}
	console.next(t, func(u domain.AgentUpdate) bool {
		if u.QueueChanged != nil {
			t.Fatalf("queue change %+v sent within the interval", u.QueueChanged)
		}
		return u.AgentChanged != nil
	})
}
