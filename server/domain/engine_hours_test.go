package domain_test

import (
	"testing"
	"time"

	"github.com/proactivechat/proactivechat/server/domain"
)

// berlinTuesday opens on Tuesdays 11:00–17:00 in Berlin: t0 (Tuesday 09:00
// UTC, 10:00 CET) is an hour before the opening, at 10:00 UTC.
var berlinTuesday = domain.BusinessHours{TimeZone: "Europe/Berlin",
	Weekly: []domain.WeeklyInterval{{Day: 2, Open: "11:00", Close: "17:00"}}}

func (e *engine) hours(t *testing.T, siteID string, h domain.BusinessHours, offline domain.OfflineMessageSettings) {
	t.Helper()
	if _, err := e.svc.UpdateSite(ctx(t), &domain.Site{ID: siteID, BusinessHours: h, OfflineMessage: offline},
		[]string{"business_hours", "offline_message"}); err != nil {
		t.Fatal(err)
	}
}

func TestBusinessHoursLaunch(t *testing.T) {
	t.Run("NoLaunchWhileClosedThenAtOpening", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.hours(t, "shop", berlinTuesday, domain.OfflineMessageSettings{})
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		console, _ := e.console(t, "agent-a")
		vid := e.visitor(t, "shop")
		page, st := e.page(t, vid, home)
		if st.Site.Open || !st.Site.AgentsAvailable || !st.Site.OfferMessage || !st.Site.NextChange.Equal(t0.Add(time.Hour)) {
			t.Fatalf("site status before opening = %+v, want closed, offering a message, opening at 10:00 UTC", st.Site)
		}
		e.clock.Advance(time.Hour - time.Second)
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("launched while closed: %+v", q)
		}
		e.clock.Advance(time.Second)
		alert := e.alerted(t, console, "")
		if alert.Request.VisitorID != vid {
			t.Fatalf("alert = %+v, want the visitor's", alert.Request)
		}
		page.next(t, stateWhere(func(s *domain.VisitorState) bool { return s.Site.Open }))
	})
	t.Run("NoLaunchAfterClosingUntilNextOpening", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		twoDays := berlinTuesday
		twoDays.Weekly = append(twoDays.Weekly, domain.WeeklyInterval{Day: 3, Open: "11:00", Close: "17:00"})
		e.hours(t, "shop", twoDays, domain.OfflineMessageSettings{})
		e.clock.Advance(7 * time.Hour) // 16:00 UTC, 17:00 CET: closed
		vid := e.visitor(t, "shop")
		_, st := e.page(t, vid, home)
		if st.Site.Open || !st.Site.OfferMessage {
			t.Fatalf("site status after closing = %+v", st.Site)
		}
		e.clock.Advance(18*time.Hour - time.Second) // Wednesday 09:59:59 UTC
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("launched while closed: %+v", q)
		}
		e.clock.Advance(time.Second) // the visitor, still there, is launched at the opening
		e.settle(t)
		if q := e.queue(t, "shop"); len(q) != 1 || q[0].VisitorID != vid {
			t.Fatalf("queue at the opening = %+v, want the visitor's request", q)
		}
	})
	t.Run("NoAlertWhileClosedThenAtOpening", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		twoDays := berlinTuesday
		twoDays.Weekly = append(twoDays.Weekly, domain.WeeklyInterval{Day: 3, Open: "11:00", Close: "17:00"})
		e.hours(t, "shop", twoDays, domain.OfflineMessageSettings{})
		e.agent(t, "agent-a", "Ada", 3, "shop")
		console, _ := e.console(t, "agent-a")
		e.clock.Advance(time.Hour) // the opening, 10:00 UTC
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		e.clock.Advance(30 * time.Second) // launched: queued, nobody available
		e.settle(t)
		if q := e.queue(t, "shop"); len(q) != 1 || q[0].State != domain.RequestQueued {
			t.Fatalf("queue while open, nobody available = %+v", q)
		}
		e.clock.Advance(6 * time.Hour) // 16:00:30 UTC: closed, the request still queued
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		e.settle(t)
		if q := e.queue(t, "shop"); len(q) != 1 || q[0].State != domain.RequestQueued {
			t.Fatalf("queue after closing with an agent available = %+v, want still queued, nobody alerted", q)
		}
		e.clock.Advance(18*time.Hour - 30*time.Second) // Wednesday's opening
		alert := e.alerted(t, console, "")
		if alert.Request.VisitorID != vid {
			t.Fatalf("alert at the opening = %+v, want the visitor's", alert.Request)
		}
	})
	t.Run("AfterRestartLaunchAtOpening", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withoutInvite())
		e.hours(t, "shop", berlinTuesday, domain.OfflineMessageSettings{})
		e.restart(t)
		vid := e.visitor(t, "shop")
		e.page(t, vid, home)
		e.clock.Advance(time.Hour - time.Second)
		if q := e.queue(t, "shop"); len(q) != 0 {
			t.Fatalf("launched while closed: %+v", q)
		}
		e.clock.Advance(time.Second)
		e.settle(t)
		if q := e.queue(t, "shop"); len(q) != 1 || q[0].VisitorID != vid {
			t.Fatalf("queue at the opening = %+v, want the visitor's request", q)
		}
	})
	t.Run("NobodyAvailableOffersMessageUntilAnAgentIs", func(t *testing.T) {
		e := newEngine(t)
		e.site(t, "shop", withInvite())
		e.hours(t, "shop", domain.BusinessHours{}, domain.OfflineMessageSettings{MaxWaitSeconds: 60})
		page, st := e.page(t, e.visitor(t, "shop"), home)
		if !st.Site.Open || st.Site.AgentsAvailable || !st.Site.OfferMessage {
			t.Fatalf("site status with nobody available = %+v, want open, offering a message", st.Site)
		}
		e.agent(t, "agent-a", "Ada", 3, "shop")
		e.setStatus(t, "agent-a", domain.StatusAvailable)
		// The widget already on the site is told: someone can chat now.
		page.next(t, stateWhere(func(s *domain.VisitorState) bool { return s.Site.AgentsAvailable && !s.Site.OfferMessage }))
	})
}

