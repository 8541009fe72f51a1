package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
	"github.com/proactivechat/proactivechat/server/inmem"
)

// queueEngine is an engine on a with-invite site without a form, whose one
// agent is offline so that nobody is taken from the queue, with its broker
// at hand so that a test can listen to a visitor's topic itself.
type queueEngine struct {
	*engine
	broker *inmem.Broker
}

func newQueueEngine(t *testing.T) *queueEngine {
	t.Helper()
	qe := &queueEngine{}
	qe.engine = newEngine(t, func(c *domain.Config) {
		qe.broker = inmem.NewBroker(0)
		c.Broker = qe.broker
	})
	qe.site(t, "shop", withInvite())
	qe.agent(t, "agent-a", "Ada", 3, "shop")
	return qe
}

// queueUp opens n visitors' widgets and puts them in the queue, in order,
// then lets the refresher go quiet: the last join's pass ran, and so did
// the end of its interval. Each widget shows its position.
func (qe *queueEngine) queueUp(t *testing.T, n int) ([]string, []*stream[domain.VisitorUpdate]) {
	t.Helper()
	var vids []string
	var pages []*stream[domain.VisitorUpdate]
	for i := range n {
		vid := qe.visitor(t, "shop")
		p, _ := qe.page(t, vid, home)
		inv, err := qe.svc.InviteVisitor(ctx(t), "agent-a", vid)
		if err != nil {
			t.Fatal(err)
		}
		if st := qe.respond(t, vid, inv.ID, true); st.Queue == nil || st.Queue.Position != i+1 {
			t.Fatalf("visitor %d joined at %+v, want position %d", i, st.Queue, i+1)
		}
		p.next(t, atPosition(i+1))
		vids, pages = append(vids, vid), append(pages, p)
		qe.clock.Advance(time.Millisecond) // the next joins behind
	}
	qe.settle(t)
	qe.clock.Advance(2 * domain.QueuePositionRefresh)
	return vids, pages
}

// hints subscribes to a visitor's topic, where its position hints arrive.
func (qe *queueEngine) hints(t *testing.T, visitorID string) domain.Subscription {
	t.Helper()
	sub := qe.broker.Subscribe("visitor/" + visitorID)
	t.Cleanup(sub.Close)
	return sub
}

// buffered counts the events waiting on sub without waiting for more.
func buffered(sub domain.Subscription) int {
	n := 0
	for {
		select {
		case <-sub.Events():
			n++
		default:
			return n
		}
	}
}

// states counts the states a widget stream was sent and not yet read,
// without waiting for more.
func states(s *stream[domain.VisitorUpdate]) int {
	n := 0
	for {
		select {
		case u := <-s.updates:
			if u.State != nil {
				n++
			}
		default:
			return n
		}
	}
}

func (qe *queueEngine) leaveQueue(t *testing.T, visitorID string) {
	t.Helper()
	if _, err := qe.svc.LeaveQueue(ctx(t), visitorID); err != nil {
		t.Fatal(err)
	}
}

