package domain_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// statusChanges records n agent.status_changed events, switching the
// agent between available and away.
func statusChanges(t *testing.T, e *engine, agentID string, n int) {
	t.Helper()
	for range n {
		a, err := e.svc.GetAgent(ctx(t), agentID)
		if err != nil {
			t.Fatal(err)
		}
		status := domain.StatusAvailable
		if a.Status == domain.StatusAvailable {
			status = domain.StatusAway
		}
		e.setStatus(t, agentID, status)
	}
}

// positionsOf receives n events from s and returns their positions.
func positionsOf(t *testing.T, s *stream[domain.EventUpdate], n int) []uint64 {
	t.Helper()
	var out []uint64
	for range n {
		out = append(out, s.next(t, func(u domain.EventUpdate) bool { return u.Event != nil }).Event.Position)
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func TestListEvents(t *testing.T) {
	e := newEngine(t)
	e.site(t, "shop", withoutInvite())
	e.site(t, "other", withoutInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop", "other")
	// 1-3 the sites and the agent created
	statusChanges(t, e, "agent-a", 3) // 4-6
	e.clock.Advance(time.Hour)
	vShop := e.visitor(t, "shop")
	vOther := e.visitor(t, "other")
	e.page(t, vShop, home)   // 7 arrived (8 page viewed, after the write delay)
	e.page(t, vOther, about) // arrived
	e.clock.Advance(2 * time.Second)
	all := e.eventLog(t)
	if len(all) != 10 {
		t.Fatalf("log has %d events, want 10", len(all))
	}

	t.Run("Pages", func(t *testing.T) {
		var got []uint64
		after := uint64(0)
		for {
			page, err := e.svc.ListEvents(ctx(t), after, 3, domain.EventFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Events {
				got = append(got, ev.Position)
			}
			after = page.NextAfter
			if !page.More {
				break
			}
		}
		if !slices.Equal(got, seq(1, 10)) || after != 10 {
			t.Fatalf("paged positions = %v ending at %d, want 1…10 ending at 10", got, after)
		}
	})

	t.Run("Filters", func(t *testing.T) {
		page, err := e.svc.ListEvents(ctx(t), 0, 0, domain.EventFilter{SiteID: "other"})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range page.Events {
			if ev.SiteID != "other" {
				t.Errorf("event %d of site %q in a listing of other", ev.Position, ev.SiteID)
			}
		}
		if len(page.Events) != 3 || page.More || page.NextAfter != 10 {
			t.Errorf("site other: %d events, more %v, next %d; want 3, false, 10", len(page.Events), page.More, page.NextAfter)
		}
		page, err = e.svc.ListEvents(ctx(t), 0, 0, domain.EventFilter{Types: []domain.EventType{domain.EventAgentStatusChanged}})
		if err != nil {
			t.Fatal(err)
		}
		if got := types(page.Events); len(got) != 3 {
			t.Errorf("status changes = %v, want 3", got)
		}
		page, err = e.svc.ListEvents(ctx(t), 0, 0, domain.EventFilter{Start: t0.Add(time.Minute), End: t0.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 4 || page.Events[0].Position != 7 {
			t.Errorf("time range: %d events from %v, want the 4 after the hour", len(page.Events), types(page.Events))
		}
		page, err = e.svc.ListEvents(ctx(t), 0, 0, domain.EventFilter{End: t0.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 6 || page.More || page.NextAfter != 10 {
			t.Errorf("before a minute: %d events, more %v, next %d; want 6, false, 10", len(page.Events), page.More, page.NextAfter)
		}
	})

	t.Run("ErrInvalid", func(t *testing.T) {
		for _, c := range []struct {
			pageSize int
			f        domain.EventFilter
			field    string
		}{
			{1001, domain.EventFilter{}, "page_size"},
			{-1, domain.EventFilter{}, "page_size"},
			{0, domain.EventFilter{Types: []domain.EventType{"chat.message", "chat.danced"}}, "types"},
			{0, domain.EventFilter{Start: t0.Add(time.Hour), End: t0}, "end_time"},
		} {
			_, err := e.svc.ListEvents(ctx(t), 0, c.pageSize, c.f)
			if got := violationFields(t, err); !slices.Equal(got, []string{c.field}) {
				t.Errorf("ListEvents(%d, %+v): fields %v, want %s", c.pageSize, c.f, got, c.field)
			}
		}
		err := e.svc.WatchEvents(ctx(t), 0, domain.EventFilter{Types: []domain.EventType{"nope"}}, func(domain.EventUpdate) error { return nil })
		if got := violationFields(t, err); !slices.Equal(got, []string{"types"}) {
			t.Errorf("WatchEvents with a bad type: fields %v, want types", got)
		}
		// Past the end of the log (10): a stream would skip what comes.
		_, err = e.svc.ListEvents(ctx(t), 11, 0, domain.EventFilter{})
		if got := violationFields(t, err); !slices.Equal(got, []string{"after"}) {
			t.Errorf("ListEvents after 11: fields %v, want after", got)
		}
		err = e.svc.WatchEvents(ctx(t), 11, domain.EventFilter{}, func(domain.EventUpdate) error { return nil })
		if got := violationFields(t, err); !slices.Equal(got, []string{"after"}) {
			t.Errorf("WatchEvents after 11: fields %v, want after", got)
		}
		if page, err := e.svc.ListEvents(ctx(t), 10, 0, domain.EventFilter{}); err != nil || len(page.Events) != 0 || page.More || page.NextAfter != 10 {
			t.Errorf("ListEvents after the last: %+v, %v; want an empty page ending at 10", page, err)
		}
	})

	t.Run("DeletedTail", func(t *testing.T) {
		// Erasing the visitor whose events end the log leaves next_after
		// at the log's last position, not before the hole.
		f := newEngine(t)
		f.site(t, "shop", withoutInvite())
		f.agent(t, "agent-a", "Ada", 3, "shop")
		statusChanges(t, f, "agent-a", 1)
		vid := f.visitor(t, "shop")
		p, _ := f.page(t, vid, home)
		f.clock.Advance(2 * time.Second)
		p.stop()
		f.clock.Advance(grace)
		f.settle(t)
		if err := f.svc.EraseVisitor(ctx(t), vid); err != nil {
			t.Fatal(err)
		}
		page, err := f.svc.ListEvents(ctx(t), 0, 0, domain.EventFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != 3 || page.NextAfter != 6 || page.More {
			t.Fatalf("%d events, next %d, more %v; want 3, 6 (past the erased), false", len(page.Events), page.NextAfter, page.More)
		}
	})
}

func TestWatchEvents(t *testing.T) {
	t.Run("BacklogThenLive", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		statusChanges(t, e, "agent-a", 5) // 3…7, after the site and the agent
		svc := e.svc
		s := startStream(t, func(c context.Context, send func(domain.EventUpdate) error) error {
			return svc.WatchEvents(c, 4, domain.EventFilter{}, send)
		})
		if got := positionsOf(t, s, 3); !slices.Equal(got, seq(5, 7)) {
			t.Fatalf("backlog = %v, want 5…7", got)
		}
		statusChanges(t, e, "agent-a", 4)
		if got := positionsOf(t, s, 4); !slices.Equal(got, seq(8, 11)) {
			t.Fatalf("live = %v, want 8…11", got)
		}
		s.stop()
		select {
		case u := <-s.updates:
			if u.Event != nil {
				t.Fatalf("event %d sent twice or out of turn", u.Event.Position)
			}
		default:
		}
	})

	t.Run("ExactlyOnceUnderLoad", func(t *testing.T) {
		// A broker buffer of 1 cuts the stream off whenever it falls
		// behind; it reads the store again and goes on where it was.
		e := newEngine(t, withBrokerBuffer(1))
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		svc := e.svc
		s := startStream(t, func(c context.Context, send func(domain.EventUpdate) error) error {
			return svc.WatchEvents(c, 0, domain.EventFilter{}, send)
		})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range 20 {
				_ = e.store.Update(ctx(t), func(tx domain.WriteTx) error {
					for range 20 {
						if err := tx.AppendEvent(&domain.Event{Type: domain.EventAgentStatusChanged, AgentID: "agent-a", Time: t0}); err != nil {
							return err
						}
					}
					return nil
				})
			}
		}()
		<-done
		statusChanges(t, e, "agent-a", 1) // published live: 401
		if got := positionsOf(t, s, 401); !slices.Equal(got, seq(1, 401)) {
			t.Fatalf("positions = %v…, want 1…401 once each", got[:min(len(got), 20)])
		}
	})

	t.Run("Filtered", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.site(t, "other", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		svc := e.svc
		s := startStream(t, func(c context.Context, send func(domain.EventUpdate) error) error {
			return svc.WatchEvents(c, 0, domain.EventFilter{SiteID: "other", Types: []domain.EventType{domain.EventVisitorArrived}}, send)
		})
		statusChanges(t, e, "agent-a", 2)
		e.page(t, e.visitor(t, "shop"), home)
		vid := e.visitor(t, "other")
		e.page(t, vid, about)
		e.clock.Advance(2 * time.Second)
		u := s.next(t, func(u domain.EventUpdate) bool { return u.Event != nil })
		if u.Event.VisitorID != vid || u.Event.Type != domain.EventVisitorArrived {
			t.Fatalf("first event = %+v, want %s arriving on other", u.Event, vid)
		}
	})

	t.Run("KeepAlive", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.agent(t, "agent-a", "Ada", 3, "shop")
		svc := e.svc
		s := startStream(t, func(c context.Context, send func(domain.EventUpdate) error) error {
			return svc.WatchEvents(c, 0, domain.EventFilter{}, send)
		})
		statusChanges(t, e, "agent-a", 1)
		positionsOf(t, s, 1) // the stream's ticker is armed
		e.clock.Advance(keepAlive)
		s.next(t, func(u domain.EventUpdate) bool { return !u.KeepAlive.IsZero() })
	})
}

// TestRetentionDeletesOldEvents: the sweep deletes the log's events older
// than the event retention, in transactions of at most 1000, from the head;
// later events and the positions to come stay as they were.
func TestRetentionDeletesOldEvents(t *testing.T) {
	e := newEngine(t, withRetention(domain.Retention{Events: 2 * day}, 0))
	err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
		for range 2500 {
			if err := tx.AppendEvent(&domain.Event{Type: domain.EventAgentStatusChanged, AgentID: "a", Time: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.site(t, "shop", withoutInvite())
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.clock.Advance(day)
	statusChanges(t, e, "agent-a", 2) // 2503, 2504, after the site and the agent created at t0

	e.clock.Set(t0.Add(2*day - time.Minute))
	e.sweep(t, domain.RetentionSweep{})
	e.clock.Set(t0.Add(2*day + time.Minute))
	e.sweep(t, domain.RetentionSweep{Events: 2502})
	if got := e.eventLog(t); len(got) != 2 || got[0].Position != 2503 {
		t.Fatalf("log after the sweep: %d events from %d, want 2503 and 2504", len(got), got[0].Position)
	}
	e.clock.Set(t0.Add(3*day + time.Minute))
	e.sweep(t, domain.RetentionSweep{Events: 2})
	statusChanges(t, e, "agent-a", 1)
	if got := e.eventLog(t); len(got) != 1 || got[0].Position != 2505 {
		t.Fatalf("log = %v, want one event at 2505", got)
	}
}
