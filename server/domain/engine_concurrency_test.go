package domain_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// TestConcurrency runs many agents and visitors at once; run it with -race.
func TestConcurrency(t *testing.T) {
	t.Run("TwoAgentsClaimOneRequest", func(t *testing.T) {
		const n = 20
		e := newEngine(t)
		pc := withoutInvite()
		pc.AlertTimeoutSeconds = 3600
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 50, "shop")
		e.agent(t, "agent-b", "Ben", 50, "shop")
		consoleA, _ := e.console(t, "agent-a")
		consoleB, _ := e.console(t, "agent-b")
		for range n {
			e.page(t, e.visitor(t, "shop"), home)
			e.clock.Advance(time.Millisecond)
		}
		e.clock.Advance(30 * time.Second)
		if q := e.queue(t, "shop"); len(q) != n {
			t.Fatalf("queue has %d requests, want %d", len(q), n)
		}
		// Each agent in turn is alerted for every request and passes, so
		// the requests wait in the queue where both may claim them.
		for _, agent := range []struct {
			id      string
			console *stream[domain.AgentUpdate]
		}{{"agent-a", consoleA}, {"agent-b", consoleB}} {
			e.setStatus(t, agent.id, domain.StatusAvailable)
			for range n {
				req := agent.console.next(t, isAlert("")).Alert.Request.ID
				if err := e.svc.DeclineChatRequest(ctx(t), agent.id, req); err != nil {
					t.Fatal(err)
				}
			}
		}
		q := e.queue(t, "shop")
		for _, r := range q {
			if r.State != domain.RequestQueued || len(r.PassedAgentIDs) != 2 {
				t.Fatalf("request %+v, want queued, passed by both", r)
			}
		}

		// Both agents claim every request at once; agent-b starts the chat
		// with the visitor instead for every other one.
		type claim struct {
			agent string
			chat  *domain.Chat
			err   error
		}
		claims := make([][2]claim, len(q))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, r := range q {
			wg.Go(func() {
				<-start
				chat, err := e.svc.AcceptChatRequest(context.Background(), "agent-a", r.ID)
				claims[i][0] = claim{"agent-a", chat, err}
			})
			wg.Go(func() {
				<-start
				var chat *domain.Chat
				var err error
				if i%2 == 0 {
					chat, err = e.svc.AcceptChatRequest(context.Background(), "agent-b", r.ID)
				} else {
					chat, err = e.svc.StartChat(context.Background(), "agent-b", r.VisitorID)
				}
				claims[i][1] = claim{"agent-b", chat, err}
			})
		}
		close(start)
		wg.Wait()
		chats := map[string]int{}
		for i, pair := range claims {
			var won []claim
			for _, c := range pair {
				switch {
				case c.err == nil:
					won = append(won, c)
				case domain.ErrorCode(c.err) != domain.CodeFailedPrecondition:
					t.Errorf("request %d: losing claim by %s: %v, want FailedPrecondition", i, c.agent, c.err)
				}
			}
			if len(won) != 1 {
				t.Fatalf("request %d: %d claims won, want exactly 1", i, len(won))
			}
			if c := won[0].chat; c.ChatRequestID != q[i].ID || c.Visitor.ID != q[i].VisitorID {
				t.Fatalf("request %d: chat %+v", i, c)
			}
			chats[won[0].agent]++
		}
		for _, id := range []string{"agent-a", "agent-b"} {
			if a, _ := e.svc.GetAgent(ctx(t), id); len(a.ActiveChatIDs) != chats[id] {
				t.Errorf("%s holds %d chats, won %d", id, len(a.ActiveChatIDs), chats[id])
			}
		}
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("queue = %d requests, want none", len(q))
		}
	})

	t.Run("TwoHundredVisitorsThreeAgents", func(t *testing.T) {
		testManyVisitors(t, 200, []string{"agent-a", "agent-b", "agent-c"}, 2)
	})
}