// TestQueuePositions: waiting visitors' widgets are told of their new place
// in the queue by the queue position refresher, at most once a second per
// site, and only those whose place changed.
func TestQueuePositions(t *testing.T) {
	t.Run("LeadingEdge", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, pages := qe.queueUp(t, 2)

		// The first move after a quiet second is shown at once.
		qe.leaveQueue(t, vids[0])
		pages[1].next(t, atPosition(1))
	})

	t.Run("TrailingEdge", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, pages := qe.queueUp(t, 4)
		qe.leaveQueue(t, vids[0])
		pages[3].next(t, atPosition(3))
		// The pass's hint may come after a state that showed the new
		// place already (the widget's own read of an earlier hint).
		qe.svc.WaitQueuePositionPasses()
		passes := qe.svc.QueuePositionPasses()
		last := qe.hints(t, vids[3])

		// Two more moves within the second: nothing before it ends …
		qe.leaveQueue(t, vids[1])
		qe.leaveQueue(t, vids[2])
		qe.settle(t)
		qe.clock.Advance(domain.QueuePositionRefresh - time.Millisecond)
		if got := qe.svc.QueuePositionPasses(); got != passes {
			t.Fatalf("%d passes within the second of the last, want none", got-passes)
		}
		if n := buffered(last); n != 0 {
			t.Fatalf("the last in line got %d hints within the second, want none", n)
		}

		// … then one pass for both.
		qe.clock.Advance(time.Millisecond)
		if got := qe.svc.QueuePositionPasses(); got != passes+1 {
			t.Fatalf("%d passes at the end of the second, want 1", got-passes)
		}
		if n := buffered(last); n != 1 {
			t.Fatalf("the last in line got %d hints at the end of the second, want 1", n)
		}
		if st := pages[3].next(t, isState).State; st.Queue == nil || st.Queue.Position != 1 {
			t.Fatalf("the last in line shows %+v next, want position 1 straight from 3", st.Queue)
		}
	})

	t.Run("OnlyThoseWhoMoved", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, pages := qe.queueUp(t, 4)
		first, second := qe.hints(t, vids[0]), qe.hints(t, vids[1])
		states(pages[0])
		states(pages[1])

		// The third leaves: the fourth moves up, those ahead do not. The
		// refresher hints in queue order, so once the fourth has heard,
		// any hint to those ahead would be there already.
		qe.leaveQueue(t, vids[2])
		pages[3].next(t, atPosition(3))
		if n1, n2 := buffered(first), buffered(second); n1 != 0 || n2 != 0 {
			t.Fatalf("those ahead got %d and %d hints, want none", n1, n2)
		}
		if n1, n2 := states(pages[0]), states(pages[1]); n1 != 0 || n2 != 0 {
			t.Fatalf("those ahead were sent %d and %d states, want none", n1, n2)
		}
	})

	t.Run("NewEstimate", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, pages := qe.queueUp(t, 3)
		if w := qe.state(t, vids[0]).Queue.EstimatedWait; w != 0 {
			t.Fatalf("estimate before any chat was taken: %v, want none", w)
		}

		// The agent (room for three) is offered all three and takes the
		// last in line: nobody ahead moves, but the site's observed wait,
		// and so the first's estimate, does.
		console, _ := qe.console(t, "agent-a")
		qe.setStatus(t, "agent-a", domain.StatusAvailable)
		last := qe.state(t, vids[2]).Queue.RequestID
		qe.alerted(t, console, last)
		qe.accept(t, "agent-a", last)
		qe.settle(t)
		qe.clock.Advance(domain.QueuePositionRefresh) // the window the alerts opened ends
		got := pages[0].next(t, func(u domain.VisitorUpdate) bool {
			return u.State != nil && u.State.Queue != nil && u.State.Queue.EstimatedWait > 0
		}).State.Queue
		if got.Position != 1 {
			t.Fatalf("the first in line was shown %+v, want position 1", got)
		}
	})

	t.Run("NoPassDueAfterClose", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, pages := qe.queueUp(t, 3)
		qe.leaveQueue(t, vids[0])
		pages[1].next(t, atPosition(1))
		qe.svc.WaitQueuePositionPasses()
		passes := qe.svc.QueuePositionPasses()
		last := qe.hints(t, vids[2])

		// A pass is due at the end of the second; the Service closes first.
		qe.leaveQueue(t, vids[1])
		qe.settle(t)
		qe.svc.Close()
		qe.clock.Advance(2 * domain.QueuePositionRefresh)
		if got := qe.svc.QueuePositionPasses(); got != passes {
			t.Fatalf("%d passes after Close, want none", got-passes)
		}
		if n := buffered(last); n != 0 {
			t.Fatalf("the last in line got %d hints after Close, want none", n)
		}
	})

	t.Run("NoPassStartsAfterClose", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, _ := qe.queueUp(t, 2)
		passes := qe.svc.QueuePositionPasses()
		last := qe.hints(t, vids[1])

		// After a quiet second a move would start a pass at once.
		qe.svc.Close()
		qe.leaveQueue(t, vids[0])
		qe.settle(t)
		if got := qe.svc.QueuePositionPasses(); got != passes {
			t.Fatalf("%d passes after Close, want none", got-passes)
		}
		if n := buffered(last); n != 0 {
			t.Fatalf("the last in line got %d hints after Close, want none", n)
		}
	})

	t.Run("MemoryReleased", func(t *testing.T) {
		qe := newQueueEngine(t)
		vids, _ := qe.queueUp(t, 2)
		if n := qe.svc.QueuePositionSites(); n != 1 {
			t.Fatalf("%d sites kept while visitors wait, want 1", n)
		}
		qe.leaveQueue(t, vids[0])
		qe.leaveQueue(t, vids[1])
		qe.settle(t)
		// A site is forgotten only once no pass runs for it: the first
		// leave's pass runs on its own goroutine.
		qe.svc.WaitQueuePositionPasses()
		// The leaves' pass, then the end of its second.
		qe.clock.Advance(2 * domain.QueuePositionRefresh)
		if n := qe.svc.QueuePositionSites(); n != 0 {
			t.Fatalf("%d sites kept once the queue is empty, want 0", n)
		}
	})
}
