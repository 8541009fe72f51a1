package domain_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/proactivechat/proactivechat/server/domain"
)

// logFunnel counts, from the event log, what the funnel of site should
// count: each step's events, chats with a visitor message (once each),
// chats ended by reason, acceptances (the waits).
func logFunnel(evs []*domain.Event, site string) (steps map[domain.FunnelStep]uint64, ends map[domain.ChatEndReason]uint64) {
	steps, ends = map[domain.FunnelStep]uint64{}, map[domain.ChatEndReason]uint64{}
	messaged := map[string]bool{}
	for _, ev := range evs {
		if ev.SiteID != site {
			continue
		}
		if ev.Type == domain.EventChatEnded {
			ends[ev.EndReason]++
			continue
		}
		if ev.Type == domain.EventChatMessage {
			if ev.Participant.Role == domain.RoleVisitor && !messaged[ev.ChatID] {
				messaged[ev.ChatID] = true
				steps[domain.StepVisitorMessaged]++
			}
			continue
		}
		for _, step := range domain.FunnelSteps {
			if step.EventType() == ev.Type {
				steps[step]++
			}
		}
	}
	return steps, ends
}

// funnel is GetFunnel over every hour of the test so far.
func (e *engine) funnel(t *testing.T, site string) *domain.Funnel {
	t.Helper()
	f, err := e.svc.GetFunnel(ctx(t), site, t0.Add(-time.Hour), e.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantFunnelIsLog fails unless site's funnel counts what the log holds.
func wantFunnelIsLog(t *testing.T, e *engine, site string) *domain.Funnel {
	t.Helper()
	f := e.funnel(t, site)
	steps, ends := logFunnel(e.eventLog(t), site)
	for _, step := range domain.FunnelSteps {
		if f.Steps[step] != steps[step] {
			t.Errorf("funnel %s = %d, the log has %d", step, f.Steps[step], steps[step])
		}
	}
	if !maps.Equal(f.Ends, ends) {
		t.Errorf("funnel ends = %v, the log has %v", f.Ends, ends)
	}
	var waits uint64
	for _, n := range f.WaitCounts {
		waits += n
	}
	if waits != steps[domain.StepAccepted] {
		t.Errorf("funnel has %d waits, the log %d acceptances", waits, steps[domain.StepAccepted])
	}
	return f
}

func TestFunnel(t *testing.T) {
	t.Run("Mode1_CountsAreTheLogs", func(t *testing.T) {
		e := newEngine(t)
		pc := withInvite()
		pc.FormFields = contactForm()
		e.site(t, "shop", pc)
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")

		// One visitor accepts, fills the form, chats and writes.
		vid := e.visitor(t, "shop")
		p, _ := e.page(t, vid, home)
		e.clock.Advance(30 * time.Second)
		inv := p.next(t, invited).State.Invitation
		e.respond(t, vid, inv.ID, true)
		if _, err := e.svc.SubmitForm(ctx(t), vid, validForm()); err != nil {
			t.Fatal(err)
		}
		alert := e.alerted(t, console, "")
		e.clock.Advance(12 * time.Second)
		chat := e.accept(t, "agent-a", alert.Request.ID)
		e.send(t, chat.ID, "agent-a", "Hello")
		e.send(t, chat.ID, vid, "Hi")
		e.send(t, chat.ID, vid, "Do you ship to Norway?") // the same chat: counted once
		e.leave(t, chat.ID, vid)
		e.leave(t, chat.ID, "agent-a")

		// Another declines; a third lets the invitation expire.
		v2 := e.visitor(t, "shop")
		p2, _ := e.page(t, v2, home)
		v3 := e.visitor(t, "shop")
		p3, _ := e.page(t, v3, home)
		e.clock.Advance(30 * time.Second)
		inv2 := p2.next(t, invited).State.Invitation
		p3.next(t, invited)
		e.respond(t, v2, inv2.ID, false)
		e.clock.Advance(pc.InviteTimeout())
		e.settle(t)

		f := wantFunnelIsLog(t, e, "shop")
		want := map[domain.FunnelStep]uint64{
			domain.StepVisits: 3, domain.StepLaunches: 3, domain.StepInvitationsSent: 3,
			domain.StepInvitationsAccepted: 1, domain.StepInvitationsDeclined: 1, domain.StepInvitationsExpired: 1,
			domain.StepFormsSubmitted: 1, domain.StepQueued: 1, domain.StepAlerted: 1, domain.StepAccepted: 1,
			domain.StepVisitorMessaged: 1,
		}
		for _, step := range domain.FunnelSteps {
			if f.Steps[step] != want[step] {
				t.Errorf("%s = %d, want %d", step, f.Steps[step], want[step])
			}
		}
		if f.Ends[domain.EndBothLeft] != 1 {
			t.Errorf("ends = %v, want one both left", f.Ends)
		}
		// Waited 12 s: the bucket up to 15 s.
		if f.WaitP50 != 15*time.Second || f.WaitP90 != 15*time.Second {
			t.Errorf("waits p50 %v p90 %v, want 15s (the bucket of 12 s)", f.WaitP50, f.WaitP90)
		}
	})

	t.Run("Mode2_CountsAreTheLogs", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		s.e.send(t, chat.ID, s.vid, "Just looking")
		s.e.leave(t, chat.ID, s.vid)
		s.e.leave(t, chat.ID, "agent-a")
		// A second visitor leaves the queue: abandoned.
		v2 := s.e.visitor(t, "shop")
		s.e.page(t, v2, pricing)
		s.e.clock.Advance(30 * time.Second)
		s.e.settle(t)
		if _, err := s.e.svc.LeaveQueue(ctx(t), v2); err != nil {
			t.Fatal(err)
		}
		f := wantFunnelIsLog(t, s.e, "shop")
		if f.Steps[domain.StepLaunches] != 2 || f.Steps[domain.StepQueued] != 2 || f.Steps[domain.StepAbandoned] != 1 ||
			f.Steps[domain.StepAccepted] != 1 || f.Steps[domain.StepVisitorMessaged] != 1 {
			t.Errorf("steps = %v", f.Steps)
		}
		// Another site's funnel counts none of it.
		s.e.site(t, "blog", withoutInvite())
		if f := s.e.funnel(t, "blog"); f.Steps != [len(f.Steps)]uint64{} {
			t.Errorf("blog's funnel = %v, want empty", f.Steps)
		}
	})

	t.Run("Ranges", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		// A visit at t0 (9:00), one at 10:30, one the next day.
		for _, d := range []time.Duration{0, 90 * time.Minute, 25 * time.Hour} {
			e.clock.Set(t0.Add(d))
			vid := e.visitor(t, "shop")
			p, _ := e.page(t, vid, home)
			p.stop()
			e.clock.Advance(grace)
			e.settle(t)
		}
		visits := func(start, end time.Time) uint64 {
			t.Helper()
			f, err := e.svc.GetFunnel(ctx(t), "shop", start, end)
			if err != nil {
				t.Fatal(err)
			}
			return f.Steps[domain.StepVisits]
		}
		for _, tc := range []struct {
			name       string
			start, end time.Time
			want       uint64
		}{
			{"FirstHour", t0, t0.Add(time.Hour), 1},
			{"WidenedToTheHour", t0.Add(10 * time.Minute), t0.Add(20 * time.Minute), 1},
			{"EndExclusive", t0.Add(-time.Hour), t0, 0},
			{"TwoHours", t0, t0.Add(2 * time.Hour), 2},
			{"Day", t0, t0.Add(24 * time.Hour), 2},
			{"NextDay", t0.Add(24 * time.Hour), t0.Add(48 * time.Hour), 1},
			{"All", t0.Add(-24 * time.Hour), t0.Add(48 * time.Hour), 3},
		} {
			if got := visits(tc.start, tc.end); got != tc.want {
				t.Errorf("%s: visits = %d, want %d", tc.name, got, tc.want)
			}
		}
		// Defaults: the 7 days before now.
		f, err := e.svc.GetFunnel(ctx(t), "shop", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if f.Steps[domain.StepVisits] != 3 || !f.End.After(e.clock.Now()) || f.End.Sub(f.Start) != 7*24*time.Hour+time.Hour {
			t.Errorf("default range [%v, %v): %d visits", f.Start, f.End, f.Steps[domain.StepVisits])
		}
	})

	t.Run("InvalidInput", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		for _, tc := range []struct {
			name, site string
			start, end time.Time
			field      string
		}{
			{"NoSite", "", t0, t0.Add(time.Hour), "site_id"},
			{"Reversed", "shop", t0, t0.Add(-time.Hour), "start_time"},
			{"Empty", "shop", t0, t0, "start_time"},
			{"TooLong", "shop", t0, t0.Add(367 * 24 * time.Hour), "end_time"},
		} {
			_, err := e.svc.GetFunnel(ctx(t), tc.site, tc.start, tc.end)
			if got := strings.Join(violationFields(t, err), ","); got != tc.field {
				t.Errorf("%s: violations %q, want %q", tc.name, got, tc.field)
			}
		}
		if _, err := e.svc.GetFunnel(ctx(t), "shop", t0, t0.Add(366*24*time.Hour)); err != nil {
			t.Errorf("366 days: %v", err)
		}
		_, err := e.svc.GetFunnel(ctx(t), "none", t0, t0.Add(time.Hour))
		wantCode(t, err, domain.CodeNotFound)
	})

	t.Run("Percentiles", func(t *testing.T) {
		h := make([]uint64, len(domain.WaitBounds)+1)
		if got := domain.WaitPercentile(h, 0.5); got != 0 {
			t.Errorf("p50 of nothing = %v", got)
		}
		// 10 waits: 5 up to 1 s, 4 up to 30 s, 1 over an hour.
		h[0], h[6], h[len(h)-1] = 5, 4, 1
		for _, tc := range []struct {
			p    float64
			want time.Duration
		}{{0.5, time.Second}, {0.51, 30 * time.Second}, {0.9, 30 * time.Second}, {0.91, time.Hour}, {1, time.Hour}} {
			if got := domain.WaitPercentile(h, tc.p); got != tc.want {
				t.Errorf("p%v = %v, want %v", tc.p*100, got, tc.want)
			}
		}
	})

	t.Run("ErasureKeepsCounts", func(t *testing.T) {
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		s.e.send(t, chat.ID, s.vid, "hi")
		s.e.leave(t, chat.ID, s.vid)
		s.e.leave(t, chat.ID, "agent-a")
		s.page.stop()
		s.e.clock.Advance(grace)
		s.e.settle(t)
		before := s.e.funnel(t, "shop")
		if err := s.e.svc.EraseVisitor(ctx(t), s.vid); err != nil {
			t.Fatal(err)
		}
		if after := s.e.funnel(t, "shop"); after.Steps != before.Steps || !maps.Equal(after.Ends, before.Ends) {
			t.Errorf("erasure changed the funnel: %v, was %v", after.Steps, before.Steps)
		}
	})

	t.Run("BackfillFromTheLog", func(t *testing.T) {
		// A store from before the funnel: built once, on open, from the
		// events in the log.
		s := newNoInviteScene(t)
		chat := s.e.accept(t, "agent-a", s.alert.Request.ID)
		s.e.send(t, chat.ID, s.vid, "hi")
		s.e.send(t, chat.ID, s.vid, "again")
		s.e.leave(t, chat.ID, s.vid)
		s.e.leave(t, chat.ID, "agent-a")
		before := wantFunnelIsLog(t, s.e, "shop")
		s.e.close()
		db, err := bbolt.Open(s.e.path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("funnel")) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		s.e.start(t)
		after := wantFunnelIsLog(t, s.e, "shop")
		if after.Steps != before.Steps || !maps.Equal(after.Ends, before.Ends) || after.WaitP50 != before.WaitP50 {
			t.Errorf("backfilled %v %v p50 %v, counted %v %v p50 %v", after.Steps, after.Ends, after.WaitP50, before.Steps, before.Ends, before.WaitP50)
		}
		// Built once: a restart does not count the log again.
		s.e.restart(t)
		if again := s.e.funnel(t, "shop"); again.Steps != before.Steps {
			t.Errorf("after a restart %v, want %v", again.Steps, before.Steps)
		}
		// And counting goes on.
		v2 := s.e.visitor(t, "shop")
		s.e.page(t, v2, home)
		wantFunnelIsLog(t, s.e, "shop")
	})

	t.Run("BackfillWaitsOfOldEvents", func(t *testing.T) {
		// Acceptances recorded before they carried their wait: the wait is
		// from the request's request.queued, when the log still has it.
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		err := e.store.Update(ctx(t), func(tx domain.WriteTx) error {
			for _, ev := range []domain.Event{
				{Type: domain.EventRequestQueued, SiteID: "shop", VisitorID: "v1", RequestID: "r1", Time: t0},
				{Type: domain.EventRequestAccepted, SiteID: "shop", VisitorID: "v1", RequestID: "r1", ChatID: "c1", Time: t0.Add(40 * time.Second), Wait: -1},
				// Its request.queued is gone: counted, without a wait.
				{Type: domain.EventRequestAccepted, SiteID: "shop", VisitorID: "v2", RequestID: "r2", ChatID: "c2", Time: t0.Add(time.Minute), Wait: -1},
			} {
				if err := tx.AppendEvent(&ev); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		e.close()
		db, err := bbolt.Open(e.path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.DeleteBucket([]byte("funnel")) }); err != nil {
			t.Fatal(err)
		}
		db.Close()
		e.start(t)
		f := e.funnel(t, "shop")
		var waits uint64
		for _, n := range f.WaitCounts {
			waits += n
		}
		if f.Steps[domain.StepQueued] != 1 || f.Steps[domain.StepAccepted] != 2 || waits != 1 || f.WaitP50 != 45*time.Second {
			t.Errorf("queued %d, accepted %d, %d waits, p50 %v; want 1, 2, 1 wait of 40 s (45 s bucket)",
				f.Steps[domain.StepQueued], f.Steps[domain.StepAccepted], waits, f.WaitP50)
		}
	})
}