// testManyVisitors queues visitors on a Mode 2 site, one millisecond apart,
// for agents that accept every alert as it arrives, exchange a message with
// the visitor and leave. Every visitor must be served exactly once, in
// first-in-first-out order, with no agent ever over its capacity.
func testManyVisitors(t *testing.T, visitors int, agents []string, capacity uint32) {
	const timeout = time.Minute
	// The observer reads the queue's whole history: every change, unbatched.
	e := newEngine(t, withBrokerBuffer(1<<14), withAgentQueueInterval(-1))
	pc := withoutInvite()
	pc.AlertTimeoutSeconds = 3600
	e.site(t, "shop", pc)
	// An away agent who serves the site watches its queue: queue events
	// are published as they are committed, so it sees the true order.
	e.agent(t, "observer", "Olga", 1, "shop")
	e.setStatus(t, "observer", domain.StatusAway)
	observer, _ := e.console(t, "observer")

	svc := e.svc
	var (
		mu       sync.Mutex
		accepted = map[string]string{} // request → agent, as accepted by the agents
		served   = make(chan string, visitors)
		chatsWG  sync.WaitGroup
	)
	serve := func(agentID string, req domain.ChatRequest) {
		c := context.Background()
		chat, err := svc.AcceptChatRequest(c, agentID, req.ID)
		if err != nil {
			t.Errorf("%s accepting %s: %v", agentID, req.ID, err)
			return
		}
		mu.Lock()
		if prev, ok := accepted[req.ID]; ok {
			t.Errorf("request %s accepted by %s and %s", req.ID, prev, agentID)
		}
		accepted[req.ID] = agentID
		mu.Unlock()
		for _, m := range []struct{ from, text string }{{agentID, "Hello, can I help?"}, {req.VisitorID, "No thanks"}} {
			if _, err := svc.SendMessage(c, chat.ID, m.from, m.text, ""); err != nil {
				t.Errorf("message in %s: %v", chat.ID, err)
			}
		}
		for _, p := range []string{req.VisitorID, agentID} {
			if _, err := svc.LeaveChat(c, chat.ID, p); err != nil {
				t.Errorf("leaving %s: %v", chat.ID, err)
			}
		}
		served <- req.VisitorID
	}
	stop := make(chan struct{})
	var driversWG sync.WaitGroup
	for _, id := range agents {
		e.agent(t, id, "Agent "+id, capacity, "shop")
		console, _ := e.console(t, id)
		e.setStatus(t, id, domain.StatusAvailable)
		driversWG.Go(func() {
			for {
				select {
				case u := <-console.updates:
					switch {
					case u.Alert != nil:
						chatsWG.Go(func() { serve(id, u.Alert.Request) })
					case u.AgentChanged != nil && len(u.AgentChanged.ActiveChatIDs) > int(capacity):
						t.Errorf("%s has %d chats, capacity %d", id, len(u.AgentChanged.ActiveChatIDs), capacity)
					case u.Snapshot != nil:
						t.Errorf("%s's console was cut off and resubscribed", id)
					}
				case <-stop:
					return
				}
			}
		})
	}
	defer func() {
		close(stop)
		driversWG.Wait()
		chatsWG.Wait()
	}()

	arrival := map[string]int{}
	for i := range visitors {
		vid := e.visitor(t, "shop")
		arrival[vid] = i
		e.page(t, vid, home)
		e.clock.Advance(time.Millisecond)
	}
	e.clock.Advance(30 * time.Second) // every visitor meets the launching criteria, in arrival order

	// Read the queue's history from the observer until every request is accepted.
	type entry struct {
		index int // arrival order of the request's visitor
		req   domain.ChatRequest
	}
	var history []entry
	index := map[string]int{} // request → arrival order
	deadline := time.After(timeout)
	for acceptedEvents := 0; acceptedEvents < visitors; {
		select {
		case u := <-observer.updates:
			if u.Snapshot != nil {
				t.Fatal("observer was cut off and resubscribed: history incomplete")
			}
			r := u.QueueChanged
			if r == nil {
				continue
			}
			if _, ok := index[r.ID]; !ok {
				index[r.ID] = arrival[r.VisitorID]
			}
			history = append(history, entry{index[r.ID], *r})
			if r.State == domain.RequestAccepted {
				acceptedEvents++
			}
		case <-deadline:
			t.Fatalf("only part of the queue was served within %v", timeout)
		}
	}
	for range visitors {
		select {
		case <-served:
		case <-deadline:
			t.Fatalf("chats not finished within %v", timeout)
		}
	}

	// Queued in arrival order, offered in queue order, each accepted once.
	var queued, offered, acceptedOrder []int
	seenOffer := map[int]bool{}
	alerting := map[string]map[string]bool{} // agent → requests alerting it
	window := len(agents)*int(capacity) - 1
	for _, h := range history {
		for _, m := range alerting {
			delete(m, h.req.ID)
		}
		switch h.req.State {
		case domain.RequestQueued:
			if !slices.Contains(queued, h.index) {
				queued = append(queued, h.index)
			}
		case domain.RequestAlerting:
			if !seenOffer[h.index] {
				seenOffer[h.index] = true
				offered = append(offered, h.index)
			}
			if alerting[h.req.AlertedAgentID] == nil {
				alerting[h.req.AlertedAgentID] = map[string]bool{}
			}
			alerting[h.req.AlertedAgentID][h.req.ID] = true
			if n := len(alerting[h.req.AlertedAgentID]); n > int(capacity) {
				t.Errorf("%s alerted for %d requests at once, capacity %d", h.req.AlertedAgentID, n, capacity)
			}
		case domain.RequestAccepted:
			// First in, first out: everyone queued earlier was offered
			// before, and all but those on offer alongside were accepted.
			for earlier := range h.index {
				if !seenOffer[earlier] {
					t.Errorf("request %d accepted before request %d was offered", h.index, earlier)
				}
			}
			if h.index > len(acceptedOrder)+window {
				t.Errorf("request %d accepted %dth: more than %d of those ahead were still waiting", h.index, len(acceptedOrder)+1, window)
			}
			acceptedOrder = append(acceptedOrder, h.index)
		default:
			t.Errorf("request %d went %v", h.index, h.req.State)
		}
	}
	want := make([]int, visitors)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(queued, want) {
		t.Errorf("queued in order %v, want arrival order", queued)
	}
	if !slices.Equal(offered, want) {
		t.Errorf("offered in order %v, want queue order", offered)
	}
	sorted := slices.Sorted(slices.Values(acceptedOrder))
	if !slices.Equal(sorted, want) {
		t.Errorf("accepted %v, want each request once", acceptedOrder)
	}
	inversions := 0
	for i, idx := range acceptedOrder {
		if idx != i {
			inversions++
		}
	}
	t.Logf("%d of %d requests accepted out of queue order, as agents answered concurrently alerts that were offered in order", inversions, visitors)

	mu.Lock()
	if len(accepted) != visitors {
		t.Errorf("agents accepted %d requests, want %d", len(accepted), visitors)
	}
	perAgent := map[string]int{}
	for _, a := range accepted {
		perAgent[a]++
	}
	mu.Unlock()
	t.Logf("chats per agent: %v", perAgent)
	if q := e.queue(t, "shop"); len(q) != 0 {
		t.Errorf("queue still has %d requests", len(q))
	}
	for _, id := range agents {
		if a, _ := e.svc.GetAgent(ctx(t), id); len(a.ActiveChatIDs) != 0 {
			t.Errorf("%s still holds %v", id, a.ActiveChatIDs)
		}
	}
}
