package domain

import (
	"sync"
	"time"
)

// The launching criteria run on the server, from presence: a visitor who
// has been on a site with proactive chat enabled for the configured seconds
// (counted across page loads, from the visit's start), on a page the
// conditions allow, gets the site's flow once a visit — an invitation
// (with invite) or an alert to the first available agent (without invite).
// One timer per visitor on a site, not a polling loop.

// scheduleLaunch (re)arms a visitor's launch timer from the site's current
// settings. It is called when a visit starts, on page views, when settings
// change, and when an agent frees up for sites that invite only when someone
// can answer.
func (s *Service) scheduleLaunch(visitorID string) {
	key := "launch/" + visitorID
	p, online := s.presence.get(visitorID)
	if !online {
		s.timers.cancel(key)
		return
	}
	var plan launchPlan
	now := s.clock.Now()
	err := s.store.View(s.ctx, func(tx ReadTx) error {
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		site, err := tx.Site(visitor.SiteID)
		if err != nil {
			return err
		}
		plan, err = s.planLaunch(tx, site, visitor, p, now)
		return err
	})
	if err == nil && plan.awaitAgent {
		s.awaiting.add(p.SiteID, visitorID)
	}
	due := plan.next
	if plan.rule != nil {
		due = now
	}
	if err != nil || due.IsZero() {
		s.timers.cancel(key)
		return
	}
	s.timers.at(key, due, func() { s.launch(visitorID) })
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// launch runs the site's flow for a visitor whose launch is due, checking
// everything again in the transaction.
func (s *Service) launch(visitorID string) {
	p, online := s.presence.get(visitorID)
	if !online || p.OpenStreams == 0 {
		return // gone, or only within the grace period after closing the widget
	}
	later := false // not due yet: closed now, the launch waits for the opening
	err := s.store.Update(s.ctx, func(tx WriteTx) error {
		later = false
		visitor, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		site, err := tx.Site(visitor.SiteID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		plan, err := s.planLaunch(tx, site, visitor, p, now)
		if err != nil {
			return err
		}
		if plan.rule == nil {
			later = !plan.next.IsZero()
			if plan.awaitAgent {
				// Invite only when someone can answer: the visitor stays
				// eligible, and route() looks again when an agent frees up.
				tx.OnCommit(func() { s.awaiting.add(site.ID, visitorID) })
			}
			return nil
		}
		return s.fire(tx, site, visitor, p, *plan.rule, now)
	})
	if err == nil && later {
		s.scheduleLaunch(visitorID)
	}
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("launch/"+visitorID, err, func() { s.launch(visitorID) }) {
		s.log.Error("launch failed", "visitor", visitorID, "err", err)
	}
}

// visitBegan persists a new visit's start and arms the launch timer.
func (s *Service) visitBegan(visitor *Visitor, start time.Time) {
	if !visitor.VisitStartTime.Equal(start) || !visitor.VisitEndTime.IsZero() {
		err := s.store.Update(s.ctx, func(tx WriteTx) error {
			v, err := tx.Visitor(visitor.ID)
			if err != nil {
				return err
			}
			if !v.VisitStartTime.Equal(start) {
				v.VisitCount = nextVisitCount(v)
				if p, ok := s.presence.get(v.ID); ok {
					v.VisitReferrer, v.LandingPageURL = p.Referrer, p.LandingURL
				}
			}
			v.VisitStartTime = start
			v.VisitEndTime = time.Time{}
			if err := s.record(tx, Event{Type: EventVisitorArrived, SiteID: v.SiteID, VisitorID: v.ID}); err != nil {
				return err
			}
			// A new visit starts clean: an invitation or a form left open
			// by a visit whose end the server missed (it was down) is over.
			switch v.Engagement {
			case EngagementInvited:
				if err := s.closeInvitation(tx, v, InvitationWithdrawn); err != nil {
					return err
				}
			case EngagementFillingForm:
				if err := v.DropForm(); err != nil {
					return err
				}
			}
			if err := tx.PutVisitor(v); err != nil {
				return err
			}
			tx.OnCommit(func() { s.visitorUpdated(v) })
			return nil
		})
		if err != nil && s.ctx.Err() == nil {
			s.log.Error("recording a visit failed", "visitor", visitor.ID, "err", err)
		}
	}
	s.scheduleLaunch(visitor.ID)
}

// visitEnded is the departure of a visitor (no widget stream for the grace
// period): its invitation is withdrawn, the form dropped, its chat left.
// An open chat request is governed by the queue hold, which started when
// the last stream closed.
func (s *Service) visitEnded(visitorID string) {
	err := s.store.Update(s.ctx, func(tx WriteTx) error {
		if s.presence.online(visitorID) {
			return nil // back already: a new visit has begun
		}
		tx.OnCommit(func() { s.timers.cancel("launch/" + visitorID) })
		v, err := tx.Visitor(visitorID)
		if err != nil {
			return err
		}
		v.VisitEndTime = s.clock.Now()
		if err := s.record(tx, Event{Type: EventVisitorLeft, SiteID: v.SiteID, VisitorID: v.ID}); err != nil {
			return err
		}
		switch v.Engagement {
		case EngagementInvited:
			if err := s.closeInvitation(tx, v, InvitationWithdrawn); err != nil {
				return err
			}
		case EngagementFillingForm:
			if err := v.DropForm(); err != nil {
				return err
			}
		}
		if err := tx.PutVisitor(v); err != nil {
			return err
		}
		if v.ActiveChatID != "" {
			chat, err := tx.Chat(v.ActiveChatID)
			if err != nil {
				return err
			}
			if chat.State == ChatStateActive {
				return s.leave(tx, chat, chat.Visitor, EndUnspecified)
			}
		}
		tx.OnCommit(func() { s.visitorUpdated(v) })
		return nil
	})
	// Tried again, it does nothing if the visitor is back by then.
	if err != nil && s.ctx.Err() == nil && !s.timers.retry("visitend/"+visitorID, err, func() { s.visitEnded(visitorID) }) {
		s.log.Error("ending a visit failed", "visitor", visitorID, "err", err)
	}
}

// refreshSite applies changed settings to the visitors on the site now.
func (s *Service) refreshSite(siteID string) {
	for _, id := range s.presence.onSite(siteID) {
		s.scheduleLaunch(id)
		s.broker.Publish(visitorTopic(id), VisitorChanged{VisitorID: id}) // site status
	}
	s.routeSoon(siteID)
	var site *Site
	if err := s.store.View(s.ctx, func(tx ReadTx) (err error) { site, err = tx.Site(siteID); return err }); err == nil {
		s.scheduleHoursChange(site)
	}
}

// scheduleHoursChange arms one timer per site with business hours, at
// their next opening or closing: the widgets on the site are then told the
// site's new status. Launches need no such timer: each visitor's own
// launch timer is already armed at the opening (launchDue).
func (s *Service) scheduleHoursChange(site *Site) {
	key := "hours/" + site.ID
	next, ok := site.NextChange(s.clock.Now())
	if !ok {
		s.timers.cancel(key)
		return
	}
	s.timers.at(key, next, func() { s.refreshSite(site.ID) })
}

// awaitingAgent remembers, per site, the visitors whose invitation is due
// but waits for an agent who can answer, so that only they are looked at
// again when one frees up.
type awaitingAgent struct {
	mu     sync.Mutex
	bySite map[string]map[string]bool
}

func (a *awaitingAgent) add(siteID, visitorID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.bySite[siteID] == nil {
		a.bySite[siteID] = map[string]bool{}
	}
	a.bySite[siteID][visitorID] = true
}

// take empties and returns a site's waiting visitors.
func (a *awaitingAgent) take(siteID string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([]string, 0, len(a.bySite[siteID]))
	for id := range a.bySite[siteID] {
		ids = append(ids, id)
	}
	delete(a.bySite, siteID)
	return ids
}
