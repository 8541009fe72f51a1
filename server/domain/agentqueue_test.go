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

// testSubscription is a Subscription the test feeds by hand.
type testSubscription struct{ ch chan any }

func (s testSubscription) Events() <-chan any { return s.ch }
func (s testSubscription) Dropped() bool      { return false }
func (s testSubscription) Close()             {}

// TestAgentStreamKeepsARequestInOrder: an alert comes on the agent's topic
// and the queue's changes on the site's, so the change that queued a
// request can reach the stream after the request's alert. The stream must
// not send it then: a console told that its alerted request is queued
// again drops the alert (another agent's now), and the agent never sees it
// again — the alert the browser tests intermittently waited for in vain.
// Nor does it send what its snapshot already holds.
func TestAgentStreamKeepsARequestInOrder(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	e.agent(t, "agent-a", "Agent A", 3, "shop")
	queue := testSubscription{ch: make(chan any, 8)}
	sent := make(chan domain.AgentUpdate, 8)
	const floor = 10
	run := e.svc.StartFollowAgent(t.Context(), "agent-a", []string{"shop"}, queue, floor, func(u domain.AgentUpdate) error {
		if u.KeepAlive.IsZero() {
			sent <- u
		}
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- run() }()
	next := func() domain.AgentUpdate {
		t.Helper()
		select {
		case u := <-sent:
			return u
		case err := <-done:
			t.Fatalf("the stream ended: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("nothing sent")
		}
		return domain.AgentUpdate{}
	}
	req := func(id string, state domain.ChatRequestState) *domain.ChatRequest {
		r := &domain.ChatRequest{ID: id, SiteID: "shop", VisitorID: "v-" + id, State: state}
		if state == domain.RequestAlerting {
			r.AlertedAgentID = "agent-a"
		}
		return r
	}

	// Already in the snapshot: neither the alert nor the change is sent.
	e.svc.PublishToAgent("agent-a", domain.AlertEvent{Request: *req("old", domain.RequestAlerting), Position: floor})
	queue.ch <- domain.QueueEvent{Request: req("old", domain.RequestAlerting), Position: floor - 1}
	// The alert overtakes the change that queued its request.
	e.svc.PublishToAgent("agent-a", domain.AlertEvent{Request: *req("r1", domain.RequestAlerting), Position: floor + 2})
	if u := next(); u.Alert == nil || u.Alert.Request.ID != "r1" {
		t.Fatalf("first update = %+v, want the alert of r1 (the snapshot's alert and change are not sent again)", u)
	}
	queue.ch <- domain.QueueEvent{Request: req("r1", domain.RequestQueued), Position: floor + 1}
	queue.ch <- domain.QueueEvent{Request: req("r1", domain.RequestAlerting), Position: floor + 2}
	if u := next(); u.QueueChanged == nil || u.QueueChanged.State != domain.RequestAlerting {
		t.Fatalf("after the alert: %+v, want r1 alerting (its older queued state is not sent)", u)
	}
	// From then on the queue topic's own order holds: r1 taken, r2 queued.
	e.clock.Advance(time.Second) // past the batching interval
	queue.ch <- domain.QueueEvent{Request: req("r1", domain.RequestAccepted), Position: floor + 3}
	if u := next(); u.QueueChanged == nil || u.QueueChanged.State != domain.RequestAccepted {
		t.Fatalf("then: %+v, want r1 accepted", u)
	}
}