func TestLongWaitOffersMessage(t *testing.T) {
	e := newEngine(t)
	pc := withInvite()
	pc.FormFields = contactForm()
	pc.AlertTimeoutSeconds = 3600
	e.site(t, "shop", pc)
	e.hours(t, "shop", domain.BusinessHours{}, domain.OfflineMessageSettings{MaxWaitSeconds: 60})
	e.agent(t, "agent-a", "Ada", 3, "shop")
	e.setStatus(t, "agent-a", domain.StatusAvailable)
	console, _ := e.console(t, "agent-a")
	queue := func(vid string, page *stream[domain.VisitorUpdate]) *domain.VisitorState {
		t.Helper()
		e.clock.Advance(30 * time.Second)
		inv := page.next(t, invited).State.Invitation
		e.respond(t, vid, inv.ID, true)
		st, err := e.svc.SubmitForm(ctx(t), vid, validForm())
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// The first visitor waits five minutes: the site's waits say so.
	v1 := e.visitor(t, "shop")
	p1, _ := e.page(t, v1, home)
	st := queue(v1, p1)
	if st.Site.OfferMessage {
		t.Fatalf("offered a message with no wait known: %+v", st.Site)
	}
	e.alerted(t, console, st.Queue.RequestID)
	e.settle(t)
	e.clock.Advance(5 * time.Minute)
	e.accept(t, "agent-a", st.Queue.RequestID)

	// The next one expects a wait beyond the site's 60 s: offered to leave a message.
	v2 := e.visitor(t, "shop")
	p2, _ := e.page(t, v2, home)
	st = queue(v2, p2)
	if !st.Site.AgentsAvailable || st.Queue.EstimatedWait <= time.Minute || !st.Site.OfferMessage {
		t.Fatalf("site status in a long queue = %+v (wait %v), want a message offered", st.Site, st.Queue.EstimatedWait)
	}
}
