package domain

import (
	"context"
	"time"
)

// Start rebuilds, from the store, what the engine keeps in memory: the
// timers of pending invitations, alerts, queue holds, chat inactivity and
// agent connections, then routes every site's queue. Call it once, before
// serving. Deadlines that passed while the server was down fire at once.
func (s *Service) Start(ctx context.Context) error {
	var invitations []*Invitation
	var requests []*ChatRequest
	var agents []*Agent
	var activeChats []string
	var sites []*Site
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if invitations, err = tx.PendingInvitations(); err != nil {
			return err
		}
		if requests, err = tx.OpenChatRequests(""); err != nil {
			return err
		}
		if agents, err = tx.Agents(); err != nil {
			return err
		}
		if activeChats, err = tx.ActiveChatIDs(); err != nil {
			return err
		}
		sites, err = tx.Sites()
		return err
	})
	if err != nil {
		return err
	}
	if err := s.refreshOrigins(ctx); err != nil {
		return err
	}
	now := s.clock.Now()
	for _, inv := range invitations {
		s.timers.at("invite/"+inv.ID, inv.ExpireTime, func() { s.expireInvitation(inv.ID) })
		s.expectBack(inv.VisitorID, now)
	}
	// No widget is connected after a restart: every open request is held
	// until its visitor is back, as after a dropped connection.
	for _, req := range requests {
		if req.State == RequestAlerting {
			agentID := req.AlertedAgentID
			s.timers.at("alert/"+req.ID, req.AlertDeadline, func() { s.passAlert(req.ID, agentID, "expired") })
		}
		if req.HoldUntil.IsZero() {
			s.visitorAway(req.VisitorID)
		} else {
			s.timers.at("hold/"+req.ID, req.HoldUntil, func() { s.holdExpired(req.ID) })
		}
	}
	for _, a := range agents {
		if a.Status != StatusOffline {
			s.timers.at("agent/"+a.ID, now.Add(s.agentGrace), func() { s.agentGone(a.ID) })
		}
	}
	// Every chat not ended, those the agent already left included.
	for _, chatID := range activeChats {
		s.rearmInactivity(ctx, chatID)
	}
	ids := make([]string, len(sites))
	for i, site := range sites {
		ids[i] = site.ID
		s.scheduleHoursChange(site)
	}
	s.routeSoon(ids...)
	s.startRetention()
	return nil
}

func (s *Service) rearmInactivity(ctx context.Context, chatID string) {
	var chat *Chat
	var site *Site
	err := s.store.View(ctx, func(tx ReadTx) error {
		var err error
		if chat, err = tx.Chat(chatID); err != nil {
			return err
		}
		site, err = tx.Site(chat.SiteID)
		return err
	})
	if err == nil && chat.State == ChatStateActive {
		s.scheduleInactivity(chat, site.ProactiveChat)
		if !chat.hasLeft(RoleVisitor) {
			s.expectBack(chat.Visitor.ID, s.clock.Now())
		}
	}
}

// expectBack treats a visitor who was on the site when the server stopped
// like one whose stream closed in a mass disconnect at the restart: unless a
// stream of theirs opens within the mass disconnect grace, their visit ends
// (the invitation is withdrawn, the chat left), as it would have without the
// restart.
func (s *Service) expectBack(visitorID string, restart time.Time) {
	s.timers.at("back/"+visitorID, restart.Add(s.massGrace), func() {
		if !s.presence.online(visitorID) {
			s.visitEnded(visitorID)
		}
	})
}
